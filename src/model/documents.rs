//! The documents of a fleet repository, exactly as written (`fleeet.dev/v1alpha1`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::{Location, Spanned};

use super::duration::Duration;
use super::rollout::RolloutPolicy;
use super::selector::LabelSelector;
use super::value::ValueMap;

/// The API version of every fleeet document.
pub const API_VERSION: &str = "fleeet.dev/v1alpha1";

/// A map of free-form values (cluster values, facts, fleet values).
pub type JsonMap = serde_json::Map<String, serde_json::Value>;

/// The only accepted `apiVersion`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum ApiVersion {
    #[serde(rename = "fleeet.dev/v1alpha1")]
    V1Alpha1,
}

/// Name, labels and annotations, as on any Kubernetes object.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// A DNS-1123 label, unique among documents of its kind.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Metadata {
    /// Metadata with just a name (for documents made by code).
    pub fn named(name: impl Into<String>) -> Self {
        Metadata {
            name: unlocated(name.into()),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
        }
    }
}

/// Wraps a value made by code, not read from a file.
pub fn unlocated<T>(value: T) -> Spanned<T> {
    Spanned {
        value,
        referenced: Location::UNKNOWN,
        defined: Location::UNKNOWN,
    }
}

/// `kind: Fleet`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum FleetKind {
    Fleet,
}

/// `fleet.yaml`: where output goes and the defaults for every module.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "Fleet")]
pub struct FleetDocument {
    pub api_version: ApiVersion,
    pub kind: FleetKind,
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: FleetSpec,
}

/// The settings of a fleet.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FleetSpec {
    #[serde(default)]
    pub output: Output,
    /// Values every template sees as `fleet.values`.
    #[serde(default, skip_serializing_if = "JsonMap::is_empty")]
    pub values: JsonMap,
    /// The default rollout policy of every module.
    #[serde(default = "default_rollout")]
    #[schemars(with = "RolloutPolicy")]
    pub rollout: Spanned<RolloutPolicy>,
    /// Pull-request settings for `fleeet reconcile`.
    #[serde(default)]
    pub github: GithubSettings,
    /// How `fleeet inventory sync` turns Cluster API clusters into inventory clusters.
    #[serde(default)]
    pub inventory: InventorySettings,
    /// How `fleeet status` reads health from the clusters.
    #[serde(default)]
    pub health: HealthSettings,
    /// The cluster that runs Cluster API and Flux and bootstraps every other cluster. Without
    /// it, each cluster is bootstrapped by hand (`fleeet bootstrap`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management: Option<ManagementSettings>,
}

impl Default for FleetSpec {
    fn default() -> Self {
        FleetSpec {
            output: Output::default(),
            values: JsonMap::default(),
            rollout: default_rollout(),
            github: GithubSettings::default(),
            inventory: InventorySettings::default(),
            health: HealthSettings::default(),
            management: None,
        }
    }
}

/// How the management cluster bootstraps the other clusters: it applies their bootstrap
/// modules and the objects that make them follow their folders, through Flux Kustomizations
/// with `spec.kubeConfig`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManagementSettings {
    /// The fleet cluster that runs Cluster API and Flux (bootstrapped by hand, once).
    #[schemars(with = "String")]
    pub cluster: Spanned<String>,
    /// The name of the Secret (key `value`) holding a cluster's kubeconfig in its Cluster API
    /// namespace of the management cluster, a template over the cluster's Cluster API `name`
    /// and `namespace` and its `labels` (default `{{ name }}-kubeconfig`, what Cluster API
    /// writes). Hand-written clusters name theirs with `spec.kubeconfigSecret`.
    #[serde(default = "default_management_kubeconfig_secret")]
    #[schemars(with = "String")]
    pub kubeconfig_secret: Spanned<String>,
    /// The URL of the git repository holding the rendered branch, as the clusters reach it.
    #[schemars(with = "String")]
    pub url: Spanned<String>,
    /// For a private repository: a Secret with the keys `username` and `password`, in every
    /// namespace of the management cluster that holds Cluster API clusters. Its values reach
    /// each cluster as the Secret of the same name in the output namespace, through
    /// `postBuild.substituteFrom`, never through a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub git_secret: Option<Spanned<String>>,
}

fn default_management_kubeconfig_secret() -> Spanned<String> {
    unlocated(default_kubeconfig_secret())
}

/// Where the rendered pointer files go.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Output {
    /// The branch Flux on every cluster follows.
    #[serde(default = "default_branch")]
    #[schemars(with = "String")]
    pub branch: Spanned<String>,
    /// The folder, inside that branch, holding one folder per cluster.
    #[serde(default = "default_path")]
    #[schemars(with = "String")]
    pub path: Spanned<String>,
    /// The namespace of the Flux objects on each cluster.
    #[serde(default = "default_namespace")]
    #[schemars(with = "String")]
    pub namespace: Spanned<String>,
    /// The name of the GitRepository (and root Kustomization) each cluster uses for the
    /// rendered branch; see `fleeet bootstrap`.
    #[serde(default = "default_source_name")]
    #[schemars(with = "String")]
    pub source_name: Spanned<String>,
}

impl Default for Output {
    fn default() -> Self {
        Output {
            branch: default_branch(),
            path: default_path(),
            namespace: default_namespace(),
            source_name: default_source_name(),
        }
    }
}

fn default_branch() -> Spanned<String> {
    unlocated("fleeet/rendered".into())
}

fn default_path() -> Spanned<String> {
    unlocated("clusters".into())
}

fn default_namespace() -> Spanned<String> {
    unlocated("flux-system".into())
}

fn default_source_name() -> Spanned<String> {
    unlocated("fleeet".into())
}

/// How `fleeet reconcile` proposes each wave on GitHub.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GithubSettings {
    /// The branch each wave is pushed to before it is merged into the rendered branch.
    #[serde(default = "default_pr_branch")]
    #[schemars(with = "String")]
    pub branch: Spanned<String>,
    /// Labels put on the pull request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Users (or `org/team`) asked to review the pull request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviewers: Vec<String>,
    /// Merge the pull request as soon as GitHub says it can be merged.
    #[serde(default)]
    pub auto_merge: bool,
}

impl Default for GithubSettings {
    fn default() -> Self {
        GithubSettings {
            branch: default_pr_branch(),
            labels: Vec::new(),
            reviewers: Vec::new(),
            auto_merge: false,
        }
    }
}

fn default_pr_branch() -> Spanned<String> {
    unlocated("fleeet/next".into())
}

/// How Cluster API clusters become inventory clusters. Its templates see the Cluster API
/// cluster's `name`, `namespace` and `labels`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InventorySettings {
    /// The inventory cluster's name, a template (default `{{ name }}`; `{{ namespace }}-{{ name }}`
    /// keeps apart clusters of the same name in different namespaces).
    #[serde(default = "default_inventory_name")]
    pub name: String,
    /// Annotations of the Cluster API cluster copied to the inventory cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<String>,
    /// More facts, each read from the Cluster API object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<FactSource>,
    /// The name of a ConfigMap in the cluster's namespace whose data becomes the cluster's
    /// `spec.values`, a template like `{{ name }}-fleeet`. A missing ConfigMap means no values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_config_map: Option<String>,
}

impl Default for InventorySettings {
    fn default() -> Self {
        InventorySettings {
            name: default_inventory_name(),
            annotations: Vec::new(),
            facts: Vec::new(),
            values_config_map: None,
        }
    }
}

fn default_inventory_name() -> String {
    "{{ name }}".into()
}

/// A fact read from the Cluster API object.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FactSource {
    /// The key under `spec.facts`.
    pub name: String,
    /// A JSON pointer into the Cluster API object, like `/spec/topology/variables/0/value`.
    pub field_path: String,
}

/// How health is read from each cluster.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HealthSettings {
    /// The name of the Secret (key `value`) holding a cluster's kubeconfig in its Cluster API
    /// namespace of the management cluster, a template over the cluster's Cluster API `name`
    /// and `namespace` and its `labels` (default `{{ name }}-kubeconfig`, the Cluster API
    /// convention).
    #[serde(default = "default_kubeconfig_secret")]
    pub kubeconfig_secret: String,
    /// How many clusters are read at once (default 32).
    #[serde(
        default = "default_concurrency",
        deserialize_with = "super::number::at_least_one"
    )]
    #[schemars(with = "u32", range(min = 1))]
    pub concurrency: std::num::NonZeroU32,
    /// How long reading one cluster may take before it is reported unreachable, and how long
    /// the management cluster may stay silent in one request (default 10s).
    #[serde(default = "default_health_timeout")]
    pub timeout: Duration,
}

impl Default for HealthSettings {
    fn default() -> Self {
        HealthSettings {
            kubeconfig_secret: default_kubeconfig_secret(),
            concurrency: default_concurrency(),
            timeout: default_health_timeout(),
        }
    }
}

fn default_rollout() -> Spanned<RolloutPolicy> {
    unlocated(RolloutPolicy::default())
}

fn default_kubeconfig_secret() -> String {
    "{{ name }}-kubeconfig".into()
}

fn default_concurrency() -> std::num::NonZeroU32 {
    std::num::NonZeroU32::new(32).expect("32 is not zero")
}

fn default_health_timeout() -> Duration {
    Duration::parse("10s").expect("valid default")
}

/// `kind: Cluster`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum ClusterKind {
    Cluster,
}

/// A cluster: hand-written under `clusters/`, or synced from Cluster API under `inventory/`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "Cluster")]
pub struct ClusterDocument {
    pub api_version: ApiVersion,
    pub kind: ClusterKind,
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: ClusterSpec,
}

/// What templates know about a cluster besides its name and labels.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterSpec {
    /// Free-form values, `cluster.values` in templates.
    #[serde(default, skip_serializing_if = "JsonMap::is_empty")]
    pub values: JsonMap,
    /// Facts recorded by `fleeet inventory sync` (Kubernetes version, Cluster API origin, ...),
    /// `cluster.facts` in templates.
    #[serde(default, skip_serializing_if = "JsonMap::is_empty")]
    pub facts: JsonMap,
    /// The Secret in the management cluster holding this cluster's kubeconfig, for clusters
    /// that do not come from Cluster API (or do not follow `spec.health.kubeconfigSecret`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig_secret: Option<SecretReference>,
}

/// A Secret of the management cluster whose key `value` holds a kubeconfig.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretReference {
    pub name: String,
    /// Default: the cluster's Cluster API namespace (`facts.clusterAPI.namespace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// `kind: Module` or `kind: BootstrapModule`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum ModuleKind {
    /// A piece of configuration at a version.
    Module,
    /// A module every other module on the same cluster depends on.
    BootstrapModule,
}

/// A module: a source at a version, the clusters it goes to, and its per-cluster values.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "Module")]
pub struct ModuleDocument {
    pub api_version: ApiVersion,
    pub kind: ModuleKind,
    pub metadata: Metadata,
    pub spec: ModuleSpec,
}

/// The desired state of a module.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModuleSpec {
    /// The version being rolled out: git tag (through `source.git.tag`), OCI tag or chart
    /// version.
    #[schemars(with = "String")]
    pub version: Spanned<String>,
    pub source: Source,
    /// The clusters this module goes to; `{}` selects every cluster.
    #[schemars(with = "LabelSelector")]
    pub selector: Spanned<LabelSelector>,
    /// Per-cluster values. Every string is a minijinja template; a string that is exactly one
    /// `{{ expression }}` keeps the expression's type (number, map, ...).
    #[serde(default, skip_serializing_if = "ValueMap::is_empty")]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub values: ValueMap,
    /// Files under `values/` (paths from the fleet root) deep-merged in order under `values`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<String>")]
    pub values_from: Vec<Spanned<String>>,
    /// Secrets or ConfigMaps on the cluster that hold more values (never rendered into files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub substitute_from: Vec<ValuesReference>,
    /// Modules that must be ready on a cluster before this one is applied there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<String>")]
    pub depends_on: Vec<Spanned<String>>,
    /// The namespace the module's objects are put in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_namespace: Option<String>,
    /// Delete objects the module no longer has (default true).
    #[serde(default = "default_true")]
    pub prune: bool,
    /// How often Flux reconciles the module (default 10m).
    #[serde(default = "default_interval")]
    pub interval: Duration,
    /// How long Flux waits for the module to become ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Overrides the fleet's rollout policy, field by field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<RolloutPolicy>")]
    pub rollout: Option<Spanned<RolloutPolicy>>,
}

fn default_true() -> bool {
    true
}

fn default_interval() -> Duration {
    Duration::parse("10m").expect("valid default")
}

/// Where a module's manifests come from. Exactly one of `git`, `oci`, `helm`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    Git(GitSource),
    Oci(OciSource),
    Helm(HelmSource),
}

/// A git repository; the module's version selects a tag.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitSource {
    /// `https://`, `http://` or `ssh://` URL.
    #[schemars(with = "String")]
    pub url: Spanned<String>,
    /// The folder inside the repository to apply (default `./`).
    #[serde(default = "default_source_path")]
    pub path: String,
    /// The tag to check out, a template (default `{{ version }}`; `v{{ version }}` is common).
    #[serde(default = "default_tag")]
    #[schemars(with = "String")]
    pub tag: Spanned<String>,
}

/// An OCI artifact (as pushed by `flux push artifact`); the module's version is its tag.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OciSource {
    /// `oci://` URL.
    #[schemars(with = "String")]
    pub url: Spanned<String>,
    /// The folder inside the artifact to apply (default `./`).
    #[serde(default = "default_source_path")]
    pub path: String,
}

/// A Helm chart; the module's version is the chart version and its values the release values.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HelmSource {
    /// `https://` chart repository, or `oci://` registry.
    #[schemars(with = "String")]
    pub repository: Spanned<String>,
    pub chart: String,
}

fn default_source_path() -> String {
    "./".into()
}

fn default_tag() -> Spanned<String> {
    unlocated("{{ version }}".into())
}

/// A reference to a Secret or ConfigMap in the output namespace of each cluster.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValuesReference {
    pub kind: ValuesReferenceKind,
    pub name: String,
    /// Do not fail when the object is missing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

/// The kinds a [`ValuesReference`] may point at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum ValuesReferenceKind {
    Secret,
    ConfigMap,
}
