//! Several health snapshots (one per shard of a CI job matrix) merged into one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{HealthSnapshot, Shard};
use crate::diagnostic::{Diagnostic, Diagnostics, Origin};

/// The snapshot of every cluster in `parts` (each with the file it was read from), and notes
/// on shards missing from them. A cluster in two files is an error, and so are shards of
/// different counts (`2/4` and `3/8`); a missing shard is only a note: its clusters are in no
/// file, so they are unknown, never healthy. The merged snapshot was observed when the oldest
/// part was.
pub fn merge(
    parts: Vec<(String, HealthSnapshot)>,
) -> Result<(HealthSnapshot, Vec<String>), Diagnostics> {
    let mut problems = Diagnostics::default();
    let mut iter = parts.into_iter();
    let Some((first_file, mut merged)) = iter.next() else {
        return Err(Diagnostics::from(Diagnostic::new(
            Origin::file(&"--health".into()),
            "no health snapshot files",
        )));
    };
    let mut from: BTreeMap<String, Arc<str>> = BTreeMap::new();
    let first_file: Arc<str> = first_file.into();
    for name in merged.clusters.keys() {
        from.insert(name.clone(), first_file.clone());
    }
    let mut shards: Vec<(Arc<str>, Option<Shard>)> = vec![(first_file, merged.shard)];
    for (file, part) in iter {
        let file: Arc<str> = file.into();
        merged.observed_at = merged.observed_at.min(part.observed_at);
        for (name, health) in part.clusters {
            if let Some(earlier) = from.get(&name) {
                problems.push(
                    Diagnostic::new(
                        Origin::file(&file),
                        format!("cluster {name:?} is also in {earlier}"),
                    )
                    .hint("each cluster belongs in one snapshot: collect every shard with the same N (`fleeet status --shard K/N`), once"),
                );
                continue;
            }
            from.insert(name.clone(), file.clone());
            merged.clusters.insert(name, health);
        }
        shards.push((file, part.shard));
    }
    let notes = check_shards(&shards, &mut problems);
    merged.shard = None;
    problems.into_result((merged, notes))
}

/// Problems with the shards of the parts (counts that differ, a shard read twice), and a note
/// naming the shards no part holds.
fn check_shards(shards: &[(Arc<str>, Option<Shard>)], problems: &mut Diagnostics) -> Vec<String> {
    let sharded: Vec<(&Arc<str>, Shard)> = shards
        .iter()
        .filter_map(|(file, shard)| Some((file, (*shard)?)))
        .collect();
    let Some(&(first_file, first)) = sharded.first() else {
        return Vec::new();
    };
    let mut seen = BTreeSet::new();
    for &(file, shard) in &sharded {
        if shard.count != first.count {
            problems.push(
                Diagnostic::new(
                    Origin::file(file),
                    format!("holds shard {shard}, but {first_file} holds shard {first}"),
                )
                .hint("merge the shards of one collection: every file with the same N"),
            );
        } else if !seen.insert(shard.index) {
            problems.push(Diagnostic::new(
                Origin::file(file),
                format!("holds shard {shard}, which another file holds too"),
            ));
        }
    }
    let missing: Vec<String> = (1..=first.count)
        .filter(|index| !seen.contains(index))
        .map(|index| {
            Shard {
                index,
                count: first.count,
            }
            .to_string()
        })
        .collect();
    if missing.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "health of shard {} is missing: its clusters are unknown, never healthy",
        missing.join(", ")
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::ClusterHealth;

    fn part(at: &str, shard: Option<&str>, clusters: &[&str]) -> HealthSnapshot {
        let mut snapshot = HealthSnapshot::new(at.parse().unwrap());
        snapshot.shard = shard.map(|s| s.parse().unwrap());
        for name in clusters {
            let health = ClusterHealth {
                reachable: true,
                ..Default::default()
            };
            snapshot.clusters.insert(name.to_string(), health);
        }
        snapshot
    }

    #[test]
    fn shards_merge_into_one_snapshot_observed_at_the_oldest() {
        let (merged, notes) = merge(vec![
            (
                "h-1.json".into(),
                part("2026-11-21T10:05:00Z", Some("1/2"), &["a", "c"]),
            ),
            (
                "h-2.json".into(),
                part("2026-11-21T10:01:00Z", Some("2/2"), &["b"]),
            ),
        ])
        .unwrap();
        assert_eq!(merged.clusters.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(merged.observed_at.to_string(), "2026-11-21T10:01:00Z");
        assert_eq!(merged.shard, None);
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn a_missing_shard_is_a_note_and_its_clusters_stay_out() {
        let (merged, notes) = merge(vec![
            (
                "h-1.json".into(),
                part("2026-11-21T10:00:00Z", Some("1/3"), &["a"]),
            ),
            (
                "h-3.json".into(),
                part("2026-11-21T10:00:00Z", Some("3/3"), &["c"]),
            ),
        ])
        .unwrap();
        assert_eq!(merged.clusters.len(), 2);
        assert_eq!(
            notes,
            ["health of shard 2/3 is missing: its clusters are unknown, never healthy"]
        );
    }

    #[test]
    fn a_cluster_in_two_files_and_mixed_shard_counts_are_errors() {
        let err = merge(vec![
            (
                "h-1.json".into(),
                part("2026-11-21T10:00:00Z", Some("1/2"), &["a"]),
            ),
            (
                "h-2.json".into(),
                part("2026-11-21T10:00:00Z", Some("2/4"), &["a", "b"]),
            ),
            (
                "h-9.json".into(),
                part("2026-11-21T10:00:00Z", Some("1/2"), &[]),
            ),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("h-2.json: cluster \"a\" is also in h-1.json"),
            "{err}"
        );
        assert!(
            err.contains("h-2.json: holds shard 2/4, but h-1.json holds shard 1/2"),
            "{err}"
        );
        assert!(
            err.contains("h-9.json: holds shard 1/2, which another file holds too"),
            "{err}"
        );
        assert!(err.ends_with("3 errors found"), "{err}");
    }
}
