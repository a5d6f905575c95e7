//! Kubernetes label selectors, as written in modules and rollout waves.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::names::{check_label_key, check_label_value};

/// A Kubernetes label selector. Every term must hold; `{}` selects every cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    /// Labels that must be present with exactly these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Set-based requirements on labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<Requirement>,
}

/// One set-based requirement: `key` `operator` `values`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    /// Required and non-empty for `In` and `NotIn`; must be empty for `Exists` and
    /// `DoesNotExist`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// The operators of a label-selector requirement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

impl LabelSelector {
    /// Everything wrong with this selector, as messages (empty when valid).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (key, value) in &self.match_labels {
            if let Err(e) = check_label_key(key) {
                problems.push(format!("matchLabels key {key:?} {e}"));
            }
            if let Err(e) = check_label_value(value) {
                problems.push(format!("matchLabels value {value:?} of {key:?} {e}"));
            }
        }
        for r in &self.match_expressions {
            if let Err(e) = check_label_key(&r.key) {
                problems.push(format!("matchExpressions key {:?} {e}", r.key));
            }
            match r.operator {
                Operator::In | Operator::NotIn if r.values.is_empty() => problems.push(format!(
                    "matchExpressions on {:?}: operator {:?} needs at least one value",
                    r.key, r.operator
                )),
                Operator::Exists | Operator::DoesNotExist if !r.values.is_empty() => {
                    problems.push(format!(
                        "matchExpressions on {:?}: operator {:?} takes no values",
                        r.key, r.operator
                    ))
                }
                _ => {}
            }
            for value in &r.values {
                if let Err(e) = check_label_value(value) {
                    problems.push(format!(
                        "matchExpressions value {value:?} of {:?} {e}",
                        r.key
                    ));
                }
            }
        }
        problems
    }
}
