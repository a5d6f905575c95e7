//! The Flux objects fleeet writes, as typed documents. Field order is the order written, so the
//! output is canonical.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::JsonMap;

pub const SOURCE_API: &str = "source.toolkit.fluxcd.io/v1";
pub const KUSTOMIZE_API: &str = "kustomize.toolkit.fluxcd.io/v1";
pub const HELM_API: &str = "helm.toolkit.fluxcd.io/v2";

/// The label naming the module an object belongs to.
pub const MODULE_LABEL: &str = "fleeet.dev/module";
/// The annotation holding the module version an object pins.
pub const VERSION_ANNOTATION: &str = "fleeet.dev/version";
/// The standard label saying which tool manages an object.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// A Kubernetes object: `apiVersion`, `kind`, `metadata`, `spec`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<'a, S> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta<'a>,
    pub spec: S,
}

/// Name and namespace, with the `managed-by` label; objects of a module also carry the module
/// label and the version annotation.
#[derive(Clone, Copy, Serialize)]
pub struct ObjectMeta<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub labels: Labels<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Annotations<'a>>,
}

/// `app.kubernetes.io/managed-by: fleeet`; `fleeet.dev/cluster` for objects of the management
/// cluster that bootstrap another cluster; `fleeet.dev/module` for objects of a module.
#[derive(Clone, Copy)]
pub struct Labels<'a> {
    pub cluster: Option<&'a str>,
    pub module: Option<&'a str>,
}

/// `fleeet.dev/version`.
#[derive(Clone, Copy)]
pub struct Annotations<'a> {
    pub version: &'a str,
}

impl Serialize for Labels<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let cluster = self.cluster.map(|c| (crate::management::CLUSTER_LABEL, c));
        let module = self.module.map(|m| (MODULE_LABEL, m));
        serializer.collect_map(
            [(MANAGED_BY_LABEL, "fleeet")]
                .into_iter()
                .chain(cluster)
                .chain(module),
        )
    }
}

impl Serialize for Annotations<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map([(VERSION_ANNOTATION, self.version)])
    }
}

impl<'a> ObjectMeta<'a> {
    /// Metadata of an object of `module` at `version`.
    pub fn module(name: &'a str, namespace: &'a str, version: &'a str) -> Self {
        ObjectMeta {
            name,
            namespace,
            labels: Labels {
                cluster: None,
                module: Some(name),
            },
            annotations: Some(Annotations { version }),
        }
    }

    /// Metadata of an object of the management cluster, named `name` in `namespace`, that
    /// bootstraps `cluster`: with `module` at `version`, or the sync of its folder.
    pub fn remote(
        name: &'a str,
        namespace: &'a str,
        cluster: &'a str,
        module: Option<&'a str>,
        version: Option<&'a str>,
    ) -> Self {
        ObjectMeta {
            name,
            namespace,
            labels: Labels {
                cluster: Some(cluster),
                module,
            },
            annotations: version.map(|version| Annotations { version }),
        }
    }

    /// Metadata without fleeet labels (for the objects `fleeet bootstrap` prints).
    pub fn plain(name: &'a str, namespace: &'a str) -> Self {
        ObjectMeta {
            name,
            namespace,
            labels: Labels {
                cluster: None,
                module: None,
            },
            annotations: None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositorySpec<'a> {
    pub interval: &'a str,
    pub url: &'a str,
    #[serde(rename = "ref")]
    pub reference: GitReference<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalRef<'a>>,
    #[serde(skip_serializing_if = "is_empty")]
    pub sparse_checkout: &'a [String],
}

#[derive(Serialize)]
pub struct GitReference<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<&'a str>,
}

#[derive(Serialize)]
pub struct OciRepositorySpec<'a> {
    pub interval: &'a str,
    pub url: &'a str,
    #[serde(rename = "ref")]
    pub reference: OciReference<'a>,
}

#[derive(Serialize)]
pub struct OciReference<'a> {
    pub tag: &'a str,
}

#[derive(Serialize)]
pub struct HelmRepositorySpec<'a> {
    pub interval: &'a str,
    pub url: &'a str,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KustomizationSpec<'a> {
    pub interval: &'a str,
    pub source_ref: SourceRef<'a>,
    pub path: &'a str,
    pub prune: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<&'static str>,
    pub wait: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_namespace: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kube_config: Option<KubeConfig<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<LocalRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_build: Option<PostBuild<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostBuild<'a> {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub substitute: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "is_empty")]
    pub substitute_from: &'a [ValuesRef<'a>],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmReleaseSpec<'a> {
    pub interval: &'a str,
    pub chart: HelmChartTemplate<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_namespace: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub install: Option<HelmInstall>,
    #[serde(skip_serializing_if = "is_empty")]
    pub values_from: &'a [ValuesRef<'a>],
    #[serde(skip_serializing_if = "JsonMap::is_empty")]
    pub values: JsonMap,
}

#[derive(Serialize)]
pub struct HelmChartTemplate<'a> {
    pub spec: HelmChartSpec<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartSpec<'a> {
    pub chart: &'a str,
    pub version: &'a str,
    pub source_ref: SourceRef<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmInstall {
    pub create_namespace: bool,
}

#[derive(Clone, Copy, Serialize)]
pub struct SourceRef<'a> {
    pub kind: &'static str,
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<&'a str>,
}

/// `deletionPolicy: Orphan`: deleting the Kustomization leaves what it applied in place, and
/// its finalizer never needs to reach the cluster it applied to.
pub const ORPHAN: &str = "Orphan";

/// `spec.kubeConfig` of a Kustomization applying to another cluster.
#[derive(Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeConfig<'a> {
    pub secret_ref: SecretKeyRef<'a>,
}

impl<'a> KubeConfig<'a> {
    /// The kubeconfig under the key `value` of the Secret `name` (as Cluster API writes it).
    pub fn secret(name: &'a str) -> Self {
        KubeConfig {
            secret_ref: SecretKeyRef { name, key: "value" },
        }
    }
}

#[derive(Clone, Copy, Serialize)]
pub struct SecretKeyRef<'a> {
    pub name: &'a str,
    pub key: &'static str,
}

/// The Secret of the git credentials, `name` in `namespace`, whose `username` and `password`
/// Flux substitutes (`postBuild.substituteFrom`) from a Secret of the management cluster.
/// Written by hand to keep the variables double-quoted, so any token stays a string.
pub fn git_credentials(name: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {namespace}\ntype: Opaque\nstringData:\n  username: \"${{username}}\"\n  password: \"${{password}}\"\n"
    )
}

#[derive(Clone, Copy, Serialize)]
pub struct LocalRef<'a> {
    pub name: &'a str,
}

#[derive(Clone, Copy, Serialize)]
pub struct ValuesRef<'a> {
    pub kind: &'static str,
    pub name: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

fn is_empty<T>(items: &&[T]) -> bool {
    items.is_empty()
}

/// The kustomize `kustomization.yaml` listing a cluster's module files.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KustomizeFile {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub resources: Vec<String>,
}

/// Writes documents as one YAML stream, `---` between them.
pub fn to_yaml(documents: &[&dyn erased::Document]) -> String {
    let mut out = String::with_capacity(1024);
    for (i, doc) in documents.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        doc.write_yaml(&mut out);
    }
    out
}

/// Lets objects of different spec types go into one stream.
pub mod erased {
    use serde::Serialize;

    pub trait Document {
        fn write_yaml(&self, out: &mut String);
    }

    impl<T: Serialize> Document for T {
        /// The fast writer when it can, serde-saphyr otherwise: the same bytes either way.
        fn write_yaml(&self, out: &mut String) {
            let start = out.len();
            if super::super::yaml::write(out, self).is_err() {
                out.truncate(start);
                serde_saphyr::to_fmt_writer(out, self).expect("Flux objects serialize to YAML");
            }
        }
    }
}
