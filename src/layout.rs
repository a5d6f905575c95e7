//! The layout of the rendered branch: which file holds what.
//!
//! ```text
//! <path>/<cluster>/kustomization.yaml     lists the cluster's module files
//! <path>/<cluster>/<module>.yaml          the module's pointer
//! <path>/<cluster>/<module>/release.yaml  the HelmRepository + HelmRelease of a helm module
//! ```
//!
//! With `spec.management`, the management cluster's folder also holds, for every cluster
//! `<other>` it bootstraps (its `kustomization.yaml` lists them too):
//!
//! ```text
//! <path>/<mgmt>/_bootstrap/<other>/<module>.yaml        a bootstrap module of <other>, applied into it
//! <path>/<mgmt>/_bootstrap/<other>/_sync.yaml           the Kustomization applying _sync/ into <other>
//! <path>/<mgmt>/_bootstrap/<other>/_sync/<source>.yaml  what makes <other> follow <path>/<other>
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use git2::Oid;
use rayon::prelude::*;

use crate::content::{Content, blob_id, tree_id, tree_order};
use crate::management::Management;
use crate::model::Fleet;
use crate::render::flux::KustomizeFile;
use crate::render::{Pointer, Pointers, Rendered};

/// Files by path (relative, `/`-separated) with their content.
pub type Files = BTreeMap<String, Content>;

/// The name of each cluster folder's kustomize file.
pub const KUSTOMIZATION: &str = "kustomization.yaml";

/// The folder of the management cluster's folder holding what it applies to other clusters
/// (not a DNS-1123 label, so never a module's name).
pub const BOOTSTRAP: &str = "_bootstrap";

/// The file of the Kustomization that makes a cluster follow its folder, and the folder of
/// what it applies.
const SYNC: &str = "_sync";

/// Where the files of a rendered branch go.
#[derive(Clone, Copy)]
pub struct Layout<'a> {
    /// The folder of the cluster folders.
    pub path: &'a str,
    /// The fleet and its management cluster, which bootstraps the others.
    pub management: Option<(&'a Fleet, &'a Management)>,
}

impl<'a> Layout<'a> {
    /// The layout of a fleet without a management cluster, its clusters under `path`.
    pub fn plain(path: &'a str) -> Self {
        Layout {
            path,
            management: None,
        }
    }

    /// Every file of `rendered`.
    pub fn files(&self, rendered: &Rendered) -> Files {
        let path = self.path;
        let hosted = self.hosted(rendered);
        let entries: Vec<(String, Content)> = rendered
            .clusters
            .par_iter()
            .flat_map_iter(|(cluster, modules)| {
                let dir = format!("{path}/{cluster}");
                let mut entries = Vec::with_capacity(2 * modules.len() + 1);
                let hosted = hosted.get(cluster).map_or(&[][..], Vec::as_slice);
                entries.push((
                    format!("{dir}/{KUSTOMIZATION}"),
                    Content::new(kustomization(modules, hosted)),
                ));
                for (module, pointer) in modules.iter() {
                    entries.push((
                        file_path(path, cluster, module, pointer),
                        pointer.main.clone(),
                    ));
                    if let Some(release) = &pointer.release {
                        entries.push((format!("{dir}/{module}/release.yaml"), release.clone()));
                    }
                }
                entries.extend(self.sync(cluster));
                entries
            })
            .collect();
        // Sorted and built in bulk; of equal paths the last wins, as with inserting one by one.
        entries.into_iter().collect()
    }

    /// The syncs of `rendered`'s clusters that the management cluster bootstraps.
    pub fn syncs(&self, rendered: &Rendered) -> Files {
        rendered
            .clusters
            .keys()
            .flat_map(|cluster| self.sync(cluster))
            .collect()
    }

    /// Whether the syncs of `next` differ from those `current` holds: they change with the
    /// fleet's settings (`spec.management`, `spec.output`) even when no pointer does.
    pub fn syncs_changed(&self, next: &Branch, current: &Branch) -> bool {
        self.syncs(&next.pointers) != current.syncs
    }

    /// Every file of a rendered branch: pointers with their `kustomization.yaml`, rollout
    /// records, and the foreign files carried over.
    pub fn branch_files(&self, branch: &Branch) -> Files {
        let mut all = self.files(&branch.pointers);
        for (module, record) in &branch.records {
            all.insert(record_path(module), record.clone());
        }
        for (file, content) in &branch.foreign {
            all.entry(file.clone()).or_insert_with(|| content.clone());
        }
        all
    }

    /// The cluster folders whose files differ between `next` and `current`: those holding
    /// pointers that differ (a cluster's own, or the management cluster's for a bootstrap
    /// pointer), of clusters added or removed, of the management cluster when the syncs differ,
    /// and those `current` holds otherwise than fleeet writes them. Found from the pointers,
    /// without making any file.
    pub fn changed_folders(&self, next: &Branch, current: &Branch) -> BTreeSet<String> {
        let mut changed = current.rewrite.clone();
        let clusters: BTreeSet<&String> = next
            .pointers
            .clusters
            .keys()
            .chain(current.pointers.clusters.keys())
            .collect();
        for cluster in clusters {
            let (a, b) = (
                next.pointers.clusters.get(cluster),
                current.pointers.clusters.get(cluster),
            );
            match (a, b) {
                (Some(x), Some(y))
                    if Arc::ptr_eq(x, y)
                        || x.len() == y.len()
                            && x.iter()
                                .zip(y.iter())
                                .all(|((m, p), (n, q))| m == n && p.same_files(q)) =>
                {
                    continue;
                }
                (Some(_), Some(_)) => {}
                // Its kustomization.yaml comes or goes.
                _ => {
                    changed.insert(cluster.clone());
                }
            }
            let modules: BTreeSet<&String> =
                a.into_iter().chain(b).flat_map(|p| p.keys()).collect();
            for module in modules {
                let (p, q) = (a.and_then(|a| a.get(module)), b.and_then(|b| b.get(module)));
                if p.zip(q).is_some_and(|(p, q)| p.same_files(q)) {
                    continue;
                }
                // A pointer's file is in its cluster's folder, or in its host's.
                for pointer in p.into_iter().chain(q) {
                    let folder = pointer.applied_from.as_deref().unwrap_or(cluster);
                    changed.insert(folder.to_string());
                }
            }
        }
        let syncs = self.syncs(&next.pointers);
        for (file, _) in syncs.iter().chain(&current.syncs) {
            if syncs.get(file) != current.syncs.get(file)
                && let Some(folder) = self.folder_of(file)
            {
                changed.insert(folder.to_string());
            }
        }
        changed
    }

    /// The files of `branch` in the cluster folders `folders` (see [`Layout::changed_folders`])
    /// and under `.fleeet/`, with the files fleeet did not write there: what a step writes.
    pub fn folder_files(&self, branch: &Branch, folders: &BTreeSet<String>) -> Files {
        let mut files = self.files_in(&branch.pointers, folders);
        for (module, record) in &branch.records {
            files.insert(record_path(module), record.clone());
        }
        for (file, content) in &branch.foreign {
            let inside = file.starts_with(".fleeet/")
                || self.folder_of(file).is_some_and(|f| folders.contains(f));
            if inside {
                files.entry(file.clone()).or_insert_with(|| content.clone());
            }
        }
        files
    }

    /// The files of `rendered` in the cluster folders `folders`: the pointers of their
    /// clusters, with what the management cluster's folder holds for the others.
    pub fn files_in(&self, rendered: &Rendered, folders: &BTreeSet<String>) -> Files {
        let synced_here = |cluster: &str| {
            self.management.is_some_and(|(_, m)| {
                m.targets.contains_key(cluster) && folders.contains(&m.cluster)
            })
        };
        let clusters = rendered
            .clusters
            .iter()
            .filter(|(cluster, pointers)| {
                folders.contains(*cluster)
                    || synced_here(cluster)
                    || pointers.values().any(|p| {
                        p.applied_from
                            .as_ref()
                            .is_some_and(|h| folders.contains(&**h))
                    })
            })
            .map(|(cluster, pointers)| (cluster.clone(), pointers.clone()))
            .collect();
        self.files(&Rendered { clusters })
            .into_iter()
            .filter(|(file, _)| self.folder_of(file).is_some_and(|f| folders.contains(f)))
            .collect()
    }

    /// The id git gives the folder of `cluster` holding exactly the files of its own
    /// `pointers` (those it applies itself) and their `kustomization.yaml`, as fleeet writes
    /// it: what a rendered branch holds there if it holds those pointers. None for the
    /// management cluster, whose folder holds what it applies to others too.
    pub fn own_folder_id(&self, cluster: &str, pointers: &Pointers) -> Option<Oid> {
        if self.management.is_some_and(|(_, m)| m.cluster == cluster) {
            return None;
        }
        let kustomization = blob_id(kustomization(pointers, &[]).as_bytes());
        let mut entries = vec![(KUSTOMIZATION.to_string(), false, kustomization)];
        for (module, pointer) in pointers.iter().filter(|(_, p)| p.applied_from.is_none()) {
            entries.push((format!("{module}.yaml"), false, pointer.main.id()));
            if let Some(release) = &pointer.release {
                let folder = tree_id([("release.yaml", false, release.id())]);
                entries.push((module.clone(), true, folder));
            }
        }
        entries.sort_unstable_by(|(a, a_folder, _), (b, b_folder, _)| {
            tree_order(a, *a_folder, b, *b_folder)
        });
        Some(tree_id(
            entries
                .iter()
                .map(|(name, folder, id)| (name.as_str(), *folder, *id)),
        ))
    }

    /// The cluster folder holding `file`, if it is in one.
    fn folder_of<'f>(&self, file: &'f str) -> Option<&'f str> {
        let rest = file.strip_prefix(self.path)?.strip_prefix('/')?;
        rest.split_once('/').map(|(folder, _)| folder)
    }

    /// What each cluster folder's `kustomization.yaml` lists besides the cluster's own
    /// modules: the files it applies to other clusters, relative to the folder.
    fn hosted(&self, rendered: &Rendered) -> BTreeMap<String, Vec<String>> {
        let synced: BTreeMap<&str, &str> = match self.management {
            Some((_, management)) => rendered
                .clusters
                .keys()
                .filter(|c| management.targets.contains_key(*c))
                .map(|c| (c.as_str(), management.cluster.as_str()))
                .collect(),
            None => BTreeMap::new(),
        };
        hosted(rendered, &synced)
    }

    /// The files that make `cluster` follow its folder, in the management cluster's folder,
    /// if the management cluster bootstraps it.
    fn sync(&self, cluster: &str) -> impl Iterator<Item = (String, Content)> + use<> {
        let files = self.management.and_then(|(fleet, management)| {
            let target = management.targets.get(cluster)?;
            let dir = format!("{}/{}/{BOOTSTRAP}/{cluster}", self.path, management.cluster);
            let folder = format!("{dir}/{SYNC}");
            let (sync, applied) = crate::management::sync_files(fleet, cluster, target, &folder);
            let source = &fleet.spec.output.source_name.value;
            Some([
                (format!("{dir}/{SYNC}.yaml"), Content::new(sync)),
                (format!("{folder}/{source}.yaml"), Content::new(applied)),
            ])
        });
        files.into_iter().flatten()
    }
}

/// What each cluster folder lists besides its own modules: the pointers it applies to other
/// clusters, and the sync of each cluster in `synced` (by cluster, the folder holding it).
fn hosted(rendered: &Rendered, synced: &BTreeMap<&str, &str>) -> BTreeMap<String, Vec<String>> {
    let mut hosted: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (cluster, modules) in &rendered.clusters {
        for (module, pointer) in modules.iter() {
            if let Some(host) = &pointer.applied_from {
                hosted
                    .entry(host.to_string())
                    .or_default()
                    .push(format!("{BOOTSTRAP}/{cluster}/{module}.yaml"));
            }
        }
        if let Some(host) = synced.get(cluster.as_str()) {
            hosted
                .entry(host.to_string())
                .or_default()
                .push(format!("{BOOTSTRAP}/{cluster}/{SYNC}.yaml"));
        }
    }
    hosted
}

/// Every file of `rendered`, with its clusters under `path` (a fleet without a management
/// cluster).
pub fn files(rendered: &Rendered, path: &str) -> Files {
    Layout::plain(path).files(rendered)
}

/// The path of a pointer's main file.
fn file_path(path: &str, cluster: &str, module: &str, pointer: &Pointer) -> String {
    match &pointer.applied_from {
        Some(host) => format!("{path}/{host}/{BOOTSTRAP}/{cluster}/{module}.yaml"),
        None => pointer_path(path, cluster, module),
    }
}

/// The path of the main file of `module`'s pointer on `cluster` in `pointers` (where it
/// would be if it is not there).
pub fn pair_path(pointers: &Rendered, path: &str, cluster: &str, module: &str) -> String {
    let pointer = pointers.clusters.get(cluster).and_then(|m| m.get(module));
    path_of(path, cluster, module, pointer)
}

/// The path of the main file of `module`'s pointer on `cluster`, the pointer being `pointer`
/// (where it would be if there is none).
pub fn path_of(path: &str, cluster: &str, module: &str, pointer: Option<&Pointer>) -> String {
    match pointer {
        Some(pointer) => file_path(path, cluster, module, pointer),
        None => pointer_path(path, cluster, module),
    }
}

/// Whether `a` and `b` give the same files: the same clusters, each with the same modules and
/// the same bytes in the same places (versions and revisions aside).
pub fn same_files(a: &Rendered, b: &Rendered) -> bool {
    let same_pointer =
        |(m, p): (&String, &Pointer), (n, q): (&String, &Pointer)| m == n && p.same_files(q);
    a.clusters.len() == b.clusters.len()
        && a.clusters.iter().zip(&b.clusters).all(|((c, x), (d, y))| {
            c == d
                && (Arc::ptr_eq(x, y)
                    || x.len() == y.len()
                        && x.iter().zip(y.iter()).all(|(p, q)| same_pointer(p, q)))
        })
}

/// The `kustomization.yaml` of a cluster folder: its own modules' files, then the `hosted`
/// files it applies to other clusters.
pub fn kustomization(modules: &Pointers, hosted: &[String]) -> String {
    let own = modules
        .iter()
        .filter(|(_, p)| p.applied_from.is_none())
        .map(|(m, _)| format!("{m}.yaml"));
    let file = KustomizeFile {
        api_version: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources: own.chain(hosted.iter().cloned()).collect(),
    };
    crate::render::flux::to_yaml(&[&file])
}

/// `path` relative to `root`, `/`-separated: how fleeet names files whatever the platform.
pub fn relative_path(root: &std::path::Path, path: &std::path::Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The folder of rollout records on the rendered branch.
pub const ROLLOUTS: &str = ".fleeet/rollouts";

/// The path of a module's pointer file on a cluster.
pub fn pointer_path(path: &str, cluster: &str, module: &str) -> String {
    format!("{path}/{cluster}/{module}.yaml")
}

/// The path of a module's rollout record.
pub fn record_path(module: &str) -> String {
    format!("{ROLLOUTS}/{module}.yaml")
}

/// The module whose rollout record `file` is, if it is one.
pub fn record_module(file: &str) -> Option<&str> {
    file.strip_prefix(ROLLOUTS)
        .and_then(|r| r.strip_prefix('/'))
        .and_then(|r| r.strip_suffix(".yaml"))
        .filter(|name| crate::model::names::check_dns1123_label(name).is_ok())
}

/// A rendered branch, understood: pointers, rollout records, and what fleeet did not write.
#[derive(Clone, Debug, Default)]
pub struct Branch {
    /// Pointers by cluster, then module. `Pointer::revision` is empty: it is not read back.
    pub pointers: Rendered,
    /// Rollout records by module name, as written.
    pub records: BTreeMap<String, Content>,
    /// Files fleeet did not write; they are carried over unchanged.
    pub foreign: Files,
    /// The syncs of the clusters the management cluster bootstraps, as read. They are
    /// written from the fleet, not from the pointers: see [`Layout::syncs_changed`].
    pub syncs: Files,
    /// What was found but not understood, for the plan to report.
    pub problems: Vec<String>,
    /// The cluster folders not as fleeet writes them for their pointers (a `kustomization.yaml`
    /// edited or missing): the next step writes them again.
    pub rewrite: BTreeSet<String>,
}

/// Reads the files of a rendered branch whose clusters are under `path`. A pointer file known
/// by its id alone is one of `known`'s (the reader found the bytes it expected): its version
/// is `known`'s.
pub fn parse(files: &Files, path: &str, known: &Rendered) -> Branch {
    parse_with_known_folders(files, path, known, &BTreeSet::new())
}

/// [`parse`], where the folders of the clusters `matched` were found to hold exactly the files
/// of their own pointers in `known` (see [`Layout::own_folder_id`]): `files` leaves them out,
/// and the pointers are taken from `known`.
pub fn parse_with_known_folders(
    files: &Files,
    path: &str,
    known: &Rendered,
    matched: &BTreeSet<String>,
) -> Branch {
    let mut branch = Branch::default();
    for cluster in matched {
        let Some(pointers) = known.clusters.get(cluster) else {
            continue;
        };
        // Shared with `known`, unless some are applied from the management cluster's folder.
        let own = match pointers.values().all(|p| p.applied_from.is_none()) {
            true => pointers.clone(),
            false => {
                let own = pointers.iter().filter(|(_, p)| p.applied_from.is_none());
                Arc::new(own.map(|(m, p)| (m.clone(), p.clone())).collect())
            }
        };
        branch.pointers.clusters.insert(cluster.clone(), own);
    }
    let prefix = format!("{path}/");
    let mut kustomizations = Vec::new();
    let mut synced: BTreeMap<&str, &str> = BTreeMap::new();
    for (file, content) in files {
        if let Some(rest) = file.strip_prefix(&prefix) {
            if let Some((cluster, KUSTOMIZATION)) = rest.split_once('/') {
                kustomizations.push((file, cluster, content));
            }
            if !read_cluster_file(&mut branch, &mut synced, file, rest, content, known) {
                branch.problems.push(format!(
                    "{file} is not a file fleeet writes; it is kept as it is"
                ));
                branch.foreign.insert(file.clone(), content.clone());
            }
        } else if let Some(name) = record_module(file) {
            branch.records.insert(name.to_string(), content.clone());
        } else {
            if file.starts_with(".fleeet/") {
                branch.problems.push(format!(
                    "{file} is not a file fleeet writes; it is kept as it is"
                ));
            }
            branch.foreign.insert(file.clone(), content.clone());
        }
    }
    // A cluster's kustomization.yaml is written from its pointers: say so if it was edited.
    let hosted = hosted(&branch.pointers, &synced);
    let mut listed_clusters = BTreeSet::new();
    for (file, cluster, content) in kustomizations {
        listed_clusters.insert(cluster);
        let listed = hosted.get(cluster).map_or(&[][..], Vec::as_slice);
        if let Some(modules) = branch.pointers.clusters.get(cluster)
            && *content != Content::id_of(&kustomization(modules, listed))
        {
            branch.problems.push(format!(
                "{file} is not what fleeet writes for the pointers there (edited by hand?); fleeet rewrites it from the pointers"
            ));
            branch.rewrite.insert(cluster.to_string());
        }
    }
    let unlisted = branch
        .pointers
        .clusters
        .keys()
        .filter(|c| !listed_clusters.contains(c.as_str()) && !matched.contains(*c));
    branch.rewrite.extend(unlisted.cloned());
    branch
}

/// What a file under `<path>/` is, from its path there.
enum ClusterFile<'f> {
    /// `<host>/_bootstrap/<cluster>/_sync.yaml`: the sync of `cluster`, in `host`'s folder.
    Sync { host: &'f str, cluster: &'f str },
    /// A file of the folder of such a sync.
    SyncPart,
    /// `<cluster>/kustomization.yaml`.
    Kustomization { cluster: &'f str },
    /// The main file of a pointer (`<cluster>/<module>.yaml`, or in a host's `_bootstrap`
    /// folder when the host applies it) or a helm pointer's `release.yaml`.
    Pointer {
        cluster: &'f str,
        module: &'f str,
        release: bool,
        applied_from: Option<&'f str>,
    },
}

impl<'f> ClusterFile<'f> {
    /// The file at `rest` (relative to `<path>/`), if it is one fleeet writes there.
    fn of(rest: &'f str) -> Option<Self> {
        use crate::model::names::check_dns1123_label;
        let label = |name: &str| check_dns1123_label(name).is_ok();
        let parts: Vec<&str> = rest.split('/').collect();
        let file = match parts.as_slice() {
            [host, BOOTSTRAP, cluster, rest @ ..] if label(host) && label(cluster) => match rest {
                [name] if name.strip_suffix(".yaml") == Some(SYNC) => {
                    return Some(ClusterFile::Sync { host, cluster });
                }
                [SYNC, _] => return Some(ClusterFile::SyncPart),
                [name] => ClusterFile::Pointer {
                    cluster,
                    module: name.strip_suffix(".yaml")?,
                    release: false,
                    applied_from: Some(host),
                },
                _ => return None,
            },
            [cluster, KUSTOMIZATION] => {
                return label(cluster).then_some(ClusterFile::Kustomization { cluster });
            }
            [cluster, name] => ClusterFile::Pointer {
                cluster,
                module: name.strip_suffix(".yaml")?,
                release: false,
                applied_from: None,
            },
            [cluster, module, "release.yaml"] => ClusterFile::Pointer {
                cluster,
                module,
                release: true,
                applied_from: None,
            },
            _ => return None,
        };
        match file {
            ClusterFile::Pointer {
                cluster, module, ..
            } if !(label(cluster) && label(module)) => None,
            file => Some(file),
        }
    }
}

/// Files a cluster folder may hold (`file`, which is `rest` relative to `<path>/`): whether
/// it was one. The syncs of other clusters are written from the fleet: they are kept in
/// `branch.syncs` and noted in `synced` (by cluster, the folder holding it).
fn read_cluster_file<'f>(
    branch: &mut Branch,
    synced: &mut BTreeMap<&'f str, &'f str>,
    file: &str,
    rest: &'f str,
    content: &Content,
    known: &Rendered,
) -> bool {
    let Some(kind) = ClusterFile::of(rest) else {
        return false;
    };
    let clusters = &mut branch.pointers.clusters;
    match kind {
        ClusterFile::Sync { host, cluster } => {
            synced.insert(cluster, host);
            branch.syncs.insert(file.to_string(), content.clone());
        }
        ClusterFile::SyncPart => {
            branch.syncs.insert(file.to_string(), content.clone());
        }
        ClusterFile::Kustomization { cluster } => {
            if !clusters.contains_key(cluster) {
                clusters.insert(cluster.to_string(), Default::default());
            }
        }
        ClusterFile::Pointer {
            cluster,
            module,
            release,
            applied_from,
        } => {
            if !clusters.contains_key(cluster) {
                clusters.insert(cluster.to_string(), Default::default());
            }
            let modules = Arc::make_mut(clusters.get_mut(cluster).expect("inserted above"));
            let pointer = modules
                .entry(module.to_string())
                .or_insert_with(|| Pointer {
                    version: String::new(),
                    revision: String::new(),
                    main: Content::new(""),
                    release: None,
                    applied_from: None,
                });
            if release {
                pointer.release = Some(content.clone());
                return true;
            }
            pointer.main = content.clone();
            pointer.applied_from = applied_from.map(Arc::from);
            let version = match content.text() {
                Some(text) => pointer_version(text),
                None => known
                    .clusters
                    .get(cluster)
                    .and_then(|modules| modules.get(module))
                    .filter(|k| k.main == *content)
                    .map(|k| k.version.clone()),
            };
            match version {
                Some(version) => pointer.version = version,
                None => branch.problems.push(format!(
                    "the pointer of {module} on {cluster} has no {} annotation; its version is unknown, so fleeet takes it as out of date and rolls the desired pointer out over it",
                    crate::render::flux::VERSION_ANNOTATION
                )),
            }
        }
    }
    true
}

/// The `fleeet.dev/version` annotation of a pointer file's first document.
pub fn pointer_version(main: &str) -> Option<String> {
    for line in main.lines() {
        if line == "---" {
            break;
        }
        if let Some(value) = line
            .trim_start()
            .strip_prefix(crate::render::flux::VERSION_ANNOTATION)
            .and_then(|rest| rest.strip_prefix(':'))
        {
            return yaml_string(value.trim());
        }
    }
    None
}

/// A YAML scalar read as a string: directly for the plain and double-quoted forms fleeet
/// writes versions in, with serde-saphyr for anything else.
fn yaml_string(value: &str) -> Option<String> {
    let simple = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
    };
    let quoted = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .filter(|inner| simple(inner));
    let plain = value
        .as_bytes()
        .first()
        .is_some_and(u8::is_ascii_alphanumeric)
        && simple(value)
        && ![
            "true", "false", "null", "yes", "no", "on", "off", "y", "n", "nan", "inf",
        ]
        .iter()
        .any(|w| value.eq_ignore_ascii_case(w));
    match quoted {
        Some(inner) => Some(inner.to_string()),
        None if plain => Some(value.to_string()),
        None => serde_saphyr::from_str::<String>(value).ok(),
    }
}

/// The revision each pointer of `branch` pins (the git or OCI tag, or the chart version), by
/// (cluster, module); pointers it cannot be read from are left out.
pub fn pinned_revisions(branch: &Branch) -> BTreeMap<(String, String), String> {
    let mut pinned = BTreeMap::new();
    for (cluster, modules) in &branch.pointers.clusters {
        for (module, pointer) in modules.iter() {
            if let Some(revision) = pointer_revision(pointer) {
                pinned.insert((cluster.clone(), module.clone()), revision);
            }
        }
    }
    pinned
}

/// The revision a pointer pins: `spec.ref.tag` of its source, or the chart version of its
/// HelmRelease.
pub fn pointer_revision(pointer: &Pointer) -> Option<String> {
    let docs = |text: &str| serde_saphyr::from_multiple::<serde_json::Value>(text).ok();
    let text = pointer.release.as_ref().unwrap_or(&pointer.main).text()?;
    docs(text)?.iter().find_map(|doc| {
        doc["spec"]["ref"]["tag"]
            .as_str()
            .or_else(|| doc["spec"]["chart"]["spec"]["version"].as_str())
            .map(str::to_string)
    })
}

/// Every file of a rendered branch whose clusters are under `path` (a fleet without a
/// management cluster).
pub fn branch_files(branch: &Branch, path: &str) -> Files {
    Layout::plain(path).branch_files(branch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pointer(version: &str, main: &str, release: Option<&str>) -> Pointer {
        Pointer {
            version: version.into(),
            revision: String::new(),
            main: main.into(),
            release: release.map(Into::into),
            applied_from: None,
        }
    }

    #[test]
    fn files_and_parse_are_inverse() {
        let main = "apiVersion: x\nmetadata:\n  annotations:\n    fleeet.dev/version: \"1.0\"\n---\nkind: y\n";
        let mut rendered = Rendered::default();
        rendered.clusters.insert(
            "a".into(),
            Pointers::from_iter([
                ("git".into(), pointer("1.0", main, None)),
                ("helm".into(), pointer("1.0", main, Some("release"))),
            ])
            .into(),
        );
        rendered
            .clusters
            .insert("empty".into(), Pointers::new().into());
        let mut branch = Branch {
            pointers: rendered,
            ..Branch::default()
        };
        branch.records.insert("git".into(), "record".into());
        branch.foreign.insert("README.md".into(), "hi".into());
        let files = branch_files(&branch, "clusters");
        assert!(files.contains_key("clusters/empty/kustomization.yaml"));
        assert!(files.contains_key("clusters/a/helm/release.yaml"));
        let back = parse(&files, "clusters", &Rendered::default());
        assert_eq!(back.pointers, branch.pointers);
        assert_eq!(back.records, branch.records);
        assert_eq!(back.foreign, branch.foreign);
        assert!(back.problems.is_empty(), "{:?}", back.problems);
    }

    #[test]
    fn pointers_applied_from_the_management_cluster_live_in_its_folder() {
        let main = "metadata:\n  annotations:\n    fleeet.dev/version: \"2\"\n";
        let remote = Pointer {
            applied_from: Some("mgmt".into()),
            ..pointer("2", main, None)
        };
        let mut rendered = Rendered::default();
        rendered.clusters.insert(
            "w".into(),
            Pointers::from_iter([
                ("flux".into(), remote),
                ("app".into(), pointer("2", main, None)),
            ])
            .into(),
        );
        rendered.clusters.insert(
            "mgmt".into(),
            Pointers::from_iter([("flux".into(), pointer("2", main, None))]).into(),
        );
        let branch = Branch {
            pointers: rendered,
            ..Branch::default()
        };
        let files = branch_files(&branch, "clusters");
        assert!(files.contains_key("clusters/mgmt/_bootstrap/w/flux.yaml"));
        assert!(!files.contains_key("clusters/w/flux.yaml"));
        assert_eq!(
            &**files["clusters/mgmt/kustomization.yaml"].text().unwrap(),
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- flux.yaml\n- _bootstrap/w/flux.yaml\n"
        );
        assert_eq!(
            &**files["clusters/w/kustomization.yaml"].text().unwrap(),
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- app.yaml\n"
        );
        let back = parse(&files, "clusters", &Rendered::default());
        assert_eq!(back.pointers, branch.pointers);
        assert!(back.problems.is_empty(), "{:?}", back.problems);
        assert_eq!(
            pair_path(&back.pointers, "clusters", "w", "flux"),
            "clusters/mgmt/_bootstrap/w/flux.yaml"
        );
        assert_eq!(
            pair_path(&back.pointers, "clusters", "w", "app"),
            "clusters/w/app.yaml"
        );
    }

    #[test]
    fn the_folders_a_step_changes_are_those_of_its_pointers_and_their_hosts() {
        let main =
            |v: &str| format!("metadata:\n  annotations:\n    fleeet.dev/version: \"{v}\"\n");
        let branch = |flux: &str, app: &str| {
            let remote = Pointer {
                applied_from: Some("mgmt".into()),
                ..pointer(flux, &main(flux), None)
            };
            let mut rendered = Rendered::default();
            rendered.clusters.insert(
                "w".into(),
                Pointers::from_iter([
                    ("flux".into(), remote),
                    ("app".into(), pointer(app, &main(app), None)),
                ])
                .into(),
            );
            rendered
                .clusters
                .insert("mgmt".into(), Pointers::new().into());
            rendered
                .clusters
                .insert("other".into(), Pointers::new().into());
            Branch {
                pointers: rendered,
                ..Branch::default()
            }
        };
        let layout = Layout::plain("clusters");
        let current = branch("1", "1");
        let changed = |next: &Branch| {
            layout
                .changed_folders(next, &current)
                .into_iter()
                .collect::<Vec<_>>()
        };
        assert!(changed(&current).is_empty());
        assert_eq!(changed(&branch("1", "2")), ["w"]);
        assert_eq!(changed(&branch("2", "1")), ["mgmt"]);
        assert_eq!(changed(&Branch::default()), ["mgmt", "other", "w"]);
        let step = layout.folder_files(&branch("2", "1"), &["mgmt".to_string()].into());
        assert_eq!(
            step.keys().collect::<Vec<_>>(),
            [
                "clusters/mgmt/_bootstrap/w/flux.yaml",
                "clusters/mgmt/kustomization.yaml"
            ]
        );

        // A folder not as fleeet writes it is written again, pointers unchanged or not.
        let mut files = branch_files(&current, "clusters");
        files.insert("clusters/other/kustomization.yaml".into(), "edited".into());
        files.remove("clusters/w/kustomization.yaml");
        let read = parse(&files, "clusters", &Rendered::default());
        assert_eq!(read.rewrite.iter().collect::<Vec<_>>(), ["other", "w"]);
        assert_eq!(layout.changed_folders(&read, &read).len(), 2);
    }

    #[test]
    fn the_syncs_are_written_from_the_fleet_not_read_back() {
        let mut files: Files = BTreeMap::new();
        files.insert(
            "clusters/mgmt/kustomization.yaml".into(),
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- _bootstrap/w/_sync.yaml\n".into(),
        );
        files.insert(
            "clusters/w/kustomization.yaml".into(),
            kustomization(&Pointers::new(), &[]).into(),
        );
        files.insert("clusters/mgmt/_bootstrap/w/_sync.yaml".into(), "s".into());
        files.insert(
            "clusters/mgmt/_bootstrap/w/_sync/fleeet.yaml".into(),
            "f".into(),
        );
        let branch = parse(&files, "clusters", &Rendered::default());
        assert!(branch.problems.is_empty(), "{:?}", branch.problems);
        assert!(branch.foreign.is_empty());
        assert_eq!(
            branch.pointers.clusters.keys().collect::<Vec<_>>(),
            ["mgmt", "w"]
        );
    }

    #[test]
    fn syncs_are_read_back_to_tell_a_change() {
        let mut files: Files = BTreeMap::new();
        files.insert("clusters/mgmt/_bootstrap/w/_sync.yaml".into(), "s".into());
        files.insert(
            "clusters/mgmt/_bootstrap/w/_sync/fleeet.yaml".into(),
            "f".into(),
        );
        files.insert("clusters/mgmt/_bootstrap/w/flux.yaml".into(), "p".into());
        let branch = parse(&files, "clusters", &Rendered::default());
        assert_eq!(
            branch.syncs.keys().collect::<Vec<_>>(),
            [
                "clusters/mgmt/_bootstrap/w/_sync.yaml",
                "clusters/mgmt/_bootstrap/w/_sync/fleeet.yaml"
            ]
        );
        // A fleet without a management cluster has no syncs: the ones read changed.
        let layout = Layout::plain("clusters");
        assert!(layout.syncs_changed(&branch, &branch));
        assert!(!layout.syncs_changed(&Branch::default(), &Branch::default()));
    }

    #[test]
    fn same_files_compares_bytes_not_versions() {
        let main = "kind: x\n";
        let one = |version: &str, main: &str, release: Option<&str>| Rendered {
            clusters: BTreeMap::from([(
                "a".to_string(),
                Pointers::from_iter([("m".to_string(), pointer(version, main, release))]).into(),
            )]),
        };
        assert!(same_files(&one("1", main, None), &one("2", main, None)));
        assert!(!same_files(
            &one("1", main, None),
            &one("1", "kind: y\n", None)
        ));
        assert!(!same_files(
            &one("1", main, None),
            &one("1", main, Some("r"))
        ));
        let mut more = one("1", main, None);
        more.clusters.insert("b".into(), Pointers::new().into());
        assert!(!same_files(&one("1", main, None), &more));
        assert!(same_files(&more, &more.clone()));
        // The same answer as comparing the files themselves.
        for (x, y) in [(one("1", main, None), &more), (more.clone(), &more)] {
            let by_files = files(&x, "clusters") == files(y, "clusters");
            assert_eq!(same_files(&x, y), by_files);
        }
    }

    #[test]
    fn unknown_files_are_kept_and_reported() {
        let files: Files = [
            ("clusters/a/notes.txt", "n"),
            ("clusters/a/x/y/z.yaml", "z"),
            ("clusters/Bad_Name/m.yaml", "m"),
            (".fleeet/other", "o"),
            ("docs/README.md", "d"),
        ]
        .into_iter()
        .map(|(p, c)| (p.to_string(), c.into()))
        .collect();
        let branch = parse(&files, "clusters", &Rendered::default());
        assert_eq!(branch.foreign.len(), 5);
        assert_eq!(branch.problems.len(), 4, "{:?}", branch.problems);
        assert_eq!(branch_files(&branch, "clusters"), files);
    }

    proptest! {
        #[test]
        fn reads_versions_as_serde_saphyr_does(
            value in prop_oneof![
                "[a-zA-Z0-9._+-]{1,10}",
                "\"[a-zA-Z0-9._+-]{0,10}\"",
                "[ -~]{0,10}",
                prop::sample::select(vec!["true", "No", "~", "null", "1.0", "1e5", "0x1F", "'a'"])
                    .prop_map(String::from),
            ]
        ) {
            prop_assert_eq!(
                yaml_string(&value),
                serde_saphyr::from_str::<String>(&value).ok()
            );
        }
    }

    #[test]
    fn reads_the_pinned_revision() {
        let git = pointer(
            "1.0",
            "kind: GitRepository\nspec:\n  ref:\n    tag: v1.0\n---\nkind: Kustomization\n",
            None,
        );
        assert_eq!(pointer_revision(&git).as_deref(), Some("v1.0"));
        let helm = pointer(
            "2.0",
            "kind: Kustomization\n",
            Some("kind: HelmRepository\n---\nspec:\n  chart:\n    spec:\n      version: \"2.0\"\n"),
        );
        assert_eq!(pointer_revision(&helm).as_deref(), Some("2.0"));
        assert_eq!(pointer_revision(&pointer("1", "not: [yaml", None)), None);
    }

    #[test]
    fn an_edited_kustomization_is_reported() {
        let mut modules = Pointers::new();
        modules.insert(
            "m".to_string(),
            pointer("1", "fleeet.dev/version: \"1\"\n", None),
        );
        let written = kustomization(&modules, &[]);
        let files: Files = [
            (
                "clusters/a/m.yaml",
                "fleeet.dev/version: \"1\"\n".to_string(),
            ),
            (
                "clusters/a/kustomization.yaml",
                format!("{written}  - extra.yaml\n"),
            ),
            (
                "clusters/b/kustomization.yaml",
                kustomization(&Pointers::new(), &[]),
            ),
        ]
        .into_iter()
        .map(|(p, c)| (p.to_string(), c.into()))
        .collect();
        let branch = parse(&files, "clusters", &Rendered::default());
        assert_eq!(
            branch.problems,
            [
                "clusters/a/kustomization.yaml is not what fleeet writes for the pointers there (edited by hand?); fleeet rewrites it from the pointers"
            ]
        );
    }

    #[test]
    fn reads_the_version_annotation() {
        assert_eq!(
            pointer_version("metadata:\n  annotations:\n    fleeet.dev/version: v1.16.2\n"),
            Some("v1.16.2".into())
        );
        assert_eq!(
            pointer_version("    fleeet.dev/version: \"4.11.3\"\n"),
            Some("4.11.3".into())
        );
        assert_eq!(
            pointer_version("kind: x\n---\n    fleeet.dev/version: 1\n"),
            None
        );
    }
}
