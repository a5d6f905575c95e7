//! Loading a fleet repository: files → documents → a checked [`Fleet`].
//!
//! [`FleetFiles::read_dir`] is the only function here that touches the file system; [`load`]
//! works on files in memory, so a git tree loads the same way as a directory.

mod check;
mod files;
mod parse;

use std::collections::BTreeMap;
use std::sync::Arc;

use rayon::prelude::*;

pub use check::closest;
pub use files::{FLEET_FILE, FLEET_FOLDERS, FleetFiles, MAX_FILE_BYTES, too_large};
pub use parse::{
    FileKind, MAX_ALIAS_EVENTS, MAX_DEPTH, MAX_DOCUMENTS, MAX_NODES, limit_broken, yaml_options,
    yaml_options_for,
};

use crate::diagnostic::{Diagnostic, Diagnostics, Origin};
use crate::model::value::deep_merge_json;
use crate::model::{
    Cluster, ClusterDocument, Fleet, FleetDocument, Module, ModuleDocument, ValueSource,
};
use parse::Parsed;

/// A file: its kind, its name as shown, its path, and what it holds.
type ParsedFile<'a> = (FileKind, Arc<str>, &'a str, Result<Parsed, Diagnostic>);

/// Parses and checks every file of a fleet. Reports every problem found, not only the first.
pub fn load(files: &FleetFiles) -> Result<Fleet, Diagnostics> {
    let mut out = Diagnostics::default();
    let parsed: Vec<ParsedFile> = files
        .files
        .par_iter()
        .filter_map(|(path, text)| {
            let kind = FileKind::of(path)?;
            let shown: Arc<str> = format!("{}{path}", files.display_root).into();
            let result = parse::parse(kind, &shown, text);
            Some((kind, shown, path.as_str(), result))
        })
        .collect();

    let mut fleet_doc: Option<(Arc<str>, FleetDocument)> = None;
    let mut inventory = Vec::new();
    let mut hand_written = Vec::new();
    let mut module_docs = Vec::new();
    let mut value_files = BTreeMap::new();
    for (kind, file, path, result) in parsed {
        match result {
            Err(diagnostic) => out.push(diagnostic),
            Ok(Parsed::Fleet(doc)) => fleet_doc = Some((file, *doc)),
            Ok(Parsed::Clusters(docs)) => {
                let list = if kind == FileKind::Inventory {
                    &mut inventory
                } else {
                    &mut hand_written
                };
                list.extend(docs.into_iter().map(|d| (file.clone(), d)));
            }
            Ok(Parsed::Modules(docs)) => {
                module_docs.extend(docs.into_iter().map(|d| (file.clone(), d)))
            }
            Ok(Parsed::Values(values)) => {
                value_files.insert(path.to_string(), ValueSource { file, values });
            }
        }
    }

    let Some((fleet_file, fleet_doc)) = fleet_doc else {
        if files.files.contains_key(FLEET_FILE) {
            // fleet.yaml is there but broken: its own diagnostic says where and why.
            return Err(out.sorted());
        }
        let file: Arc<str> = format!("{}{FLEET_FILE}", files.display_root).into();
        out.push(
            Diagnostic::new(Origin::file(&file), "not found: a fleet repository has a fleet.yaml at its root")
                .hint("start with:\n    apiVersion: fleeet.dev/v1alpha1\n    kind: Fleet\n    metadata:\n      name: my-fleet"),
        );
        return Err(out.sorted());
    };
    check::fleet(&fleet_doc, &fleet_file, &mut out);

    let clusters = clusters(inventory, hand_written, &mut out);

    let modules = modules(module_docs, &fleet_doc, &value_files, &mut out);
    check::dependencies(&modules, &mut out);
    check::management(&fleet_doc, &fleet_file, &clusters, &modules, &mut out);

    out.into_result(Fleet {
        name: fleet_doc.metadata.name.value,
        file: fleet_file,
        spec: fleet_doc.spec,
        clusters,
        modules,
    })
}

/// The modules of `module_docs` by name, checked against the fleet and the values files; a
/// module defined twice is reported and its second definition left out.
fn modules(
    module_docs: Vec<(Arc<str>, ModuleDocument)>,
    fleet_doc: &FleetDocument,
    value_files: &BTreeMap<String, ValueSource>,
    out: &mut Diagnostics,
) -> Vec<Module> {
    let mut modules: Vec<Module> = Vec::with_capacity(module_docs.len());
    let mut first_seen: BTreeMap<String, Origin> = BTreeMap::new();
    for (file, doc) in module_docs {
        check::module(&doc, &file, fleet_doc, value_files, out);
        let origin = Origin::of(&file, &doc.metadata.name);
        let name = doc.metadata.name.value.clone();
        if let Some(first) = first_seen.get(&name) {
            out.push(
                Diagnostic::new(origin, format!("module {name:?} is defined twice"))
                    .hint(format!("the first definition is at {first}")),
            );
            continue;
        }
        first_seen.insert(name.clone(), origin.clone());
        let values_files = doc
            .spec
            .values_from
            .iter()
            .filter_map(|entry| value_files.get(&entry.value).cloned())
            .collect();
        modules.push(Module {
            name,
            kind: doc.kind,
            labels: doc.metadata.labels,
            annotations: doc.metadata.annotations,
            spec: doc.spec,
            origin,
            values_files,
        });
    }
    modules.sort_by(|a, b| a.name.cmp(&b.name));
    modules
}

/// Inventory clusters, overlaid by hand-written clusters of the same name.
fn clusters(
    inventory: Vec<(Arc<str>, ClusterDocument)>,
    hand_written: Vec<(Arc<str>, ClusterDocument)>,
    out: &mut Diagnostics,
) -> Vec<Cluster> {
    let mut by_name: BTreeMap<String, Cluster> = BTreeMap::new();
    for (docs, from_inventory) in [(inventory, true), (hand_written, false)] {
        let mut seen: BTreeMap<String, Origin> = BTreeMap::new();
        for (file, doc) in docs {
            check::metadata("cluster", &doc.metadata, &file, out);
            let origin = Origin::of(&file, &doc.metadata.name);
            let name = doc.metadata.name.value;
            if let Some(first) = seen.get(&name) {
                let folder = if from_inventory {
                    "inventory/"
                } else {
                    "clusters/"
                };
                out.push(
                    Diagnostic::new(
                        origin,
                        format!("cluster {name:?} is defined twice under {folder}"),
                    )
                    .hint(format!("the first definition is at {first}")),
                );
                continue;
            }
            seen.insert(name.clone(), origin.clone());
            match by_name.get_mut(&name) {
                Some(base) => {
                    base.labels.extend(doc.metadata.labels);
                    base.annotations.extend(doc.metadata.annotations);
                    deep_merge_json(&mut base.values, &doc.spec.values);
                    deep_merge_json(&mut base.facts, &doc.spec.facts);
                    if doc.spec.kubeconfig_secret.is_some() {
                        base.kubeconfig_secret = doc.spec.kubeconfig_secret;
                    }
                    base.defined_in.push(origin);
                }
                None => {
                    by_name.insert(
                        name.clone(),
                        Cluster {
                            name,
                            labels: doc.metadata.labels,
                            annotations: doc.metadata.annotations,
                            values: doc.spec.values,
                            facts: doc.spec.facts,
                            kubeconfig_secret: doc.spec.kubeconfig_secret,
                            defined_in: vec![origin],
                        },
                    );
                }
            }
        }
    }
    by_name.into_values().collect()
}
