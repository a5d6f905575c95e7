//! `fleeet plan` on directories: the first wave, health-gated steps, reports.

use std::path::Path;

use crate::support::{Fleet, read_tree};

/// A health snapshot saying every pointer under `rendered` is ready at the revision it pins,
/// since `since`.
fn healthy_snapshot(rendered: &Path, since: &str) -> String {
    crate::support::healthy_snapshot(&read_tree(rendered), since)
}

fn plan(fleet: &Fleet, current: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "plan",
        "--current-dir",
        current.to_str().unwrap(),
        "--now",
        "2026-11-21T12:00:00Z",
    ];
    args.extend_from_slice(extra);
    fleet.run(&args).success()
}

#[test]
fn the_first_step_of_a_new_fleet_is_its_canary_wave() {
    let fleet = Fleet::example();
    let current = fleet.path().join("rendered");
    let markdown = plan(&fleet, &current, &["--format", "markdown"]);
    insta::assert_snapshot!("first_step_markdown", markdown);
    let table = plan(&fleet, &current, &["--format", "table"]);
    insta::assert_snapshot!("first_step_table", table);
    let json: serde_json::Value =
        serde_json::from_str(&plan(&fleet, &current, &["--format", "json"])).unwrap();
    let changes = json["changes"].as_array().unwrap();
    assert!(
        changes.iter().all(|c| c["from"].is_null()),
        "everything is new"
    );
    let canary: Vec<&str> = changes
        .iter()
        .filter(|c| c["wave"] == "canary")
        .map(|c| c["cluster"].as_str().unwrap())
        .collect();
    assert!(canary.iter().all(|c| *c == "prod-eu-1"), "{canary:?}");
    let modules = json["modules"].as_array().unwrap();
    let waiting: Vec<&str> = modules
        .iter()
        .filter(|m| m["state"] == "waiting")
        .map(|m| m["module"].as_str().unwrap())
        .collect();
    assert_eq!(
        waiting,
        vec!["debug-tools", "store-agent"],
        "they wait for platform-base on their clusters"
    );
    assert_eq!(
        modules[6]["deferred"][0]["message"],
        "waits for platform-base to be there"
    );
}

#[test]
fn a_rollout_advances_only_on_health_and_writes_each_step() {
    let fleet = Fleet::example();
    let current = fleet.path().join("rendered");
    let health = fleet.path().join("health.yaml");
    plan(&fleet, &current, &["--write", current.to_str().unwrap()]);
    assert!(current.join(".fleeet/rollouts/ingress-nginx.yaml").exists());
    let first = read_tree(&current);

    // Without health, nothing moves.
    let json: serde_json::Value =
        serde_json::from_str(&plan(&fleet, &current, &["--format", "json"])).unwrap();
    assert_eq!(json["changes"].as_array().unwrap().len(), 0);
    assert_eq!(json["modules"][0]["state"], "waiting");

    // Healthy for longer than the bake time: the next waves go.
    std::fs::write(&health, healthy_snapshot(&current, "2026-11-21T09:00:00Z")).unwrap();
    let mut steps = 0;
    loop {
        let json: serde_json::Value = serde_json::from_str(&plan(
            &fleet,
            &current,
            &["--health", health.to_str().unwrap(), "--format", "json"],
        ))
        .unwrap();
        if json["changed"] == false {
            break;
        }
        plan(
            &fleet,
            &current,
            &[
                "--health",
                health.to_str().unwrap(),
                "--write",
                current.to_str().unwrap(),
            ],
        );
        std::fs::write(&health, healthy_snapshot(&current, "2026-11-21T09:00:00Z")).unwrap();
        steps += 1;
        assert!(steps < 10, "the rollout converges");
    }
    assert!(steps >= 3, "{steps} steps after the canary");
    let out = fleet.path().join("desired");
    fleet
        .run(&["render", "--out", out.to_str().unwrap()])
        .success();
    let desired = read_tree(&out);
    let now = read_tree(&current);
    assert_eq!(
        now, desired,
        "the rollout ends at the desired render, records removed"
    );
    assert_ne!(first, now);
}

#[test]
fn a_halted_module_names_the_cluster_and_message() {
    let fleet = Fleet::example();
    let current = fleet.path().join("rendered");
    let health = fleet.path().join("health.yaml");
    plan(&fleet, &current, &["--write", current.to_str().unwrap()]);
    let snapshot: Vec<String> = healthy_snapshot(&current, "2026-11-21T11:00:00Z")
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("payments:") {
                line.replace(
                    "ready: true",
                    "ready: false, message: \"Deployment/payments/api: 0/3 ready\"",
                )
                .replace("ReconciliationSucceeded", "HealthCheckFailed")
            } else {
                line.to_string()
            }
        })
        .collect();
    std::fs::write(&health, snapshot.join("\n")).unwrap();
    let table = plan(&fleet, &current, &["--health", health.to_str().unwrap()]);
    assert!(table.contains("payments       halted"), "{table}");
    assert!(
        table.contains("halted in wave canary: prod-eu-1 (HealthCheckFailed: Deployment/payments/api: 0/3 ready)"),
        "{table}"
    );
    let markdown = plan(
        &fleet,
        &current,
        &["--health", health.to_str().unwrap(), "--format", "markdown"],
    );
    assert!(markdown.contains("### `payments`: halted"), "{markdown}");
    assert!(
        markdown.contains("prod-eu-1: HealthCheckFailed Deployment/payments/api: 0/3 ready"),
        "{markdown}"
    );
    assert!(markdown.contains(":::failed"), "{markdown}");
}
