//! kstatus rules for one module on one cluster: is its Flux object Current at the revision the
//! pointer pins, failed, still progressing, or unknown?

use jiff::Timestamp;

use super::{ClusterHealth, ModuleHealth};

/// `Ready=False` reasons with which Flux reports a failure (rather than waiting or progress).
pub const FAILURE_REASONS: [&str; 8] = [
    "ArtifactFailed",
    "BuildFailed",
    "HealthCheckFailed",
    "PruneFailed",
    "ReconciliationFailed",
    "InstallFailed",
    "UpgradeFailed",
    "TestFailed",
];

/// What the health snapshot says about one (cluster, module) pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Ready at the expected revision with its generation observed, since `since` (when Ready
    /// last changed, if known).
    Healthy { since: Option<Timestamp> },
    /// Not (yet) ready at the expected revision; `why` says what is seen.
    Progressing { why: String },
    /// Stalled, or not ready with a failure reason.
    Failed { reason: String, message: String },
    /// The cluster could not be read, or is not in the snapshot.
    Unknown { why: String },
}

/// The status of `module` on a cluster whose pointer pins `revision`.
pub fn status(cluster: Option<&ClusterHealth>, module: &str, revision: &str) -> Status {
    let cluster = match reachable(cluster) {
        Ok(cluster) => cluster,
        Err(why) => return Status::Unknown { why },
    };
    let Some(health) = cluster.modules.get(module) else {
        return Status::Progressing {
            why: "not on the cluster yet".into(),
        };
    };
    judge(health, revision)
}

fn judge(h: &ModuleHealth, revision: &str) -> Status {
    let reason = h.reason.as_deref().unwrap_or_default().to_string();
    if let (Some(generation), Some(observed)) = (h.generation, h.observed_generation)
        && observed < generation
    {
        return Status::Progressing {
            why: format!("generation {generation} not observed yet (at {observed})"),
        };
    }
    if h.stalled {
        return Status::Failed {
            reason: if reason.is_empty() {
                "Stalled".into()
            } else {
                reason
            },
            message: h.message.to_string(),
        };
    }
    if !h.ready && FAILURE_REASONS.contains(&reason.as_str()) {
        return Status::Failed {
            reason,
            message: h.message.to_string(),
        };
    }
    if !h.ready {
        return Status::Progressing {
            why: if reason.is_empty() {
                "not ready".into()
            } else {
                format!("not ready: {reason}")
            },
        };
    }
    match &h.revision {
        Some(seen) if at_revision(seen, revision) => Status::Healthy { since: h.since },
        Some(seen) => Status::Progressing {
            why: format!("ready at {seen}, waiting for {revision}"),
        },
        None => Status::Progressing {
            why: format!("no revision applied yet, waiting for {revision}"),
        },
    }
}

/// One word for what a module's Flux object says, whatever revision it is at: `stalled`,
/// `ready`, `failed`, `waiting` (on a dependency) or `progressing`.
pub fn word(h: &ModuleHealth) -> &'static str {
    let stale = matches!((h.generation, h.observed_generation), (Some(g), Some(o)) if o < g);
    let reason = h.reason.as_deref().unwrap_or_default();
    if stale {
        "progressing"
    } else if h.stalled {
        "stalled"
    } else if h.ready {
        "ready"
    } else if FAILURE_REASONS.contains(&reason) {
        "failed"
    } else if reason == "DependencyNotReady" {
        "waiting"
    } else {
        "progressing"
    }
}

/// Whether a revision Flux reports (`v1.2.0`, `v1.2.0@sha1:…`) is the pinned `revision`.
pub fn at_revision(seen: &str, revision: &str) -> bool {
    seen == revision
        || seen
            .strip_prefix(revision)
            .is_some_and(|rest| rest.starts_with('@'))
}

/// Whether `module` is gone from a readable cluster (`Err` says why it cannot be told).
pub fn absent(cluster: Option<&ClusterHealth>, module: &str) -> Result<bool, String> {
    reachable(cluster).map(|c| !c.modules.contains_key(module))
}

fn reachable(cluster: Option<&ClusterHealth>) -> Result<&ClusterHealth, String> {
    match cluster {
        None => Err("not in the health snapshot".into()),
        Some(c) if !c.reachable => Err(match &c.error {
            Some(e) => format!("unreachable: {e}"),
            None => "unreachable".into(),
        }),
        Some(c) => Ok(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(health: ModuleHealth) -> ClusterHealth {
        ClusterHealth {
            reachable: true,
            error: None,
            modules: [("m".into(), health)].into_iter().collect(),
        }
    }

    fn ready(revision: &str) -> ModuleHealth {
        ModuleHealth {
            ready: true,
            revision: Some(revision.into()),
            reason: Some("ReconciliationSucceeded".into()),
            ..ModuleHealth::default()
        }
    }

    #[test]
    fn healthy_only_at_the_pinned_revision_with_the_generation_observed() {
        let ok = cluster(ready("v1.2.0@sha1:abc"));
        assert!(matches!(
            status(Some(&ok), "m", "v1.2.0"),
            Status::Healthy { .. }
        ));
        assert!(matches!(
            status(Some(&ok), "m", "v1.2"),
            Status::Progressing { .. }
        ));
        let stale = cluster(ModuleHealth {
            generation: Some(3),
            observed_generation: Some(2),
            ..ready("v1.2.0")
        });
        assert!(matches!(
            status(Some(&stale), "m", "v1.2.0"),
            Status::Progressing { .. }
        ));
    }

    #[test]
    fn failure_reasons_and_stalled_fail_while_waiting_reasons_progress() {
        let failed = cluster(ModuleHealth {
            ready: false,
            reason: Some("HealthCheckFailed".into()),
            message: "timeout".into(),
            ..ModuleHealth::default()
        });
        assert_eq!(
            status(Some(&failed), "m", "1"),
            Status::Failed {
                reason: "HealthCheckFailed".into(),
                message: "timeout".into()
            }
        );
        let waiting = cluster(ModuleHealth {
            ready: false,
            reason: Some("DependencyNotReady".into()),
            ..ModuleHealth::default()
        });
        assert!(matches!(
            status(Some(&waiting), "m", "1"),
            Status::Progressing { .. }
        ));
        let stalled = cluster(ModuleHealth {
            stalled: true,
            ..ready("1")
        });
        assert!(matches!(
            status(Some(&stalled), "m", "1"),
            Status::Failed { .. }
        ));
    }

    #[test]
    fn unreachable_or_missing_clusters_are_unknown() {
        let down = ClusterHealth {
            reachable: false,
            error: Some("connection refused".into()),
            modules: Default::default(),
        };
        assert!(matches!(
            status(Some(&down), "m", "1"),
            Status::Unknown { .. }
        ));
        assert!(matches!(status(None, "m", "1"), Status::Unknown { .. }));
        assert!(absent(Some(&down), "m").is_err());
        assert_eq!(absent(Some(&cluster(ready("1"))), "other"), Ok(true));
    }
}
