//! Rollout policies: how a module's changes are split into waves.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::budget::Budget;
use super::duration::Duration;
use super::selector::LabelSelector;
use super::window::Window;

/// How changes to a module reach its clusters. Set in `fleet.yaml` as the default and in a
/// module to override it field by field.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutPolicy {
    /// Ordered waves. Clusters not taken by any wave join the last one. No waves: one wave of
    /// every cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waves: Option<Vec<WaveSpec>>,
    /// How long a wave must stay healthy before the next is proposed (default 5m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake_time: Option<Duration>,
    /// How long a wave may take to become healthy before the rollout halts (default 30m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline: Option<Duration>,
    /// Which version a cluster that newly matches the module gets (default `stable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_clusters: Option<NewClusters>,
    /// Freeze the module: nothing about it changes on any cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    /// How many of a wave's pairs may be unknown (unreachable, missing from health) or still
    /// progressing when the wave is judged complete: a count or a percentage of the wave's
    /// clusters, rounded down (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<Budget>,
    /// How many of a wave's pairs may have failed before the rollout stops (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failures: Option<Budget>,
    /// When each cluster may change; none: at any time. A module's list replaces the fleet's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<Vec<Window>>,
    /// What happens when a wave fails beyond its budget (default `halt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<OnFailure>,
}

/// What a rollout does when it fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum OnFailure {
    /// Stop; nothing moves until the module changes again.
    #[default]
    Halt,
    /// Stop, then restore every changed pair to its bytes from before the rollout, at once.
    Rollback,
}

/// One rollout wave: the clusters matching `selector` (all if absent), limited to `count` or
/// `percent` of those not taken by an earlier wave.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaveSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Take at most this many clusters.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::number::optional"
    )]
    pub count: Option<u32>,
    /// Take this percentage (1-100, rounded up) of the clusters still untaken.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::number::optional"
    )]
    pub percent: Option<u32>,
    /// Overrides the policy's `maxUnavailable` for this wave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<Budget>,
    /// Overrides the policy's `maxFailures` for this wave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failures: Option<Budget>,
}

/// The version a cluster gets when it newly matches a module during or outside a rollout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum NewClusters {
    /// The version most clusters run now; the cluster upgrades with its wave.
    #[default]
    Stable,
    /// The desired version, applied with the cluster's wave.
    Desired,
}

/// A module's rollout policy with defaults filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub waves: Vec<WaveSpec>,
    pub bake_time: Duration,
    pub progress_deadline: Duration,
    pub new_clusters: NewClusters,
    pub paused: bool,
    pub max_unavailable: Budget,
    pub max_failures: Budget,
    pub windows: Vec<Window>,
    pub on_failure: OnFailure,
}

/// The budgets of one wave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budgets {
    pub max_unavailable: Budget,
    pub max_failures: Budget,
}

impl Policy {
    /// The budgets of the wave named `wave`: its own, else the policy's.
    pub fn budgets(&self, wave: &str) -> Budgets {
        let spec = self.waves.iter().find(|w| w.name == wave);
        Budgets {
            max_unavailable: spec
                .and_then(|w| w.max_unavailable)
                .unwrap_or(self.max_unavailable),
            max_failures: spec
                .and_then(|w| w.max_failures)
                .unwrap_or(self.max_failures),
        }
    }
}

impl RolloutPolicy {
    /// Everything wrong with this policy, as messages (empty when valid).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let waves = self.waves.as_deref().unwrap_or_default();
        for (i, wave) in waves.iter().enumerate() {
            let name = &wave.name;
            if let Err(e) = super::names::check_dns1123_label(name) {
                problems.push(format!("wave name {name:?} {e}"));
            }
            if waves[..i].iter().any(|w| &w.name == name) {
                problems.push(format!("wave name {name:?} is used twice"));
            }
            if wave.count.is_some() && wave.percent.is_some() {
                problems.push(format!(
                    "wave {name:?} sets both count and percent; choose one"
                ));
            }
            if wave.count == Some(0) {
                problems.push(format!("wave {name:?}: count must be at least 1"));
            }
            if let Some(p) = wave.percent
                && !(1..=100).contains(&p)
            {
                problems.push(format!(
                    "wave {name:?}: percent must be between 1 and 100, not {p}"
                ));
            }
            if let Some(selector) = &wave.selector {
                problems.extend(
                    selector
                        .problems()
                        .into_iter()
                        .map(|p| format!("wave {name:?} selector: {p}")),
                );
            }
        }
        problems
    }

    /// This policy (a module's) over `fallback` (the fleet's), field by field, then defaults.
    pub fn resolve(&self, fallback: &RolloutPolicy) -> Policy {
        Policy {
            waves: self
                .waves
                .clone()
                .or_else(|| fallback.waves.clone())
                .unwrap_or_default(),
            bake_time: self
                .bake_time
                .clone()
                .or_else(|| fallback.bake_time.clone())
                .unwrap_or_else(|| Duration::parse("5m").expect("valid default")),
            progress_deadline: self
                .progress_deadline
                .clone()
                .or_else(|| fallback.progress_deadline.clone())
                .unwrap_or_else(|| Duration::parse("30m").expect("valid default")),
            new_clusters: self
                .new_clusters
                .or(fallback.new_clusters)
                .unwrap_or_default(),
            paused: self.paused.or(fallback.paused).unwrap_or(false),
            max_unavailable: self
                .max_unavailable
                .or(fallback.max_unavailable)
                .unwrap_or_default(),
            max_failures: self
                .max_failures
                .or(fallback.max_failures)
                .unwrap_or_default(),
            windows: self
                .windows
                .clone()
                .or_else(|| fallback.windows.clone())
                .unwrap_or_default(),
            on_failure: self.on_failure.or(fallback.on_failure).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_policy_overrides_fleet_policy_field_by_field() {
        let fleet: RolloutPolicy =
            serde_saphyr::from_str("waves: [{name: canary, count: 1}]\nbakeTime: 1h\n").unwrap();
        let module: RolloutPolicy = serde_saphyr::from_str("paused: true\n").unwrap();
        let policy = module.resolve(&fleet);
        assert_eq!(policy.waves.len(), 1);
        assert_eq!(policy.bake_time.as_str(), "1h");
        assert_eq!(policy.progress_deadline.as_str(), "30m");
        assert!(policy.paused);
        assert_eq!(policy.new_clusters, NewClusters::Stable);
    }

    #[test]
    fn reports_bad_waves() {
        let policy: RolloutPolicy = serde_saphyr::from_str(
            "waves: [{name: a, count: 0}, {name: a, count: 1, percent: 5}, {name: Big, percent: 101}]\n",
        )
        .unwrap();
        let problems = policy.problems();
        assert_eq!(problems.len(), 5, "{problems:#?}");
        assert!(problems[0].contains("count must be at least 1"));
        assert!(problems[1].contains("used twice"));
        assert!(problems[2].contains("both count and percent"));
        assert!(problems[3].contains("\"Big\""));
        assert!(problems[4].contains("between 1 and 100"));
    }
}
