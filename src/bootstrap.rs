//! What a new cluster needs applied once to follow its folder on the rendered branch.

use crate::model::Fleet;
use crate::render::flux::*;

/// The GitRepository (sparse to the cluster's own folder) and root Kustomization that make
/// Flux on `cluster` follow `<path>/<cluster>` on the rendered branch at `url`.
pub fn objects(fleet: &Fleet, cluster: &str, url: &str, secret: Option<&str>) -> String {
    let output = &fleet.spec.output;
    let name = output.source_name.value.as_str();
    let namespace = output.namespace.value.as_str();
    let folder = [format!("{}/{cluster}", output.path.value)];
    let path = format!("./{}", folder[0]);
    let source = Object {
        api_version: SOURCE_API,
        kind: "GitRepository",
        metadata: ObjectMeta::plain(name, namespace),
        spec: GitRepositorySpec {
            interval: "1m",
            url,
            reference: GitReference {
                branch: Some(&output.branch.value),
                tag: None,
            },
            secret_ref: secret.map(|name| LocalRef { name }),
            sparse_checkout: &folder,
        },
    };
    let kustomization = Object {
        api_version: KUSTOMIZE_API,
        kind: "Kustomization",
        metadata: ObjectMeta::plain(name, namespace),
        spec: KustomizationSpec {
            interval: "10m",
            source_ref: SourceRef {
                kind: "GitRepository",
                name,
                namespace: None,
            },
            path: &path,
            prune: true,
            deletion_policy: None,
            wait: false,
            timeout: None,
            target_namespace: None,
            kube_config: None,
            depends_on: Vec::new(),
            post_build: None,
        },
    };
    to_yaml(&[&source, &kustomization])
}
