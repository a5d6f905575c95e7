//! Talking to Kubernetes API servers: the management cluster (from a kubeconfig file) and the
//! workload clusters (from kubeconfigs kept in Secrets of the management cluster, held in memory
//! only). The commands that need the network start a tokio runtime ([`runtime`]); nothing else
//! in fleeet does.

mod kubeconfig;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::Error;
use crate::model::names::{check_dns1123_label, check_dns1123_subdomain};
pub use kubeconfig::client_from_kubeconfig_text;

/// The label every Flux object fleeet renders carries, with the value `fleeet`.
pub const MANAGED_BY_SELECTOR: &str = "app.kubernetes.io/managed-by=fleeet";

/// Which kubeconfig reaches the management cluster: a file and a context in it, or (both
/// unset) the usual places — `KUBECONFIG`, `~/.kube/config`, then the in-cluster service account.
#[derive(Clone, Debug, Default)]
pub struct Target {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
}

/// A client of the management cluster and the namespace its kubeconfig context names.
pub struct Management {
    pub client: Client,
    pub namespace: String,
}

/// A runtime for the network calls of one command.
pub fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io(&PathBuf::from("tokio runtime"), e))
}

/// Connects to the management cluster. `timeout` bounds how long the server may stay silent
/// while answering one request.
pub async fn connect(target: &Target, timeout: Duration) -> Result<Management, Error> {
    let options = KubeConfigOptions {
        context: target.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match &target.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path).map_err(|e| Error::Kubernetes {
                message: format!("cannot read the kubeconfig {}: {e}", path.display()),
                hint: Some("--kubeconfig names a kubeconfig file, like ~/.kube/config".into()),
            })?;
            Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| no_config(e.to_string()))?
        }
        None if target.context.is_some() => Config::from_kubeconfig(&options)
            .await
            .map_err(|e| no_config(e.to_string()))?,
        None => Config::infer()
            .await
            .map_err(|e| no_config(e.to_string()))?,
    };
    let namespace = config.default_namespace.clone();
    let client = client(config, timeout).map_err(|message| Error::Kubernetes {
        message: format!("cannot make a client for the management cluster: {message}"),
        hint: None,
    })?;
    Ok(Management { client, namespace })
}

fn no_config(detail: String) -> Error {
    Error::Kubernetes {
        message: format!("no usable kubeconfig for the management cluster: {detail}"),
        hint: Some(
            "pass --kubeconfig PATH (and --context NAME), set KUBECONFIG, or run inside the cluster"
                .into(),
        ),
    }
}

/// A client for `config` whose requests fail when the server stays silent for `timeout`. It
/// does not retry (kube's default retries a busy server for minutes): a run fails fast, and
/// the next run tries again.
fn client(mut config: Config, timeout: Duration) -> Result<Client, String> {
    config.default_retry = false;
    config.read_timeout = Some(timeout);
    config.reset_reader_on_write = true;
    config.connect_timeout = Some(timeout);
    Client::try_from(config).map_err(|e| describe(&e))
}

/// What went wrong talking to an API server, in a few words and without credentials: the
/// status of an API error (`forbidden: ...`, `not found: ...`), or why the server could not be
/// reached.
pub fn describe(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => {
            let what = match status.code {
                401 => "unauthorized".to_string(),
                403 => "forbidden".to_string(),
                404 => "not found".to_string(),
                code if status.reason.is_empty() => format!("the server answered {code}"),
                code => format!("the server answered {code} {}", status.reason),
            };
            if status.message.is_empty() {
                what
            } else {
                format!("{what}: {}", status.message)
            }
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            format!("unreachable: {}", sources(error))
        }
        kube::Error::SerdeError(e) => format!("the server's answer cannot be read: {e}"),
        other => other.to_string(),
    }
}

/// The messages of an error's sources, joined, skipping repeats.
fn sources(error: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = error.source();
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    if parts.is_empty() {
        error.to_string()
    } else {
        parts.join(": ")
    }
}

/// Whether an API error is a 404.
pub fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

/// The kind of Kubernetes name a template must produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    /// A DNS-1123 label (fleeet cluster names, which become folder names).
    Label,
    /// A DNS-1123 subdomain (Secret and ConfigMap names).
    Subdomain,
}

/// Renders the name template `template` (the fleet.yaml field `field`) for a Cluster API
/// cluster, with `name`, `namespace` and `labels` in scope, and checks the result.
pub fn render_name(
    template: &str,
    field: &str,
    kind: NameKind,
    name: &str,
    namespace: &str,
    labels: &BTreeMap<String, String>,
) -> Result<String, String> {
    let env = crate::template::sandbox();
    let rendered = env
        .render_str(
            template,
            minijinja::context! { name => name, namespace => namespace, labels => labels },
        )
        .map_err(|e| {
            format!(
                "{field} {template:?} cannot be rendered for {namespace}/{name}: {}",
                e.detail().unwrap_or(&e.kind().to_string())
            )
        })?;
    let checked = match kind {
        NameKind::Label => check_dns1123_label(&rendered),
        NameKind::Subdomain => check_dns1123_subdomain(&rendered),
    };
    checked.map_err(|e| {
        format!("{field} {template:?} gives {rendered:?} for {namespace}/{name}, which {e}")
    })?;
    Ok(rendered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_render_from_the_cluster_api_cluster() {
        let labels = BTreeMap::from([("region".to_string(), "eu".to_string())]);
        let name = |template| {
            render_name(
                template,
                "spec.inventory.name",
                NameKind::Label,
                "prod-1",
                "fleet-prod",
                &labels,
            )
        };
        assert_eq!(name("{{ name }}").unwrap(), "prod-1");
        assert_eq!(
            name("{{ namespace }}-{{ labels.region }}-{{ name }}").unwrap(),
            "fleet-prod-eu-prod-1"
        );
        let err = name("{{ namespace }}/{{ name }}").unwrap_err();
        assert!(err.contains("\"fleet-prod/prod-1\""), "{err}");
        let err = name("{{ nmae }}").unwrap_err();
        assert!(
            err.contains("spec.inventory.name") && err.contains("nmae"),
            "{err}"
        );
        assert!(
            render_name(
                "{{ name }}.kubeconfig",
                "f",
                NameKind::Subdomain,
                "a",
                "b",
                &labels
            )
            .is_ok()
        );
    }

    #[test]
    fn api_errors_read_as_words() {
        let status = kube::core::Status::failure(
            "secrets \"a-kubeconfig\" is forbidden: User \"x\" cannot get resource",
            "Forbidden",
        )
        .with_code(403);
        let text = describe(&kube::Error::Api(status.boxed()));
        assert!(
            text.starts_with("forbidden: secrets \"a-kubeconfig\""),
            "{text}"
        );
        let status = kube::core::Status::failure("boom", "InternalError").with_code(500);
        assert_eq!(
            describe(&kube::Error::Api(status.boxed())),
            "the server answered 500 InternalError: boom"
        );
    }
}
