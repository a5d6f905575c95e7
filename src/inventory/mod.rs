//! `fleeet inventory sync`: the Cluster API clusters of a management cluster become `kind:
//! Cluster` documents under `inventory/`.
//!
//! [`read`] lists the clusters and their value ConfigMaps (network); [`files`] turns what was
//! read into the inventory files (pure); [`write()`] makes `inventory/` hold exactly those files.
//! A failure before the write leaves the folder as it was.

mod facts;
mod list;
mod write;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

pub use facts::facts;
pub use list::{Listing, Scope, read};
pub use write::write;

use crate::diagnostic::{Diagnostic, Diagnostics, Origin};
use crate::kubernetes::{NameKind, render_name};
use crate::model::{
    ApiVersion, ClusterDocument, ClusterKind, ClusterSpec, InventorySettings, JsonMap, Metadata,
    unlocated,
};

/// The inventory's files by path (relative to `inventory/`), with their texts.
pub type Files = BTreeMap<String, String>;

/// The folder of the fleet repository the inventory is written to.
pub const FOLDER: &str = "inventory";

/// The first line of every file `fleeet inventory sync` writes: files that start with it are
/// its own to replace and remove; other files are left alone.
pub const HEADER: &str = "# Written by `fleeet inventory sync` from Cluster API; do not edit.\n";

/// A Cluster API cluster to sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The Cluster API object.
    pub object: &'a Value,
    pub namespace: String,
    /// Its name in the fleet.
    pub name: String,
    /// The ConfigMap (in `namespace`) holding its values, if the fleet names one.
    pub values_config_map: Option<String>,
}

/// The clusters to sync among `clusters` (Cluster API objects as listed): clusters being deleted
/// are dropped, names are rendered from `settings` and checked, and two clusters may not get the
/// same name. Problems are reported against `fleet_file`.
pub fn entries<'a>(
    clusters: &'a [Value],
    settings: &InventorySettings,
    fleet_file: &Arc<str>,
) -> Result<Vec<Entry<'a>>, Diagnostics> {
    let mut out = Diagnostics::default();
    let mut entries: Vec<Entry<'a>> = Vec::with_capacity(clusters.len());
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    let origin = Origin::file(fleet_file);
    check_fact_paths(settings, &origin, &mut out);
    for object in clusters {
        let meta = &object["metadata"];
        if !meta["deletionTimestamp"].is_null() {
            continue;
        }
        let (Some(name), Some(namespace)) = (meta["name"].as_str(), meta["namespace"].as_str())
        else {
            out.push(Diagnostic::new(
                origin.clone(),
                "the management cluster listed a Cluster without a name or namespace",
            ));
            continue;
        };
        let (fleet_name, values_config_map) = match names(settings, name, namespace, meta) {
            Ok(names) => names,
            Err(problems) => {
                for problem in problems {
                    out.push(Diagnostic::new(origin.clone(), problem).hint(
                        "cluster names become file names: use lowercase letters, digits and '-'; templates see name, namespace and labels",
                    ));
                }
                continue;
            }
        };
        let source = format!("{namespace}/{name}");
        if let Some(first) = by_name.get(&fleet_name) {
            out.push(
                Diagnostic::new(
                    origin.clone(),
                    format!(
                        "Cluster API clusters {first} and {source} would both be the inventory cluster {fleet_name:?}"
                    ),
                )
                .hint(
                    "set spec.inventory.name in fleet.yaml to a template that tells them apart, like \"{{ namespace }}-{{ name }}\", or sync one namespace (--namespace) or a --selector",
                ),
            );
            continue;
        }
        by_name.insert(fleet_name.clone(), source);
        entries.push(Entry {
            object,
            namespace: namespace.to_string(),
            name: fleet_name,
            values_config_map,
        });
    }
    out.into_result(entries)
}

/// Each `spec.inventory.facts[].fieldPath` is a JSON pointer.
fn check_fact_paths(settings: &InventorySettings, origin: &Origin, out: &mut Diagnostics) {
    for (i, fact) in settings.facts.iter().enumerate() {
        if !fact.field_path.starts_with('/') {
            out.push(
                Diagnostic::new(
                    origin.clone(),
                    format!(
                        "spec.inventory.facts[{i}].fieldPath {:?} is not a JSON pointer",
                        fact.field_path
                    ),
                )
                .hint("write it from the object's root, like \"/spec/topology/variables/0/value\""),
            );
        }
    }
}

/// The fleet's name for the Cluster API cluster `namespace/name` (with `metadata` `meta`) and
/// the name of its values ConfigMap, if the fleet sets one; or why they cannot be made.
fn names(
    settings: &InventorySettings,
    name: &str,
    namespace: &str,
    meta: &Value,
) -> Result<(String, Option<String>), Vec<String>> {
    let labels = string_map(&meta["labels"]);
    let fleet_name = render_name(
        &settings.name,
        "spec.inventory.name",
        NameKind::Label,
        name,
        namespace,
        &labels,
    );
    let config_map = settings.values_config_map.as_deref().map(|template| {
        render_name(
            template,
            "spec.inventory.valuesConfigMap",
            NameKind::Subdomain,
            name,
            namespace,
            &labels,
        )
    });
    match (fleet_name, config_map.transpose()) {
        (Ok(n), Ok(c)) => Ok((n, c)),
        (n, c) => Err([n.err(), c.err()].into_iter().flatten().collect()),
    }
}

/// The inventory files (`<name>.yaml`, relative to `inventory/`) of `clusters`, given the data
/// of the value ConfigMaps found, by namespace and name (a ConfigMap not found gives no values).
pub fn files(
    clusters: &[Value],
    config_maps: &BTreeMap<(String, String), JsonMap>,
    settings: &InventorySettings,
    fleet_file: &Arc<str>,
) -> Result<Files, Diagnostics> {
    Ok(entries(clusters, settings, fleet_file)?
        .into_iter()
        .map(|entry| {
            let values = entry
                .values_config_map
                .as_ref()
                .and_then(|name| config_maps.get(&(entry.namespace.clone(), name.clone())))
                .cloned()
                .unwrap_or_default();
            let path = format!("{}.yaml", entry.name);
            (path, document(&entry, values, settings))
        })
        .collect())
}

/// The text of one inventory file.
fn document(entry: &Entry<'_>, values: JsonMap, settings: &InventorySettings) -> String {
    let meta = &entry.object["metadata"];
    let annotations = string_map(&meta["annotations"]);
    let doc = ClusterDocument {
        api_version: ApiVersion::V1Alpha1,
        kind: ClusterKind::Cluster,
        metadata: Metadata {
            name: unlocated(entry.name.clone()),
            labels: string_map(&meta["labels"]),
            annotations: settings
                .annotations
                .iter()
                .filter_map(|key| Some((key.clone(), annotations.get(key)?.clone())))
                .collect(),
        },
        spec: ClusterSpec {
            values,
            facts: facts(entry.object, &settings.facts),
            kubeconfig_secret: None,
        },
    };
    let yaml = serde_saphyr::to_string(&doc).expect("cluster documents serialize");
    format!("{HEADER}{yaml}")
}

/// A JSON object of strings (labels, annotations, ConfigMap data) as a map; other entries are
/// skipped.
pub fn string_map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cluster(namespace: &str, name: &str) -> Value {
        json!({
            "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
            "metadata": {"name": name, "namespace": namespace, "uid": format!("uid-{name}"),
                         "labels": {"env": "prod"},
                         "annotations": {"owner": "team-a", "noise": "x"}},
            "spec": {"topology": {"classRef": {"name": "standard"}, "version": "v1.33.2"}},
            "status": {"phase": "Provisioned"}
        })
    }

    fn file() -> Arc<str> {
        "fleet.yaml".into()
    }

    #[test]
    fn every_config_map_string_reads_back_as_the_same_string() {
        let tricky = [
            "0755",
            "yes",
            "no",
            "on",
            "1_000",
            "~",
            "null",
            "1e3",
            "0x1F",
            "0o17",
            ".inf",
            "-.nan",
            "+1",
            "1.",
            "true",
            "False",
            "",
            " lead",
            "trail ",
            "a: b",
            "#x",
            "- x",
            "two\nlines",
            "tab\there",
            "'q'",
            "\"dq\"",
            "*alias",
            "&anchor",
            "!tag",
            "%d",
            "@at",
            "`tick`",
            "{a}",
            "[b]",
            "? k",
            "| x",
            "> y",
            "---",
            "...",
            "\u{85}",
            "é",
        ];
        let values: JsonMap = tricky
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("k{i}"), json!(v)))
            .collect();
        let settings = InventorySettings {
            values_config_map: Some("{{ name }}-fleeet".into()),
            ..InventorySettings::default()
        };
        let config_maps = BTreeMap::from([(
            ("fleet".to_string(), "a-fleeet".to_string()),
            values.clone(),
        )]);
        let files = files(&[cluster("fleet", "a")], &config_maps, &settings, &file()).unwrap();
        let text = &files["a.yaml"];
        let doc: ClusterDocument =
            serde_saphyr::from_str_with_options(text, crate::load::yaml_options()).unwrap();
        assert_eq!(doc.spec.values, values, "{text}");
    }

    #[test]
    fn writes_canonical_documents_with_chosen_annotations_and_values() {
        let settings = InventorySettings {
            annotations: vec!["owner".into()],
            values_config_map: Some("{{ name }}-fleeet".into()),
            ..InventorySettings::default()
        };
        let clusters = [cluster("fleet", "b"), cluster("fleet", "a")];
        let config_maps = BTreeMap::from([(
            ("fleet".to_string(), "a-fleeet".to_string()),
            JsonMap::from_iter([("replicas".to_string(), json!("3"))]),
        )]);
        let files = files(&clusters, &config_maps, &settings, &file()).unwrap();
        assert_eq!(files.keys().collect::<Vec<_>>(), ["a.yaml", "b.yaml"]);
        let a = &files["a.yaml"];
        assert!(a.starts_with(HEADER), "{a}");
        assert!(a.contains("owner: team-a") && !a.contains("noise"), "{a}");
        assert!(a.contains("replicas: \"3\""), "{a}");
        assert!(!files["b.yaml"].contains("values:"), "{}", files["b.yaml"]);
        let again = super::files(&clusters, &config_maps, &settings, &file()).unwrap();
        assert_eq!(files, again);
    }

    #[test]
    fn drops_clusters_being_deleted() {
        let mut deleting = cluster("fleet", "gone");
        deleting["metadata"]["deletionTimestamp"] = json!("2026-11-21T10:00:00Z");
        let clusters = [deleting, cluster("fleet", "kept")];
        let entries = entries(&clusters, &InventorySettings::default(), &file()).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].name, "kept");
    }

    #[test]
    fn same_names_in_two_namespaces_are_an_error_unless_the_template_parts_them() {
        let clusters = [cluster("team-a", "web"), cluster("team-b", "web")];
        let err = entries(&clusters, &InventorySettings::default(), &file()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("team-a/web and team-b/web") && text.contains("{{ namespace }}"),
            "{text}"
        );
        let settings = InventorySettings {
            name: "{{ namespace }}-{{ name }}".into(),
            ..InventorySettings::default()
        };
        let names: Vec<String> = entries(&clusters, &settings, &file())
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["team-a-web", "team-b-web"]);
    }

    #[test]
    fn fact_paths_must_be_json_pointers() {
        let settings = InventorySettings {
            facts: vec![crate::model::FactSource {
                name: "version".into(),
                field_path: "spec.topology.version".into(),
            }],
            ..InventorySettings::default()
        };
        let err = entries(&[cluster("fleet", "a")], &settings, &file()).unwrap_err();
        assert!(err.to_string().contains("facts[0].fieldPath"), "{err}");
    }

    #[test]
    fn names_are_checked_before_they_become_paths() {
        let settings = InventorySettings {
            name: "../{{ name }}".into(),
            ..InventorySettings::default()
        };
        let err = entries(&[cluster("fleet", "a")], &settings, &file()).unwrap_err();
        assert!(err.to_string().contains("\"../a\""), "{err}");
    }
}
