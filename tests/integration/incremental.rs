//! Rendering into an earlier output rewrites only the files whose bytes change.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use assert_cmd::Command;

use crate::support::fleet::{Shape, generate};

/// A file's inode, modification time (seconds, nanoseconds) and content.
type Seen = (u64, (i64, i64), Vec<u8>);

/// Every file under `dir`, by relative path.
fn snapshot(dir: &Path) -> BTreeMap<String, Seen> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let meta = e.metadata().unwrap();
            let path = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let mtime = (meta.mtime(), meta.mtime_nsec());
            (path, (meta.ino(), mtime, fs::read(e.path()).unwrap()))
        })
        .collect()
}

fn write_fleet(dir: &Path, files: &BTreeMap<String, String>) {
    for (path, text) in files {
        let path = dir.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
}

/// `fleeet render --format json`, parsed.
fn render(fleet: &Path, out: &Path) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_fleeet"))
        .args(["render", "--format", "json", "--fleet"])
        .arg(fleet)
        .arg("--out")
        .arg(out)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&output).unwrap()
}

#[test]
fn a_version_change_rewrites_only_that_modules_files() {
    let dir = tempfile::tempdir().unwrap();
    let (fleet, out) = (dir.path().join("fleet"), dir.path().join("out"));
    let shape = Shape {
        clusters: 40,
        modules: 20,
        seed: 7,
        bump: 0,
    };
    let before_files = generate(&shape);
    write_fleet(&fleet, &before_files);
    render(&fleet, &out);
    let before = snapshot(&out);

    // One merge later: one module's version changed, nothing else.
    let after_files = generate(&Shape { bump: 1, ..shape });
    let changed: Vec<&String> = after_files
        .iter()
        .filter(|(path, text)| before_files.get(*path) != Some(text))
        .map(|(path, _)| path)
        .collect();
    let [changed] = changed.as_slice() else {
        panic!("one module file changes, not {changed:?}");
    };
    let module = changed
        .strip_prefix("modules/")
        .and_then(|m| m.strip_suffix(".yaml"))
        .unwrap();
    write_fleet(&fleet, &after_files);
    let summary = render(&fleet, &out);
    let after = snapshot(&out);

    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    let of_module = |path: &str| {
        path.ends_with(&format!("/{module}.yaml"))
            || path.ends_with(&format!("/{module}/release.yaml"))
    };
    let mut rewritten = 0;
    for (path, (inode, mtime, content)) in &after {
        let (old_inode, old_mtime, old_content) = &before[path];
        if of_module(path) {
            rewritten += 1;
            assert_ne!(content, old_content, "{path} has the new version");
            assert_ne!(inode, old_inode, "{path} is a new file");
        } else {
            assert_eq!(content, old_content, "{path}");
            assert_eq!(inode, old_inode, "{path} is the same file");
            assert_eq!(mtime, old_mtime, "{path} was not touched");
        }
    }
    assert!(rewritten > 0, "{module} is on some clusters");
    assert_eq!(summary["written"], rewritten);
    assert_eq!(summary["unchanged"], after.len() - rewritten);
    assert_eq!(summary["removed"], 0);
}
