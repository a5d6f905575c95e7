//! Writing rendered files to a directory, atomically and incrementally.
//!
//! The new content is built in a temporary sibling of the output directory, then swapped in with
//! one atomic rename, so a reader (or a crash) sees the old output or the new, never a mix.
//! Files whose bytes did not change are hard-linked from the old output instead of written:
//! they keep their inode and modification time.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::Error;
use crate::layout::Files;

/// What a write changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct WriteSummary {
    /// Files created or whose content changed.
    pub written: usize,
    /// Files whose content was already there.
    pub unchanged: usize,
    /// Files that were there and are gone.
    pub removed: usize,
}

/// Makes the directory `out` hold exactly `files`. `out` must be missing, empty, or hold only
/// what fleeet writes (the top-level folders of `files`, and `.fleeet`).
pub fn write_dir(out: &Path, files: &Files) -> Result<WriteSummary, Error> {
    if let Some(path) = files.keys().find(|p| !inside(p)) {
        return Err(Error::usage(
            format!(
                "refusing to write {path:?}: it is not a path inside {}",
                out.display()
            ),
            "fleeet writes only under --out; remove that file from the rendered branch",
        ));
    }
    let allowed: BTreeSet<&str> = files
        .keys()
        .filter_map(|p| p.split('/').next())
        .chain([".fleeet"])
        .collect();
    let existed = check_output_dir(out, &allowed)?;
    let temp = temporary_sibling(out)?;
    let result = fill(&temp, out, existed, files).and_then(|summary| {
        swap_in(&temp, out, existed).map_err(|e| Error::io(out, e))?;
        Ok(summary)
    });
    // After a swap `temp` holds the old output; after a failure, the partial new one.
    let _ = fs::remove_dir_all(&temp);
    result
}

/// Whether `path` is relative and stays inside the folder it is joined to.
fn inside(path: &str) -> bool {
    !path.contains('\0')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// Whether `out` exists; an error if it holds something fleeet did not write.
fn check_output_dir(out: &Path, allowed: &BTreeSet<&str>) -> Result<bool, Error> {
    let entries = match fs::read_dir(out) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
            return Err(Error::usage(
                format!("{} exists and is not a directory", out.display()),
                "choose a directory for --out",
            ));
        }
        Err(e) => return Err(Error::io(out, e)),
    };
    let mut foreign = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(out, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !allowed.contains(name.as_str()) {
            foreign.push(name);
        }
    }
    if !foreign.is_empty() {
        foreign.sort();
        return Err(Error::usage(
            format!(
                "refusing to replace {}: it holds {} that fleeet did not write",
                out.display(),
                foreign.join(", ")
            ),
            "fleeet replaces the whole output directory: point --out at a new or empty directory, or at an earlier fleeet output",
        ));
    }
    Ok(true)
}

fn temporary_sibling(out: &Path) -> Result<PathBuf, Error> {
    let name = out.file_name().ok_or_else(|| {
        Error::usage(
            format!("{} has no directory name", out.display()),
            "give --out a directory name",
        )
    })?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let prefix = format!(".{}.fleeet-", name.to_string_lossy());
    remove_stale_siblings(&parent, &prefix);
    for attempt in 0..100u32 {
        let temp = parent.join(format!("{prefix}{}-{attempt}", std::process::id()));
        match fs::create_dir(&temp) {
            Ok(()) => return Ok(temp),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(&temp, e)),
        }
    }
    Err(Error::usage(
        format!(
            "cannot create a temporary directory beside {}",
            out.display()
        ),
        "remove stale .*.fleeet-* directories there",
    ))
}

/// Removes the temporary siblings (`<prefix><pid>-<n>`) left by fleeet processes that were
/// killed before they could clean up: those whose process no longer exists.
fn remove_stale_siblings(parent: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<i32>().ok())
            .and_then(rustix::process::Pid::from_raw)
        else {
            continue;
        };
        if rustix::process::test_kill_process(pid) == Err(rustix::io::Errno::SRCH) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Writes `files` under `temp`, linking those unchanged from `old`.
fn fill(temp: &Path, old: &Path, existed: bool, files: &Files) -> Result<WriteSummary, Error> {
    let dirs: BTreeSet<&str> = files
        .keys()
        .filter_map(|p| p.rsplit_once('/').map(|(dir, _)| dir))
        .collect();
    for dir in &dirs {
        let path = temp.join(dir);
        fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
    }
    let outcomes: Vec<bool> = files
        .par_iter()
        .map(|(path, content)| {
            let target = temp.join(path);
            if existed {
                let previous = old.join(path);
                if same_content(&previous, content.as_bytes())
                    && fs::hard_link(&previous, &target).is_ok()
                {
                    return Ok(false);
                }
            }
            fs::write(&target, content.as_bytes()).map_err(|e| Error::io(&target, e))?;
            Ok(true)
        })
        .collect::<Result<_, Error>>()?;
    let written = outcomes.iter().filter(|w| **w).count();
    let removed = if existed {
        count_removed(old, files)
    } else {
        0
    };
    Ok(WriteSummary {
        written,
        unchanged: outcomes.len() - written,
        removed,
    })
}

fn same_content(path: &Path, content: &[u8]) -> bool {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() && meta.len() == content.len() as u64 => {
            fs::read(path).is_ok_and(|bytes| bytes == content)
        }
        _ => false,
    }
}

fn count_removed(old: &Path, files: &Files) -> usize {
    walkdir::WalkDir::new(old)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            let relative = crate::layout::relative_path(old, e.path());
            !files.contains_key(&relative)
        })
        .count()
}

/// Writes one file atomically: to a temporary file beside `path`, then renamed over it.
pub fn write_file(path: &Path, content: &[u8]) -> Result<(), Error> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    fs::write(&temp, content)
        .and_then(|()| fs::rename(&temp, path))
        .map_err(|e| {
            let _ = fs::remove_file(&temp);
            Error::io(path, e)
        })
}

/// Puts `temp` at `out`. With an existing `out` the two are exchanged in one step where the
/// system can (Linux, macOS), leaving the old output at `temp`.
fn swap_in(temp: &Path, out: &Path, existed: bool) -> io::Result<()> {
    if !existed {
        return fs::rename(temp, out);
    }
    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        match renameat_with(CWD, temp, CWD, out, RenameFlags::EXCHANGE) {
            Ok(()) => return Ok(()),
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {}
            Err(e) => return Err(e.into()),
        }
    }
    // No atomic exchange here: move the old output aside, then the new one in.
    let aside = temp.with_extension("old");
    fs::rename(out, &aside)?;
    fs::rename(temp, out)?;
    fs::rename(&aside, temp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn files(pairs: &[(&str, &str)]) -> Files {
        pairs
            .iter()
            .map(|(p, c)| (p.to_string(), (*c).into()))
            .collect()
    }

    #[test]
    fn writes_only_what_changed_and_removes_what_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let first = files(&[
            ("clusters/a/x.yaml", "1"),
            ("clusters/a/y.yaml", "2"),
            ("clusters/b/x.yaml", "3"),
        ]);
        assert_eq!(
            write_dir(&out, &first).unwrap(),
            WriteSummary {
                written: 3,
                unchanged: 0,
                removed: 0
            }
        );
        let inode = fs::metadata(out.join("clusters/a/x.yaml")).unwrap().ino();

        let second = files(&[("clusters/a/x.yaml", "1"), ("clusters/a/y.yaml", "changed")]);
        assert_eq!(
            write_dir(&out, &second).unwrap(),
            WriteSummary {
                written: 1,
                unchanged: 1,
                removed: 1
            }
        );
        assert_eq!(
            fs::metadata(out.join("clusters/a/x.yaml")).unwrap().ino(),
            inode
        );
        assert_eq!(
            fs::read_to_string(out.join("clusters/a/y.yaml")).unwrap(),
            "changed"
        );
        assert!(!out.join("clusters/b").exists());
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers,
            vec!["out"],
            "no temporary directory is left behind"
        );
    }

    #[test]
    fn refuses_paths_that_lead_outside() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        for path in ["../escape.yaml", "/etc/x", "a//b", "a/./b", "a/.."] {
            let err = write_dir(&out, &files(&[("ok.yaml", "1"), (path, "x")])).unwrap_err();
            assert!(err.to_string().contains("is not a path inside"), "{err}");
        }
        assert!(!dir.path().join("escape.yaml").exists());
        assert!(!out.exists());
    }

    #[test]
    fn removes_what_killed_runs_left_behind_but_not_what_live_ones_use() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        // No process has a pid this high (pid_max is at most 2^22).
        let stale = dir.path().join(".out.fleeet-2147483647-0");
        let live = dir
            .path()
            .join(format!(".out.fleeet-{}-7", std::process::id()));
        let other = dir.path().join(".notes.fleeet-2147483647-0");
        for d in [&stale, &live, &other] {
            fs::create_dir_all(d.join("clusters")).unwrap();
        }
        write_dir(&out, &files(&[("clusters/a/x.yaml", "1")])).unwrap();
        assert!(!stale.exists(), "a dead run's directory is removed");
        assert!(live.exists(), "a running process's directory is kept");
        assert!(other.exists(), "another output's directory is kept");
    }

    #[test]
    fn refuses_to_replace_a_directory_it_did_not_write() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("notes.txt"), "mine").unwrap();
        let err = write_dir(dir.path(), &files(&[("clusters/a/x.yaml", "1")])).unwrap_err();
        assert!(err.to_string().contains("notes.txt"), "{err}");
        assert_eq!(
            fs::read_to_string(dir.path().join("notes.txt")).unwrap(),
            "mine"
        );
        assert!(!dir.path().join("clusters").exists());
    }
}
