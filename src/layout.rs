//! The layout of the rendered branch: which file holds what.
//!
//! ```text
//! <path>/<cluster>/kustomization.yaml     lists the cluster's module files
//! <path>/<cluster>/<module>.yaml          the module's pointer
//! <path>/<cluster>/<module>/release.yaml  the HelmRepository + HelmRelease of a helm module
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::render::flux::KustomizeFile;
use crate::render::{Pointer, Rendered};

/// Files by path (relative, `/`-separated) with their content.
pub type Files = BTreeMap<String, Arc<str>>;

/// The name of each cluster folder's kustomize file.
pub const KUSTOMIZATION: &str = "kustomization.yaml";

/// Every file of `rendered`, with its clusters under `path`.
pub fn files(rendered: &Rendered, path: &str) -> Files {
    let mut files = Files::new();
    for (cluster, modules) in &rendered.clusters {
        let dir = format!("{path}/{cluster}");
        files.insert(
            format!("{dir}/{KUSTOMIZATION}"),
            kustomization(modules).into(),
        );
        for (module, pointer) in modules {
            files.insert(format!("{dir}/{module}.yaml"), pointer.main.clone());
            if let Some(release) = &pointer.release {
                files.insert(format!("{dir}/{module}/release.yaml"), release.clone());
            }
        }
    }
    files
}

/// The `kustomization.yaml` of a cluster folder.
pub fn kustomization(modules: &BTreeMap<String, Pointer>) -> String {
    let file = KustomizeFile {
        api_version: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources: modules.keys().map(|m| format!("{m}.yaml")).collect(),
    };
    crate::render::flux::to_yaml(&[&file])
}
