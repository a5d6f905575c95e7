//! The files of a fleet repository, read into memory from a directory (or a git tree).

use std::collections::BTreeMap;
use std::path::Path;

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
        for path in paths {
            let relative = relative_path(root, &path);
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(meta) => meta,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(crate::Error::io(&path, e)),
            };
            let shown = format!("{}{relative}", files.display_root);
            if meta.file_type().is_symlink() {
                problems.push(Diagnostic::new(
                    Origin::file(&shown.into()),
                    "is a symbolic link; fleeet does not follow links",
                ));
                continue;
            }
            if !meta.is_file() {
                problems.push(
                    Diagnostic::new(Origin::file(&shown.into()), "is not a regular file")
                        .hint("fleeet reads only regular files: replace it with one"),
                );
                continue;
            }
            if let Some(problem) = too_large(&shown, meta.len()) {
                problems.push(problem);
                continue;
            }
            let bytes = read_at_most(&path, MAX_FILE_BYTES + 1)?;
            if let Some(problem) = too_large(&shown, bytes.len() as u64) {
                problems.push(problem);
                continue;
            }
            match String::from_utf8(bytes) {
                Ok(text) => {
                    files.insert(relative, text);
                }
                Err(_) => {
                    problems.push(Diagnostic::new(
                        Origin::file(&shown.into()),
                        "is not UTF-8 text",
                    ));
                }
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
