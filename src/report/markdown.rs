//! The plan as a pull-request body: summary, module table, the clusters of this step, the
//! health evidence of the previous waves, and a mermaid diagram of the waves.

use std::fmt::Write;

use super::{
    applied_from, budget_lines, problem_line, rollback_line, sample, state_word, version_change,
    wave_mark, window_line,
};
use crate::rollout::{ModulePlan, ModuleState, Plan, WaveStatus};

/// How many names are shown before a list is folded into `<details>`.
const SHOWN: usize = 20;

/// A markdown pull-request body a reviewer can decide from.
pub fn plan_markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", summary(plan));
    module_table(&mut out, plan);
    for m in plan
        .modules
        .iter()
        .filter(|m| m.state != ModuleState::Complete)
    {
        module_section(&mut out, plan, m);
    }
    wave_diagram(&mut out, plan);
    if !plan.removed_clusters.is_empty() {
        let _ = writeln!(
            out,
            "\nClusters gone from the fleet, removed at once: {}",
            sample(&plan.removed_clusters, SHOWN)
        );
    }
    for note in &plan.notes {
        let _ = writeln!(out, "\n> note: {note}");
    }
    out
}

/// A row per module: its versions, state, waves and how many clusters change now.
fn module_table(out: &mut String, plan: &Plan) {
    let _ = writeln!(
        out,
        "| Module | Version | State | Waves | Clusters changing now |"
    );
    let _ = writeln!(out, "| --- | --- | --- | --- | ---: |");
    for m in &plan.modules {
        let waves: Vec<String> = m
            .waves
            .iter()
            .map(|w| format!("{} {} ({})", wave_mark(w.status), w.name, w.clusters.len()))
            .collect();
        let now = plan.changes.iter().filter(|c| c.module == m.module).count();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {now} |",
            m.module,
            version_change(m.from.as_deref(), m.to.as_deref()),
            state_word(m.state),
            if waves.is_empty() {
                "—".to_string()
            } else {
                waves.join(" → ")
            }
        );
    }
}

/// The section of a module still rolling: why, its budgets, and the clusters behind it.
fn module_section(out: &mut String, plan: &Plan, m: &ModulePlan) {
    let _ = writeln!(out, "\n### `{}`: {}\n", m.module, state_word(m.state));
    let _ = writeln!(out, "{}", m.reason);
    let budgets = budget_lines(m);
    if !budgets.is_empty() {
        let _ = writeln!(out, "\nBudgets per wave:\n");
        for line in budgets {
            let _ = writeln!(out, "- {line}");
        }
    }
    if let Some(line) = rollback_line(m) {
        let _ = writeln!(out, "\n{line}");
    }
    let changing = changing_now(plan, m);
    for (title, rows) in [
        (
            "Clusters failed within the budget",
            m.tolerated.iter().map(problem_line).collect::<Vec<_>>(),
        ),
        (
            "Clusters waiting for a maintenance window",
            m.outside_window.iter().map(window_line).collect(),
        ),
        (
            "Rolled-back clusters not healthy",
            m.rollback
                .iter()
                .flat_map(|r| r.not_healthy.iter().map(problem_line))
                .collect(),
        ),
        ("Clusters changing in this step", changing),
    ] {
        if !rows.is_empty() {
            let _ = writeln!(out);
            details(out, &format!("{title} ({})", rows.len()), &rows);
        }
    }
    evidence_details(out, m);
    if !m.problems.is_empty() {
        let rows: Vec<String> = m.problems.iter().map(problem_line).collect();
        let _ = writeln!(out);
        details(
            out,
            &format!("Clusters not healthy ({})", rows.len()),
            &rows,
        );
    }
}

/// The clusters of module `m` that change in this step, with their versions.
fn changing_now(plan: &Plan, m: &ModulePlan) -> Vec<String> {
    plan.changes
        .iter()
        .filter(|c| c.module == m.module)
        .map(|c| {
            let from =
                applied_from(plan, c).map_or_else(String::new, |m| format!(", applied from {m}"));
            format!(
                "{} ({}{from})",
                c.cluster,
                version_change(c.from.as_deref(), c.to.as_deref())
            )
        })
        .collect()
}

/// The health evidence of the earlier waves of `m`, folded: a table of its first 200 rows.
fn evidence_details(out: &mut String, m: &ModulePlan) {
    if m.evidence.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n<details><summary>Health evidence of earlier waves ({} clusters healthy)</summary>\n",
        m.evidence.len()
    );
    let _ = writeln!(
        out,
        "| Cluster | Wave | Healthy since | Revision |\n| --- | --- | --- | --- |"
    );
    for e in m.evidence.iter().take(200) {
        let since = e
            .since
            .map_or_else(|| "unknown".to_string(), |s| s.to_string());
        let _ = writeln!(
            out,
            "| {} | {} | {since} | `{}` |",
            e.cluster, e.wave, e.revision
        );
    }
    if m.evidence.len() > 200 {
        let _ = writeln!(out, "\n…and {} more.", m.evidence.len() - 200);
    }
    let _ = writeln!(out, "\n</details>");
}

/// A mermaid diagram of the waves of every module with waves, coloured by status.
fn wave_diagram(out: &mut String, plan: &Plan) {
    let rolling: Vec<_> = plan
        .modules
        .iter()
        .filter(|m| !m.waves.is_empty())
        .collect();
    if rolling.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n```mermaid\nflowchart LR");
    for (i, m) in rolling.iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph m{i}[\"{} {}\"]\n    direction LR",
            m.module,
            version_change(m.from.as_deref(), m.to.as_deref())
        );
        let nodes: Vec<String> = m
            .waves
            .iter()
            .enumerate()
            .map(|(j, w)| {
                format!(
                    "m{i}w{j}[\"{} {} ({})\"]:::{}",
                    wave_mark(w.status),
                    w.name,
                    w.clusters.len(),
                    class(w.status)
                )
            })
            .collect();
        let _ = writeln!(out, "    {}", nodes.join(" --> "));
        let _ = writeln!(out, "  end");
    }
    let _ = writeln!(
        out,
        "  classDef complete fill:#d3f9d8,stroke:#2b8a3e\n  classDef applying fill:#d0ebff,stroke:#1971c2\n  classDef waiting fill:#fff3bf,stroke:#e67700\n  classDef failed fill:#ffe3e3,stroke:#c92a2a\n  classDef pending fill:#f1f3f5,stroke:#868e96\n```"
    );
}

/// The one-line summary: what this step does.
pub fn summary(plan: &Plan) -> String {
    let steps: Vec<String> = plan
        .modules
        .iter()
        .filter(|m| m.state == ModuleState::Advancing)
        .map(|m| {
            let wave = m
                .waves
                .iter()
                .find(|w| w.status == WaveStatus::Applying)
                .map_or("", |w| w.name.as_str());
            format!(
                "{} {} (wave {wave})",
                m.module,
                m.to.as_deref().unwrap_or("removal")
            )
        })
        .collect();
    let clusters: std::collections::BTreeSet<&str> =
        plan.changes.iter().map(|c| c.cluster.as_str()).collect();
    let rollbacks: Vec<String> = plan
        .modules
        .iter()
        .filter(|m| m.state == ModuleState::RollingBack)
        .map(|m| {
            let to = m.from.as_deref().unwrap_or("nothing");
            format!(
                "{} {} → {to}",
                m.module,
                m.to.as_deref().unwrap_or("removal")
            )
        })
        .collect();
    if !rollbacks.is_empty() {
        format!(
            "**fleeet: roll back {} on {} cluster(s)**",
            rollbacks.join(", "),
            clusters.len()
        )
    } else if steps.is_empty() && plan.changes.is_empty() {
        let halted = plan
            .modules
            .iter()
            .filter(|m| m.state == ModuleState::Halted)
            .count();
        if halted > 0 {
            format!("**fleeet: no step possible, {halted} rollout(s) halted**")
        } else {
            "**fleeet: nothing to roll out now**".into()
        }
    } else if steps.is_empty() {
        format!(
            "**fleeet: {} immediate change(s) on {} cluster(s)**",
            plan.changes.len(),
            clusters.len()
        )
    } else {
        format!(
            "**fleeet: roll out {} to {} cluster(s)**",
            steps.join(", "),
            clusters.len()
        )
    }
}

fn details(out: &mut String, title: &str, items: &[String]) {
    if items.len() <= SHOWN {
        let _ = writeln!(out, "{title}: {}", items.join(", "));
        return;
    }
    let _ = writeln!(out, "<details><summary>{title}</summary>\n");
    let _ = writeln!(out, "{}", items.join(", "));
    let _ = writeln!(out, "\n</details>");
}

fn class(status: WaveStatus) -> &'static str {
    match status {
        WaveStatus::Complete => "complete",
        WaveStatus::Applying => "applying",
        WaveStatus::Baking | WaveStatus::Progressing => "waiting",
        WaveStatus::Failed => "failed",
        WaveStatus::Pending => "pending",
    }
}
