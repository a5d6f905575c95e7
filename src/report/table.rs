//! The plan as an aligned terminal table, coloured when asked.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use super::{
    applied_from, budget_lines, problem_line, rollback_line, sample, state_word, version_change,
    wave_mark, window_line,
};
use crate::rollout::{ModulePlan, ModuleState, Plan};

/// The plan as a table of modules, then the changes of this step. `color` adds ANSI colours.
pub fn plan_table(plan: &Plan, color: bool) -> String {
    let paint = |style: Style, text: &str| {
        if color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    };
    let mut out = String::new();
    module_rows(&mut out, plan, paint);
    let _ = writeln!(out);
    changes(&mut out, plan);
    if !plan.removed_clusters.is_empty() {
        let _ = writeln!(
            out,
            "Clusters removed from the fleet: {}",
            sample(&plan.removed_clusters, 8)
        );
    }
    if !plan.added_clusters.is_empty() {
        let _ = writeln!(
            out,
            "Clusters new to the rendered branch: {}",
            sample(&plan.added_clusters, 8)
        );
    }
    for note in &plan.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

/// A row per module in aligned columns, its state painted, and under it why and its details.
fn module_rows(out: &mut String, plan: &Plan, paint: impl Fn(Style, &str) -> String) {
    let rows: Vec<[String; 4]> = plan
        .modules
        .iter()
        .map(|m| {
            let waves = m
                .waves
                .iter()
                .map(|w| format!("{} {}", wave_mark(w.status), w.name))
                .collect::<Vec<_>>()
                .join("  ");
            [
                m.module.clone(),
                state_word(m.state).to_string(),
                version_change(m.from.as_deref(), m.to.as_deref()),
                waves,
            ]
        })
        .collect();
    let headers = ["MODULE", "STATE", "VERSION", "WAVES"];
    let mut widths = headers.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let pad =
        |text: &str, width: usize| format!("{text}{}", " ".repeat(width - text.chars().count()));
    let header: Vec<String> = headers.iter().zip(widths).map(|(h, w)| pad(h, w)).collect();
    let _ = writeln!(
        out,
        "{}",
        paint(Style::new().bold(), header.join("  ").trim_end())
    );
    for (row, module) in rows.iter().zip(&plan.modules) {
        let state = paint(state_style(module.state), &pad(&row[1], widths[1]));
        let line = format!(
            "{}  {state}  {}  {}",
            pad(&row[0], widths[0]),
            pad(&row[2], widths[2]),
            row[3]
        );
        let _ = writeln!(out, "{}", line.trim_end());
        if module.state != ModuleState::Complete && !module.reason.is_empty() {
            let _ = writeln!(out, "  {}", paint(Style::new().dimmed(), &module.reason));
        }
        for line in module_details(module) {
            let _ = writeln!(out, "  {}", paint(Style::new().dimmed(), &line));
        }
    }
}

/// How a module's state is painted: green done, cyan moving, yellow waiting, red stopped.
fn state_style(state: ModuleState) -> Style {
    match state {
        ModuleState::Complete => Style::new().fg_color(Some(AnsiColor::Green.into())),
        ModuleState::Advancing => Style::new().fg_color(Some(AnsiColor::Cyan.into())).bold(),
        ModuleState::Baking | ModuleState::Waiting => {
            Style::new().fg_color(Some(AnsiColor::Yellow.into()))
        }
        ModuleState::Halted | ModuleState::RollingBack => {
            Style::new().fg_color(Some(AnsiColor::Red.into())).bold()
        }
        ModuleState::Paused => Style::new().dimmed(),
    }
}

/// The lines under a module: its budgets, the clusters failed within them or waiting for a
/// window, and its rollback.
fn module_details(module: &ModulePlan) -> Vec<String> {
    let mut details = budget_lines(module);
    if !module.tolerated.is_empty() {
        let failed: Vec<String> = module.tolerated.iter().map(problem_line).collect();
        details.push(format!("failed within budget: {}", sample(&failed, 4)));
    }
    if !module.outside_window.is_empty() {
        let waiting: Vec<String> = module.outside_window.iter().map(window_line).collect();
        details.push(format!("waiting for a window: {}", sample(&waiting, 4)));
    }
    details.extend(rollback_line(module));
    details
}

/// The step's changes, grouped by module, wave and the cluster applying them.
fn changes(out: &mut String, plan: &Plan) {
    if plan.changes.is_empty() {
        let _ = writeln!(out, "No changes in this step.");
        return;
    }
    let _ = writeln!(out, "{} change(s) in this step:", plan.changes.len());
    type Step = (String, Option<String>, Option<String>);
    let mut by_step: std::collections::BTreeMap<Step, Vec<String>> = Default::default();
    for change in &plan.changes {
        let from = applied_from(plan, change).map(String::from);
        by_step
            .entry((change.module.clone(), change.wave.clone(), from))
            .or_default()
            .push(change.cluster.clone());
    }
    for ((module, wave, from), clusters) in by_step {
        let wave = wave.map_or_else(|| "immediately".to_string(), |w| format!("wave {w}"));
        let from = from.map_or_else(String::new, |m| format!(", applied from {m}"));
        let _ = writeln!(out, "  {module} ({wave}{from}): {}", sample(&clusters, 8));
    }
}
