//! Rollout scenarios and properties, on fleets built in memory.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::*;
use crate::health::{ClusterHealth, HealthSnapshot, ModuleHealth};
use crate::load::FleetFiles;
use crate::model::Fleet;

const T0: &str = "2026-11-21T10:00:00Z";

fn t(minutes: i64) -> Timestamp {
    T0.parse::<Timestamp>().unwrap() + SignedDuration::from_mins(minutes)
}

/// A fleet in memory: clusters with labels, OCI modules (revision = version) with a selector
/// and an optional rollout policy.
#[derive(Clone, Debug)]
struct TestFleet {
    fleet_rollout: String,
    clusters: Vec<(String, Vec<(String, String)>)>,
    /// Annotations by cluster.
    annotations: BTreeMap<String, Vec<(String, String)>>,
    modules: Vec<(String, String, String, String)>,
}

impl TestFleet {
    fn new() -> Self {
        TestFleet {
            fleet_rollout: "bakeTime: 0s\nprogressDeadline: 30m\nwaves: [{name: canary, selector: {matchLabels: {canary: \"true\"}}}, {name: half, percent: 50}, {name: rest}]".into(),
            clusters: Vec::new(),
            annotations: BTreeMap::new(),
            modules: Vec::new(),
        }
    }

    fn rollout(mut self, yaml: &str) -> Self {
        self.fleet_rollout = yaml.into();
        self
    }

    fn cluster(mut self, name: &str, labels: &[(&str, &str)]) -> Self {
        self.clusters.retain(|(n, _)| n != name);
        self.clusters.push((
            name.into(),
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ));
        self
    }

    fn annotate(mut self, cluster: &str, key: &str, value: &str) -> Self {
        self.annotations
            .entry(cluster.into())
            .or_default()
            .push((key.into(), value.into()));
        self
    }

    fn without_cluster(mut self, name: &str) -> Self {
        self.clusters.retain(|(n, _)| n != name);
        self
    }

    /// A module: name, version, selector (flow YAML), rollout (flow YAML or "").
    fn module(mut self, name: &str, version: &str, selector: &str, rollout: &str) -> Self {
        self.modules.retain(|(n, ..)| n != name);
        self.modules
            .push((name.into(), version.into(), selector.into(), rollout.into()));
        self
    }

    fn files(&self) -> FleetFiles {
        let mut files = FleetFiles::new("");
        files.insert(
            "fleet.yaml",
            format!(
                "apiVersion: fleeet.dev/v1alpha1\nkind: Fleet\nmetadata: {{name: test}}\nspec:\n  rollout: {{{}}}\n",
                self.fleet_rollout.replace('\n', ", ")
            ),
        );
        for (name, labels) in &self.clusters {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}: \"{v}\""))
                .collect();
            let annotations: Vec<String> = self
                .annotations
                .get(name)
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("\"{k}\": \"{v}\""))
                .collect();
            files.insert(
                format!("clusters/{name}.yaml"),
                format!(
                    "apiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata: {{name: {name}, labels: {{{}}}, annotations: {{{}}}}}\n",
                    labels.join(", "),
                    annotations.join(", ")
                ),
            );
        }
        for (name, version, selector, rollout) in &self.modules {
            let rollout = if rollout.is_empty() {
                String::new()
            } else {
                format!("  rollout: {rollout}\n")
            };
            files.insert(
                format!("modules/{name}.yaml"),
                format!(
                    "apiVersion: fleeet.dev/v1alpha1\nkind: Module\nmetadata: {{name: {name}}}\nspec:\n  version: \"{version}\"\n  source: {{oci: {{url: \"oci://example.com/{name}\"}}}}\n  selector: {selector}\n  values: {{cluster: \"{{{{ cluster.name }}}}\"}}\n{rollout}"
                ),
            );
        }
        files
    }

    fn load(&self) -> Fleet {
        crate::load::load(&self.files()).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// The rendered branch of a test, with the time each pointer landed.
#[derive(Clone, Default)]
struct Branchy {
    state: CurrentState,
}

impl Branchy {
    fn empty() -> Self {
        Branchy {
            state: CurrentState {
                landed_at: Some(Default::default()),
                ..CurrentState::default()
            },
        }
    }

    /// Plans as reconcile does, on the desired pointers' ids.
    fn plan(&self, fleet: &Fleet, health: Option<&HealthSnapshot>, now: Timestamp) -> Plan {
        let env = crate::template::sandbox();
        let renderer = Renderer::new(fleet, &env).unwrap_or_else(|e| panic!("{e}"));
        let desired = renderer.render_ids().unwrap_or_else(|e| panic!("{e}"));
        plan(&Inputs {
            renderer: &renderer,
            desired: &desired,
            current: &self.state,
            health,
            now,
        })
    }

    /// Makes `plan.next` the current state, as if merged at `now`.
    fn apply(&mut self, fleet: &Fleet, plan: &Plan, now: Timestamp) {
        let path = &fleet.spec.output.path.value;
        let before = layout::branch_files(&self.state.branch, path);
        let env = crate::template::sandbox();
        let renderer = Renderer::new(fleet, &env).unwrap_or_else(|e| panic!("{e}"));
        let mut next = plan.next.clone();
        renderer.restore_texts(&mut next.pointers, &self.state.branch.pointers);
        let after = layout::branch_files(&next, path);
        let mut landed = self.state.landed_at.clone().unwrap_or_default();
        for (file, content) in &after {
            if before.get(file) != Some(content) {
                landed.insert(file.clone(), now);
            }
        }
        for file in before.keys().filter(|f| !after.contains_key(*f)) {
            landed.insert(file.clone(), now);
        }
        self.state = CurrentState::from_files(after, path, &Rendered::default());
        self.state.landed_at = Some(landed);
    }

    fn version(&self, cluster: &str, module: &str) -> Option<String> {
        self.state
            .branch
            .pointers
            .clusters
            .get(cluster)?
            .get(module)
            .map(|p| p.version.clone())
    }
}

/// Every pointer of the branch healthy at its version since `since`.
fn healthy(branch: &Branchy, since: Timestamp) -> HealthSnapshot {
    let mut snapshot = HealthSnapshot::new(since);
    for (cluster, modules) in &branch.state.branch.pointers.clusters {
        let modules = modules
            .iter()
            .map(|(m, p)| {
                (
                    m.as_str().into(),
                    ModuleHealth {
                        ready: true,
                        revision: Some(format!("{}@sha256:0123", p.version).into()),
                        since: Some(since),
                        reason: Some("ReconciliationSucceeded".into()),
                        ..ModuleHealth::default()
                    },
                )
            })
            .collect();
        snapshot.clusters.insert(
            cluster.clone(),
            ClusterHealth {
                reachable: true,
                error: None,
                modules,
            },
        );
    }
    snapshot
}

fn failing(
    mut snapshot: HealthSnapshot,
    cluster: &str,
    module: &str,
    reason: &str,
) -> HealthSnapshot {
    let health = snapshot
        .clusters
        .get_mut(cluster)
        .and_then(|c| c.modules.get_mut(module))
        .expect("pair in snapshot");
    health.ready = false;
    health.reason = Some(reason.into());
    health.message = "deployment ingress not ready".into();
    snapshot
}

fn five_clusters() -> TestFleet {
    TestFleet::new()
        .cluster("a", &[("canary", "true")])
        .cluster("b", &[])
        .cluster("c", &[])
        .cluster("d", &[])
        .cluster("e", &[])
}

/// Rolls `fleet` out from `branch` with all-healthy snapshots until nothing changes; returns
/// the number of steps with changes.
fn converge(fleet: &Fleet, branch: &mut Branchy, mut now: Timestamp) -> usize {
    let mut steps = 0;
    for _ in 0..50 {
        let snapshot = healthy(branch, now);
        let plan = branch.plan(fleet, Some(&snapshot), now);
        if !plan.changed {
            return steps;
        }
        if !plan.changes.is_empty() {
            steps += 1;
        }
        branch.apply(fleet, &plan, now);
        now += SignedDuration::from_mins(1);
    }
    panic!("no convergence in 50 steps");
}

#[test]
fn pointers_rendered_by_id_get_back_the_texts_a_full_render_has_except_those_kept() {
    let fleet = five_clusters()
        .module("web", "1.0.0", "{}", "")
        .module("db", "1.0.0", "{matchLabels: {canary: \"true\"}}", "")
        .load();
    let env = crate::template::sandbox();
    let renderer = Renderer::new(&fleet, &env).unwrap();
    let full = renderer.render_all().unwrap();
    let ids = renderer.render_ids().unwrap();
    assert_eq!(ids, full, "the same bytes");
    assert!(
        ids.clusters
            .values()
            .flat_map(|m| m.values())
            .all(|p| p.main.text().is_none())
    );

    let mut restored = ids.clone();
    renderer.restore_texts(&mut restored, &Rendered::default());
    for (cluster, modules) in &full.clusters {
        for (module, pointer) in modules.iter() {
            let back = &restored.clusters[cluster][module];
            assert_eq!(
                back.main.text(),
                pointer.main.text(),
                "{module} on {cluster}"
            );
        }
    }
    // What a tree holds already (the same files in `kept`) is not rendered again.
    let mut kept = Rendered::default();
    kept.clusters.insert("b".into(), full.clusters["b"].clone());
    let mut partly = ids.clone();
    renderer.restore_texts(&mut partly, &kept);
    assert!(
        partly.clusters["b"]
            .get("web")
            .unwrap()
            .main
            .text()
            .is_none()
    );
    assert!(
        partly.clusters["c"]
            .get("web")
            .unwrap()
            .main
            .text()
            .is_some()
    );
}

#[test]
fn a_plan_tells_the_version_each_pair_had_before_its_step() {
    let v1 = five_clusters()
        .module("web", "1.0.0", "{}", "")
        .module("db", "1.0.0", "{matchLabels: {canary: \"true\"}}", "")
        .load();
    let mut branch = Branchy::empty();
    converge(&v1, &mut branch, t(0));
    // A bump rolling in waves, one module gone, a cluster gone and one new.
    let v2 = five_clusters()
        .without_cluster("e")
        .cluster("f", &[])
        .module("web", "2.0.0", "{}", "")
        .load();
    let mut now = t(100);
    for _ in 0..20 {
        let plan = branch.plan(&v2, Some(&healthy(&branch, now)), now);
        for cluster in ["a", "b", "c", "d", "e", "f", "nowhere"] {
            for module in ["web", "db", "nothing"] {
                assert_eq!(
                    plan.current_version(cluster, module),
                    branch.version(cluster, module),
                    "{module} on {cluster} at {now}"
                );
            }
        }
        if !plan.changed {
            return;
        }
        branch.apply(&v2, &plan, now);
        now += SignedDuration::from_mins(1);
    }
    panic!("no convergence in 20 steps");
}

#[test]
fn a_version_bump_rolls_through_every_wave_in_order() {
    let v1 = five_clusters().module("web", "1.0.0", "{}", "").load();
    let mut branch = Branchy::empty();
    assert_eq!(
        converge(&v1, &mut branch, t(0)),
        3,
        "first rollout: canary, half, rest"
    );
    assert!(
        branch.state.records.is_empty(),
        "records are removed once complete"
    );

    let v2 = five_clusters().module("web", "2.0.0", "{}", "").load();
    let mut seen = Vec::new();
    let mut now = t(100);
    loop {
        let plan = branch.plan(&v2, Some(&healthy(&branch, now)), now);
        if !plan.changed {
            break;
        }
        let waves: BTreeSet<Option<String>> = plan.changes.iter().map(|c| c.wave.clone()).collect();
        seen.push((waves, plan.changes.len()));
        assert!(
            plan.changes
                .iter()
                .all(|c| c.from.as_deref() == Some("1.0.0") && c.to.as_deref() == Some("2.0.0"))
        );
        branch.apply(&v2, &plan, now);
        now += SignedDuration::from_mins(1);
    }
    assert_eq!(
        seen.pop(),
        Some((BTreeSet::new(), 0)),
        "a last step removes the record once all is healthy"
    );
    assert!(branch.state.records.is_empty());
    let names: Vec<(Vec<String>, usize)> = seen
        .into_iter()
        .map(|(w, n)| (w.into_iter().flatten().collect(), n))
        .collect();
    assert_eq!(
        names,
        vec![
            (vec!["canary".to_string()], 1),
            (vec!["half".to_string()], 2),
            (vec!["rest".to_string()], 2),
        ]
    );
    for c in ["a", "b", "c", "d", "e"] {
        assert_eq!(branch.version(c, "web").as_deref(), Some("2.0.0"));
    }
}

#[test]
fn a_wave_waits_for_the_bake_time_and_for_health() {
    let fleet = five_clusters()
        .rollout("bakeTime: 10m\nwaves: [{name: canary, selector: {matchLabels: {canary: \"true\"}}}, {name: rest}]")
        .module("web", "1.0.0", "{}", "")
        .load();
    let mut branch = Branchy::empty();
    let plan = branch.plan(&fleet, None, t(0));
    assert_eq!(plan.changes.len(), 1);
    branch.apply(&fleet, &plan, t(0));

    let plan = branch.plan(&fleet, None, t(1));
    assert_eq!(plan.modules[0].state, ModuleState::Waiting);
    assert!(
        plan.modules[0]
            .reason
            .contains("not in the health snapshot"),
        "{}",
        plan.modules[0].reason
    );
    assert!(plan.changes.is_empty());

    let snapshot = healthy(&branch, t(2));
    let plan = branch.plan(&fleet, Some(&snapshot), t(5));
    assert_eq!(plan.modules[0].state, ModuleState::Baking);
    assert!(
        plan.modules[0].reason.contains("2026-11-21T10:12:00Z"),
        "{}",
        plan.modules[0].reason
    );

    let plan = branch.plan(&fleet, Some(&snapshot), t(12));
    assert_eq!(plan.modules[0].state, ModuleState::Advancing);
    assert_eq!(plan.changes.len(), 4);
    assert_eq!(plan.modules[0].evidence.len(), 1);
    assert_eq!(plan.modules[0].evidence[0].cluster, "a");
}

#[test]
fn a_failing_wave_halts_until_the_module_changes() {
    let v1 = five_clusters().module("web", "1.0.0", "{}", "").load();
    let mut branch = Branchy::empty();
    converge(&v1, &mut branch, t(0));
    let v2 = five_clusters().module("web", "2.0.0", "{}", "").load();
    let plan = branch.plan(&v2, Some(&healthy(&branch, t(10))), t(10));
    assert_eq!(plan.changes.len(), 1);
    branch.apply(&v2, &plan, t(10));

    let bad = failing(healthy(&branch, t(11)), "a", "web", "HealthCheckFailed");
    let plan = branch.plan(&v2, Some(&bad), t(12));
    let web = &plan.modules[0];
    assert_eq!(web.state, ModuleState::Halted);
    assert!(
        web.reason
            .contains("a (HealthCheckFailed: deployment ingress not ready)"),
        "{}",
        web.reason
    );
    assert!(plan.changes.is_empty());
    assert!(plan.changed, "the halt is recorded");
    branch.apply(&v2, &plan, t(12));
    assert!(branch.state.records["web"].halted.is_some());

    // Healthy again: still halted, nothing moves.
    let plan = branch.plan(&v2, Some(&healthy(&branch, t(13))), t(60));
    assert_eq!(plan.modules[0].state, ModuleState::Halted);
    assert!(!plan.changed);

    // Fix forward: a new version starts a new rollout from the first wave.
    let v3 = five_clusters().module("web", "2.0.1", "{}", "").load();
    let plan = branch.plan(&v3, Some(&healthy(&branch, t(61))), t(61));
    assert_eq!(plan.modules[0].state, ModuleState::Advancing);
    let clusters: Vec<&str> = plan.changes.iter().map(|c| c.cluster.as_str()).collect();
    assert_eq!(clusters, vec!["a"]);
    assert_eq!(plan.changes[0].from.as_deref(), Some("2.0.0"));
}

#[test]
fn waiting_reasons_are_not_failures() {
    let fleet = five_clusters().module("web", "1.0.0", "{}", "").load();
    let mut branch = Branchy::empty();
    let plan = branch.plan(&fleet, None, t(0));
    branch.apply(&fleet, &plan, t(0));
    let waiting = failing(healthy(&branch, t(1)), "a", "web", "DependencyNotReady");
    let plan = branch.plan(&fleet, Some(&waiting), t(2));
    assert_eq!(plan.modules[0].state, ModuleState::Waiting);
}

#[test]
fn a_wave_not_healthy_past_its_deadline_halts_but_only_with_history() {
    let fleet = five_clusters().module("web", "1.0.0", "{}", "").load();
    let mut branch = Branchy::empty();
    let plan = branch.plan(&fleet, None, t(0));
    branch.apply(&fleet, &plan, t(0));
    let stuck = failing(healthy(&branch, t(0)), "a", "web", "Progressing");
    let plan = branch.plan(&fleet, Some(&stuck), t(29));
    assert_eq!(plan.modules[0].state, ModuleState::Waiting);
    let plan = branch.plan(&fleet, Some(&stuck), t(31));
    assert_eq!(plan.modules[0].state, ModuleState::Halted);
    assert_eq!(
        plan.modules[0].problems[0].reason,
        "ProgressDeadlineExceeded"
    );

    branch.state.landed_at = None;
    let plan = branch.plan(&fleet, Some(&stuck), t(31));
    assert_eq!(plan.modules[0].state, ModuleState::Waiting);
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("deadlines are not judged"))
    );
}

#[test]
fn an_unreachable_cluster_never_fails_whatever_its_deadline() {
    let fleet = five_clusters()
        .rollout("bakeTime: 0s\nprogressDeadline: 30m")
        .module("web", "1.0.0", "{}", "")
        .load();
    let mut branch = Branchy::empty();
    let plan = branch.plan(&fleet, None, t(0));
    branch.apply(&fleet, &plan, t(0));
    let mut offline = healthy(&branch, t(0));
    offline.clusters.get_mut("a").unwrap().reachable = false;
    offline.clusters.remove("b");
    for now in [t(31), t(600)] {
        let plan = branch.plan(&fleet, Some(&offline), now);
        let web = &plan.modules[0];
        assert_eq!(web.state, ModuleState::Waiting);
        let named: Vec<&str> = web.problems.iter().map(|p| p.cluster.as_str()).collect();
        assert_eq!(named, ["a", "b"]);
        assert!(web.problems.iter().all(|p| p.reason == "Unknown"));
        assert!(!plan.changed);
    }
}

#[test]
fn a_paused_module_does_not_move() {
    let fleet = five_clusters()
        .module("web", "1.0.0", "{}", "{paused: true}")
        .load();
    let branch = Branchy::empty();
    let plan = branch.plan(&fleet, None, t(0));
    assert_eq!(plan.modules[0].state, ModuleState::Paused);
    assert!(plan.changes.is_empty());
}

#[test]
fn a_version_bump_during_a_rollout_starts_again_from_the_first_wave() {
    let v1 = five_clusters().module("web", "1.0.0", "{}", "").load();
    let mut branch = Branchy::empty();
    converge(&v1, &mut branch, t(0));
    let v2 = five_clusters().module("web", "2.0.0", "{}", "").load();
    for minute in [10, 11] {
        let plan = branch.plan(&v2, Some(&healthy(&branch, t(minute))), t(minute));
        branch.apply(&v2, &plan, t(minute));
    }
    assert_eq!(
        branch.version("a", "web").as_deref(),
        Some("2.0.0"),
        "canary and half applied"
    );
    let v3 = five_clusters().module("web", "3.0.0", "{}", "").load();
    let plan = branch.plan(&v3, Some(&healthy(&branch, t(12))), t(12));
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].cluster, "a");
    assert_eq!(plan.changes[0].to.as_deref(), Some("3.0.0"));
    assert_eq!(plan.modules[0].waves[0].status, WaveStatus::Applying);
}

#[test]
fn a_cluster_joining_gets_the_stable_version_at_once_then_its_wave() {
    let v1 = five_clusters().module("web", "1.0.0", "{}", "").load();
    let mut branch = Branchy::empty();
    converge(&v1, &mut branch, t(0));
    let v2 = five_clusters().module("web", "2.0.0", "{}", "");
    let plan = branch.plan(&v2.load(), Some(&healthy(&branch, t(10))), t(10));
    branch.apply(&v2.load(), &plan, t(10));

    let joined = v2.clone().cluster("f", &[]).load();
    let plan = branch.plan(&joined, Some(&healthy(&branch, t(11))), t(11));
    let f: Vec<&Change> = plan.changes.iter().filter(|c| c.cluster == "f").collect();
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].to.as_deref(), f[0].wave.as_deref()),
        (Some("1.0.0"), None)
    );
    assert!(plan.added_clusters.contains(&"f".to_string()));
    branch.apply(&joined, &plan, t(11));
    let record = &branch.state.records["web"];
    assert_eq!(
        record
            .waves
            .last()
            .unwrap()
            .clusters
            .last()
            .map(String::as_str),
        Some("f")
    );
    converge(&joined, &mut branch, t(12));
    assert_eq!(branch.version("f", "web").as_deref(), Some("2.0.0"));
}

#[test]
fn with_new_clusters_desired_a_joining_cluster_waits_for_its_wave() {
    let fleet = five_clusters().module("web", "1.0.0", "{}", "{newClusters: desired}");
    let mut branch = Branchy::empty();
    converge(&fleet.load(), &mut branch, t(0));
    let joined = fleet.cluster("f", &[("canary", "true")]).load();
    let plan = branch.plan(&joined, Some(&healthy(&branch, t(10))), t(10));
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].wave.as_deref(), Some("canary"));
    assert_eq!(plan.changes[0].to.as_deref(), Some("1.0.0"));
}

#[test]
fn a_cluster_gone_from_the_fleet_is_removed_at_once() {
    let fleet = five_clusters().module("web", "1.0.0", "{}", "");
    let mut branch = Branchy::empty();
    converge(&fleet.load(), &mut branch, t(0));
    let gone = fleet.without_cluster("c").load();
    let plan = branch.plan(&gone, None, t(10));
    assert_eq!(plan.removed_clusters, vec!["c".to_string()]);
    assert!(!plan.next.pointers.clusters.contains_key("c"));
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].kind, ChangeKind::Remove);
}

#[test]
fn an_unassigned_module_is_removed_in_waves() {
    let fleet = five_clusters().module("web", "1.0.0", "{}", "");
    let mut branch = Branchy::empty();
    converge(&fleet.load(), &mut branch, t(0));
    let narrowed = fleet
        .module("web", "1.0.0", "{matchLabels: {canary: \"false\"}}", "")
        .load();
    let plan = branch.plan(&narrowed, Some(&healthy(&branch, t(10))), t(10));
    assert_eq!(
        plan.changes.len(),
        1,
        "only the canary first: {:#?}",
        plan.changes
    );
    assert_eq!(plan.changes[0].kind, ChangeKind::Remove);
    assert_eq!(plan.changes[0].cluster, "a");
    // The removal is complete once the module is gone from the cluster.
    branch.apply(&narrowed, &plan, t(10));
    let plan = branch.plan(&narrowed, Some(&healthy(&branch, t(11))), t(11));
    assert_eq!(plan.modules[0].state, ModuleState::Advancing);
    assert_eq!(
        converge(&narrowed, &mut branch, t(12)),
        2,
        "then half, then the rest"
    );
    assert!(
        branch
            .state
            .branch
            .pointers
            .clusters
            .values()
            .all(|m| m.is_empty())
    );
}

#[test]
fn untouched_pairs_keep_their_bytes_and_a_converged_plan_changes_nothing() {
    let fleet = five_clusters().module("web", "1.0.0", "{}", "").load();
    let mut branch = Branchy::empty();
    converge(&fleet, &mut branch, t(0));
    let mut hand_edited = branch.clone();
    let pointer = hand_edited
        .state
        .branch
        .pointers
        .clusters
        .get_mut("b")
        .and_then(|m| std::sync::Arc::make_mut(m).get_mut("web"))
        .unwrap();
    pointer.main = format!("{}# edited by hand\n", pointer.main.text().unwrap()).into();
    let plan = hand_edited.plan(&fleet, Some(&healthy(&hand_edited, t(100))), t(100));
    let untouched = &plan.next.pointers.clusters["c"].get("web").unwrap().main;
    assert_eq!(
        untouched,
        &branch.state.branch.pointers.clusters["c"]
            .get("web")
            .unwrap()
            .main
    );
    let plan = branch.plan(&fleet, Some(&healthy(&branch, t(100))), t(100));
    assert!(!plan.changed);
    assert!(plan.changes.is_empty());
    assert!(
        plan.modules
            .iter()
            .all(|m| m.state == ModuleState::Complete)
    );
}

fn arb_fleet() -> impl Strategy<Value = (TestFleet, usize)> {
    let clusters = prop::collection::vec((any::<bool>(), 0..3u8), 1..12);
    let waves = prop_oneof![
        Just(String::new()),
        Just(
            "[{name: canary, selector: {matchLabels: {canary: \"true\"}}}, {name: rest}]"
                .to_string()
        ),
        Just("[{name: one, count: 1}, {name: third, percent: 34}, {name: rest}]".to_string()),
        Just(
            "[{name: eu, selector: {matchLabels: {region: r0}}}, {name: two, count: 2}]"
                .to_string()
        ),
    ];
    (clusters, waves, 0..3usize).prop_map(|(clusters, waves, selector)| {
        let mut fleet = TestFleet::new().rollout(&if waves.is_empty() {
            "bakeTime: 0s".to_string()
        } else {
            format!("bakeTime: 0s\nwaves: {waves}")
        });
        for (i, (canary, region)) in clusters.iter().enumerate() {
            fleet = fleet.cluster(
                &format!("c{i}"),
                &[
                    ("canary", if *canary { "true" } else { "false" }),
                    ("region", &format!("r{region}")),
                ],
            );
        }
        let selector = [
            "{}",
            "{matchLabels: {region: r0}}",
            "{matchExpressions: [{key: region, operator: NotIn, values: [r1]}]}",
        ][selector];
        let fleet = fleet.module("web", "1.0.0", selector, "");
        let wave_count = if waves.is_empty() {
            1
        } else {
            waves.matches("name:").count()
        };
        (fleet, wave_count)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Applying the plan with all-healthy snapshots converges to the desired render in as many
    /// steps as there are waves with clusters, and then plans nothing.
    #[test]
    fn converges_in_one_step_per_wave((fleet, _waves) in arb_fleet()) {
        let v1 = fleet.load();
        let mut branch = Branchy::empty();
        converge(&v1, &mut branch, t(0));
        let v2 = fleet.clone().module("web", "2.0.0", &fleet.modules[0].2, "").load();
        let first = branch.plan(&v2, Some(&healthy(&branch, t(100))), t(100));
        let nonempty = first.modules[0].waves.iter().filter(|w| w.pending > 0).count();
        let steps = converge(&v2, &mut branch, t(100));
        prop_assert_eq!(steps, nonempty);
        let env = crate::template::sandbox();
        let desired = Renderer::new(&v2, &env).unwrap().render_all().unwrap();
        prop_assert_eq!(&branch.state.branch.pointers.clusters.keys().collect::<Vec<_>>(), &desired.clusters.keys().collect::<Vec<_>>());
        for (cluster, modules) in &desired.clusters {
            let current = &branch.state.branch.pointers.clusters[cluster];
            prop_assert_eq!(current.keys().collect::<Vec<_>>(), modules.keys().collect::<Vec<_>>());
            for (m, p) in modules.iter() {
                prop_assert_eq!(&current[m].main, &p.main);
            }
        }
        let again = branch.plan(&v2, Some(&healthy(&branch, t(500))), t(500));
        prop_assert!(!again.changed);
    }

    /// No pair is applied before every earlier wave of its module is healthy at the desired
    /// revision, whatever the health.
    #[test]
    fn no_wave_before_the_earlier_waves_are_healthy((fleet, _) in arb_fleet(), sick in prop::collection::vec(any::<bool>(), 12)) {
        let v1 = fleet.load();
        let mut branch = Branchy::empty();
        converge(&v1, &mut branch, t(0));
        let v2 = fleet.clone().module("web", "2.0.0", &fleet.modules[0].2, "").load();
        let mut now = t(100);
        for _ in 0..6 {
            let mut snapshot = healthy(&branch, now);
            for (i, sick) in sick.iter().enumerate() {
                if *sick && let Some(c) = snapshot.clusters.get_mut(&format!("c{i}")) {
                    c.reachable = false;
                }
            }
            let plan = branch.plan(&v2, Some(&snapshot), now);
            if let Some(record) = plan.next.records.get("web").and_then(|r| RolloutRecord::parse("r", r.text().unwrap()).ok()) {
                for change in plan.changes.iter().filter(|c| c.wave.is_some()) {
                    let k = record.wave_of(&change.cluster).unwrap();
                    for earlier in &record.waves[..k] {
                        for cluster in &earlier.clusters {
                            let health = &snapshot.clusters[cluster];
                            prop_assert!(health.reachable, "{} applied while {} (earlier wave) is unknown", change.cluster, cluster);
                            let version = branch.version(cluster, "web");
                            prop_assert_eq!(version.as_deref(), Some("2.0.0"));
                        }
                    }
                }
            }
            branch.apply(&v2, &plan, now);
            now += SignedDuration::from_mins(1);
        }
    }

    /// A cluster gone from the fleet loses its folder in the very next step, whatever the
    /// health and wherever the rollout stands.
    #[test]
    fn removed_clusters_vanish_at_once((fleet, _) in arb_fleet(), gone in any::<prop::sample::Index>(), steps in 0..3usize) {
        let mut branch = Branchy::empty();
        let v1 = fleet.load();
        converge(&v1, &mut branch, t(0));
        let v2 = fleet.clone().module("web", "2.0.0", &fleet.modules[0].2, "").load();
        for step in 0..steps {
            let plan = branch.plan(&v2, Some(&healthy(&branch, t(100 + step as i64))), t(100 + step as i64));
            branch.apply(&v2, &plan, t(100 + step as i64));
        }
        let name = fleet.clusters[gone.index(fleet.clusters.len())].0.clone();
        let without = fleet.clone().without_cluster(&name).module("web", "2.0.0", &fleet.modules[0].2, "").load();
        let plan = branch.plan(&without, None, t(200));
        prop_assert!(!plan.next.pointers.clusters.contains_key(&name));
        prop_assert_eq!(&plan.removed_clusters, &vec![name.clone()]);
        for record in plan.next.records.values() {
            prop_assert!(!record.text().unwrap().contains(&format!("- {name}\n")), "{} still in a record", name);
        }
    }

    /// Wave membership does not depend on the order clusters are listed in.
    #[test]
    fn wave_membership_is_independent_of_input_order((fleet, _) in arb_fleet(), seed in any::<u64>()) {
        let loaded = fleet.load();
        let policy = loaded.modules[0].policy(&loaded.spec);
        let mut clusters: Vec<&crate::model::Cluster> = loaded.clusters.iter().collect();
        let a = waves::assign("web", &policy.waves, &clusters);
        let n = clusters.len();
        for i in 0..n {
            clusters.swap(i, (seed as usize).wrapping_add(i * 7) % n);
        }
        let b = waves::assign("web", &policy.waves, &clusters);
        prop_assert_eq!(&a, &b);
        let total: usize = a.iter().map(|(_, c)| c.len()).sum();
        prop_assert_eq!(total, n);
    }
}

#[test]
fn a_module_waits_for_the_modules_it_depends_on_to_be_on_its_clusters() {
    let fleet = five_clusters().module("db", "1.0.0", "{}", "").module(
        "app",
        "1.0.0",
        "{}",
        "{waves: [{name: first, selector: {matchLabels: {canary: \"false\"}}}, {name: rest}]}",
    );
    let files = fleet.files();
    let app = files.files["modules/app.yaml"].replace("  values:", "  dependsOn: [db]\n  values:");
    let mut files = files;
    files.insert("modules/app.yaml", app);
    let loaded = crate::load::load(&files).unwrap_or_else(|e| panic!("{e}"));
    let mut branch = Branchy::empty();
    let plan = branch.plan(&loaded, None, t(0));
    let app_plan = plan.modules.iter().find(|m| m.module == "app").unwrap();
    assert_eq!(app_plan.deferred.len(), 4, "b, c, d, e wait for db");
    let app_changes: Vec<&str> = plan
        .changes
        .iter()
        .filter(|c| c.module == "app")
        .map(|c| c.cluster.as_str())
        .collect();
    assert_eq!(
        app_changes,
        vec!["a"],
        "db's canary is a: app may go there with it"
    );
    branch.apply(&loaded, &plan, t(0));
    let steps = {
        let mut now = t(1);
        let mut steps = 0;
        for _ in 0..20 {
            let plan = branch.plan(&loaded, Some(&healthy(&branch, now)), now);
            if !plan.changed {
                break;
            }
            for change in plan.changes.iter().filter(|c| c.module == "app") {
                assert!(
                    branch.state.branch.pointers.clusters[&change.cluster].contains_key("db")
                        || plan.next.pointers.clusters[&change.cluster].contains_key("db")
                );
            }
            branch.apply(&loaded, &plan, now);
            now += SignedDuration::from_mins(1);
            steps += 1;
        }
        steps
    };
    assert!(steps < 20);
    assert!(
        branch
            .state
            .branch
            .pointers
            .clusters
            .values()
            .all(|m| m.contains_key("app") && m.contains_key("db"))
    );
}

mod budgets;
mod rollback;
mod simulation;
mod windows;
