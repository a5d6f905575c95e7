//! Why a module is or is not on a cluster: the selector terms, the values, the version.

use serde::Serialize;

use crate::diagnostic::Diagnostics;
use crate::model::{JsonMap, ModuleKind};
use crate::render::Renderer;
use crate::rollout::{ModuleState, Plan, RollbackPlan, WindowWait};
use crate::select::{self, Term};

/// Everything fleeet knows about one cluster and the modules considered for it.
#[derive(Clone, Debug, Serialize)]
pub struct ClusterExplanation {
    pub cluster: String,
    pub labels: std::collections::BTreeMap<String, String>,
    /// The files that define the cluster.
    pub defined_in: Vec<String>,
    pub modules: Vec<ModuleExplanation>,
}

/// One module on one cluster.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleExplanation {
    pub module: String,
    pub kind: ModuleKind,
    /// Where the module is defined.
    pub defined_in: String,
    /// The module's selector, in `kubectl` syntax.
    pub selector: String,
    /// Whether the module goes to the cluster.
    pub selected: bool,
    /// Each selector term, checked against the cluster's labels.
    pub terms: Vec<Term>,
    /// The version the cluster gets (when selected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The modules it waits for on this cluster (when selected).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// The values after merging `valuesFrom` and rendering templates (when selected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<JsonMap>,
    /// The value files merged, lowest precedence first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values_from: Vec<String>,
    /// The cluster that applies the module to this one, in whose folder its pointer is: the
    /// management cluster, for a bootstrap module (when selected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied_from: Option<String>,
    /// Where the pair stands in its rollout (when the current state is known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<PairRollout>,
}

/// A pair's place in its module's rollout.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PairRollout {
    /// The version the rendered branch holds for this cluster (none: not there).
    pub current_version: Option<String>,
    /// Whether the rendered branch differs from the desired pointer.
    pub pending: bool,
    /// Whether this step changes the pair.
    pub changes_now: bool,
    /// The pair's wave in the rollout in progress.
    pub wave: Option<String>,
    pub state: ModuleState,
    pub reason: String,
    /// Set when the pair waits for its cluster's maintenance window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowWait>,
    /// Set when the module's halted rollout is rolled back: how the rollback stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackPlan>,
}

/// Explains `module` (or every module) on cluster index `c`.
pub fn explain(
    renderer: &Renderer<'_>,
    c: usize,
    module: Option<usize>,
    plan: Option<&Plan>,
) -> Result<ClusterExplanation, Diagnostics> {
    let fleet = renderer.fleet;
    let cluster = &fleet.clusters[c];
    let indices: Vec<usize> = match module {
        Some(m) => vec![m],
        None => (0..fleet.modules.len()).collect(),
    };
    let mut modules = Vec::new();
    for m in indices {
        let module = &fleet.modules[m];
        let selector = &module.spec.selector.value;
        let selected = renderer.assignment.has(c, m);
        let mut explanation = ModuleExplanation {
            module: module.name.clone(),
            kind: module.kind,
            defined_in: module.origin.to_string(),
            selector: select::selector_text(selector),
            selected,
            terms: select::explain(selector, &cluster.labels),
            version: None,
            depends_on: Vec::new(),
            values: None,
            values_from: module
                .values_files
                .iter()
                .map(|f| f.file.to_string())
                .collect(),
            applied_from: None,
            rollout: plan.and_then(|plan| pair_rollout(plan, &cluster.name, &module.name)),
        };
        if selected {
            let version = &module.spec.version.value;
            explanation.values = Some(renderer.values(c, m, version).map_err(|e| {
                Diagnostics::from(crate::diagnostic::Diagnostic::new(
                    e.origin,
                    format!("{}: {}", e.path, e.message),
                ))
            })?);
            explanation.depends_on = renderer
                .depends_on(c, m)
                .into_iter()
                .map(String::from)
                .collect();
            explanation.version = Some(version.clone());
            explanation.applied_from = renderer
                .target(c, m)
                .and(renderer.management.as_ref())
                .map(|management| management.cluster.clone());
        }
        modules.push(explanation);
    }
    Ok(ClusterExplanation {
        cluster: cluster.name.clone(),
        labels: cluster.labels.clone(),
        defined_in: cluster.defined_in.iter().map(ToString::to_string).collect(),
        modules,
    })
}

fn pair_rollout(plan: &Plan, cluster: &str, module: &str) -> Option<PairRollout> {
    let step = plan.modules.iter().find(|m| m.module == module)?;
    Some(PairRollout {
        current_version: plan.current_version(cluster, module),
        pending: step
            .waves
            .iter()
            .any(|w| w.pending > 0 && w.clusters.iter().any(|c| c == cluster))
            || plan
                .changes
                .iter()
                .any(|c| c.cluster == cluster && c.module == module),
        changes_now: plan
            .changes
            .iter()
            .any(|c| c.cluster == cluster && c.module == module),
        wave: step
            .waves
            .iter()
            .find(|w| w.clusters.iter().any(|c| c == cluster))
            .map(|w| w.name.clone()),
        state: step.state,
        reason: step.reason.clone(),
        window: step
            .outside_window
            .iter()
            .find(|w| w.cluster == cluster)
            .cloned(),
        rollback: step.rollback.clone(),
    })
}
