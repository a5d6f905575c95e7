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
pub struct Object<S> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: S,
}

#[derive(Clone, Serialize)]
pub struct ObjectMeta {
    pub name: String,
    pub namespace: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<&'static str, String>,
}

impl ObjectMeta {
    /// Metadata of an object of `module` at `version`.
    pub fn module(name: &str, namespace: &str, version: &str) -> Self {
        ObjectMeta {
            name: name.to_string(),
            namespace: namespace.to_string(),
            labels: BTreeMap::from([
                (MANAGED_BY_LABEL, "fleeet".to_string()),
                (MODULE_LABEL, name.to_string()),
            ]),
            annotations: BTreeMap::from([(VERSION_ANNOTATION, version.to_string())]),
        }
    }

    /// Metadata without fleeet labels (for the objects `fleeet bootstrap` prints).
    pub fn plain(name: &str, namespace: &str) -> Self {
        ObjectMeta {
            name: name.to_string(),
            namespace: namespace.to_string(),
            labels: BTreeMap::from([(MANAGED_BY_LABEL, "fleeet".to_string())]),
            annotations: BTreeMap::new(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GitRepositorySpec {
    pub interval: String,
    pub url: String,
    #[serde(rename = "ref")]
    pub reference: GitReference,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sparse_checkout: Vec<String>,
}

#[derive(Serialize)]
pub struct GitReference {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

#[derive(Serialize)]
pub struct OciRepositorySpec {
    pub interval: String,
    pub url: String,
    #[serde(rename = "ref")]
    pub reference: OciReference,
}

#[derive(Serialize)]
pub struct OciReference {
    pub tag: String,
}

#[derive(Serialize)]
pub struct HelmRepositorySpec {
    pub interval: String,
    pub url: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KustomizationSpec {
    pub interval: String,
    pub source_ref: SourceRef,
    pub path: String,
    pub prune: bool,
    pub wait: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_namespace: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<LocalRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_build: Option<PostBuild>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PostBuild {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub substitute: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub substitute_from: Vec<ValuesRef>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmReleaseSpec {
    pub interval: String,
    pub chart: HelmChartTemplate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub install: Option<HelmInstall>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values_from: Vec<ValuesRef>,
    #[serde(skip_serializing_if = "JsonMap::is_empty")]
    pub values: JsonMap,
}

#[derive(Serialize)]
pub struct HelmChartTemplate {
    pub spec: HelmChartSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartSpec {
    pub chart: String,
    pub version: String,
    pub source_ref: SourceRef,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmInstall {
    pub create_namespace: bool,
}

#[derive(Serialize)]
pub struct SourceRef {
    pub kind: &'static str,
    pub name: String,
}

#[derive(Serialize)]
pub struct LocalRef {
    pub name: String,
}

#[derive(Serialize)]
pub struct ValuesRef {
    pub kind: &'static str,
    pub name: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
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
    let mut out = String::new();
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
