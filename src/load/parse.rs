//! YAML text to fleeet documents, with file:line:column diagnostics.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_saphyr::MessageFormatter;

use crate::diagnostic::{Diagnostic, Origin};
use crate::model::{ClusterDocument, FleetDocument, ModuleDocument, ValueMap};

/// How deep a YAML file may nest maps and lists.
pub const MAX_DEPTH: usize = 32;
/// How many documents one YAML file may hold (`---` separated), so clusters per file.
pub const MAX_DOCUMENTS: usize = 10_000;
/// How many nodes (maps, lists and scalars) one YAML file may hold.
pub const MAX_NODES: usize = 1_000_000;
/// How many YAML events aliases (`*name`) may replay in one file, against alias bombs.
pub const MAX_ALIAS_EVENTS: usize = 100_000;

/// The YAML dialect of fleet files: YAML 1.2 booleans (`yes` and `no` are strings), numbers
/// with leading zeros kept as strings, and limits against hostile input (see `MAX_*`).
pub fn yaml_options() -> serde_saphyr::Options {
    yaml_options_for(0)
}

/// [`yaml_options`] for a document of `bytes` bytes: the limits on nodes, events and scalar
/// bytes grow with the input, so that the large documents fleeet itself writes (a health
/// snapshot of 10,000 clusters, a rollout record) are read, while the output of an alias
/// bomb stays bounded by the size of its input.
pub fn yaml_options_for(bytes: usize) -> serde_saphyr::Options {
    let default = serde_saphyr::Budget::default();
    serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            max_aliases: 10_000,
            max_documents: MAX_DOCUMENTS,
            max_nodes: MAX_NODES.max(bytes),
            max_events: (2 * MAX_NODES).max(2 * bytes),
            max_total_scalar_bytes: default.max_total_scalar_bytes.max(bytes),
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_ALIAS_EVENTS,
        },
    }
}

/// A YAML limit a file broke, as a message and a hint; `None` for other errors.
pub fn limit_broken(error: &serde_saphyr::Error) -> Option<(String, &'static str)> {
    use serde_saphyr::budget::BudgetBreach as B;
    const ALIASES: &str = "aliases (*name) are for reusing a few snippets: write repeated values out, or keep them in values/ files";
    const SPLIT: &str = "split the file: every cluster and module may have a file of its own";
    let mut error = error;
    while let serde_saphyr::Error::AliasError { error: inner, .. }
    | serde_saphyr::Error::WithSnippet { error: inner, .. } = error
    {
        error = inner;
    }
    let depth = || {
        (
            format!(
                "nests maps and lists more than {MAX_DEPTH} levels deep, the most fleeet reads"
            ),
            "flatten the values; deeper nesting is refused against hostile input",
        )
    };
    Some(match error {
        serde_saphyr::Error::ExternalMessage { source, .. }
            if matches!(&**source, serde_saphyr::ExternalMessageSource::Parser(scan)
                if matches!(scan.kind(), serde_saphyr::granit_parser::ErrorKind::RecursionLimitExceeded)) =>
        {
            depth()
        }
        serde_saphyr::Error::Budget { breach, .. } => match breach {
            B::Depth { .. } => depth(),
            B::Documents { .. } => (
                format!(
                    "holds more than {MAX_DOCUMENTS} documents, the most fleeet reads in one file"
                ),
                SPLIT,
            ),
            B::ScalarBytes { .. } => (
                "holds more text than fleeet reads in one file".to_string(),
                SPLIT,
            ),
            B::Nodes { .. } | B::Events { .. } => (
                format!("holds more than {MAX_NODES} values, the most fleeet reads in one file"),
                SPLIT,
            ),
            B::Aliases { .. }
            | B::Anchors { .. }
            | B::AliasAnchorRatio { .. }
            | B::RecordedAnchorEvents { .. }
            | B::RecordedAnchorBytes { .. } => {
                ("uses more aliases than fleeet allows".to_string(), ALIASES)
            }
            other => (format!("breaks a YAML limit ({other:?})"), SPLIT),
        },
        serde_saphyr::Error::AliasReplayLimitExceeded { .. }
        | serde_saphyr::Error::AliasReplayStackDepthExceeded { .. }
        | serde_saphyr::Error::AliasReplayCounterOverflow { .. } => (
            format!(
                "expands aliases (*name) into more than {MAX_ALIAS_EVENTS} YAML events, the most fleeet allows"
            ),
            ALIASES,
        ),
        _ => return None,
    })
}

/// One parsed input file.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one fleet document per fleet
pub enum Parsed {
    Fleet(Box<FleetDocument>),
    Clusters(Vec<ClusterDocument>),
    Modules(Vec<ModuleDocument>),
    Values(ValueMap),
}

/// What kind of document a file holds, from where it is in the repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Fleet,
    Cluster,
    Inventory,
    Module,
    Values,
}

impl FileKind {
    /// The kind of the file at `path` (relative to the fleet root, `/`-separated), if fleeet
    /// reads it: `fleet.yaml`, and YAML files under `clusters/`, `inventory/`, `modules/` and
    /// `values/`.
    pub fn of(path: &str) -> Option<FileKind> {
        if path == super::FLEET_FILE {
            return Some(FileKind::Fleet);
        }
        if !(path.ends_with(".yaml") || path.ends_with(".yml")) {
            return None;
        }
        match path.split_once('/')?.0 {
            "clusters" => Some(FileKind::Cluster),
            "inventory" => Some(FileKind::Inventory),
            "modules" => Some(FileKind::Module),
            "values" => Some(FileKind::Values),
            _ => None,
        }
    }

    fn schema_hint(self) -> &'static str {
        match self {
            FileKind::Fleet => {
                "fleet.yaml holds one `kind: Fleet` document; its fields are in schemas/fleet.json (`fleeet schema`)"
            }
            FileKind::Cluster | FileKind::Inventory => {
                "a cluster has apiVersion, kind: Cluster, metadata.name and spec.values; the fields are in schemas/cluster.json (`fleeet schema`)"
            }
            FileKind::Module => {
                "a module has apiVersion, kind: Module or BootstrapModule, metadata.name and spec.{version, source, selector}; the fields are in schemas/module.json (`fleeet schema`)"
            }
            FileKind::Values => "a value file holds one YAML map",
        }
    }
}

/// Parses the file `file` (shown to the user as such) of the given kind.
pub fn parse(kind: FileKind, file: &Arc<str>, text: &str) -> Result<Parsed, Diagnostic> {
    let result = match kind {
        FileKind::Fleet => one::<FleetDocument>(text).map(|d| Parsed::Fleet(Box::new(d))),
        FileKind::Cluster | FileKind::Inventory => {
            many::<ClusterDocument>(text).map(Parsed::Clusters)
        }
        FileKind::Module => many::<ModuleDocument>(text).map(Parsed::Modules),
        FileKind::Values => one::<ValueMap>(text).map(Parsed::Values),
    };
    result.map_err(|e| yaml_diagnostic(kind, file, &e))
}

fn one<T: DeserializeOwned>(text: &str) -> Result<T, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options(text, yaml_options())
}

fn many<T: DeserializeOwned>(text: &str) -> Result<Vec<T>, serde_saphyr::Error> {
    serde_saphyr::from_multiple_with_options(text, yaml_options())
}

fn yaml_diagnostic(kind: FileKind, file: &Arc<str>, error: &serde_saphyr::Error) -> Diagnostic {
    let error = error.without_snippet();
    let origin = match error.location() {
        Some(location) if location.line() > 0 => Origin::at(file, location),
        _ => Origin::file(file),
    };
    if let Some((message, hint)) = limit_broken(error) {
        return Diagnostic::new(origin, message).hint(hint);
    }
    let message = serde_saphyr::DefaultMessageFormatter.format_message(error);
    if message.starts_with("multiple YAML documents detected") {
        return Diagnostic::new(origin, "a second YAML document (---) where one is expected")
            .hint(kind.schema_hint());
    }
    // Control characters from the input are shown escaped, never sent to the terminal.
    let message: String = message
        .chars()
        .map(|c| match c.is_control() {
            true => c.escape_debug().to_string(),
            false => c.to_string(),
        })
        .collect();
    let diagnostic = Diagnostic::new(origin, message.clone());
    if message.contains("unknown field")
        || message.contains("missing field")
        || message.contains("unknown variant")
    {
        diagnostic.hint(kind.schema_hint())
    } else {
        diagnostic
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(kind: FileKind, text: &str) -> String {
        parse(kind, &"f.yaml".into(), text).unwrap_err().to_string()
    }

    #[test]
    fn unknown_fields_are_errors_with_their_place() {
        let text = "apiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: a\nspec:\n  valuse: {}\n";
        let message = error(FileKind::Cluster, text);
        assert!(
            message.starts_with("f.yaml:6:3: unknown field `valuse`"),
            "{message}"
        );
        assert!(message.contains("hint: a cluster has"), "{message}");
    }

    #[test]
    fn yes_and_no_stay_strings_in_values() {
        let Parsed::Values(map) =
            parse(FileKind::Values, &"v".into(), "a: no\nb: 0755\nc: true\n").unwrap()
        else {
            panic!("values")
        };
        let json = crate::model::Value::Map(map).to_json();
        assert_eq!(json, serde_json::json!({"a": "no", "b": "0755", "c": true}));
    }

    #[test]
    fn yaml_cannot_include_files() {
        let Parsed::Values(map) = parse(
            FileKind::Values,
            &"v".into(),
            "a: !include /etc/passwd\nb: !!binary aGVsbG8=\n",
        )
        .unwrap() else {
            panic!("values")
        };
        let json = crate::model::Value::Map(map).to_json().to_string();
        assert!(!json.contains("root:"), "{json}");
    }

    #[test]
    fn many_documents_in_one_file() {
        let doc =
            |n| format!("apiVersion: fleeet.dev/v1alpha1\nkind: Cluster\nmetadata:\n  name: {n}\n");
        let text = format!("{}---\n{}", doc("a"), doc("b"));
        let Parsed::Clusters(clusters) = parse(FileKind::Cluster, &"c".into(), &text).unwrap()
        else {
            panic!("clusters")
        };
        assert_eq!(clusters.len(), 2);
        assert_eq!(clusters[1].metadata.name.referenced.line(), 9);
    }

    #[test]
    fn large_documents_get_limits_that_grow_with_them() {
        let text = format!("[{}0]", "0,".repeat(MAX_NODES));
        let read = |options| serde_saphyr::from_str_with_options::<Vec<u8>>(&text, options);
        let error = read(yaml_options()).unwrap_err().to_string();
        assert!(error.contains("budget"), "{error}");
        assert_eq!(
            read(yaml_options_for(text.len())).unwrap().len(),
            MAX_NODES + 1
        );
    }
}
