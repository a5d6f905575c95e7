//! One pair's pointer: the Flux objects that pin a module's source at a version on a cluster,
//! written as YAML (see the module documentation of `render` for the files of each kind).

use std::sync::Arc;

use super::flux::*;
use super::{Pointer, Texts};
use crate::content::Content;
use crate::management::Target;
use crate::model::{GitSource, HelmSource, JsonMap, Module, OciSource, Output};
use crate::template::TemplateError;

/// What the objects of one (cluster, module) pair share, its values rendered.
pub(super) struct Pair<'p> {
    pub module: &'p Module,
    pub cluster: &'p str,
    pub version: &'p str,
    /// The name of the pair's source and Kustomization.
    pub name: &'p str,
    pub meta: ObjectMeta<'p>,
    /// Where the management cluster applies it, for a bootstrap module it bootstraps.
    pub target: Option<&'p Target>,
    pub depends_on: Vec<LocalRef<'p>>,
    /// `spec.substituteFrom`, as written in pointers.
    pub references: &'p [ValuesRef<'p>],
    pub values: JsonMap,
    pub output: &'p Output,
    pub applied_from: Option<Arc<str>>,
    pub texts: Texts,
}

impl<'p> Pair<'p> {
    /// A git module: its GitRepository at `tag` and its Kustomization.
    pub fn git(mut self, git: &'p GitSource, tag: String) -> Result<Pointer, TemplateError> {
        let source = Object {
            api_version: SOURCE_API,
            kind: "GitRepository",
            metadata: self.meta,
            spec: GitRepositorySpec {
                interval: self.interval(),
                url: &git.url.value,
                reference: GitReference {
                    branch: None,
                    tag: Some(&tag),
                },
                secret_ref: None,
                sparse_checkout: &[],
            },
        };
        let kustomization = self.kustomization("GitRepository", &git.path)?;
        let main = self.content(to_yaml(&[&source, &kustomization]));
        Ok(self.pointer(tag, main, None))
    }

    /// An OCI module: its OCIRepository at the version and its Kustomization.
    pub fn oci(mut self, oci: &'p OciSource) -> Result<Pointer, TemplateError> {
        let source = Object {
            api_version: SOURCE_API,
            kind: "OCIRepository",
            metadata: self.meta,
            spec: OciRepositorySpec {
                interval: self.interval(),
                url: &oci.url.value,
                reference: OciReference { tag: self.version },
            },
        };
        let kustomization = self.kustomization("OCIRepository", &oci.path)?;
        let main = self.content(to_yaml(&[&source, &kustomization]));
        let revision = self.version.to_string();
        Ok(self.pointer(revision, main, None))
    }

    /// A helm module: a Kustomization of the rendered branch applying its release file, which
    /// holds its HelmRepository and its HelmRelease at the version.
    pub fn helm(mut self, helm: &'p HelmSource) -> Pointer {
        let spec = &self.module.spec;
        let url = &helm.repository.value;
        let repository = Object {
            api_version: SOURCE_API,
            kind: "HelmRepository",
            metadata: self.meta,
            spec: HelmRepositorySpec {
                interval: self.interval(),
                url,
                kind: url.starts_with("oci://").then_some("oci"),
            },
        };
        let target_namespace = spec.target_namespace.as_deref();
        let release = Object {
            api_version: HELM_API,
            kind: "HelmRelease",
            metadata: self.meta,
            spec: HelmReleaseSpec {
                interval: self.interval(),
                chart: HelmChartTemplate {
                    spec: HelmChartSpec {
                        chart: &helm.chart,
                        version: self.version,
                        source_ref: SourceRef {
                            kind: "HelmRepository",
                            name: &self.module.name,
                            namespace: None,
                        },
                    },
                },
                timeout: self.timeout(),
                target_namespace,
                install: target_namespace.map(|_| HelmInstall {
                    create_namespace: true,
                }),
                values_from: self.references,
                values: std::mem::take(&mut self.values),
            },
        };
        let output = self.output;
        let path = format!(
            "./{}/{}/{}",
            output.path.value, self.cluster, self.module.name
        );
        let source = SourceRef {
            kind: "GitRepository",
            name: &output.source_name.value,
            namespace: None,
        };
        let wrapper = self.kustomization_of(source, &path, None, None);
        let main = self.content(to_yaml(&[&wrapper]));
        let release = self.content(to_yaml(&[&repository, &release]));
        let revision = self.version.to_string();
        self.pointer(revision, main, Some(release))
    }

    /// The Kustomization applying `path` of the pair's own source, of `kind`, with the values
    /// as `postBuild.substitute`.
    fn kustomization(
        &mut self,
        kind: &'static str,
        path: &'p str,
    ) -> Result<Object<'p, KustomizationSpec<'p>>, TemplateError> {
        let source = SourceRef {
            kind,
            name: self.name,
            namespace: None,
        };
        let values = std::mem::take(&mut self.values);
        let post_build = post_build(self.module, values, self.references)?;
        let target_namespace = self.module.spec.target_namespace.as_deref();
        Ok(self.kustomization_of(source, path, target_namespace, post_build))
    }

    /// The pair's Kustomization (there is one) of `path` in `source`.
    fn kustomization_of<'o>(
        &mut self,
        source: SourceRef<'o>,
        path: &'o str,
        target_namespace: Option<&'o str>,
        post_build: Option<PostBuild<'o>>,
    ) -> Object<'o, KustomizationSpec<'o>>
    where
        'p: 'o,
    {
        Object {
            api_version: KUSTOMIZE_API,
            kind: "Kustomization",
            metadata: self.meta,
            spec: KustomizationSpec {
                interval: self.interval(),
                source_ref: source,
                path,
                prune: self.module.spec.prune,
                deletion_policy: self.target.map(|_| ORPHAN),
                wait: true,
                timeout: self.timeout(),
                target_namespace,
                kube_config: self
                    .target
                    .map(|t| KubeConfig::secret(&t.kubeconfig_secret)),
                depends_on: std::mem::take(&mut self.depends_on),
                post_build,
            },
        }
    }

    fn interval(&self) -> &'p str {
        self.module.spec.interval.as_str()
    }

    fn timeout(&self) -> Option<&'p str> {
        self.module.spec.timeout.as_ref().map(|t| t.as_str())
    }

    /// A file's text, or its id alone.
    fn content(&self, text: String) -> Content {
        match self.texts {
            Texts::Keep => Content::new(text),
            Texts::Drop => Content::id_of(&text),
        }
    }

    fn pointer(self, revision: String, main: Content, release: Option<Content>) -> Pointer {
        Pointer {
            version: self.version.to_string(),
            revision,
            main,
            release,
            applied_from: self.applied_from,
        }
    }
}

/// The values of a kustomize module as `postBuild.substitute` strings.
fn post_build<'a>(
    module: &Module,
    values: JsonMap,
    substitute_from: &'a [ValuesRef<'a>],
) -> Result<Option<PostBuild<'a>>, TemplateError> {
    let mut substitute = std::collections::BTreeMap::new();
    for (key, value) in values {
        let text = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            other => {
                return Err(TemplateError {
                    origin: module.origin.clone(),
                    path: format!("spec.values.{key}"),
                    message: format!(
                        "is {}, but the values of a kustomization are strings (Flux postBuild.substitute)",
                        match other {
                            serde_json::Value::Null => "null",
                            serde_json::Value::Array(_) => "a list",
                            _ => "a map",
                        }
                    ),
                });
            }
        };
        substitute.insert(key, text);
    }
    if substitute.is_empty() && substitute_from.is_empty() {
        Ok(None)
    } else {
        Ok(Some(PostBuild {
            substitute,
            substitute_from,
        }))
    }
}
