//! The fleet model: the documents as written ([`documents`]) and the validated fleet that
//! rendering works on ([`Fleet`]).

pub mod budget;
pub mod documents;
pub mod duration;
pub mod names;
pub mod number;
pub mod rollout;
pub mod selector;
pub mod value;
pub mod window;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use budget::Budget;
pub use documents::*;
pub use duration::Duration;
pub use rollout::{Budgets, NewClusters, OnFailure, Policy, RolloutPolicy, WaveSpec};
pub use selector::{LabelSelector, Operator, Requirement};
pub use value::{Value, ValueMap};
pub use window::Window;

use crate::diagnostic::Origin;

/// A loaded and validated fleet repository.
#[derive(Clone, Debug)]
pub struct Fleet {
    pub name: String,
    /// `fleet.yaml`, as shown to the user.
    pub file: Arc<str>,
    pub spec: FleetSpec,
    /// Every cluster, inventory and hand-written overlays merged, sorted by name.
    pub clusters: Vec<Cluster>,
    /// Every module and bootstrap module, sorted by name.
    pub modules: Vec<Module>,
}

/// A cluster of the fleet.
#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub values: JsonMap,
    pub facts: JsonMap,
    /// Where its kubeconfig is, when set by hand (`spec.kubeconfigSecret`).
    pub kubeconfig_secret: Option<SecretReference>,
    /// The documents that define it: an inventory file, a hand-written file, or both.
    pub defined_in: Vec<Origin>,
}

/// A module of the fleet.
#[derive(Clone, Debug)]
pub struct Module {
    pub name: String,
    pub kind: ModuleKind,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub spec: ModuleSpec,
    /// Where the module's name is written.
    pub origin: Origin,
    /// The value files of `spec.valuesFrom`, in order.
    pub values_files: Vec<ValueSource>,
}

/// A map of template values and the file it was read from.
#[derive(Clone, Debug)]
pub struct ValueSource {
    pub file: Arc<str>,
    pub values: ValueMap,
}

impl Fleet {
    /// The module named `name`.
    pub fn module(&self, name: &str) -> Option<&Module> {
        self.module_index(name).map(|i| &self.modules[i])
    }

    /// The index in [`Fleet::modules`] of the module named `name`.
    pub fn module_index(&self, name: &str) -> Option<usize> {
        self.modules
            .binary_search_by(|m| m.name.as_str().cmp(name))
            .ok()
    }

    /// The cluster named `name`.
    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.cluster_index(name).map(|i| &self.clusters[i])
    }

    /// The index in [`Fleet::clusters`] of the cluster named `name`.
    pub fn cluster_index(&self, name: &str) -> Option<usize> {
        self.clusters
            .binary_search_by(|c| c.name.as_str().cmp(name))
            .ok()
    }
}

impl Fleet {
    /// Whether a rollout of the module `name` rolls back on failure, by its policy or (a module
    /// gone from the fleet) the fleet's.
    pub fn rolls_back(&self, name: &str) -> bool {
        let policy = match self.modules.binary_search_by(|m| m.name.as_str().cmp(name)) {
            Ok(i) => self.modules[i].policy(&self.spec),
            Err(_) => self.spec.rollout.value.resolve(&RolloutPolicy::default()),
        };
        policy.on_failure == OnFailure::Rollback
    }
}

impl Module {
    /// The module's rollout policy over the fleet's, with defaults.
    pub fn policy(&self, fleet: &FleetSpec) -> Policy {
        match &self.spec.rollout {
            Some(policy) => policy.value.resolve(&fleet.rollout.value),
            None => fleet.rollout.value.resolve(&RolloutPolicy::default()),
        }
    }

    /// Every map of values, lowest precedence first: the value files, then `spec.values`.
    pub fn value_sources(&self) -> impl Iterator<Item = (&Arc<str>, &ValueMap)> {
        self.values_files
            .iter()
            .map(|s| (&s.file, &s.values))
            .chain(std::iter::once((&self.origin.file, &self.spec.values)))
    }
}
