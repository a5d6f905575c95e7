//! `fleeet plan` on directories: the first wave, health-gated steps, reports.

use std::path::Path;

use crate::support::{Fleet, read_tree, without_stores};

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
    let fleet = Fleet::example_without_management();
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
        "debug-tools waits for flux and platform-base on its cluster, store-agent for the stores' night"
    );
    let module = |name: &str| modules.iter().find(|m| m["module"] == name).unwrap();
    assert_eq!(
        module("debug-tools")["deferred"][0]["message"],
        "waits for flux, platform-base to be there"
    );
    assert_eq!(
        module("store-agent")["outsideWindow"][0]["opens"],
        "2026-11-23T08:00:00Z"
    );
}

#[test]
fn with_a_management_cluster_bootstrap_changes_say_where_they_are_applied_from() {
    let fleet = Fleet::example();
    let current = fleet.path().join("rendered");
    let markdown = plan(&fleet, &current, &["--format", "markdown"]);
    insta::assert_snapshot!("first_step_with_management_markdown", markdown);
    let table = plan(&fleet, &current, &["--format", "table"]);
    insta::assert_snapshot!("first_step_with_management_table", table);
    assert!(
        table.contains("  flux (wave canary, applied from mgmt): prod-eu-1\n"),
        "{table}"
    );
    // Modules on clusters the management cluster bootstraps wait for no bootstrap module, only
    // (the stores) for their window.
    let json: serde_json::Value =
        serde_json::from_str(&plan(&fleet, &current, &["--format", "json"])).unwrap();
    let modules = json["modules"].as_array().unwrap();
    let store_agent = modules
        .iter()
        .find(|m| m["module"] == "store-agent")
        .unwrap();
    assert!(
        store_agent["deferred"]
            .as_array()
            .is_none_or(|d| d.is_empty()),
        "{store_agent}"
    );
    assert_eq!(
        store_agent["outsideWindow"][0]["opens"],
        "2026-11-23T08:00:00Z"
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
        without_stores(now.clone()),
        without_stores(desired),
        "the rollout ends at the desired render, records removed"
    );
    assert_ne!(first, now);
    let json: serde_json::Value = serde_json::from_str(&plan(
        &fleet,
        &current,
        &["--health", health.to_str().unwrap(), "--format", "json"],
    ))
    .unwrap();
    let stores = json["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["module"] == "store-agent")
        .unwrap();
    assert_eq!(stores["state"], "waiting", "{stores}");
    assert_eq!(
        stores["outsideWindow"][0]["cluster"], "store-austin-1",
        "{stores}"
    );
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

#[test]
fn a_rendered_branch_edited_by_hand_is_reported_and_what_fleeet_did_not_write_is_kept() {
    let fleet = Fleet::example();
    let current = fleet.path().join("rendered");
    fleet
        .run(&["render", "--out", current.to_str().unwrap()])
        .success();
    let edit = |path: &str, content: &str| {
        let file = current.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, content).unwrap();
    };
    edit("clusters/prod-eu-1/notes.txt", "hand-written notes\n");
    edit("docs/README.md", "# The rendered branch\n");
    edit(
        "clusters/prod-eu-1/cert-manager.yaml",
        "apiVersion: [broken\n",
    );
    edit(".fleeet/rollouts/monitoring.yaml", "waves: {{{\n");
    let kustomization = current.join("clusters/prod-us-1/kustomization.yaml");
    let text = std::fs::read_to_string(&kustomization).unwrap();
    std::fs::write(&kustomization, format!("{text}  - extra.yaml\n")).unwrap();

    let next = fleet.path().join("next");
    let table = plan(&fleet, &current, &["--write", next.to_str().unwrap()]);
    for note in [
        "clusters/prod-eu-1/notes.txt is not a file fleeet writes; it is kept as it is",
        "the pointer of cert-manager on prod-eu-1 has no fleeet.dev/version annotation; its version is unknown, so fleeet takes it as out of date and rolls the desired pointer out over it",
        "cert-manager (wave canary): prod-eu-1",
        ".fleeet/rollouts/monitoring.yaml: ",
        "the record is ignored and will be rewritten when monitoring next changes",
        "clusters/prod-us-1/kustomization.yaml is not what fleeet writes for the pointers there (edited by hand?); fleeet rewrites it from the pointers",
    ] {
        assert!(table.contains(note), "{note:?} is not said:\n{table}");
    }
    let markdown = plan(&fleet, &current, &["--format", "markdown"]);
    assert!(
        markdown.contains("notes.txt is not a file fleeet writes"),
        "{markdown}"
    );

    let written = read_tree(&next);
    let before = read_tree(&current);
    for kept in ["clusters/prod-eu-1/notes.txt", "docs/README.md"] {
        assert_eq!(written.get(kept), before.get(kept), "{kept} was not kept");
    }
    // The broken pointer is replaced only as the plan said: in cert-manager's canary wave.
    let pointer = &written["clusters/prod-eu-1/cert-manager.yaml"];
    assert!(pointer.contains("fleeet.dev/version: v1.16.2"), "{pointer}");
}

/// SECURITY.md: a link in the current state is neither followed nor copied into --write.
#[test]
fn a_link_in_the_current_state_is_not_followed() {
    let fleet = Fleet::example();
    let current = fleet.path().join("rendered");
    fleet
        .run(&["render", "--out", current.to_str().unwrap()])
        .success();
    std::os::unix::fs::symlink(
        "/etc/passwd",
        current.join("clusters/prod-eu-1/passwd.yaml"),
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc", current.join("etc")).unwrap();
    let next = fleet.path().join("next");
    plan(&fleet, &current, &["--write", next.to_str().unwrap()]);
    let written = read_tree(&next);
    assert!(!written.is_empty());
    assert!(
        written
            .keys()
            .all(|p| !p.contains("passwd") && !p.starts_with("etc")),
        "{:?}",
        written.keys()
    );
    assert!(written.values().all(|c| !c.contains("root:")));
}
