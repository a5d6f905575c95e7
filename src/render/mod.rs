//! Rendering: each (cluster, module) pair becomes a small Flux pointer file.
//!
//! A git or OCI module becomes `<module>.yaml` holding its source pinned at the version and a
//! Kustomization named after the module. A helm module becomes `<module>.yaml` holding a wrapper
//! Kustomization that applies `<module>/release.yaml` (HelmRepository + HelmRelease). Either way
//! each module is exactly one Kustomization, so `dependsOn` works across kinds.

pub mod flux;
mod pair;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use minijinja::Environment;
use rayon::prelude::*;

use crate::content::Content;
use crate::diagnostic::{Diagnostic, Diagnostics, Origin};
use crate::management::{Management, Target, object_name};
use crate::model::{Fleet, GitSource, JsonMap, ModuleKind, Source, ValuesReferenceKind};
use crate::select::{self, Assignment};
use crate::template::{self, Node, TemplateError, Text};
use flux::*;
use pair::Pair;

/// The pointer of one module on one cluster: the files that pin it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pointer {
    /// The module version the files pin.
    pub version: String,
    /// The source revision the files pin: the git tag, OCI tag or chart version. Flux reports
    /// it back as `<revision>` or `<revision>@<digest>`.
    pub revision: String,
    /// `<module>.yaml`.
    pub main: Content,
    /// `<module>/release.yaml`, for helm modules.
    pub release: Option<Content>,
    /// The cluster that applies the pointer to this one and holds it in its folder: the
    /// management cluster, for a bootstrap module (none: the cluster applies it itself).
    pub applied_from: Option<Arc<str>>,
}

impl Pointer {
    /// Drops the texts of its files, keeping their ids.
    pub fn forget_texts(&mut self) {
        self.main = self.main.id_only();
        if let Some(release) = &mut self.release {
            *release = release.id_only();
        }
    }

    /// The same pointer, with the texts it lacks taken from `again` (the same pair rendered
    /// again) where the bytes are the same.
    pub fn with_texts_of(&self, again: &Pointer) -> Pointer {
        let release = match (&self.release, &again.release) {
            (Some(ours), Some(theirs)) => Some(ours.or_text_of(theirs)),
            (ours, _) => ours.clone(),
        };
        Pointer {
            main: self.main.or_text_of(&again.main),
            release,
            ..self.clone()
        }
    }

    /// Whether `other` gives the same files in the same places (versions aside).
    pub fn same_files(&self, other: &Pointer) -> bool {
        self.main == other.main
            && self.release == other.release
            && self.applied_from == other.applied_from
    }

    /// Whether it holds the text of any of its files.
    pub fn has_any_text(&self) -> bool {
        self.main.text().is_some() || self.release.as_ref().is_some_and(|r| r.text().is_some())
    }

    /// Whether it holds the text of each of its files.
    pub fn has_texts(&self) -> bool {
        self.main.text().is_some() && self.release.as_ref().is_none_or(|r| r.text().is_some())
    }
}

/// Whether a render keeps the texts of the files, or their ids alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Texts {
    Keep,
    Drop,
}

/// Pointers by cluster name, then module name. Every cluster of the fleet has an entry, even
/// with no module. A cluster's pointers are shared, not copied, between the renders and
/// branches that hold the same ones (the desired render, the branch read, the next branch):
/// change them with `Arc::make_mut`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    pub clusters: BTreeMap<String, Arc<Pointers>>,
}

/// One cluster's pointers, by module name: a sorted vector, not a tree. A cluster holds a
/// dozen or two, and a tree's nodes cost twice their contents (a 100,000-cluster fleet holds
/// a few of these maps at once).
pub type Pointers = litemap::LiteMap<String, Pointer>;

/// The pointers of one cluster, or the template errors (by module index) that prevented them.
type ClusterResult = Result<Pointers, Vec<(usize, TemplateError)>>;

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
    fleet_context: minijinja::Value,
    /// `spec.management`, resolved.
    pub management: Option<Management>,
    /// By cluster index: whether the management cluster bootstraps the cluster.
    remote: Vec<bool>,
    /// The management cluster's name, shared by the pointers it applies.
    applied_from: Option<Arc<str>>,
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
        let management = management(fleet, &assignment, &mut out);
        let remote = fleet
            .clusters
            .iter()
            .map(|c| {
                management
                    .as_ref()
                    .is_some_and(|m| m.targets.contains_key(&c.name))
            })
            .collect();
        let renderer = Renderer {
            fleet,
            assignment,
            modules,
            fleet_context: template::fleet_context(fleet),
            applied_from: management.as_ref().map(|m| m.cluster.as_str().into()),
            management,
            remote,
        };
        out.into_result(renderer)
    }

    /// Renders every module on every cluster at its desired version.
    pub fn render_all(&self) -> Result<Rendered, Diagnostics> {
        self.render_clusters(|_| true, Texts::Keep)
    }

    /// [`Renderer::render_all`], keeping only the ids of the files: what a plan compares. The
    /// files a step writes are rendered again ([`Renderer::restore_texts`]).
    pub fn render_ids(&self) -> Result<Rendered, Diagnostics> {
        self.render_clusters(|_| true, Texts::Drop)
    }

    /// Renders the clusters for which `keep` holds (by name); the others are left out.
    pub fn render_clusters(
        &self,
        keep: impl Fn(&str) -> bool + Sync,
        texts: Texts,
    ) -> Result<Rendered, Diagnostics> {
        let results: Vec<(usize, ClusterResult)> = self
            .fleet
            .clusters
            .par_iter()
            .enumerate()
            .filter(|(_, cluster)| keep(&cluster.name))
            .map(|(c, _)| {
                let mut pointers =
                    Pointers::with_capacity(self.assignment.modules_of_cluster[c].len());
                let mut errors = Vec::new();
                let cluster = self.cluster_value(c);
                for &m in &self.assignment.modules_of_cluster[c] {
                    let module = &self.fleet.modules[m];
                    let version = &module.spec.version.value;
                    match self.render_pair_with(&cluster, c, m, version, texts) {
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
                    rendered.clusters.insert(name.clone(), Arc::new(pointers));
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

    /// Renders again the texts of the pointers of `pointers` that hold ids alone, except those
    /// `kept` holds with the same files: what a step writes (a tree holds the others already).
    pub fn restore_texts(&self, pointers: &mut Rendered, kept: &Rendered) {
        let index = |names: Vec<&'a str>| -> HashMap<&'a str, usize> {
            names
                .into_iter()
                .enumerate()
                .map(|(i, name)| (name, i))
                .collect()
        };
        let clusters = index(
            self.fleet
                .clusters
                .iter()
                .map(|c| c.name.as_str())
                .collect(),
        );
        let modules = index(self.fleet.modules.iter().map(|m| m.name.as_str()).collect());
        pointers
            .clusters
            .par_iter_mut()
            .for_each(|(cluster, pointers)| {
                let Some(&c) = clusters.get(cluster.as_str()) else {
                    return;
                };
                let kept = kept.clusters.get(cluster);
                let mut context = None;
                let mut restored = Vec::new();
                for (module, pointer) in pointers.iter() {
                    let is_kept = kept
                        .and_then(|k| k.get(module))
                        .is_some_and(|k| pointer.same_files(k));
                    if pointer.has_texts() || is_kept {
                        continue;
                    }
                    let context = context.get_or_insert_with(|| self.cluster_value(c));
                    let again = modules.get(module.as_str()).and_then(|&m| {
                        self.render_pair_with(context, c, m, &pointer.version, Texts::Keep)
                            .ok()
                    });
                    if let Some(again) = again {
                        restored.push((module.clone(), pointer.with_texts_of(&again)));
                    }
                }
                // Pointers shared with other renders are copied only when some change.
                if !restored.is_empty() {
                    let pointers = Arc::make_mut(pointers);
                    for (module, pointer) in restored {
                        pointers.insert(module, pointer);
                    }
                }
            });
    }

    /// Renders each module `m` of `pairs` on cluster `c` at its version (by index into the
    /// fleet's lists), keeping the ids of the files alone.
    pub fn render_ids_at(
        &self,
        c: usize,
        pairs: &[(usize, &str)],
    ) -> Vec<Result<Pointer, TemplateError>> {
        let context = self.cluster_value(c);
        pairs
            .iter()
            .map(|&(m, version)| self.render_pair_with(&context, c, m, version, Texts::Drop))
            .collect()
    }

    /// Renders module `m` on cluster `c` at `version` (by index into the fleet's lists).
    pub fn render_pair(&self, c: usize, m: usize, version: &str) -> Result<Pointer, TemplateError> {
        self.render_pair_with(&self.cluster_value(c), c, m, version, Texts::Keep)
    }

    /// [`Renderer::render_pair`], with `context`, the [`Renderer::cluster_value`] of `c`,
    /// keeping the texts or not.
    fn render_pair_with(
        &self,
        context: &minijinja::Value,
        c: usize,
        m: usize,
        version: &str,
        texts: Texts,
    ) -> Result<Pointer, TemplateError> {
        let fleet = self.fleet;
        let module = &fleet.modules[m];
        let cluster = &fleet.clusters[c].name;
        let ctx = self.context(context, m, version);
        let target = self.target(c, m);
        // Objects the management cluster applies to another cluster are named after both.
        let remote_name = |name: &str| match target {
            Some(_) => object_name(cluster, name),
            None => name.to_string(),
        };
        let name = remote_name(&module.name);
        let depends_on: Vec<String> = self.depends_on(c, m).into_iter().map(remote_name).collect();
        let pair = Pair {
            module,
            cluster,
            version,
            name: &name,
            meta: match target {
                Some(target) => ObjectMeta::remote(
                    &name,
                    &target.namespace,
                    cluster,
                    Some(&module.name),
                    Some(version),
                ),
                None => {
                    ObjectMeta::module(&module.name, &fleet.spec.output.namespace.value, version)
                }
            },
            target,
            depends_on: depends_on.iter().map(|name| LocalRef { name }).collect(),
            references: &self.modules[m].references,
            values: template::render_map(&self.modules[m].values, &ctx)?,
            output: &fleet.spec.output,
            applied_from: target.and(self.applied_from.clone()),
            texts,
        };
        match &module.spec.source {
            Source::Git(git) => pair.git(git, self.tag(m, git, &ctx, version)?),
            Source::Oci(oci) => pair.oci(oci),
            Source::Helm(helm) => Ok(pair.helm(helm)),
        }
    }

    /// The git tag of module `m` (from `git`) at `version`, its tag template rendered in `ctx`.
    fn tag(
        &self,
        m: usize,
        git: &GitSource,
        ctx: &minijinja::Value,
        version: &str,
    ) -> Result<String, TemplateError> {
        let tag = match &self.modules[m].tag {
            Some(text) => match text.render(ctx)? {
                serde_json::Value::String(tag) => tag,
                other => other.to_string(),
            },
            None => version.to_string(),
        };
        if tag.is_empty() || tag.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(TemplateError {
                origin: Origin::of(&self.fleet.modules[m].origin.file, &git.tag),
                path: "spec.source.git.tag".into(),
                message: format!("{tag:?} is not a git tag"),
            });
        }
        Ok(tag)
    }

    /// The values of module `m` on cluster `c` at `version`, merged and rendered.
    pub fn values(&self, c: usize, m: usize, version: &str) -> Result<JsonMap, TemplateError> {
        let cluster = self.cluster_value(c);
        template::render_map(&self.modules[m].values, &self.context(&cluster, m, version))
    }

    /// The context of a template about cluster `c` alone (`cluster` and `fleet`), like a
    /// maintenance window's time zone.
    pub fn cluster_context(&self, c: usize) -> minijinja::Value {
        minijinja::context! {
            cluster => self.cluster_value(c),
            fleet => &self.fleet_context,
        }
    }

    /// What templates know about cluster `c`: made when needed, not kept (3 KB a cluster).
    fn cluster_value(&self, c: usize) -> minijinja::Value {
        template::cluster_context(&self.fleet.clusters[c])
    }

    fn context(&self, cluster: &minijinja::Value, m: usize, version: &str) -> minijinja::Value {
        template::context(
            cluster,
            &self.fleet.modules[m].name,
            version,
            &self.fleet_context,
        )
    }

    /// Where the files of this fleet's rendered branch go.
    pub fn layout(&self) -> crate::layout::Layout<'_> {
        crate::layout::Layout {
            path: &self.fleet.spec.output.path.value,
            management: self.management.as_ref().map(|m| (self.fleet, m)),
        }
    }

    /// Where the management cluster applies module `m` to cluster `c`, if it does: for a
    /// bootstrap module on a cluster it bootstraps.
    pub fn target(&self, c: usize, m: usize) -> Option<&Target> {
        let management = self.management.as_ref()?;
        let bootstrap = self.fleet.modules[m].kind == ModuleKind::BootstrapModule;
        (bootstrap && self.remote[c])
            .then(|| management.targets.get(&self.fleet.clusters[c].name))
            .flatten()
    }

    /// The Kustomizations module `m` waits for on cluster `c`: its own `dependsOn`, and every
    /// bootstrap module on the cluster unless it is one itself. On a cluster the management
    /// cluster bootstraps, modules wait for no bootstrap module: the cluster follows its
    /// folder only once they are ready.
    pub fn depends_on(&self, c: usize, m: usize) -> BTreeSet<&'a str> {
        let fleet = self.fleet;
        let module = &fleet.modules[m];
        let mut names: BTreeSet<&'a str> = module
            .spec
            .depends_on
            .iter()
            .map(|d| d.value.as_str())
            .collect();
        if module.kind == ModuleKind::Module && self.remote[c] {
            names.retain(|d| {
                fleet
                    .module(d)
                    .is_none_or(|d| d.kind != ModuleKind::BootstrapModule)
            });
        } else if module.kind == ModuleKind::Module {
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

/// `spec.management`, resolved, with the bootstrap modules each cluster it bootstraps gets.
fn management(fleet: &Fleet, assignment: &Assignment, out: &mut Diagnostics) -> Option<Management> {
    let mut management = Management::of(fleet).unwrap_or_else(|e| {
        out.extend(e);
        None
    })?;
    for (c, cluster) in fleet.clusters.iter().enumerate() {
        if let Some(target) = management.targets.get_mut(&cluster.name) {
            target.bootstrap = assignment.modules_of_cluster[c]
                .iter()
                .map(|&m| &fleet.modules[m])
                .filter(|m| m.kind == ModuleKind::BootstrapModule)
                .map(|m| m.name.clone())
                .collect();
        }
    }
    Some(management)
}
