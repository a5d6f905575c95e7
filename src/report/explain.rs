//! `fleeet explain` as text.

use std::fmt::Write;

use crate::explain::{ClusterExplanation, ModuleExplanation, PairRollout};

/// `fleeet explain` as text.
pub fn explain_text(e: &ClusterExplanation) -> String {
    let mut out = String::new();
    let labels: Vec<String> = e.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(out, "cluster {}", e.cluster);
    let _ = writeln!(out, "  defined in: {}", e.defined_in.join(", "));
    let _ = writeln!(
        out,
        "  labels:     {}",
        if labels.is_empty() {
            "(none)".into()
        } else {
            labels.join(", ")
        }
    );
    for m in &e.modules {
        module_lines(&mut out, m);
    }
    out
}

/// What `explain` says of one module on the cluster: selected or not and why, its version,
/// rollout, dependencies and values.
fn module_lines(out: &mut String, m: &ModuleExplanation) {
    let _ = writeln!(out);
    let verdict = if m.selected {
        "selected"
    } else {
        "not selected"
    };
    let _ = writeln!(
        out,
        "module {} ({:?}, {}): {verdict}",
        m.module, m.kind, m.defined_in
    );
    let _ = writeln!(out, "  selector: {}", m.selector);
    for term in &m.terms {
        let _ = writeln!(out, "    {term}");
    }
    if let Some(version) = &m.version {
        let _ = writeln!(out, "  version:  {version}");
    }
    if let Some(host) = &m.applied_from {
        let _ = writeln!(
            out,
            "  applied from: {host}, by a Kustomization with spec.kubeConfig (its pointer is in {host}'s folder)"
        );
    }
    if let Some(r) = &m.rollout {
        rollout_lines(out, r);
    }
    if !m.depends_on.is_empty() {
        let _ = writeln!(out, "  waits for: {}", m.depends_on.join(", "));
    }
    if !m.values_from.is_empty() {
        let _ = writeln!(out, "  values from: {}", m.values_from.join(", "));
    }
    if let Some(values) = m.values.as_ref().filter(|v| !v.is_empty()) {
        let _ = writeln!(out, "  values:");
        let yaml = serde_saphyr::to_string(values).unwrap_or_default();
        for line in yaml.lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
}

/// Where a pair stands in its rollout: on the branch, its module's state, window and rollback.
fn rollout_lines(out: &mut String, r: &PairRollout) {
    let on_branch = r.current_version.as_deref().unwrap_or("nothing");
    let status = if r.changes_now {
        "changes in this step"
    } else if r.pending {
        "pending"
    } else {
        "up to date"
    };
    let wave = r
        .wave
        .as_deref()
        .map(|w| format!("wave {w}, "))
        .unwrap_or_default();
    let _ = writeln!(out, "  rendered: {on_branch} ({wave}{status})");
    let _ = writeln!(
        out,
        "  rollout:  {} — {}",
        super::state_word(r.state),
        r.reason
    );
    if let Some(w) = &r.window {
        let when = match (&w.problem, &w.opens) {
            (Some(problem), _) => problem.clone(),
            (None, Some(opens)) => format!("opens {opens}"),
            (None, None) => "no window in the coming week".into(),
        };
        let _ = writeln!(out, "  window:   closed, {when}");
    }
    if let Some(rollback) = &r.rollback {
        let _ = writeln!(
            out,
            "  rollback: {} restored ({} healthy), {} restored by this step",
            rollback.restored, rollback.healthy, rollback.restoring
        );
    }
}
