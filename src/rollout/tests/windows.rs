//! Maintenance windows: pairs change only inside their cluster's windows, in its own zone.

use proptest::prelude::*;

use super::*;
use crate::model::window::zone;

const ZONES: [&str; 3] = ["Europe/Paris", "America/New_York", "Asia/Tokyo"];

/// Six clusters in three zones (annotated), one wave, a 02:00–05:00 Mon–Fri window in each
/// cluster's zone.
fn zoned(window: &str) -> Fleet {
    let mut fleet = TestFleet::new().rollout(&format!(
        "bakeTime: 0s\nwindows: [{window}]\nmaxUnavailable: \"100%\""
    ));
    for i in 0..6 {
        let name = format!("c{i}");
        fleet = fleet
            .cluster(&name, &[])
            .annotate(&name, "fleeet.dev/time-zone", ZONES[i % 3]);
    }
    fleet.module("web", "1.0.0", "{}", "").load()
}

const NIGHTS: &str = "{days: [Mon, Tue, Wed, Thu, Fri], start: \"02:00\", end: \"05:00\", timeZone: \"{{ cluster.annotations['fleeet.dev/time-zone'] }}\"}";

fn local_inside(cluster: &str, now: Timestamp) -> bool {
    let i: usize = cluster[1..].parse().unwrap();
    let local = now.to_zoned(zone(ZONES[i % 3]).unwrap());
    let weekday = local.weekday().to_monday_one_offset();
    (1..=5).contains(&weekday) && (2..5).contains(&local.hour())
}

#[test]
fn each_cluster_changes_in_its_own_local_night() {
    let fleet = zoned(NIGHTS);
    let mut branch = Branchy::empty();
    // 2026-11-23 is a Monday; 01:00 UTC is 02:00 in Paris, 20:00 on Sunday in New York.
    let mut now: Timestamp = "2026-11-23T01:00:00Z".parse().unwrap();
    let plan = branch.plan(&fleet, None, now);
    let web = &plan.modules[0];
    let changed: Vec<&str> = plan.changes.iter().map(|c| c.cluster.as_str()).collect();
    assert_eq!(changed, ["c0", "c3"]);
    assert_eq!(web.outside_window.len(), 4);
    let tokyo = web
        .outside_window
        .iter()
        .find(|w| w.cluster == "c2")
        .unwrap();
    // Tokyo's Tuesday 02:00 is Monday 17:00 UTC.
    assert_eq!(tokyo.opens, Some("2026-11-23T17:00:00Z".parse().unwrap()));
    assert!(
        web.reason.contains("4 clusters wait for their windows"),
        "{}",
        web.reason
    );
    branch.apply(&fleet, &plan, now);
    for _ in 0..(4 * 24) {
        now += SignedDuration::from_mins(15);
        let plan = branch.plan(&fleet, Some(&healthy(&branch, now)), now);
        for change in &plan.changes {
            assert!(
                local_inside(&change.cluster, now),
                "{} at {now}",
                change.cluster
            );
        }
        branch.apply(&fleet, &plan, now);
    }
    for i in 0..6 {
        assert_eq!(
            branch.version(&format!("c{i}"), "web").as_deref(),
            Some("1.0.0")
        );
    }
}

#[test]
fn a_cluster_without_a_known_zone_waits_and_says_why() {
    let fleet = TestFleet::new()
        .rollout("bakeTime: 0s\nwindows: [{start: \"00:00\", end: \"00:00\", timeZone: \"{{ cluster.annotations['tz'] }}\"}]")
        .cluster("a", &[])
        .cluster("b", &[])
        .annotate("b", "tz", "Mars/Olympus")
        .module("web", "1.0.0", "{}", "")
        .load();
    let plan = Branchy::empty().plan(&fleet, None, t(0));
    let web = &plan.modules[0];
    assert_eq!(web.state, ModuleState::Waiting);
    assert!(plan.changes.is_empty());
    assert!(
        plan.next.records.is_empty(),
        "no record while every pair waits"
    );
    let problems: Vec<&str> = web
        .outside_window
        .iter()
        .filter_map(|w| w.problem.as_deref())
        .collect();
    assert!(problems[0].contains("undefined"), "{problems:?}");
    assert!(
        problems[1].contains("unknown time zone \"Mars/Olympus\""),
        "{problems:?}"
    );
}

#[test]
fn a_cluster_gone_from_the_fleet_is_removed_outside_any_window() {
    let closed = "{days: [Sun], start: \"02:00\", end: \"03:00\"}";
    let fleet = zoned(closed);
    let mut branch = Branchy::empty();
    let sunday: Timestamp = "2026-11-22T02:30:00Z".parse().unwrap();
    let plan = branch.plan(&fleet, None, sunday);
    assert_eq!(plan.changes.len(), 6);
    branch.apply(&fleet, &plan, sunday);
    let smaller = TestFleet::new()
        .rollout(&format!("bakeTime: 0s\nwindows: [{closed}]"))
        .cluster("c0", &[])
        .module("web", "1.0.0", "{}", "")
        .load();
    let plan = branch.plan(&smaller, None, t(0));
    assert_eq!(plan.removed_clusters.len(), 5);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// No pair changes outside its cluster's window, whatever the time of the runs.
    #[test]
    fn no_pair_changes_outside_its_window(starts in prop::collection::vec(0i64..(7 * 24 * 60), 1..6)) {
        let fleet = zoned(NIGHTS);
        let mut branch = Branchy::empty();
        let monday: Timestamp = "2026-11-23T00:00:00Z".parse().unwrap();
        let mut times: Vec<Timestamp> = starts.iter().map(|m| monday + SignedDuration::from_mins(*m)).collect();
        times.sort();
        for now in times {
            let plan = branch.plan(&fleet, Some(&healthy(&branch, now)), now);
            for change in &plan.changes {
                prop_assert!(local_inside(&change.cluster, now), "{} at {}", change.cluster, now);
            }
            branch.apply(&fleet, &plan, now);
        }
    }
}
