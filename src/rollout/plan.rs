//! What the planner decides: per module a state, its waves and why, and the pairs that change.

use jiff::Timestamp;
use serde::Serialize;

use super::budgets::BudgetUse;
use super::record::PairProblem;
use crate::layout::Branch;

/// What a module's rollout is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ModuleState {
    /// Every cluster runs the desired state.
    Complete,
    /// This step applies a wave.
    Advancing,
    /// The applied waves are healthy; waiting for `bakeTime` to pass.
    Baking,
    /// Waiting for applied waves to become healthy (or for health to be known).
    Waiting,
    /// A wave failed; nothing moves until the module changes again.
    Halted,
    /// This step restores the pairs a halted rollout changed (`onFailure: rollback`).
    RollingBack,
    /// `paused: true`.
    Paused,
}

/// What a wave is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum WaveStatus {
    /// Healthy at the desired revision for `bakeTime` (or nothing to change).
    Complete,
    /// Healthy, baking.
    Baking,
    /// Applied, not healthy yet.
    Progressing,
    /// Applied in this step.
    Applying,
    /// Not applied yet.
    Pending,
    /// Failed: the rollout halted here.
    Failed,
}

/// One wave of a module in the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WavePlan {
    pub name: String,
    pub clusters: Vec<String>,
    /// How many of its clusters still differ from the desired state.
    pub pending: usize,
    pub status: WaveStatus,
    /// For a wave applied: its budgets and how much of them its changed pairs use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetUse>,
}

/// One module in the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModulePlan {
    pub module: String,
    pub state: ModuleState,
    /// The version most clusters ran when the rollout started.
    pub from: Option<String>,
    /// The desired version (none when the module is being removed).
    pub to: Option<String>,
    pub waves: Vec<WavePlan>,
    /// Why the module is not advancing, or what this step does.
    pub reason: String,
    /// Clusters that failed or are not healthy yet, with what was seen.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<PairProblem>,
    /// Health evidence of the waves before the one applied in this step.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    /// Clusters of this step held back until the modules they depend on are there (or, for a
    /// removal, until nothing there depends on this module any more).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deferred: Vec<PairProblem>,
    /// Clusters of applied waves that failed within the wave's `maxFailures`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tolerated: Vec<PairProblem>,
    /// Clusters whose change waits for a maintenance window, with when it opens.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub outside_window: Vec<WindowWait>,
    /// The rollback of a halted rollout (`onFailure: rollback`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackPlan>,
}

/// How the rollback of a halted rollout stands.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackPlan {
    /// Pairs back on their bytes from before the rollout.
    pub restored: usize,
    /// Pairs restored by this step.
    pub restoring: usize,
    /// Of the restored pairs, how many are healthy at their old revision.
    pub healthy: usize,
    /// Restored pairs not healthy (yet), with what was seen.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_healthy: Vec<PairProblem>,
}

/// A pair that may change only inside its cluster's maintenance windows, and is outside.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WindowWait {
    pub cluster: String,
    /// When its next window opens (none: the cluster's time zone could not be told).
    pub opens: Option<Timestamp>,
    /// Why the time zone could not be told.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// A cluster found healthy before the next wave was applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub cluster: String,
    pub wave: String,
    pub revision: String,
    /// Since when it is healthy (the later of Ready's last change and the pointer landing).
    pub since: Option<Timestamp>,
}

/// What happens to a pair in this step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ChangeKind {
    /// The module is added to the cluster.
    Add,
    /// The module changes on the cluster.
    Update,
    /// The module is removed from the cluster.
    Remove,
}

/// A pair changed by this step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub cluster: String,
    pub module: String,
    pub kind: ChangeKind,
    pub from: Option<String>,
    pub to: Option<String>,
    /// The wave applied; none for immediate changes (new clusters at the stable version,
    /// clusters gone from the fleet).
    pub wave: Option<String>,
}

impl Change {
    /// The change of `module` on `cluster` from version `from` to `to` (none: not there), of
    /// the kind that follows from them.
    pub fn new(
        cluster: String,
        module: String,
        from: Option<String>,
        to: Option<String>,
        wave: Option<String>,
    ) -> Change {
        let kind = match (&from, &to) {
            (None, _) => ChangeKind::Add,
            (_, None) => ChangeKind::Remove,
            _ => ChangeKind::Update,
        };
        Change {
            cluster,
            module,
            kind,
            from,
            to,
            wave,
        }
    }
}

/// The next step of every module, and the rendered branch after it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub now: Timestamp,
    pub modules: Vec<ModulePlan>,
    /// The pairs this step changes, by module then cluster.
    pub changes: Vec<Change>,
    /// Clusters gone from the fleet: their folders are removed at once.
    pub removed_clusters: Vec<String>,
    /// Clusters new to the rendered branch: their folders are created at once.
    pub added_clusters: Vec<String>,
    /// Things worth knowing about the inputs (unknown files, no history, ...).
    pub notes: Vec<String>,
    /// The rendered branch after this step.
    #[serde(skip)]
    pub next: Branch,
    /// Whether `next` differs from the current branch at all.
    pub changed: bool,
}

impl Plan {
    /// The version the rendered branch held for a pair before this step: where the step
    /// changes the pair, the version it changes from; else the version it keeps.
    pub fn current_version(&self, cluster: &str, module: &str) -> Option<String> {
        let pair = (module, cluster);
        let change = self
            .changes
            .binary_search_by(|c| (c.module.as_str(), c.cluster.as_str()).cmp(&pair));
        match change {
            Ok(i) => self.changes[i].from.clone(),
            Err(_) => {
                let pointer = self.next.pointers.clusters.get(cluster)?.get(module)?;
                Some(pointer.version.clone())
            }
        }
    }
}
