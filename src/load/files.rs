//! The files of a fleet repository, read into memory from a directory (or a git tree).

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;
use walkdir::WalkDir;

use super::parse::FileKind;
use crate::diagnostic::{Diagnostic, Diagnostics, Origin};
use crate::layout::relative_path;

/// The folders of a fleet repository that fleeet reads; everything else is left alone.
pub const FLEET_FOLDERS: [&str; 4] = ["clusters", "inventory", "modules", "values"];

/// The fleet file at the root of a fleet repository.
pub const FLEET_FILE: &str = "fleet.yaml";

/// The largest fleet file fleeet reads: 16 MiB, enough for about 100,000 clusters in one file.
/// Larger files are refused before they are read.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The problem with a file of `size` bytes, shown as `shown`, if it is too large to read.
pub fn too_large(shown: &str, size: u64) -> Option<Diagnostic> {
    (size > MAX_FILE_BYTES).then(|| {
        Diagnostic::new(
            Origin::file(&shown.into()),
            format!(
                "is {} MiB, larger than the {} MiB fleeet reads in one file",
                size.div_ceil(1024 * 1024),
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        )
        .hint("split it into several files: clusters and modules may each have their own")
    })
}

/// The fleet's input files, by path relative to the repository root (with `/` separators).
#[derive(Clone, Debug, Default)]
pub struct FleetFiles {
    /// Shown before each path in diagnostics (for example `example-fleet-repo/`).
    pub display_root: String,
    pub files: BTreeMap<String, String>,
}

impl FleetFiles {
    /// An empty set whose paths are shown under `display_root`.
    pub fn new(display_root: impl Into<String>) -> Self {
        FleetFiles {
            display_root: display_root.into(),
            files: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) a file.
    pub fn insert(&mut self, path: impl Into<String>, text: impl Into<String>) -> &mut Self {
        self.files.insert(path.into(), text.into());
        self
    }

    /// Reads `fleet.yaml` and the YAML files under `clusters/`, `inventory/`, `modules/` and
    /// `values/` of the directory `root`. Symbolic links are reported, never followed; files
    /// larger than [`MAX_FILE_BYTES`] are reported, not read.
    pub fn read_dir(root: &Path) -> Result<FleetFiles, crate::Error> {
        let display_root = match root.to_string_lossy().trim_end_matches('/') {
            "." | "" => String::new(),
            shown => format!("{shown}/"),
        };
        let mut files = FleetFiles::new(display_root);
        let mut problems = Diagnostics::default();
        if !root.is_dir() {
            return Err(crate::Error::NotAFleet {
                path: root.to_path_buf(),
                reason: "it is not a directory".into(),
            });
        }
        let mut paths = vec![root.join(FLEET_FILE)];
        for folder in FLEET_FOLDERS {
            let dir = root.join(folder);
            if !dir.exists() {
                continue;
            }
            for entry in WalkDir::new(&dir).sort_by_file_name() {
                let entry = entry.map_err(|e| crate::Error::io(&dir, e.into()))?;
                let relative = relative_path(root, entry.path());
                if entry.path_is_symlink() {
                    let shown = format!("{}{relative}", files.display_root);
                    problems.push(
                        Diagnostic::new(
                            Origin::file(&shown.into()),
                            "is a symbolic link; fleeet does not follow links",
                        )
                        .hint("replace the link with the file it points to"),
                    );
                } else if entry.file_type().is_file() && FileKind::of(&relative).is_some() {
                    paths.push(entry.into_path());
                }
            }
        }
        // Read in parallel; keep the order of `paths` for the diagnostics.
        let read: Vec<Result<Option<Loaded>, crate::Error>> = paths
            .par_iter()
            .map(|path| read_file(root, &files.display_root, path))
            .collect();
        for result in read {
            match result? {
                None => {}
                Some(Loaded::Text(relative, text)) => {
                    files.insert(relative, text);
                }
                Some(Loaded::Problem(problem)) => problems.push(problem),
            }
        }
        problems.into_result(files).map_err(crate::Error::Invalid)
    }
}

/// The first `limit` bytes of the file at `path` (a file that grew after it was measured is
/// still not read whole).
fn read_at_most(path: &Path, limit: u64) -> Result<Vec<u8>, crate::Error> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(limit).read_to_end(&mut bytes))
        .map_err(|e| crate::Error::io(path, e))?;
    Ok(bytes)
}

/// A file read, or why it could not be used.
enum Loaded {
    Text(String, String),
    Problem(Diagnostic),
}

/// Reads the file `path` under `root`, shown under `display_root`; `None` if it is gone.
fn read_file(root: &Path, display_root: &str, path: &Path) -> Result<Option<Loaded>, crate::Error> {
    let relative = relative_path(root, path);
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(crate::Error::io(path, e)),
    };
    let shown = format!("{display_root}{relative}");
    let problem = |message: &str| Diagnostic::new(Origin::file(&shown.as_str().into()), message);
    if meta.file_type().is_symlink() {
        return Ok(Some(Loaded::Problem(problem(
            "is a symbolic link; fleeet does not follow links",
        ))));
    }
    if !meta.is_file() {
        return Ok(Some(Loaded::Problem(
            problem("is not a regular file")
                .hint("fleeet reads only regular files: replace it with one"),
        )));
    }
    if let Some(too_large) = too_large(&shown, meta.len()) {
        return Ok(Some(Loaded::Problem(too_large)));
    }
    let bytes = read_at_most(path, MAX_FILE_BYTES + 1)?;
    if let Some(too_large) = too_large(&shown, bytes.len() as u64) {
        return Ok(Some(Loaded::Problem(too_large)));
    }
    Ok(Some(match String::from_utf8(bytes) {
        Ok(text) => Loaded::Text(relative, text),
        Err(_) => Loaded::Problem(problem("is not UTF-8 text")),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fleet_files_and_reports_links_and_binary_files_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for folder in ["inventory", "modules", "other"] {
            std::fs::create_dir(root.join(folder)).unwrap();
        }
        std::fs::write(root.join("other/fleet.yaml"), "kind: Fleet\n").unwrap();
        std::os::unix::fs::symlink(root.join("other/fleet.yaml"), root.join(FLEET_FILE)).unwrap();
        std::fs::write(root.join("inventory/a.yaml"), "a\n").unwrap();
        std::fs::write(root.join("inventory/b.yaml"), [0xff, 0xfe]).unwrap();
        std::fs::write(root.join("modules/m.yaml"), "m\n").unwrap();
        std::fs::write(root.join("modules/notes.txt"), "not read\n").unwrap();

        let Err(crate::Error::Invalid(problems)) = FleetFiles::read_dir(root) else {
            panic!("a link and a binary file are problems");
        };
        let problems = problems.to_string();
        let link = problems
            .find("fleet.yaml: is a symbolic link")
            .expect(&problems);
        let binary = problems
            .find("inventory/b.yaml: is not UTF-8")
            .expect(&problems);
        assert!(link < binary, "{problems}");

        std::fs::remove_file(root.join(FLEET_FILE)).unwrap();
        std::fs::remove_file(root.join("inventory/b.yaml")).unwrap();
        let files = FleetFiles::read_dir(root).unwrap();
        let paths: Vec<&str> = files.files.keys().map(String::as_str).collect();
        assert_eq!(paths, ["inventory/a.yaml", "modules/m.yaml"]);
        assert_eq!(files.files["modules/m.yaml"], "m\n");
    }
}
