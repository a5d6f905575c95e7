//! What judging a pair looks up by cluster name, hashed once per plan: at 100,000 clusters,
//! searching the health snapshot's sorted maps for each of 300,000 judged pairs was a third of
//! the plan (cache misses on 100,000 string keys).

use std::collections::HashMap;

use crate::health::{ClusterHealth, HealthSnapshot};

/// The health snapshot's clusters by name, hashed.
#[derive(Default)]
pub struct HealthByCluster<'a> {
    /// What was seen on each cluster.
    clusters: HashMap<&'a str, &'a ClusterHealth>,
    /// What the management cluster sees of the modules it applies to each cluster.
    bootstrap: HashMap<&'a str, &'a ClusterHealth>,
}

impl<'a> HealthByCluster<'a> {
    /// The clusters of `snapshot` (none: nothing is known).
    pub fn new(snapshot: Option<&'a HealthSnapshot>) -> Self {
        let hashed = |map: &'a std::collections::BTreeMap<String, ClusterHealth>| {
            map.iter()
                .map(|(name, health)| (name.as_str(), health))
                .collect()
        };
        match snapshot {
            Some(snapshot) => HealthByCluster {
                clusters: hashed(&snapshot.clusters),
                bootstrap: hashed(&snapshot.bootstrap),
            },
            None => HealthByCluster::default(),
        }
    }

    /// Where the health of a pointer on `cluster` is read: the cluster itself, or, for a
    /// pointer the management cluster applies (`applied_from`), the management cluster's view.
    pub fn view(&self, cluster: &str, applied_from: Option<&str>) -> Option<&'a ClusterHealth> {
        match applied_from {
            None => self.clusters.get(cluster).copied(),
            Some(_) => self.bootstrap.get(cluster).copied(),
        }
    }
}
