//! Health of (cluster, module) pairs as read back from the clusters: the `HealthSnapshot`
//! document, written by `fleeet status` (or by hand for dry runs) and read by the planner.

pub mod collect;
pub mod flux;
pub mod kstatus;
mod merge;
mod shard;
pub mod shared;

pub use merge::merge;
pub use shard::Shard;
pub use shared::Shared;

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diagnostic::{Diagnostic, Diagnostics, Origin};
use crate::model::ApiVersion;

/// `kind: HealthSnapshot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum HealthSnapshotKind {
    HealthSnapshot,
}

/// The health of every module on every cluster, observed at one time.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HealthSnapshot {
    pub api_version: ApiVersion,
    pub kind: HealthSnapshotKind,
    /// When the snapshot was taken (RFC 3339).
    #[schemars(with = "String")]
    pub observed_at: Timestamp,
    /// The shard of the fleet's clusters collected (`K/N`, `fleeet status --shard`); absent:
    /// every cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub shard: Option<Shard>,
    /// By cluster name. A cluster missing here is unknown, never healthy.
    #[serde(default)]
    pub clusters: BTreeMap<String, ClusterHealth>,
    /// By cluster name: the bootstrap modules the management cluster applies to the cluster
    /// (`spec.management`), as read from the management cluster: the status of its remote
    /// Kustomizations, so they are judged without reaching the cluster itself.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bootstrap: BTreeMap<String, ClusterHealth>,
}

/// What was seen on one cluster.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterHealth {
    /// Whether the cluster's API answered. An unreachable cluster is unknown, never healthy.
    pub reachable: bool,
    /// Why the cluster could not be read (unreachable, forbidden, no kubeconfig secret, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// By module name: the module's Kustomization (or, for helm modules, its HelmRelease).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, ModuleHealth>")]
    pub modules: ModulesHealth,
}

/// One cluster's modules, by name: a sorted vector, as [`crate::render::Pointers`] is.
pub type ModulesHealth = litemap::LiteMap<Shared, ModuleHealth>;

/// The status of one module's Flux object on one cluster.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModuleHealth {
    /// The `Ready` condition is `True`, for the object's current generation.
    pub ready: bool,
    /// The revision last applied, like `v1.4.2@sha1:0a1b…` or a chart version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<Shared>,
    /// When the `Ready` condition last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub since: Option<Timestamp>,
    /// The `Ready` condition's reason, like `ReconciliationSucceeded` or `HealthCheckFailed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Shared>,
    /// The `Ready` condition's message.
    #[serde(default, skip_serializing_if = "str::is_empty")]
    pub message: Shared,
    /// The `Stalled` condition is `True`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stalled: bool,
    /// `metadata.generation` of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// `status.observedGeneration` of the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl HealthSnapshot {
    /// An empty snapshot taken at `observed_at`.
    pub fn new(observed_at: Timestamp) -> Self {
        HealthSnapshot {
            api_version: ApiVersion::V1Alpha1,
            kind: HealthSnapshotKind::HealthSnapshot,
            observed_at,
            shard: None,
            clusters: BTreeMap::new(),
            bootstrap: BTreeMap::new(),
        }
    }

    /// Parses a snapshot read from `file`: JSON when its name ends in `.json` (read with
    /// serde_json, much faster for a large fleet), YAML otherwise (JSON is YAML too).
    pub fn parse(file: &str, text: &str) -> Result<HealthSnapshot, Diagnostics> {
        shared::sharing(|| Self::parse_text(file, text))
    }

    fn parse_text(file: &str, text: &str) -> Result<HealthSnapshot, Diagnostics> {
        let file: Arc<str> = file.into();
        if is_json(&file) {
            return serde_json::from_str(text).map_err(|e| {
                let origin = Origin {
                    file,
                    line: e.line() as u64,
                    column: e.column() as u64,
                };
                Diagnostics::from(Diagnostic::new(origin, json_message(&e)).hint(HINT))
            });
        }
        serde_saphyr::from_str_with_options(text, crate::load::yaml_options_for(text.len()))
            .map_err(|e| {
                let origin = match e.location() {
                    Some(l) if l.line() > 0 => Origin::at(&file, l),
                    _ => Origin::file(&file),
                };
                let diagnostic = match crate::load::limit_broken(e.without_snippet()) {
                    Some((message, hint)) => Diagnostic::new(origin, message).hint(hint),
                    None => Diagnostic::new(origin, e.without_snippet().to_string()).hint(HINT),
                };
                Diagnostics::from(diagnostic)
            })
    }

    /// The snapshot as YAML, in a stable order.
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self).expect("snapshots serialize")
    }

    /// The snapshot as JSON, in a stable order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("snapshots serialize")
    }

    /// The snapshot as the file `file` holds it: JSON for a `.json` file, else YAML.
    pub fn to_text_for(&self, file: &str) -> String {
        if is_json(file) {
            self.to_json() + "\n"
        } else {
            self.to_yaml()
        }
    }
}

const HINT: &str = "a health snapshot has apiVersion, kind: HealthSnapshot, observedAt and clusters.<name>.{reachable, modules}";

/// Whether the snapshot file `file` is JSON (by its name), rather than YAML.
pub fn is_json(file: &str) -> bool {
    std::path::Path::new(file)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// serde_json's message without the " at line L column C" it appends (the origin says so).
fn json_message(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let place = format!(" at line {} column {}", error.line(), error.column());
    message.strip_suffix(&place).unwrap_or(&message).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_form() {
        let text = r#"
apiVersion: fleeet.dev/v1alpha1
kind: HealthSnapshot
observedAt: "2026-11-21T10:00:00Z"
clusters:
  alpha:
    reachable: true
    modules:
      ingress: {ready: true, revision: "1.4.2@sha1:0a1b", since: "2026-11-21T09:40:00Z",
                reason: ReconciliationSucceeded, message: "", stalled: false}
  beta:
    reachable: false
    error: "dial tcp: connection refused"
"#;
        let snapshot = HealthSnapshot::parse("h.yaml", text).unwrap();
        let ingress = &snapshot.clusters["alpha"].modules.get("ingress").unwrap();
        assert!(ingress.ready);
        assert_eq!(ingress.since.unwrap().to_string(), "2026-11-21T09:40:00Z");
        assert!(!snapshot.clusters["beta"].reachable);
        let again = HealthSnapshot::parse("h.yaml", &snapshot.to_yaml()).unwrap();
        assert_eq!(again, snapshot);
    }

    #[test]
    fn bad_snapshots_name_the_place() {
        let err = HealthSnapshot::parse(
            "h.yaml",
            "apiVersion: fleeet.dev/v1alpha1\nkind: HealthSnapshot\nobservedAt: yesterday\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("h.yaml:3:"), "{err}");
    }

    #[test]
    fn json_snapshots_read_with_serde_json_and_name_the_place() {
        let mut snapshot = HealthSnapshot::new("2026-11-21T10:00:00Z".parse().unwrap());
        snapshot.clusters.insert(
            "alpha".into(),
            ClusterHealth {
                reachable: true,
                error: None,
                modules: [(
                    "app".into(),
                    ModuleHealth {
                        ready: true,
                        ..Default::default()
                    },
                )]
                .into_iter()
                .collect(),
            },
        );
        let json = snapshot.to_text_for("h.json");
        assert!(json.starts_with("{\"apiVersion\":"), "{json}");
        assert_eq!(HealthSnapshot::parse("h.json", &json).unwrap(), snapshot);
        assert_eq!(
            HealthSnapshot::parse("h.yaml", &json).unwrap(),
            snapshot,
            "JSON is YAML"
        );
        assert!(snapshot.to_text_for("h.yaml").starts_with("apiVersion:"));

        let err = HealthSnapshot::parse(
            "h.JSON",
            "{\"apiVersion\": \"fleeet.dev/v1alpha1\",\n \"kind\": \"HealthSnapshot\",\n \"observedAt\": \"2026-11-21T10:00:00Z\",\n \"clusterz\": {}}",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("error: h.JSON:4:11: unknown field `clusterz`"),
            "{err}"
        );
        assert!(err.contains("hint: a health snapshot has"), "{err}");
    }
}
