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

use crate::rollout::{ModuleState, WaveStatus};

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
