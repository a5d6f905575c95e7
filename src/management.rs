//! Bootstrapping from the management cluster (`spec.management`): which clusters it reaches
//! and through which kubeconfig Secret, the names of the Flux objects it holds for them, and
//! the objects that make each of them follow its own folder.
//!
//! Everything here is pure: the Secrets are named, never read.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::diagnostic::{Diagnostic, Diagnostics, Origin};
use crate::health::collect::kubeconfig_secret;
use crate::model::{Cluster, Fleet};
use crate::render::flux::*;

/// The label naming the cluster that an object of the management cluster bootstraps.
pub const CLUSTER_LABEL: &str = "fleeet.dev/cluster";

/// The longest object name fleeet writes: Flux copies Kustomization names into label values.
pub const MAX_NAME: usize = 63;

/// The management cluster and the clusters it bootstraps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Management {
    /// The management cluster's name.
    pub cluster: String,
    /// By cluster name: where the management cluster reaches each cluster it bootstraps. The
    /// management cluster itself, and clusters with neither a Cluster API namespace nor
    /// `spec.kubeconfigSecret`, are not here: they are bootstrapped by hand.
    pub targets: BTreeMap<String, Target>,
}

/// Where the management cluster reaches one cluster: the namespace holding its kubeconfig
/// Secret (key `value`), where its bootstrap objects live too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub namespace: String,
    pub kubeconfig_secret: String,
    /// The bootstrap modules the cluster gets (filled in by the renderer, which knows the
    /// selectors): its sync waits for them, so the cluster follows its folder only after them.
    pub bootstrap: Vec<String>,
}

impl Management {
    /// The management of `fleet`, if it sets `spec.management`; errors name the kubeconfig
    /// Secret template and the clusters it fails for.
    pub fn of(fleet: &Fleet) -> Result<Option<Management>, Diagnostics> {
        let Some(settings) = &fleet.spec.management else {
            return Ok(None);
        };
        let template = &settings.kubeconfig_secret;
        let mut out = Diagnostics::default();
        let mut targets = BTreeMap::new();
        for cluster in fleet.clusters.iter().filter(|c| reachable(c, settings)) {
            match kubeconfig_secret(cluster, &template.value, "spec.management.kubeconfigSecret") {
                Ok(secret) => {
                    targets.insert(
                        cluster.name.clone(),
                        Target {
                            namespace: secret.namespace,
                            kubeconfig_secret: secret.name,
                            bootstrap: Vec::new(),
                        },
                    );
                }
                Err(e) => out.push(
                    Diagnostic::new(Origin::of(&fleet.file, template), format!("cluster {:?}: {e}", cluster.name))
                        .hint("hand-written clusters name their Secret with spec.kubeconfigSecret: {name, namespace}"),
                ),
            }
        }
        out.into_result(Some(Management {
            cluster: settings.cluster.value.clone(),
            targets,
        }))
    }
}

/// Whether the management cluster can reach `cluster` (it is another cluster, with a Cluster
/// API namespace or a `spec.kubeconfigSecret`).
fn reachable(cluster: &Cluster, settings: &crate::model::ManagementSettings) -> bool {
    let capi_namespace = cluster
        .facts
        .get("clusterAPI")
        .and_then(|o| o.get("namespace"))
        .is_some_and(|n| n.is_string());
    cluster.name != settings.cluster.value
        && (capi_namespace || cluster.kubeconfig_secret.is_some())
}

/// The name of the management cluster's object for `name` (a module, or the rendered
/// branch's source name) of `cluster`: `<cluster>.<name>`, which cannot clash since neither
/// holds a dot. Longer than [`MAX_NAME`], it is cut and ends in a hash of the whole name.
pub fn object_name(cluster: &str, name: &str) -> String {
    let full = format!("{cluster}.{name}");
    if full.len() <= MAX_NAME {
        return full;
    }
    let hash = hex::encode(&Sha256::digest(full.as_bytes())[..5]);
    let keep = MAX_NAME - hash.len() - 1;
    let prefix = full[..keep].trim_end_matches(['-', '.']);
    format!("{prefix}-{hash}")
}

/// The objects that make `cluster` follow its folder, applied into it from the management
/// cluster, as two files: the Kustomization on the management cluster (`sync.yaml`), and
/// what it applies (the folder `sync/`): the Secret of the git credentials, if any, and what
/// `fleeet bootstrap` prints. `folder` is the path of `sync/` on the rendered branch. It waits
/// for the cluster's bootstrap modules.
pub fn sync_files(fleet: &Fleet, cluster: &str, target: &Target, folder: &str) -> (String, String) {
    let output = &fleet.spec.output;
    let settings = fleet
        .spec
        .management
        .as_ref()
        .expect("a fleet with a management cluster");
    let source = output.source_name.value.as_str();
    let name = object_name(cluster, source);
    let depends_on: Vec<String> = target
        .bootstrap
        .iter()
        .map(|m| object_name(cluster, m))
        .collect();
    let git_secret = settings.git_secret.as_ref().map(|s| s.value.as_str());
    let substitute_from: Vec<ValuesRef> = git_secret
        .map(|name| ValuesRef {
            kind: "Secret",
            name,
            optional: false,
        })
        .into_iter()
        .collect();
    let path = format!("./{folder}");
    let kustomization = Object {
        api_version: KUSTOMIZE_API,
        kind: "Kustomization",
        metadata: ObjectMeta::remote(&name, &target.namespace, cluster, None, None),
        spec: KustomizationSpec {
            interval: "10m",
            source_ref: SourceRef {
                kind: "GitRepository",
                name: source,
                namespace: Some(&output.namespace.value),
            },
            path: &path,
            prune: true,
            deletion_policy: Some(ORPHAN),
            wait: false,
            timeout: None,
            target_namespace: None,
            kube_config: Some(KubeConfig::secret(&target.kubeconfig_secret)),
            depends_on: depends_on.iter().map(|name| LocalRef { name }).collect(),
            post_build: (!substitute_from.is_empty()).then(|| PostBuild {
                substitute: BTreeMap::new(),
                substitute_from: &substitute_from,
            }),
        },
    };
    let follow = crate::bootstrap::objects(fleet, cluster, &settings.url.value, git_secret);
    let applied = match git_secret {
        Some(secret) => format!(
            "{}---\n{follow}",
            git_credentials(secret, &output.namespace.value)
        ),
        None => follow,
    };
    (to_yaml(&[&kustomization]), applied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::names::{check_dns1123_subdomain, check_label_value};
    use proptest::prelude::*;

    #[test]
    fn short_names_are_cluster_dot_name() {
        assert_eq!(object_name("prod-eu-1", "flux"), "prod-eu-1.flux");
        // No two pairs share a name, even where a dash would blur the boundary.
        assert_ne!(object_name("a-b", "c"), object_name("a", "b-c"));
    }

    proptest! {
        #[test]
        fn names_are_dns_1123_within_63_characters_and_distinct(
            cluster in "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?",
            module in "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?",
            other in "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?",
        ) {
            let name = object_name(&cluster, &module);
            prop_assert!(name.len() <= MAX_NAME, "{name}");
            prop_assert_eq!(check_dns1123_subdomain(&name), Ok(()));
            prop_assert_eq!(check_label_value(&name), Ok(()));
            if other != module {
                prop_assert_ne!(name, object_name(&cluster, &other));
            }
        }
    }
}
