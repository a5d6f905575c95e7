//! `render --out` and `plan --write` killed (SIGKILL) at many points of a run: the output is
//! always the complete previous or the complete new content, and what a killed run leaves
//! beside it neither breaks the next run nor stays behind.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Fleet, read_tree};

/// A fleet of `clusters` clusters and six modules at `version`: a thousand files and more.
fn fleet(clusters: usize, version: &str) -> Fleet {
    let mut fleet = Fleet::new();
    for c in 0..clusters {
        fleet = fleet.cluster(&format!("c{c:04}"), "{env: prod}");
    }
    for m in 0..6 {
        fleet = fleet.module(
            &format!("m{m}"),
            &format!(
                "  version: \"{version}\"\n  source:\n    oci:\n      url: oci://example.com/m{m}\n  selector: {{}}\n  values:\n    host: \"{{{{ cluster.name }}}}.example.com\"\n"
            ),
        );
    }
    fleet
}

/// Runs `fleeet args` in `dir` and SIGKILLs it after `after` (if it is still running).
fn run_and_kill(dir: &Path, args: &[&str], after: Duration) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleeet"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("fleeet starts");
    std::thread::sleep(after);
    let _ = child.kill();
    child.wait().unwrap();
}

/// How long a complete run takes.
fn duration(dir: &Path, args: &[&str]) -> Duration {
    let started = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_fleeet"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    started.elapsed()
}

/// The entries of `parent`, by name.
fn entries(parent: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Kills `args` (writing into `out`) at `kills` points spread over a run of each fleet in
/// turn (and later, while no run has reached the end), and checks after each kill that `out`
/// holds one of `outputs` whole. Returns how many runs changed `out`.
fn kill_repeatedly(
    fleets: &[&Fleet],
    args: impl Fn(&Path) -> Vec<String>,
    out: &Path,
    outputs: &[BTreeMap<String, String>],
    kills: u32,
) -> usize {
    let args_of = |fleet: &Fleet| args(fleet.path());
    let full = duration(
        fleets[0].path(),
        &args_of(fleets[0])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    // Points spread from early in the run to well past its end; on a machine slower now than
    // when the run was measured, none may reach the end, so later points follow, each twice
    // as late, until one does (or four more have not).
    let spread = (0..kills).map(|i| 0.2 + 1.8 * f64::from(i) / f64::from(kills));
    let later = (1..=4).map(|k| 2f64.powi(k));
    let mut changed = 0;
    let mut before = read_tree(out);
    for (i, point) in spread.chain(later).enumerate() {
        if i >= kills as usize && changed > 0 {
            break;
        }
        let fleet = fleets[i % fleets.len()];
        let after = full.mul_f64(point);
        let args = args_of(fleet);
        run_and_kill(
            fleet.path(),
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            after,
        );
        let now = read_tree(out);
        assert!(
            outputs.contains(&now),
            "killed after {after:?}: {} holds a mix ({} files)",
            out.display(),
            now.len()
        );
        if now != before {
            changed += 1;
        }
        before = now;
    }
    changed
}

#[test]
fn render_killed_anywhere_leaves_the_old_output_or_the_new() {
    let (a, b) = (fleet(150, "1.0.0"), fleet(150, "2.0.0"));
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("out");
    let render = |fleet: &Path| {
        vec![
            "render".to_string(),
            "--fleet".into(),
            fleet.to_string_lossy().into_owned(),
            "--out".into(),
            out.to_string_lossy().into_owned(),
        ]
    };
    let expected: Vec<BTreeMap<String, String>> = [&a, &b]
        .iter()
        .map(|fleet| {
            let alone = parent.path().join("alone");
            let args = render(fleet.path());
            let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
            let alone_text = alone.to_string_lossy().into_owned();
            *args.last_mut().unwrap() = &alone_text;
            fleet.run(&args).success();
            let tree = read_tree(&alone);
            std::fs::remove_dir_all(&alone).unwrap();
            tree
        })
        .collect();
    assert!(expected[0].len() > 1000, "{} files", expected[0].len());
    a.run(
        &render(a.path())
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    )
    .success();

    let changed = kill_repeatedly(&[&b, &a], render, &out, &expected, 12);
    assert!(
        changed > 0,
        "no run got far enough to write: the kills prove nothing"
    );

    // A complete run still works, and nothing a killed run left stays beside the output.
    b.run(
        &render(b.path())
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    )
    .success();
    assert_eq!(read_tree(&out), expected[1]);
    assert_eq!(entries(parent.path()), ["out"]);
}

#[test]
fn plan_write_killed_anywhere_leaves_the_old_output_or_the_new() {
    // No rollout waves: the first step puts every pointer on every cluster.
    let (a, b) = (fleet(150, "1.0.0"), fleet(150, "2.0.0"));
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("next");
    let empty = parent.path().join("empty");
    let plan = |fleet: &Path| {
        vec![
            "plan".to_string(),
            "--fleet".into(),
            fleet.to_string_lossy().into_owned(),
            "--current-dir".into(),
            empty.to_string_lossy().into_owned(),
            "--now".into(),
            "2026-11-21T09:00:00Z".into(),
            "--write".into(),
            out.to_string_lossy().into_owned(),
        ]
    };
    let as_str = |args: Vec<String>| args;
    let expected: Vec<BTreeMap<String, String>> = [&a, &b]
        .iter()
        .map(|fleet| {
            let args = as_str(plan(fleet.path()));
            fleet
                .run(&args.iter().map(String::as_str).collect::<Vec<_>>())
                .success();
            let tree = read_tree(&out);
            std::fs::remove_dir_all(&out).unwrap();
            tree
        })
        .collect();
    assert_ne!(expected[0], expected[1]);
    assert!(expected[0].len() > 1000, "{} files", expected[0].len());
    a.run(
        &plan(a.path())
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    )
    .success();

    let changed = kill_repeatedly(&[&b, &a], plan, &out, &expected, 10);
    assert!(
        changed > 0,
        "no run got far enough to write: the kills prove nothing"
    );

    b.run(
        &plan(b.path())
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    )
    .success();
    assert_eq!(read_tree(&out), expected[1]);
    assert_eq!(entries(parent.path()), ["next"]);
}
