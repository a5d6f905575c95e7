//! Updating `inventory/` in place: only files whose bytes change are written (each atomically),
//! files of clusters that are gone are removed, and files fleeet did not write are left alone.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use walkdir::WalkDir;

use super::Files;
use super::{FOLDER, HEADER};
use crate::Error;
use crate::write::WriteSummary;

/// Makes `<fleet_dir>/inventory` hold `files` (paths relative to it). Files starting with
/// [`HEADER`] are fleeet's: replaced when changed, removed when not in `files`. Any other file
/// in the way of one of `files` is an error, found before anything is written.
pub fn write(fleet_dir: &Path, files: &Files) -> Result<WriteSummary, Error> {
    let dir = fleet_dir.join(FOLDER);
    if fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Error::usage(
            format!(
                "{} is a symbolic link; fleeet does not follow links",
                dir.display()
            ),
            "make inventory/ a folder of the fleet repository",
        ));
    }
    let existing = existing(&dir)?;
    let mut changed = Vec::new();
    let mut unchanged = 0;
    for (path, content) in files {
        match existing.get(path) {
            Some(Existing::File(old)) if old.as_bytes() == content.as_bytes() => unchanged += 1,
            Some(Existing::File(old)) if old.starts_with(HEADER) => changed.push(path),
            None => changed.push(path),
            Some(_) => {
                return Err(Error::usage(
                    format!(
                        "{} is in the way: it was not written by `fleeet inventory sync`",
                        dir.join(path).display()
                    ),
                    "hand-written clusters belong under clusters/, where they overlay inventory clusters of the same name; move the file there",
                ));
            }
        }
    }
    let stale: Vec<&String> = existing
        .iter()
        .filter(|(path, e)| {
            matches!(e, Existing::File(t) if t.starts_with(HEADER)) && !files.contains_key(*path)
        })
        .map(|(path, _)| path)
        .collect();

    fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    for path in &changed {
        crate::write::write_file(&dir.join(path), files[*path].as_bytes())?;
    }
    for path in &stale {
        let target = dir.join(path);
        fs::remove_file(&target).map_err(|e| Error::io(&target, e))?;
    }
    Ok(WriteSummary {
        written: changed.len(),
        unchanged,
        removed: stale.len(),
    })
}

/// What is at a path of the inventory folder.
enum Existing {
    File(String),
    /// A link, a folder, or a file that is not UTF-8: never fleeet's.
    Other,
}

/// The YAML files under `dir` (recursively), by `/`-separated path relative to it.
fn existing(dir: &Path) -> Result<BTreeMap<String, Existing>, Error> {
    let mut found = BTreeMap::new();
    if !dir.exists() {
        return Ok(found);
    }
    for entry in WalkDir::new(dir).min_depth(1) {
        let entry = entry.map_err(|e| Error::io(dir, e.into()))?;
        let relative = crate::layout::relative_path(dir, entry.path());
        let existing = if entry.file_type().is_file() {
            if !(relative.ends_with(".yaml") || relative.ends_with(".yml")) {
                continue;
            }
            let bytes = fs::read(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
            String::from_utf8(bytes).map_or(Existing::Other, Existing::File)
        } else {
            Existing::Other
        };
        found.insert(relative, existing);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn files(pairs: &[(&str, &str)]) -> Files {
        pairs
            .iter()
            .map(|(p, c)| (p.to_string(), format!("{HEADER}{c}")))
            .collect()
    }

    #[test]
    fn rewrites_only_changes_and_removes_only_its_own_files() {
        let fleet = tempfile::tempdir().unwrap();
        let dir = fleet.path().join(FOLDER);
        let first = files(&[("a.yaml", "a: 1\n"), ("b.yaml", "b: 1\n")]);
        let summary = write(fleet.path(), &first).unwrap();
        assert_eq!(
            (summary.written, summary.unchanged, summary.removed),
            (2, 0, 0)
        );
        fs::write(dir.join("notes.yaml"), "# mine\n").unwrap();
        let inode = fs::metadata(dir.join("a.yaml")).unwrap().ino();

        let second = files(&[("a.yaml", "a: 1\n"), ("c.yaml", "c: 1\n")]);
        let summary = write(fleet.path(), &second).unwrap();
        assert_eq!(
            (summary.written, summary.unchanged, summary.removed),
            (1, 1, 1)
        );
        assert_eq!(fs::metadata(dir.join("a.yaml")).unwrap().ino(), inode);
        assert!(!dir.join("b.yaml").exists());
        assert_eq!(
            fs::read_to_string(dir.join("notes.yaml")).unwrap(),
            "# mine\n"
        );
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 3, "no temporary files are left: {names:?}");
    }

    #[test]
    fn a_linked_inventory_folder_is_not_followed() {
        let fleet = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), fleet.path().join(FOLDER)).unwrap();
        let body = format!("{HEADER}a");
        let err = write(fleet.path(), &files(&[("a.yaml", &body)])).unwrap_err();
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
        assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_foreign_file_in_the_way_stops_everything() {
        let fleet = tempfile::tempdir().unwrap();
        let dir = fleet.path().join(FOLDER);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("b.yaml"), "hand: written\n").unwrap();
        let err = write(
            fleet.path(),
            &files(&[("a.yaml", "a: 1\n"), ("b.yaml", "b: 1\n")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("b.yaml is in the way"), "{err}");
        assert!(!dir.join("a.yaml").exists());
    }
}
