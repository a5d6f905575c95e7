//! Presenting results: terminal tables, pull-request markdown (with mermaid), plain text.

mod explain;
mod markdown;
mod preview;
mod status;
mod table;

pub use explain::explain_text;
pub use markdown::{plan_markdown, summary as plan_summary};
pub use preview::preview_markdown;
pub use status::{Pinned, status_table};
pub use table::plan_table;

use crate::rollout::{Change, ModulePlan, ModuleState, PairProblem, Plan, WaveStatus, WindowWait};

/// The cluster that applies a change to its cluster, when it is not that cluster itself: the
/// management cluster, for a bootstrap module (read from the branch after the step, so a
/// removal, whose pointer is gone, says nothing).
fn applied_from<'a>(plan: &'a Plan, change: &Change) -> Option<&'a str> {
    plan.next
        .pointers
        .clusters
        .get(&change.cluster)?
        .get(&change.module)?
        .applied_from
        .as_deref()
}

/// A few names from a long list, and how many were left out.
fn sample(names: &[String], max: usize) -> String {
    if names.len() <= max {
        names.join(", ")
    } else {
        format!("{} and {} more", names[..max].join(", "), names.len() - max)
    }
}

fn state_word(state: ModuleState) -> &'static str {
    match state {
        ModuleState::Complete => "complete",
        ModuleState::Advancing => "advancing",
        ModuleState::Baking => "baking",
        ModuleState::Waiting => "waiting",
        ModuleState::Halted => "halted",
        ModuleState::RollingBack => "rolling back",
        ModuleState::Paused => "paused",
    }
}

fn wave_mark(status: WaveStatus) -> &'static str {
    match status {
        WaveStatus::Complete => "✓",
        WaveStatus::Baking => "◷",
        WaveStatus::Progressing => "…",
        WaveStatus::Applying => "▶",
        WaveStatus::Pending => "·",
        WaveStatus::Failed => "✗",
    }
}

fn version_change(from: Option<&str>, to: Option<&str>) -> String {
    match (from, to) {
        (Some(f), Some(t)) if f == t => t.to_string(),
        (Some(f), Some(t)) => format!("{f} → {t}"),
        (None, Some(t)) => format!("new → {t}"),
        (Some(f), None) => format!("{f} → removed"),
        (None, None) => "removed".into(),
    }
}

/// Per applied wave with a budget (or a use of it), its budgets and their use: `canary: 1 of 2 unavailable allowed, 0 of 0
/// failed allowed`.
fn budget_lines(m: &ModulePlan) -> Vec<String> {
    m.waves
        .iter()
        .filter_map(|w| {
            let b = w
                .budget
                .filter(|b| b.unavailable + b.max_unavailable + b.failed + b.max_failures > 0)?;
            Some(format!(
                "{}: {} of {} unavailable allowed, {} of {} failed allowed",
                w.name, b.unavailable, b.max_unavailable, b.failed, b.max_failures
            ))
        })
        .collect()
}

/// A cluster waiting for its maintenance window: `c2 (opens 2026-11-23T17:00:00Z)`.
fn window_line(w: &WindowWait) -> String {
    match (&w.opens, &w.problem) {
        (_, Some(problem)) => format!("{} ({problem})", w.cluster),
        (Some(opens), None) => format!("{} (opens {opens})", w.cluster),
        (None, None) => format!("{} (no window in the coming week)", w.cluster),
    }
}

/// A cluster with what Flux says: `c1: HealthCheckFailed deployment not ready`.
fn problem_line(p: &PairProblem) -> String {
    format!("{}: {} {}", p.cluster, p.reason, p.message)
        .trim_end()
        .to_string()
}

/// How a rollback stands: `3 restored (3 healthy), 0 restored by this step`.
fn rollback_line(m: &ModulePlan) -> Option<String> {
    let r = m.rollback.as_ref()?;
    Some(format!(
        "rollback: {} restored ({} healthy), {} restored by this step",
        r.restored, r.healthy, r.restoring
    ))
}
