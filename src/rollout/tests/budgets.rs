//! Failure budgets: unavailable pairs within `maxUnavailable` let a wave complete, failed
//! pairs within `maxFailures` are listed but do not halt.

use proptest::prelude::*;

use super::*;

/// Twenty clusters, one canary; waves canary → rest, with `budgets` in the policy.
fn twenty(budgets: &str) -> Fleet {
    let mut fleet = TestFleet::new().rollout(&format!(
        "bakeTime: 0s\nprogressDeadline: 30m\n{budgets}\nwaves: [{{name: first, count: 10}}, {{name: rest}}]"
    ));
    for i in 0..20 {
        fleet = fleet.cluster(&format!("c{i:02}"), &[]);
    }
    fleet.module("web", "1.0.0", "{}", "").load()
}

fn first_wave(plan: &Plan) -> &WavePlan {
    &plan.modules[0].waves[0]
}

fn offline(mut snapshot: HealthSnapshot, clusters: &[&str]) -> HealthSnapshot {
    for c in clusters {
        snapshot.clusters.get_mut(*c).unwrap().reachable = false;
    }
    snapshot
}

/// Applies the first wave and returns its clusters.
fn start(fleet: &Fleet, branch: &mut Branchy) -> Vec<String> {
    let plan = branch.plan(fleet, None, t(0));
    branch.apply(fleet, &plan, t(0));
    first_wave(&plan).clusters.clone()
}

#[test]
fn unavailable_pairs_within_the_budget_let_the_wave_complete() {
    let fleet = twenty("maxUnavailable: \"20%\"");
    let mut branch = Branchy::empty();
    let first = start(&fleet, &mut branch);
    // 20% of 10 is 2: two clusters offline, the next wave goes.
    let health = offline(healthy(&branch, t(0)), &[&first[0], &first[1]]);
    let plan = branch.plan(&fleet, Some(&health), t(45));
    assert_eq!(plan.modules[0].state, ModuleState::Advancing);
    let budget = first_wave(&plan).budget.unwrap();
    assert_eq!((budget.unavailable, budget.max_unavailable), (2, 2));
    // Three offline: over the budget, the module waits and names them, and never halts.
    let health = offline(healthy(&branch, t(0)), &[&first[0], &first[1], &first[2]]);
    for now in [t(45), t(24 * 60)] {
        let plan = branch.plan(&fleet, Some(&health), now);
        let web = &plan.modules[0];
        assert_eq!(web.state, ModuleState::Waiting, "{}", web.reason);
        assert_eq!(web.problems.len(), 3);
        assert!(web.reason.contains(&first[2]), "{}", web.reason);
        assert!(!plan.changed);
    }
}

#[test]
fn failed_pairs_within_the_budget_are_listed_and_beyond_it_halt() {
    let fleet = twenty("maxFailures: 1\nmaxUnavailable: 1");
    let mut branch = Branchy::empty();
    let first = start(&fleet, &mut branch);
    let one = failing(
        healthy(&branch, t(0)),
        &first[0],
        "web",
        "HealthCheckFailed",
    );
    let plan = branch.plan(&fleet, Some(&one), t(5));
    let web = &plan.modules[0];
    assert_eq!(web.state, ModuleState::Advancing, "{}", web.reason);
    assert_eq!(web.tolerated.len(), 1);
    assert_eq!(web.tolerated[0].cluster, first[0]);
    assert_eq!(web.tolerated[0].message, "deployment ingress not ready");
    let two = failing(one, &first[1], "web", "HealthCheckFailed");
    let plan = branch.plan(&fleet, Some(&two), t(5));
    assert_eq!(plan.modules[0].state, ModuleState::Halted);
    assert_eq!(plan.modules[0].problems.len(), 2);
}

#[test]
fn a_wave_budget_overrides_the_policy_budget() {
    let mut fleet = TestFleet::new().rollout(
        "bakeTime: 0s\nmaxUnavailable: 0\nwaves: [{name: first, count: 10, maxUnavailable: 3}, {name: rest}]",
    );
    for i in 0..20 {
        fleet = fleet.cluster(&format!("c{i:02}"), &[]);
    }
    let fleet = fleet.module("web", "1.0.0", "{}", "").load();
    let mut branch = Branchy::empty();
    let first = start(&fleet, &mut branch);
    let health = offline(healthy(&branch, t(0)), &[&first[0], &first[1], &first[2]]);
    let plan = branch.plan(&fleet, Some(&health), t(5));
    assert_eq!(plan.modules[0].state, ModuleState::Advancing);
}

#[test]
fn a_cluster_back_from_offline_is_judged_like_the_rest_of_its_wave() {
    let fleet = twenty("maxUnavailable: 1");
    let mut branch = Branchy::empty();
    let first = start(&fleet, &mut branch);
    let health = offline(healthy(&branch, t(0)), &[&first[0]]);
    let plan = branch.plan(&fleet, Some(&health), t(5));
    branch.apply(&fleet, &plan, t(5));
    // Back, and failing: the first wave's failure halts the rollout; the second stays applied.
    let back = failing(healthy(&branch, t(5)), &first[0], "web", "UpgradeFailed");
    let plan = branch.plan(&fleet, Some(&back), t(10));
    assert_eq!(plan.modules[0].state, ModuleState::Halted);
    assert_eq!(plan.modules[0].problems[0].cluster, first[0]);
    assert!(plan.changes.is_empty());
    assert_eq!(branch.version("c19", "web").as_deref(), Some("1.0.0"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A wave never completes (the next is never applied) with more unknown pairs than its
    /// budget, and always does within it when the others are healthy.
    #[test]
    fn a_wave_never_completes_with_more_unknown_pairs_than_its_budget(
        percent in 0u32..=100,
        down in prop::collection::vec(any::<bool>(), 10),
    ) {
        let fleet = twenty(&format!("maxUnavailable: \"{percent}%\""));
        let mut branch = Branchy::empty();
        let first = start(&fleet, &mut branch);
        let gone: Vec<&str> = first.iter().zip(&down).filter(|(_, d)| **d).map(|(c, _)| c.as_str()).collect();
        let health = offline(healthy(&branch, t(0)), &gone);
        let plan = branch.plan(&fleet, Some(&health), t(90));
        let allowed = 10 * percent as usize / 100;
        let advanced = plan.changes.iter().any(|c| c.wave.as_deref() == Some("rest"));
        prop_assert_eq!(advanced, gone.len() <= allowed);
        prop_assert!(plan.modules[0].state != ModuleState::Halted);
    }
}

#[test]
fn the_pull_request_shows_budget_use_and_failures_within_it() {
    let fleet = twenty("maxFailures: 1\nmaxUnavailable: \"20%\"");
    let mut branch = Branchy::empty();
    let first = start(&fleet, &mut branch);
    let health = failing(
        offline(healthy(&branch, t(0)), &[&first[1]]),
        &first[0],
        "web",
        "HealthCheckFailed",
    );
    let plan = branch.plan(&fleet, Some(&health), t(5));
    let body = crate::report::plan_markdown(&plan);
    assert!(
        body.contains("- first: 1 of 2 unavailable allowed, 1 of 1 failed allowed"),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "Clusters failed within the budget (1): {}: HealthCheckFailed deployment ingress not ready",
            first[0]
        )),
        "{body}"
    );
    let table = crate::report::plan_table(&plan, false);
    assert!(table.contains("failed within budget:"), "{table}");
}
