//! Rollback: the run after a halt restores the exact pre-rollout bytes of every pair the
//! rollout changed, in one step of its own; the module then stays halted.

use proptest::prelude::*;

use super::*;

/// A pointer's files: `<module>.yaml` and, for helm modules, `release.yaml`.
type PointerFiles = Option<(String, Option<String>)>;

/// Every web pointer of the branch, by cluster.
fn web_files(branch: &Branchy) -> BTreeMap<String, PointerFiles> {
    branch
        .state
        .branch
        .pointers
        .clusters
        .iter()
        .map(|(c, m)| {
            let files = m.get("web").map(|p| {
                let text = |c: &crate::content::Content| c.text().unwrap().to_string();
                (text(&p.main), p.release.as_ref().map(text))
            });
            (c.clone(), files)
        })
        .collect()
}

const ROLLBACK: &str = "{onFailure: rollback}";

/// Converges web 1.0.0 on five clusters (`extra` values make old and new bytes differ in more
/// than the version), then starts 2.0.0 with rollback and applies the first two waves.
fn halfway(extra: &str) -> (Fleet, Branchy, BTreeMap<String, PointerFiles>) {
    let v1 = five_clusters().module("web", "1.0.0", "{}", extra).load();
    let mut branch = Branchy::empty();
    converge(&v1, &mut branch, t(0));
    let before = web_files(&branch);
    let v2 = five_clusters()
        .module("web", "2.0.0", "{}", ROLLBACK)
        .load();
    for minute in [100, 101] {
        let plan = branch.plan(&v2, Some(&healthy(&branch, t(minute))), t(minute));
        assert_eq!(plan.modules[0].state, ModuleState::Advancing);
        branch.apply(&v2, &plan, t(minute));
    }
    (v2, branch, before)
}

#[test]
fn the_run_after_a_halt_restores_the_old_bytes_then_stays_halted() {
    let (v2, mut branch, before) = halfway("");
    let canary = failing(healthy(&branch, t(102)), "a", "web", "HealthCheckFailed");
    let plan = branch.plan(&v2, Some(&canary), t(105));
    assert_eq!(plan.modules[0].state, ModuleState::Halted);
    assert!(plan.changes.is_empty());
    branch.apply(&v2, &plan, t(105));

    let plan = branch.plan(&v2, Some(&canary), t(120));
    let web = &plan.modules[0];
    assert_eq!(web.state, ModuleState::RollingBack, "{}", web.reason);
    assert!(
        plan.changes
            .iter()
            .all(|c| c.to.as_deref() == Some("1.0.0") && c.wave.is_none())
    );
    assert!(
        crate::reconcile::title(&plan).contains("roll back web 2.0.0 → 1.0.0"),
        "{}",
        crate::reconcile::title(&plan)
    );
    branch.apply(&v2, &plan, t(120));
    assert_eq!(
        web_files(&branch),
        before,
        "the exact bytes from before the rollout"
    );

    let plan = branch.plan(&v2, Some(&healthy(&branch, t(121))), t(140));
    let web = &plan.modules[0];
    assert_eq!(web.state, ModuleState::Halted);
    assert!(!plan.changed, "nothing more is pushed");
    let rollback = web.rollback.as_ref().unwrap();
    assert_eq!((rollback.restored, rollback.healthy), (3, 3));

    // A change in main starts a new rollout from the first wave.
    let v3 = five_clusters()
        .module("web", "2.0.1", "{}", ROLLBACK)
        .load();
    let plan = branch.plan(&v3, Some(&healthy(&branch, t(141))), t(141));
    assert_eq!(plan.modules[0].state, ModuleState::Advancing);
    assert_eq!(plan.modules[0].from.as_deref(), Some("1.0.0"));
}

#[test]
fn a_rollback_is_a_step_of_its_own() {
    let (v2, mut branch, _) = halfway("");
    let canary = failing(healthy(&branch, t(102)), "a", "web", "HealthCheckFailed");
    let plan = branch.plan(&v2, Some(&canary), t(105));
    branch.apply(&v2, &plan, t(105));
    let with_api = five_clusters()
        .module("web", "2.0.0", "{}", ROLLBACK)
        .module("api", "1.0.0", "{}", "")
        .load();
    let plan = branch.plan(&with_api, Some(&canary), t(120));
    let api = plan.modules.iter().find(|m| m.module == "api").unwrap();
    assert_eq!(api.state, ModuleState::Waiting);
    assert!(
        api.reason.contains("rollback of web goes first"),
        "{}",
        api.reason
    );
    assert!(plan.changes.iter().all(|c| c.module == "web"));
}

#[test]
fn without_rollback_a_halted_module_pushes_nothing_more() {
    let v1 = five_clusters().module("web", "1.0.0", "{}", "").load();
    let mut branch = Branchy::empty();
    converge(&v1, &mut branch, t(0));
    let v2 = five_clusters().module("web", "2.0.0", "{}", "").load();
    let plan = branch.plan(&v2, None, t(100));
    branch.apply(&v2, &plan, t(100));
    let canary = failing(healthy(&branch, t(100)), "a", "web", "HealthCheckFailed");
    let plan = branch.plan(&v2, Some(&canary), t(105));
    let record = plan.next.records["web"].text().unwrap();
    assert!(record.contains("halted"));
    assert!(!record.contains("before"));
    branch.apply(&v2, &plan, t(105));
    for minute in [120, 600] {
        let plan = branch.plan(&v2, Some(&canary), t(minute));
        assert_eq!(plan.modules[0].state, ModuleState::Halted);
        assert!(!plan.changed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Whatever the fleet and however far the rollout got, the rollback restores the exact
    /// pre-rollout bytes of every pair.
    #[test]
    fn rollback_restores_the_exact_pre_rollout_bytes((fleet, _) in arb_fleet(), steps in 1..4usize, bad in any::<prop::sample::Index>()) {
        let v1 = fleet.load();
        let mut branch = Branchy::empty();
        converge(&v1, &mut branch, t(0));
        let before = web_files(&branch);
        let v2_fleet = fleet.clone().rollout("bakeTime: 0s\nonFailure: rollback\nwaves: [{name: one, count: 1}, {name: two, count: 2}, {name: rest}]");
        let (_, _, selector, _) = fleet.modules.iter().find(|m| m.0 == "web").unwrap().clone();
        let v2 = v2_fleet.module("web", "2.0.0", &selector, "").load();
        let mut now = t(100);
        for _ in 0..steps {
            let plan = branch.plan(&v2, Some(&healthy(&branch, now)), now);
            branch.apply(&v2, &plan, now);
            now += SignedDuration::from_mins(1);
        }
        let changed: Vec<String> = branch.state.records.get("web").map(|r| r.before.keys().cloned().collect()).unwrap_or_default();
        prop_assume!(!changed.is_empty());
        let sick = bad.get(&changed).clone();
        for _ in 0..3 {
            let snapshot = failing(healthy(&branch, now), &sick, "web", "HealthCheckFailed");
            let plan = branch.plan(&v2, Some(&snapshot), now);
            branch.apply(&v2, &plan, now);
            now += SignedDuration::from_mins(1);
        }
        prop_assert_eq!(web_files(&branch), before);
    }
}

#[test]
fn a_rollback_waits_for_the_maintenance_window_like_any_change() {
    let v1 = five_clusters().module("web", "1.0.0", "{}", "").load();
    let mut branch = Branchy::empty();
    converge(&v1, &mut branch, t(0));
    let before = web_files(&branch);
    // Saturdays 11:00–12:00 UTC; t(0) is Saturday 10:00.
    let policy =
        "{onFailure: rollback, windows: [{days: [Sat], start: \"11:00\", end: \"12:00\"}]}";
    let v2 = five_clusters().module("web", "2.0.0", "{}", policy).load();
    for minute in [65, 66] {
        let plan = branch.plan(&v2, Some(&healthy(&branch, t(minute))), t(minute));
        branch.apply(&v2, &plan, t(minute));
    }
    let canary = failing(healthy(&branch, t(66)), "a", "web", "HealthCheckFailed");
    let plan = branch.plan(&v2, Some(&canary), t(70));
    assert_eq!(plan.modules[0].state, ModuleState::Halted);
    branch.apply(&v2, &plan, t(70));

    let plan = branch.plan(&v2, Some(&canary), t(130));
    assert!(plan.changes.is_empty(), "outside the window");
    assert_eq!(plan.modules[0].outside_window.len(), 3);
    let next_saturday = t(7 * 24 * 60 + 70);
    assert_eq!(
        plan.modules[0].outside_window[0].opens,
        Some(t(7 * 24 * 60 + 60))
    );
    let plan = branch.plan(&v2, Some(&canary), next_saturday);
    assert_eq!(plan.modules[0].state, ModuleState::RollingBack);
    branch.apply(&v2, &plan, next_saturday);
    assert_eq!(web_files(&branch), before);
}
