//! Reading the Cluster API clusters, and the ConfigMaps holding their values, from the
//! management cluster.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::{Client, discovery};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::Error;
use crate::kubernetes::describe;
use crate::model::{InventorySettings, JsonMap};

/// The API group of Cluster API clusters.
pub const GROUP: &str = "cluster.x-k8s.io";
/// The versions of that group fleeet reads, newest first.
pub const VERSIONS: [&str; 2] = ["v1beta2", "v1beta1"];
/// How many clusters one list request asks for.
const PAGE: u32 = 500;

/// Which Cluster API clusters to sync.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// One namespace, or every namespace.
    pub namespace: Option<String>,
    /// A label selector in the Kubernetes syntax, like `env=prod,tier!=edge`.
    pub selector: Option<String>,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "namespace {ns}")?,
            None => f.write_str("all namespaces")?,
        }
        if let Some(selector) = &self.selector {
            write!(f, " with labels {selector}")?;
        }
        Ok(())
    }
}

/// What was read from the management cluster.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    /// The version the clusters were read at, like `cluster.x-k8s.io/v1beta2`.
    pub api_version: String,
    /// The Cluster API objects, as listed.
    pub clusters: Vec<Value>,
    /// The data of the value ConfigMaps that exist, by namespace and name.
    pub config_maps: BTreeMap<(String, String), JsonMap>,
}

/// Lists the Cluster API clusters in `scope` at the version the server prefers (among those
/// fleeet reads), then reads the value ConfigMaps `settings` names, `concurrency` at a time.
pub async fn read(
    client: &Client,
    scope: &Scope,
    settings: &InventorySettings,
    fleet_file: &Arc<str>,
    concurrency: usize,
) -> Result<Listing, Error> {
    let resource = cluster_resource(client).await?;
    let api: Api<DynamicObject> = match &scope.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let mut params = ListParams::default().limit(PAGE);
    if let Some(selector) = &scope.selector {
        params = params.labels(selector);
    }
    let mut clusters = Vec::new();
    loop {
        let page = api.list(&params).await.map_err(|e| Error::Kubernetes {
            message: format!(
                "cannot list Cluster API clusters ({}) in {scope}: {}",
                resource.api_version,
                describe(&e)
            ),
            hint: hint(&e, "list on clusters.cluster.x-k8s.io"),
        })?;
        for item in page.items {
            clusters.push(serde_json::to_value(item).map_err(|e| Error::Kubernetes {
                message: format!("a listed Cluster cannot be read: {e}"),
                hint: None,
            })?);
        }
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params.continue_token = Some(token),
            _ => break,
        }
    }
    let wanted: Vec<(String, String)> = super::entries(&clusters, settings, fleet_file)?
        .into_iter()
        .filter_map(|e| Some((e.namespace, e.values_config_map?)))
        .collect();
    let config_maps = config_maps(client, wanted, concurrency).await?;
    Ok(Listing {
        api_version: resource.api_version,
        clusters,
        config_maps,
    })
}

/// The `Cluster` resource at the served version fleeet prefers: the server's preferred version
/// if fleeet reads it, else the newest one it reads.
async fn cluster_resource(client: &Client) -> Result<ApiResource, Error> {
    let group = discovery::group(client, GROUP).await.map_err(|e| match e {
        kube::Error::Discovery(_) => Error::Kubernetes {
            message: format!("the management cluster does not serve {GROUP}"),
            hint: Some("point --kubeconfig/--context at the Cluster API management cluster".into()),
        },
        e => Error::Kubernetes {
            message: format!(
                "cannot discover {GROUP} on the management cluster: {}",
                describe(&e)
            ),
            hint: None,
        },
    })?;
    let served: Vec<&str> = group.versions().collect();
    let version = group
        .preferred_version()
        .filter(|v| VERSIONS.contains(v))
        .or_else(|| VERSIONS.into_iter().find(|v| served.contains(v)))
        .ok_or_else(|| Error::Kubernetes {
            message: format!(
                "the management cluster serves {GROUP} {}; fleeet reads {}",
                served.join(", "),
                VERSIONS.join(" and ")
            ),
            hint: Some("upgrade Cluster API to a release serving v1beta1 or v1beta2".into()),
        })?;
    group
        .versioned_resources(version)
        .into_iter()
        .map(|(resource, _)| resource)
        .find(|r| r.kind == "Cluster")
        .ok_or_else(|| Error::Kubernetes {
            message: format!("{GROUP}/{version} has no Cluster kind"),
            hint: None,
        })
}

/// What to do about `error`: grant `permission` when it was refused, wait longer when the
/// server was slow.
fn hint(error: &kube::Error, permission: &str) -> Option<String> {
    match error {
        kube::Error::Api(status) if matches!(status.code, 401 | 403) => Some(format!(
            "the management cluster's role needs {permission} (see deploy/rbac/)"
        )),
        kube::Error::HyperError(_) | kube::Error::Service(_) => Some(
            "check that the management cluster is up; a slow one may need a longer spec.health.timeout in fleet.yaml"
                .into(),
        ),
        _ => None,
    }
}

/// The data of the ConfigMaps `wanted` (namespace, name) that exist.
async fn config_maps(
    client: &Client,
    wanted: Vec<(String, String)>,
    concurrency: usize,
) -> Result<BTreeMap<(String, String), JsonMap>, Error> {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (namespace, name) in wanted {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let found = api.get_opt(&name).await;
            (namespace, name, found)
        });
    }
    let mut found = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let (namespace, name, result) = joined.map_err(|e| Error::Kubernetes {
            message: format!("reading a ConfigMap failed: {e}"),
            hint: None,
        })?;
        match result {
            Ok(Some(config_map)) => {
                let data = config_map
                    .data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect();
                found.insert((namespace, name), data);
            }
            Ok(None) => {}
            Err(e) => {
                return Err(Error::Kubernetes {
                    message: format!("cannot read ConfigMap {namespace}/{name}: {}", describe(&e)),
                    hint: hint(&e, "get on configmaps in the clusters' namespaces"),
                });
            }
        }
    }
    Ok(found)
}
