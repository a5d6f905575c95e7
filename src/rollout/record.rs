//! The rollout record: `.fleeet/rollouts/<module>.yaml` on the rendered branch, kept while a
//! module is rolling out. With the pointers it is the whole state of a rollout.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::content::Content;
use crate::model::{ApiVersion, Module};
use crate::render::Pointer;

/// `kind: Rollout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum RolloutKind {
    Rollout,
}

/// A module's rollout in progress: where it goes, its waves, and which were applied.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutRecord {
    pub api_version: ApiVersion,
    pub kind: RolloutKind,
    pub module: String,
    /// A digest of the module's definition being rolled out; when it changes, a new rollout
    /// starts from the first wave.
    pub target: String,
    /// The version most clusters ran when the rollout started (none for a new module).
    #[serde(default)]
    pub from: Option<String>,
    /// The version being rolled out (none when the module is being removed).
    #[serde(default)]
    pub to: Option<String>,
    pub waves: Vec<RecordWave>,
    /// Set when the rollout halted; it moves no further until the module changes again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halted: Option<Halt>,
    /// With `onFailure: rollback`: by cluster, the pointer each pair the rollout changed had
    /// before it (none: the pair did not exist), to restore exactly those bytes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub before: BTreeMap<String, Option<SavedPointer>>,
    /// When the rollback of the halted rollout was first proposed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub rolled_back_at: Option<jiff::Timestamp>,
}

/// A pointer as it was on the rendered branch before a rollout changed it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SavedPointer {
    pub version: String,
    /// The revision Flux reports for it.
    pub revision: String,
    /// `<module>.yaml`, byte for byte.
    pub main: String,
    /// `<module>/release.yaml`, for helm modules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// The cluster whose folder holds it, when not its own (a bootstrap module applied from the
    /// management cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_from: Option<String>,
}

impl SavedPointer {
    /// Saves `pointer` (holding its texts), whose revision is `revision`.
    pub fn save(pointer: &Pointer, revision: String) -> SavedPointer {
        let text = |content: &Content| content.text().map_or_else(String::new, |t| t.to_string());
        SavedPointer {
            version: pointer.version.clone(),
            revision,
            main: text(&pointer.main),
            release: pointer.release.as_ref().map(text),
            applied_from: pointer.applied_from.as_ref().map(|c| c.to_string()),
        }
    }

    /// The pointer again.
    pub fn pointer(&self) -> Pointer {
        Pointer {
            version: self.version.clone(),
            revision: self.revision.clone(),
            main: Content::new(self.main.as_str()),
            release: self.release.as_deref().map(Content::new),
            applied_from: self.applied_from.as_deref().map(Into::into),
        }
    }

    /// Whether `pointer` has exactly these bytes.
    pub fn same_bytes(&self, pointer: &Pointer) -> bool {
        let saved = self.pointer();
        pointer.main == saved.main && pointer.release == saved.release
    }
}

/// One wave of a record.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordWave {
    pub name: String,
    pub clusters: Vec<String>,
    #[serde(default)]
    pub applied: bool,
}

/// Why a rollout halted.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Halt {
    /// The wave whose clusters failed.
    pub wave: String,
    pub clusters: Vec<PairProblem>,
}

/// A cluster on which a module is failing or overdue.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PairProblem {
    pub cluster: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

impl RolloutRecord {
    /// Parses a record read from `file`.
    pub fn parse(file: &str, text: &str) -> Result<RolloutRecord, String> {
        serde_saphyr::from_str_with_options(text, crate::load::yaml_options_for(text.len()))
            .map_err(|e| format!("{file}: {}", e.without_snippet()))
    }

    /// The record as YAML.
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self).expect("records serialize")
    }

    /// The index of the wave holding `cluster`.
    pub fn wave_of(&self, cluster: &str) -> Option<usize> {
        self.waves
            .iter()
            .position(|w| w.clusters.iter().any(|c| c == cluster))
    }
}

/// A digest of everything in a module's definition that its pointers are made from, so that
/// any edit to the module starts a new rollout.
pub fn target(module: Option<&Module>) -> String {
    let Some(module) = module else {
        return "removed".into();
    };
    let values: Vec<serde_json::Value> = module
        .value_sources()
        .map(|(_, map)| crate::model::Value::Map(map.clone()).to_json())
        .collect();
    let definition = serde_json::json!({
        "kind": module.kind,
        "spec": module.spec,
        "values": values,
    });
    let digest = Sha256::digest(definition.to_string().as_bytes());
    hex::encode(&digest[..8])
}
