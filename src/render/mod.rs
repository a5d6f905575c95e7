//! Rendering: each (cluster, module) pair becomes a small Flux pointer file.
//!
//! A git or OCI module becomes `<module>.yaml` holding its source pinned at the version and a
//! Kustomization named after the module. A helm module becomes `<module>.yaml` holding a wrapper
//! Kustomization that applies `<module>/release.yaml` (HelmRepository + HelmRelease). Either way
//! each module is exactly one Kustomization, so `dependsOn` works across kinds.

pub mod flux;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use minijinja::Environment;
use rayon::prelude::*;

use crate::diagnostic::{Diagnostic, Diagnostics, Origin};
use crate::model::{Fleet, JsonMap, ModuleKind, Source, ValuesReferenceKind};
use crate::select::{self, Assignment};
use crate::template::{self, Node, TemplateError, Text};
use flux::*;

/// The pointer of one module on one cluster: the files that pin it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pointer {
    /// The module version the files pin.
    pub version: String,
    /// The source revision the files pin: the git tag, OCI tag or chart version. Flux reports
    /// it back as `<revision>` or `<revision>@<digest>`.
    pub revision: String,
    /// `<module>.yaml`.
    pub main: Arc<str>,
    /// `<module>/release.yaml`, for helm modules.
    pub release: Option<Arc<str>>,
}

/// Pointers by cluster name, then module name. Every cluster of the fleet has an entry, even
/// with no module.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    pub clusters: BTreeMap<String, BTreeMap<String, Pointer>>,
}

/// The pointers of one cluster, or the template errors (by module index) that prevented them.
type ClusterResult = Result<BTreeMap<String, Pointer>, Vec<(usize, TemplateError)>>;

/// Renders every module on every cluster it goes to.
pub fn render(fleet: &Fleet) -> Result<Rendered, Diagnostics> {
    let env = template::sandbox();
    Renderer::new(fleet, &env)?.render_all()
}

/// A fleet with its selectors matched and its templates compiled, ready to render any pair.
pub struct Renderer<'a> {
    pub fleet: &'a Fleet,
    pub assignment: Assignment,
    modules: Vec<CompiledModule<'a>>,
    cluster_contexts: Vec<minijinja::Value>,
    fleet_context: minijinja::Value,
}

struct CompiledModule<'a> {
    values: BTreeMap<String, Node<'a>>,
    /// The git tag template, for git modules.
    tag: Option<Text<'a>>,
    /// `spec.substituteFrom`, as written in pointers.
    references: Vec<ValuesRef<'a>>,
}

impl<'a> Renderer<'a> {
    /// Matches selectors, checks dependencies against the assignment and compiles every
    /// template, reporting every problem found.
    pub fn new(fleet: &'a Fleet, env: &'a Environment<'a>) -> Result<Self, Diagnostics> {
        let mut out = Diagnostics::default();
        let assignment = select::assign(fleet);
        out.extend(select::check_dependencies(fleet, &assignment));
        let modules = fleet
            .modules
            .iter()
            .map(|module| {
                let mut values = BTreeMap::new();
                for (file, map) in module.value_sources() {
                    template::merge(&mut values, Node::compile_map(env, file, map, "", &mut out));
                }
                let tag = match &module.spec.source {
                    Source::Git(git) => {
                        let origin = Origin::of(&module.origin.file, &git.tag);
                        match Text::compile(
                            env,
                            &git.tag.value,
                            origin,
                            "spec.source.git.tag".into(),
                        ) {
                            Ok(text) => Some(text),
                            Err(d) => {
                                out.push(d);
                                None
                            }
                        }
                    }
                    _ => None,
                };
                let references = module
                    .spec
                    .substitute_from
                    .iter()
                    .map(|r| ValuesRef {
                        kind: match r.kind {
                            ValuesReferenceKind::Secret => "Secret",
                            ValuesReferenceKind::ConfigMap => "ConfigMap",
                        },
                        name: &r.name,
                        optional: r.optional,
                    })
                    .collect();
                CompiledModule {
                    values,
                    tag,
                    references,
                }
            })
            .collect();
        let renderer = Renderer {
            fleet,
            assignment,
            modules,
            cluster_contexts: fleet
                .clusters
                .par_iter()
                .map(template::cluster_context)
                .collect(),
            fleet_context: template::fleet_context(fleet),
        };
        out.into_result(renderer)
    }

    /// Renders every module on every cluster at its desired version.
    pub fn render_all(&self) -> Result<Rendered, Diagnostics> {
        self.render_clusters(|_| true)
    }

    /// Renders the clusters for which `keep` holds (by name); the others are left out.
    pub fn render_clusters(
        &self,
        keep: impl Fn(&str) -> bool + Sync,
    ) -> Result<Rendered, Diagnostics> {
        let results: Vec<(usize, ClusterResult)> = self
            .fleet
            .clusters
            .par_iter()
            .enumerate()
            .filter(|(_, cluster)| keep(&cluster.name))
            .map(|(c, _)| {
                let mut pointers = BTreeMap::new();
                let mut errors = Vec::new();
                for &m in &self.assignment.modules_of_cluster[c] {
                    let module = &self.fleet.modules[m];
                    match self.render_pair(c, m, &module.spec.version.value) {
                        Ok(pointer) => {
                            pointers.insert(module.name.clone(), pointer);
                        }
                        Err(e) => errors.push((m, e)),
                    }
                }
                (
                    c,
                    if errors.is_empty() {
                        Ok(pointers)
                    } else {
                        Err(errors)
                    },
                )
            })
            .collect();
        let mut rendered = Rendered::default();
        let mut failures: BTreeMap<(Origin, String, String, usize), Vec<&str>> = BTreeMap::new();
        for (c, result) in results {
            let name = &self.fleet.clusters[c].name;
            match result {
                Ok(pointers) => {
                    rendered.clusters.insert(name.clone(), pointers);
                }
                Err(errors) => {
                    for (m, e) in errors {
                        failures
                            .entry((e.origin, e.path, e.message, m))
                            .or_default()
                            .push(name);
                    }
                }
            }
        }
        let mut out = Diagnostics::default();
        for ((origin, path, message, m), clusters) in failures {
            let module = &self.fleet.modules[m].name;
            let shown: Vec<&str> = clusters.iter().take(3).copied().collect();
            let more = clusters.len() - shown.len();
            let on = if more > 0 {
                format!("{} and {more} more", shown.join(", "))
            } else {
                shown.join(", ")
            };
            out.push(
                Diagnostic::new(
                    origin,
                    format!("{path} of module {module:?} on cluster {on}: {message}"),
                )
                .hint("templates see cluster.{name, labels, annotations, values, facts}, module.{name, version}, version and fleet.values; test with `default`, like {{ cluster.values.x | default('y') }}"),
            );
        }
        out.into_result(rendered)
    }

    /// Renders module `m` on cluster `c` at `version` (by index into the fleet's lists).
    pub fn render_pair(&self, c: usize, m: usize, version: &str) -> Result<Pointer, TemplateError> {
        let fleet = self.fleet;
        let module = &fleet.modules[m];
        let compiled = &self.modules[m];
        let cluster = &fleet.clusters[c];
        let ctx = self.context(c, m, version);
        let values = template::render_map(&compiled.values, &ctx)?;
        let output = &fleet.spec.output;
        let meta = ObjectMeta::module(&module.name, &output.namespace.value, version);
        let spec = &module.spec;
        let interval = spec.interval.as_str();
        let timeout = spec.timeout.as_ref().map(|t| t.as_str());
        let target_namespace = spec.target_namespace.as_deref();
        let depends_on: Vec<LocalRef> = self
            .depends_on(c, m)
            .into_iter()
            .map(|name| LocalRef { name })
            .collect();
        let references = compiled.references.as_slice();
        let kustomization = move |source_ref, path, target_namespace, post_build| Object {
            api_version: KUSTOMIZE_API,
            kind: "Kustomization",
            metadata: meta,
            spec: KustomizationSpec {
                interval,
                source_ref,
                path,
                prune: spec.prune,
                wait: true,
                timeout,
                target_namespace,
                depends_on,
                post_build,
            },
        };
        match &spec.source {
            Source::Git(git) => {
                let tag = match &compiled.tag {
                    Some(text) => match text.render(&ctx)? {
                        serde_json::Value::String(tag) => tag,
                        other => other.to_string(),
                    },
                    None => version.to_string(),
                };
                if tag.is_empty() || tag.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(TemplateError {
                        origin: Origin::of(&module.origin.file, &git.tag),
                        path: "spec.source.git.tag".into(),
                        message: format!("{tag:?} is not a git tag"),
                    });
                }
                let source = Object {
                    api_version: SOURCE_API,
                    kind: "GitRepository",
                    metadata: meta,
                    spec: GitRepositorySpec {
                        interval,
                        url: &git.url.value,
                        reference: GitReference {
                            branch: None,
                            tag: Some(&tag),
                        },
                        secret_ref: None,
                        sparse_checkout: &[],
                    },
                };
                let kustomization = kustomization(
                    SourceRef {
                        kind: "GitRepository",
                        name: &module.name,
                    },
                    &git.path,
                    target_namespace,
                    post_build(module, values, references)?,
                );
                let main = to_yaml(&[&source, &kustomization]).into();
                Ok(Pointer {
                    version: version.to_string(),
                    revision: tag,
                    main,
                    release: None,
                })
            }
            Source::Oci(oci) => {
                let source = Object {
                    api_version: SOURCE_API,
                    kind: "OCIRepository",
                    metadata: meta,
                    spec: OciRepositorySpec {
                        interval,
                        url: &oci.url.value,
                        reference: OciReference { tag: version },
                    },
                };
                let kustomization = kustomization(
                    SourceRef {
                        kind: "OCIRepository",
                        name: &module.name,
                    },
                    &oci.path,
                    target_namespace,
                    post_build(module, values, references)?,
                );
                Ok(Pointer {
                    version: version.to_string(),
                    revision: version.to_string(),
                    main: to_yaml(&[&source, &kustomization]).into(),
                    release: None,
                })
            }
            Source::Helm(helm) => {
                let url = &helm.repository.value;
                let repository = Object {
                    api_version: SOURCE_API,
                    kind: "HelmRepository",
                    metadata: meta,
                    spec: HelmRepositorySpec {
                        interval,
                        url,
                        kind: url.starts_with("oci://").then_some("oci"),
                    },
                };
                let release = Object {
                    api_version: HELM_API,
                    kind: "HelmRelease",
                    metadata: meta,
                    spec: HelmReleaseSpec {
                        interval,
                        chart: HelmChartTemplate {
                            spec: HelmChartSpec {
                                chart: &helm.chart,
                                version,
                                source_ref: SourceRef {
                                    kind: "HelmRepository",
                                    name: &module.name,
                                },
                            },
                        },
                        timeout,
                        target_namespace,
                        install: target_namespace.map(|_| HelmInstall {
                            create_namespace: true,
                        }),
                        values_from: references,
                        values,
                    },
                };
                let path = format!("./{}/{}/{}", output.path.value, cluster.name, module.name);
                let wrapper = kustomization(
                    SourceRef {
                        kind: "GitRepository",
                        name: &output.source_name.value,
                    },
                    &path,
                    None,
                    None,
                );
                Ok(Pointer {
                    version: version.to_string(),
                    revision: version.to_string(),
                    main: to_yaml(&[&wrapper]).into(),
                    release: Some(to_yaml(&[&repository, &release]).into()),
                })
            }
        }
    }

    /// The values of module `m` on cluster `c` at `version`, merged and rendered.
    pub fn values(&self, c: usize, m: usize, version: &str) -> Result<JsonMap, TemplateError> {
        template::render_map(&self.modules[m].values, &self.context(c, m, version))
    }

    /// The context of a template about cluster `c` alone (`cluster` and `fleet`), like a
    /// maintenance window's time zone.
    pub fn cluster_context(&self, c: usize) -> minijinja::Value {
        minijinja::context! {
            cluster => &self.cluster_contexts[c],
            fleet => &self.fleet_context,
        }
    }

    fn context(&self, c: usize, m: usize, version: &str) -> minijinja::Value {
        template::context(
            &self.cluster_contexts[c],
            &self.fleet.modules[m].name,
            version,
            &self.fleet_context,
        )
    }

    /// The Kustomizations module `m` waits for on cluster `c`: its own `dependsOn`, and every
    /// bootstrap module on the cluster unless it is one itself.
    pub fn depends_on(&self, c: usize, m: usize) -> BTreeSet<&'a str> {
        let module = &self.fleet.modules[m];
        let mut names: BTreeSet<&'a str> = module
            .spec
            .depends_on
            .iter()
            .map(|d| d.value.as_str())
            .collect();
        if module.kind == ModuleKind::Module {
            for &other in &self.assignment.modules_of_cluster[c] {
                let other = &self.fleet.modules[other];
                if other.kind == ModuleKind::BootstrapModule {
                    names.insert(&other.name);
                }
            }
        }
        names
    }
}

/// The values of a kustomize module as `postBuild.substitute` strings.
fn post_build<'a>(
    module: &crate::model::Module,
    values: JsonMap,
    substitute_from: &'a [ValuesRef<'a>],
) -> Result<Option<PostBuild<'a>>, TemplateError> {
    let mut substitute = BTreeMap::new();
    for (key, value) in values {
        let text = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            other => {
                return Err(TemplateError {
                    origin: module.origin.clone(),
                    path: format!("spec.values.{key}"),
                    message: format!(
                        "is {}, but the values of a kustomization are strings (Flux postBuild.substitute)",
                        match other {
                            serde_json::Value::Null => "null",
                            serde_json::Value::Array(_) => "a list",
                            _ => "a map",
                        }
                    ),
                });
            }
        };
        substitute.insert(key, text);
    }
    if substitute.is_empty() && substitute_from.is_empty() {
        Ok(None)
    } else {
        Ok(Some(PostBuild {
            substitute,
            substitute_from,
        }))
    }
}
