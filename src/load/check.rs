//! The rules a fleet must follow beyond its YAML shape.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_saphyr::Spanned;

use crate::diagnostic::{Diagnostic, Diagnostics, Origin};
use crate::model::names::{
    check_branch, check_dns1123_label, check_dns1123_subdomain, check_label_key, check_label_value,
    check_relative_path, check_substitute_name,
};
use crate::model::{
    Cluster, FleetDocument, Metadata, Module, ModuleDocument, ModuleKind, Source, Value, ValueMap,
    ValueSource,
};

fn origin<T>(file: &Arc<str>, spanned: &Spanned<T>) -> Origin {
    Origin::of(file, spanned)
}

/// Name and labels of any document. `what` names the kind, as in "cluster".
pub fn metadata(what: &str, meta: &Metadata, file: &Arc<str>, out: &mut Diagnostics) {
    let at = origin(file, &meta.name);
    if let Err(e) = check_dns1123_label(&meta.name.value) {
        out.push(
            Diagnostic::new(at.clone(), format!("{what} name {:?} {e}", meta.name.value)).hint(
                "names become folder and Kubernetes object names: use lowercase letters, digits and '-', like \"prod-eu-1\"",
            ),
        );
    }
    for (key, value) in &meta.labels {
        if let Err(e) = check_label_key(key) {
            out.push(Diagnostic::new(
                at.clone(),
                format!("label key {key:?} {e}"),
            ));
        }
        if let Err(e) = check_label_value(value) {
            out.push(Diagnostic::new(
                at.clone(),
                format!("label {key}={value:?}: value {e}"),
            ));
        }
    }
}

/// The settings of `fleet.yaml`.
pub fn fleet(doc: &FleetDocument, file: &Arc<str>, out: &mut Diagnostics) {
    metadata("fleet", &doc.metadata, file, out);
    let spec = &doc.spec;
    let output = &spec.output;
    if let Err(e) = check_branch(&output.branch.value) {
        out.push(Diagnostic::new(
            origin(file, &output.branch),
            format!("spec.output.branch {:?} {e}", output.branch.value),
        ));
    }
    if let Err(e) = check_relative_path(&output.path.value) {
        out.push(Diagnostic::new(
            origin(file, &output.path),
            format!("spec.output.path {e}"),
        ));
    } else if output.path.value.starts_with(".fleeet") {
        out.push(Diagnostic::new(
            origin(file, &output.path),
            "spec.output.path must not be under .fleeet, where rollout records are kept",
        ));
    }
    for (field, value) in [
        ("namespace", &output.namespace),
        ("sourceName", &output.source_name),
    ] {
        if let Err(e) = check_dns1123_label(&value.value) {
            out.push(Diagnostic::new(
                origin(file, value),
                format!("spec.output.{field} {:?} {e}", value.value),
            ));
        }
    }
    for problem in spec.rollout.value.problems() {
        out.push(Diagnostic::new(
            origin(file, &spec.rollout),
            format!("spec.rollout: {problem}"),
        ));
    }
    let github = &spec.github;
    if let Err(e) = check_branch(&github.branch.value) {
        out.push(Diagnostic::new(
            origin(file, &github.branch),
            format!("spec.github.branch {:?} {e}", github.branch.value),
        ));
    }
    if github.branch.value == output.branch.value {
        out.push(
            Diagnostic::new(
                origin(file, &github.branch),
                format!(
                    "spec.github.branch and spec.output.branch are both {:?}",
                    github.branch.value
                ),
            )
            .hint("waves are pushed to spec.github.branch and merged into spec.output.branch: they must differ"),
        );
    }
}

/// `spec.management`: a cluster of the fleet, a kubeconfig Secret template that compiles, a
/// git URL, and bootstrap modules Flux can apply remotely (git or OCI).
pub fn management(
    doc: &FleetDocument,
    file: &Arc<str>,
    clusters: &[Cluster],
    modules: &[Module],
    out: &mut Diagnostics,
) {
    let Some(management) = &doc.spec.management else {
        return;
    };
    let name = &management.cluster;
    if !clusters.iter().any(|c| c.name == name.value) {
        let mut d = Diagnostic::new(
            origin(file, name),
            format!(
                "spec.management.cluster: there is no cluster {:?}",
                name.value
            ),
        );
        if let Some(close) = closest(&name.value, clusters.iter().map(|c| c.name.as_str())) {
            d = d.hint(format!("did you mean {close:?}?"));
        } else {
            d = d.hint(
                "name a cluster of clusters/ or inventory/: the one running Cluster API and Flux",
            );
        }
        out.push(d);
    }
    let secret = &management.kubeconfig_secret;
    if let Err(e) = crate::template::sandbox().template_from_str(&secret.value) {
        out.push(
            Diagnostic::new(
                origin(file, secret),
                format!(
                    "spec.management.kubeconfigSecret {:?} is not a template: {}",
                    secret.value,
                    e.detail().unwrap_or(&e.kind().to_string())
                ),
            )
            .hint("it sees the Cluster API cluster's name, namespace and labels, like \"{{ name }}-kubeconfig\""),
        );
    }
    let url = &management.url;
    if !["https://", "http://", "ssh://"]
        .iter()
        .any(|s| url.value.starts_with(s))
    {
        out.push(Diagnostic::new(
            origin(file, url),
            format!(
                "spec.management.url {:?} must start with https://, http:// or ssh://",
                url.value
            ),
        ));
    }
    if let Some(secret) = &management.git_secret
        && let Err(e) = check_dns1123_subdomain(&secret.value)
    {
        out.push(Diagnostic::new(
            origin(file, secret),
            format!("spec.management.gitSecret {:?} {e}", secret.value),
        ));
    }
    for module in modules.iter().filter(|m| {
        m.kind == ModuleKind::BootstrapModule && matches!(m.spec.source, Source::Helm(_))
    }) {
        out.push(
            Diagnostic::new(
                module.origin.clone(),
                format!(
                    "bootstrap module {:?} has a helm source, but with spec.management bootstrap modules are applied from the management cluster by a Kustomization",
                    module.name
                ),
            )
            .hint("give it a git or OCI source (Flux's own install is a kustomization), or make it a Module"),
        );
    }
}

/// A module document on its own (references to other modules are checked by [`dependencies`]).
pub fn module(
    doc: &ModuleDocument,
    file: &Arc<str>,
    fleet: &FleetDocument,
    value_files: &BTreeMap<String, ValueSource>,
    out: &mut Diagnostics,
) {
    let name = &doc.metadata.name.value;
    metadata("module", &doc.metadata, file, out);
    let spec = &doc.spec;
    let source_name = &fleet.spec.output.source_name.value;
    if name == source_name {
        out.push(
            Diagnostic::new(
                origin(file, &doc.metadata.name),
                format!("module name {name:?} is the name of the GitRepository that follows the rendered branch"),
            )
            .hint("rename the module, or set spec.output.sourceName in fleet.yaml to another name"),
        );
    }
    let version = &spec.version;
    if version.value.is_empty()
        || version.value.len() > 128
        || version
            .value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        out.push(Diagnostic::new(
            origin(file, version),
            format!(
                "spec.version {:?} must be 1 to 128 characters without spaces",
                version.value
            ),
        ));
    }
    source(&spec.source, file, out);
    for problem in spec.selector.value.problems() {
        out.push(Diagnostic::new(
            origin(file, &spec.selector),
            format!("spec.selector: {problem}"),
        ));
    }
    if let Some(ns) = &spec.target_namespace
        && let Err(e) = check_dns1123_label(ns)
    {
        out.push(Diagnostic::new(
            origin(file, &doc.metadata.name),
            format!("spec.targetNamespace {ns:?} {e}"),
        ));
    }
    for reference in &spec.substitute_from {
        if let Err(e) = check_dns1123_subdomain(&reference.name) {
            out.push(Diagnostic::new(
                origin(file, &doc.metadata.name),
                format!("spec.substituteFrom name {:?} {e}", reference.name),
            ));
        }
    }
    if let Some(rollout) = &spec.rollout {
        for problem in rollout.value.problems() {
            out.push(Diagnostic::new(
                origin(file, rollout),
                format!("spec.rollout: {problem}"),
            ));
        }
    }
    values_from(&spec.values_from, file, value_files, out);
    if !matches!(spec.source, Source::Helm(_)) {
        substitute_values(name, file, &spec.values, out);
        for entry in &spec.values_from {
            if let Some(source) = value_files.get(&entry.value) {
                substitute_values(name, &source.file, &source.values, out);
            }
        }
    }
}

/// Each `spec.valuesFrom` entry names a file under `values/` that is there.
fn values_from(
    entries: &[Spanned<String>],
    file: &Arc<str>,
    value_files: &BTreeMap<String, ValueSource>,
    out: &mut Diagnostics,
) {
    for entry in entries {
        let path = &entry.value;
        if !path.starts_with("values/") || check_relative_path(path).is_err() {
            out.push(
                Diagnostic::new(
                    origin(file, entry),
                    format!("spec.valuesFrom entry {path:?} is not a file under values/"),
                )
                .hint("write the path from the fleet root, like \"values/ingress.yaml\""),
            );
        } else if !value_files.contains_key(path) {
            let known: Vec<&str> = value_files.keys().map(String::as_str).collect();
            out.push(
                Diagnostic::new(
                    origin(file, entry),
                    format!("spec.valuesFrom: no value file {path:?}"),
                )
                .hint(if known.is_empty() {
                    "there are no files under values/".to_string()
                } else {
                    format!("the value files are: {}", known.join(", "))
                }),
            );
        }
    }
}

fn source(source: &Source, file: &Arc<str>, out: &mut Diagnostics) {
    let (url, schemes, field): (&Spanned<String>, &[&str], &str) = match source {
        Source::Git(git) => (&git.url, &["https://", "http://", "ssh://"], "git.url"),
        Source::Oci(oci) => (&oci.url, &["oci://"], "oci.url"),
        Source::Helm(helm) => (
            &helm.repository,
            &["https://", "http://", "oci://"],
            "helm.repository",
        ),
    };
    if !schemes.iter().any(|s| url.value.starts_with(s)) {
        let mut diagnostic = Diagnostic::new(
            origin(file, url),
            format!(
                "spec.source.{field} {:?} must start with {}",
                url.value,
                schemes.join(", ")
            ),
        );
        if let Some((user_host, path)) = url.value.split_once(':')
            && user_host.contains('@')
            && !path.starts_with("//")
        {
            diagnostic = diagnostic.hint(format!(
                "Flux needs SSH addresses as URLs: ssh://{user_host}/{path}"
            ));
        }
        out.push(diagnostic);
    }
    if let Source::Helm(helm) = source
        && check_dns1123_subdomain(&helm.chart).is_err()
    {
        out.push(Diagnostic::new(
            origin(file, &helm.repository),
            format!(
                "spec.source.helm.chart {:?} is not a chart name",
                helm.chart
            ),
        ));
    }
}

/// Values of git and OCI modules become `postBuild.substitute` variables: flat strings.
fn substitute_values(module: &str, file: &Arc<str>, values: &ValueMap, out: &mut Diagnostics) {
    for (key, value) in values {
        let at = origin(file, value);
        if let Err(e) = check_substitute_name(key) {
            out.push(Diagnostic::new(at.clone(), format!("value {key:?} {e}")).hint(format!(
                "module {module:?} applies a kustomization: its values are ${{variables}} substituted by Flux"
            )));
        }
        if matches!(value.value, Value::Map(_) | Value::List(_)) {
            out.push(
                Diagnostic::new(
                    at,
                    format!(
                        "value {key:?} is a {}, but module {module:?} applies a kustomization, whose values are strings (Flux postBuild.substitute)",
                        if matches!(value.value, Value::Map(_)) { "map" } else { "list" }
                    ),
                )
                .hint("flatten it into separate string values, or use a helm source, whose values may have any shape"),
            );
        }
    }
}

/// Every `dependsOn` names another module, bootstrap modules depend only on bootstrap modules,
/// and there is no cycle.
pub fn dependencies(modules: &[Module], out: &mut Diagnostics) {
    let index: BTreeMap<&str, &Module> = modules.iter().map(|m| (m.name.as_str(), m)).collect();
    let mut edges: BTreeMap<&str, Vec<(&str, Origin)>> = BTreeMap::new();
    for module in modules {
        let file = &module.origin.file;
        let mut seen = BTreeSet::new();
        for dep in &module.spec.depends_on {
            let at = origin(file, dep);
            let name = dep.value.as_str();
            if !seen.insert(name) {
                out.push(Diagnostic::new(
                    at,
                    format!("dependsOn lists {name:?} twice"),
                ));
                continue;
            }
            if name == module.name {
                out.push(Diagnostic::new(
                    at,
                    format!("module {name:?} depends on itself"),
                ));
                continue;
            }
            let Some(target) = index.get(name) else {
                let mut d = Diagnostic::new(at, format!("dependsOn: there is no module {name:?}"));
                if let Some(close) = closest(name, index.keys().copied()) {
                    d = d.hint(format!("did you mean {close:?}?"));
                }
                out.push(d);
                continue;
            };
            if module.kind == ModuleKind::BootstrapModule && target.kind == ModuleKind::Module {
                out.push(
                    Diagnostic::new(
                        at,
                        format!(
                            "bootstrap module {:?} depends on module {name:?}, but every module depends on the bootstrap modules: that is a dependency cycle",
                            module.name
                        ),
                    )
                    .hint(format!("make {name:?} a BootstrapModule, or drop the dependency")),
                );
                continue;
            }
            edges
                .entry(module.name.as_str())
                .or_default()
                .push((name, at));
        }
    }
    for cycle in cycles(&edges) {
        let (first, at) = &cycle[0];
        let path: Vec<&str> = cycle.iter().map(|(n, _)| *n).chain([*first]).collect();
        out.push(
            Diagnostic::new(
                at.clone(),
                format!("dependency cycle: {}", path.join(" -> ")),
            )
            .hint("Flux would wait forever: remove one of these dependsOn entries"),
        );
    }
}

/// Each cycle once, as the modules on it with the place of the edge leaving each.
fn cycles<'a>(edges: &BTreeMap<&'a str, Vec<(&'a str, Origin)>>) -> Vec<Vec<(&'a str, Origin)>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit<'a>(
        node: &'a str,
        edges: &BTreeMap<&'a str, Vec<(&'a str, Origin)>>,
        marks: &mut BTreeMap<&'a str, Mark>,
        stack: &mut Vec<(&'a str, Origin)>,
        found: &mut Vec<Vec<(&'a str, Origin)>>,
    ) {
        marks.insert(node, Mark::Open);
        for (next, at) in edges.get(node).into_iter().flatten() {
            stack.push((node, at.clone()));
            match marks.get(next) {
                None => visit(next, edges, marks, stack, found),
                Some(Mark::Open) => {
                    let start = stack.iter().position(|(n, _)| n == next).unwrap_or(0);
                    found.push(stack[start..].to_vec());
                }
                Some(Mark::Done) => {}
            }
            stack.pop();
        }
        marks.insert(node, Mark::Done);
    }
    let mut marks = BTreeMap::new();
    let mut found = Vec::new();
    for node in edges.keys() {
        if !marks.contains_key(node) {
            visit(node, edges, &mut marks, &mut Vec::new(), &mut found);
        }
    }
    found
}

/// The candidate closest to `name` by edit distance, if it is close enough to be a typo.
pub fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min()
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
