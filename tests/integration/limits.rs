//! Resource limits on hostile or oversized input: each fails fast with an error naming the
//! file, the limit and what to do, and the process stays within a bounded memory.

use std::time::{Duration, Instant};

use crate::support::{Fleet, Run};

/// Runs `fleeet validate` in `fleet`; it must fail with exit code 1 within `seconds`. Returns
/// stderr.
#[track_caller]
fn refused_within(fleet: &Fleet, seconds: u64) -> String {
    let started = Instant::now();
    let run: Run = fleet.run(&["validate"]);
    let took = started.elapsed();
    let stderr = run.failure(1);
    assert!(
        took < Duration::from_secs(seconds),
        "took {took:?}:\n{stderr}"
    );
    assert!(stderr.contains("hint: "), "{stderr}");
    stderr
}

/// The largest resident memory of any child this test process has waited for, in MiB: an upper
/// bound on each `fleeet` run's.
fn children_peak_mib() -> i64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    usage.ru_maxrss / 1024
}

/// The classic "billion laughs": nine aliases of nine aliases, 10⁹ strings once expanded.
fn billion_laughs() -> String {
    let mut text = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in names.windows(2) {
        let refs = vec![format!("*{}", pair[0]); 9].join(", ");
        text.push_str(&format!("{}: &{} [{refs}]\n", pair[1], pair[1]));
    }
    text
}

#[test]
fn an_alias_bomb_stops_before_it_expands() {
    let fleet = Fleet::new().file("values/laughs.yaml", &billion_laughs());
    let err = refused_within(&fleet, 5);
    assert!(
        err.contains("values/laughs.yaml:")
            && err.contains("expands aliases (*name) into more than 100000 YAML events"),
        "{err}"
    );

    let health = fleet.path().join("health.yaml");
    std::fs::write(&health, billion_laughs()).unwrap();
    let err = fleet
        .run(&["plan", "--health", health.to_str().unwrap()])
        .failure(1);
    assert!(err.contains("expands aliases"), "{err}");
}

#[test]
fn nesting_ten_thousand_deep_is_refused_at_thirty_two() {
    let deep = 10_000;
    for (name, text) in [
        (
            "lists",
            format!("a: {}{}\n", "[".repeat(deep), "]".repeat(deep)),
        ),
        (
            "maps",
            format!("a: {}1{}\n", "{a: ".repeat(deep), "}".repeat(deep)),
        ),
        ("blocks", format!("a:\n  {}1\n", "- ".repeat(deep))),
    ] {
        let fleet = Fleet::new().file(&format!("values/{name}.yaml"), &text);
        let err = refused_within(&fleet, 5);
        assert!(err.contains(&format!("values/{name}.yaml:")), "{err}");
        assert!(
            err.contains("nests maps and lists more than 32 levels deep"),
            "{err}"
        );
    }
    // Thirty levels are fine.
    let fine = format!("a: {}1{}\n", "{a: ".repeat(30), "}".repeat(30));
    Fleet::new()
        .file("values/fine.yaml", &fine)
        .run(&["validate"])
        .success();
}

#[test]
fn a_100_mb_file_is_refused_without_being_read() {
    let fleet = Fleet::new();
    std::fs::create_dir_all(fleet.path().join("clusters")).unwrap();
    let file = std::fs::File::create(fleet.path().join("clusters/huge.yaml")).unwrap();
    file.set_len(100 * 1024 * 1024).unwrap();
    let err = refused_within(&fleet, 2);
    assert!(
        err.contains(
            "clusters/huge.yaml: is 100 MiB, larger than the 16 MiB fleeet reads in one file"
        ),
        "{err}"
    );
    assert!(children_peak_mib() < 1024, "{} MiB", children_peak_mib());
}

#[test]
fn a_million_clusters_in_one_file_are_refused() {
    let doc = |i: usize| {
        format!("---\napiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata: {{name: c{i}}}\n")
    };
    let million: String = (0..1_000_000).map(doc).collect();
    let fleet = Fleet::new().file("clusters/all.yaml", &million);
    let err = refused_within(&fleet, 5);
    assert!(
        err.contains("clusters/all.yaml: is 7") && err.contains("MiB, larger than the 16 MiB"),
        "{err}"
    );

    // Within the size limit, the document limit holds.
    let many: String = (0..10_001).map(doc).collect();
    let fleet = Fleet::new().file("clusters/all.yaml", &many);
    let err = refused_within(&fleet, 5);
    assert!(
        err.contains("clusters/all.yaml:") && err.contains("holds more than 10000 documents"),
        "{err}"
    );
    assert!(err.contains("hint: split the file"), "{err}");
}

#[test]
fn ten_thousand_clusters_in_one_file_load() {
    let doc = |i: usize| {
        format!(
            "---\napiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata: {{name: c{i}, labels: {{env: prod}}}}\nspec: {{values: {{replicas: 3}}}}\n"
        )
    };
    let all: String = (0..10_000).map(doc).collect();
    let fleet = Fleet::new().file("clusters/all.yaml", &all);
    let out = fleet.run(&["validate"]).success();
    assert!(out.contains("10000 clusters"), "{out}");
    assert!(children_peak_mib() < 1024, "{} MiB", children_peak_mib());
}

#[test]
fn a_fifo_is_reported_not_read() {
    let fleet = Fleet::empty();
    let made = std::process::Command::new("mkfifo")
        .arg(fleet.path().join("fleet.yaml"))
        .status()
        .unwrap();
    assert!(made.success());
    let err = refused_within(&fleet, 5);
    assert!(err.contains("fleet.yaml: is not a regular file"), "{err}");
}

#[test]
fn a_template_that_nests_a_value_thousands_deep_is_an_error_not_a_crash() {
    // Each step of the loop wraps the list in another; printing, converting or dropping the
    // value recurses as deep. Loops that end print it; the fuel (50,000 steps) stops the last.
    let fleet = |counts: &[u32]| {
        let values: String = counts
            .iter()
            .map(|n| {
                let nest = format!("{{% set ns = namespace(x=[]) %}}{{% for i in range({n}) %}}{{% set ns.x = [ns.x] %}}{{% endfor %}}");
                format!("    shown{n}: \"{nest}{{{{ ns.x }}}}\"\n    counted{n}: \"{nest}{{{{ ns.x | length }}}}\"\n")
            })
            .collect();
        Fleet::new().cluster("a", "{}").module(
            "app",
            &format!(
                "  version: \"1.0\"\n  source:\n    helm:\n      repository: https://example.com/charts\n      chart: app\n  selector: {{}}\n  values:\n{values}"
            ),
        )
    };
    let started = Instant::now();
    fleet(&[2_000, 5_000, 6_000]).run(&["validate"]).success();
    assert!(started.elapsed() < Duration::from_secs(10));
    let err = refused_within(&fleet(&[100_000]), 10);
    assert!(
        err.contains("counted100000 of module \"app\" on cluster a: the template ran too long"),
        "{err}"
    );
}
