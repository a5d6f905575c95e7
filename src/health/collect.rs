//! Collecting a [`HealthSnapshot`] through the Kubernetes API: for each cluster of the fleet,
//! its kubeconfig is read from a Secret of the management cluster, a client is built from it in
//! memory, and the module Kustomizations and HelmReleases in the output namespace are read.
//! Clusters are read a bounded number at a time, each within a timeout; a cluster that cannot be
//! read is reported unreachable, with the reason, and does not fail the collection.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::{ClusterHealth, HealthSnapshot, Shard, flux};
use crate::Error;
use crate::kubernetes::{self, MANAGED_BY_SELECTOR, NameKind, Target, describe, is_not_found};
use crate::management::{CLUSTER_LABEL, Management};
use crate::model::{Cluster, Fleet, Source};

/// How clusters are read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// How many clusters are read at once.
    pub concurrency: usize,
    /// How long reading one cluster may take.
    pub timeout: Duration,
    /// Which clusters are read: those of this shard.
    pub shard: Shard,
}

impl Options {
    /// The options of `fleet.yaml` (`spec.health`).
    pub fn of(fleet: &Fleet) -> Options {
        let health = &fleet.spec.health;
        Options {
            concurrency: health.concurrency.get() as usize,
            timeout: health.timeout.to_std(),
            shard: Shard::WHOLE,
        }
    }
}

/// Where a cluster's kubeconfig is: a Secret of the management cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretLocation {
    pub namespace: String,
    pub name: String,
}

/// Connects to the management cluster named by `target` and collects the health of the
/// clusters of `fleet` in `shard`, on a runtime of its own: the entry point for commands that
/// are not async. `progress` is called with each cluster's name once it has been read.
pub fn collect_blocking(
    fleet: &Fleet,
    target: &Target,
    shard: Shard,
    progress: &mut dyn FnMut(&str),
) -> Result<HealthSnapshot, Error> {
    let options = Options {
        shard,
        ..Options::of(fleet)
    };
    kubernetes::runtime()?.block_on(async {
        let management = kubernetes::connect(target, options.timeout).await?;
        Ok(collect(fleet, &management.client, &options, progress).await)
    })
}

/// The health of every module on every cluster of `fleet` in `options.shard`, read through the
/// management cluster's `client`. Never fails: a cluster that cannot be read is unreachable,
/// with an error.
pub async fn collect(
    fleet: &Fleet,
    client: &Client,
    options: &Options,
    progress: &mut dyn FnMut(&str),
) -> HealthSnapshot {
    let mut snapshot = HealthSnapshot::new(Timestamp::now());
    snapshot.shard = (options.shard != Shard::WHOLE).then_some(options.shard);
    let namespace: Arc<str> = fleet.spec.output.namespace.value.as_str().into();
    let helm_modules: Arc<BTreeSet<String>> = Arc::new(
        fleet
            .modules
            .iter()
            .filter(|m| matches!(m.spec.source, Source::Helm(_)))
            .map(|m| m.name.clone())
            .collect(),
    );
    let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for cluster in fleet
        .clusters
        .iter()
        .filter(|c| options.shard.contains(&c.name))
    {
        let secret = kubeconfig_secret(
            cluster,
            &fleet.spec.health.kubeconfig_secret,
            "spec.health.kubeconfigSecret",
        );
        let reader = Reader {
            management: client.clone(),
            namespace: namespace.clone(),
            helm_modules: helm_modules.clone(),
            timeout: options.timeout,
        };
        let permits = permits.clone();
        let name = cluster.name.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let read = async { reader.read(secret?).await };
            let health = match tokio::time::timeout(reader.timeout, read).await {
                Ok(Ok(health)) => health,
                Ok(Err(error)) => unreachable(error),
                Err(_) => unreachable(format!(
                    "timed out: the cluster was not read within {:?}",
                    reader.timeout
                )),
            };
            (name, health)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        // A task only ends early if it panicked; its cluster is then missing, hence unknown.
        if let Ok((name, health)) = joined {
            progress(&name);
            snapshot.clusters.insert(name, health);
        }
    }
    // A fleet whose kubeconfig Secret template fails does not render: nothing to judge then.
    if let Ok(Some(management)) = Management::of(fleet) {
        snapshot.bootstrap = bootstrap(client, &management, options.timeout).await;
        // A shard speaks for its own clusters only, the bootstrap view of them included.
        snapshot
            .bootstrap
            .retain(|cluster, _| options.shard.contains(cluster));
    }
    snapshot
}

/// The bootstrap modules the management cluster applies to each cluster it bootstraps, read
/// from the remote Kustomizations in the clusters' namespaces there.
async fn bootstrap(
    client: &Client,
    management: &Management,
    timeout: Duration,
) -> BTreeMap<String, ClusterHealth> {
    let namespaces: BTreeSet<&str> = management
        .targets
        .values()
        .map(|t| t.namespace.as_str())
        .collect();
    let mut read: BTreeMap<&str, Result<BTreeMap<String, _>, String>> = BTreeMap::new();
    for ns in namespaces {
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), ns, &kustomization_resource());
        let params =
            ListParams::default().labels(&format!("{MANAGED_BY_SELECTOR},{CLUSTER_LABEL}"));
        let listed = match tokio::time::timeout(timeout, api.list(&params)).await {
            Ok(Ok(list)) => Ok(list
                .items
                .into_iter()
                .filter_map(|item| serde_json::to_value(item).ok())
                .collect::<Vec<Value>>()),
            Ok(Err(e)) => Err(format!(
                "cannot list the bootstrap Kustomizations in namespace {ns} of the management cluster: {}",
                describe(&e)
            )),
            Err(_) => Err(format!(
                "timed out listing the bootstrap Kustomizations in namespace {ns} of the management cluster"
            )),
        };
        read.insert(ns, listed.map(|items| flux::bootstrap(&items)));
    }
    management
        .targets
        .iter()
        .map(|(cluster, target)| {
            let health = match &read[target.namespace.as_str()] {
                Ok(seen) => ClusterHealth {
                    reachable: true,
                    error: None,
                    modules: seen.get(cluster).cloned().unwrap_or_default(),
                },
                Err(e) => unreachable(e.clone()),
            };
            (cluster.clone(), health)
        })
        .collect()
}

fn unreachable(error: String) -> ClusterHealth {
    ClusterHealth {
        reachable: false,
        error: Some(error),
        modules: Default::default(),
    }
}

/// Where the kubeconfig of `cluster` is: its `spec.kubeconfigSecret`, else the fleet's name
/// `template` (the setting `field`) in its Cluster API namespace.
pub fn kubeconfig_secret(
    cluster: &Cluster,
    template: &str,
    field: &str,
) -> Result<SecretLocation, String> {
    let origin = &cluster.facts.get("clusterAPI");
    let origin_field = |field: &str| {
        origin
            .and_then(|o| o.get(field))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if let Some(secret) = &cluster.kubeconfig_secret {
        let namespace = secret.namespace.clone().or_else(|| origin_field("namespace")).ok_or_else(|| {
            format!("spec.kubeconfigSecret of cluster {:?} has no namespace and the cluster has no Cluster API namespace (facts.clusterAPI.namespace)", cluster.name)
        })?;
        return Ok(SecretLocation {
            namespace,
            name: secret.name.clone(),
        });
    }
    let Some(namespace) = origin_field("namespace") else {
        return Err(format!(
            "no kubeconfig secret: cluster {:?} does not come from Cluster API (no facts.clusterAPI) and sets no spec.kubeconfigSecret",
            cluster.name
        ));
    };
    let capi_name = origin_field("name").unwrap_or_else(|| cluster.name.clone());
    let name = kubernetes::render_name(
        template,
        field,
        NameKind::Subdomain,
        &capi_name,
        &namespace,
        &cluster.labels,
    )?;
    Ok(SecretLocation { namespace, name })
}

/// What a task needs to read one cluster.
struct Reader {
    management: Client,
    namespace: Arc<str>,
    helm_modules: Arc<BTreeSet<String>>,
    timeout: Duration,
}

impl Reader {
    async fn read(&self, secret: SecretLocation) -> Result<ClusterHealth, String> {
        let SecretLocation { namespace, name } = &secret;
        let secrets: Api<Secret> = Api::namespaced(self.management.clone(), namespace);
        let found = secrets.get_opt(name).await.map_err(|e| {
            format!(
                "cannot read the kubeconfig Secret {namespace}/{name} from the management cluster: {}",
                describe(&e)
            )
        })?;
        let Some(found) = found else {
            return Err(format!(
                "no kubeconfig secret: Secret {namespace}/{name} is not in the management cluster"
            ));
        };
        let text = found
            .data
            .as_ref()
            .and_then(|data| data.get("value"))
            .and_then(|value| std::str::from_utf8(&value.0).ok())
            .ok_or_else(|| {
                format!(
                    "the kubeconfig Secret {namespace}/{name} has no text under the key \"value\""
                )
            })?;
        let (client, server) = kubernetes::client_from_kubeconfig_text(text, self.timeout)
            .await
            .map_err(|e| format!("the kubeconfig in Secret {namespace}/{name}: {e}"))?;
        let kustomizations = self
            .list(&client, &server, kustomization_resource())
            .await?;
        let helm_releases = if self.helm_modules.is_empty() {
            Vec::new()
        } else {
            self.list(&client, &server, helm_release_resource()).await?
        };
        Ok(ClusterHealth {
            reachable: true,
            error: None,
            modules: flux::modules(&kustomizations, &helm_releases, &self.helm_modules),
        })
    }

    /// The objects of `resource` in the output namespace that fleeet manages.
    async fn list(
        &self,
        client: &Client,
        server: &str,
        resource: ApiResource,
    ) -> Result<Vec<Value>, String> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), &self.namespace, &resource);
        let params = ListParams::default().labels(MANAGED_BY_SELECTOR);
        let list = api.list(&params).await.map_err(|e| {
            if is_not_found(&e) {
                format!(
                    "Flux CRD missing: {server} does not serve {} {} (is Flux installed?)",
                    resource.api_version, resource.kind
                )
            } else {
                format!(
                    "cannot list {} {} in namespace {} of {server}: {}",
                    resource.api_version,
                    resource.plural,
                    self.namespace,
                    describe(&e)
                )
            }
        })?;
        list.items
            .into_iter()
            .map(|item| serde_json::to_value(item).map_err(|e| e.to_string()))
            .collect()
    }
}

fn kustomization_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kustomize.toolkit.fluxcd.io", "v1", "Kustomization"),
        "kustomizations",
    )
}

fn helm_release_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("helm.toolkit.fluxcd.io", "v2", "HelmRelease"),
        "helmreleases",
    )
}
