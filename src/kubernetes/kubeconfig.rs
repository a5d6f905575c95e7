//! Clients from kubeconfigs held in Secrets. The text is parsed in memory and never written to
//! disk; a kubeconfig that would run a program or read a local file is refused, since whoever
//! can write the Secret must not be able to make fleeet do either.

use std::time::Duration;

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};

/// A client for the cluster the current context of `text` points at, and that cluster's URL.
/// Errors say what is wrong without quoting the kubeconfig, which holds credentials.
pub async fn client_from_kubeconfig_text(
    text: &str,
    timeout: Duration,
) -> Result<(Client, String), String> {
    let kubeconfig = Kubeconfig::from_yaml(text).map_err(|e| match e {
        KubeconfigError::Parse(_) => "the kubeconfig is not valid YAML".to_string(),
        other => format!("the kubeconfig cannot be used: {other}"),
    })?;
    refuse_local_access(&kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| format!("the kubeconfig cannot be used: {e}"))?;
    let server = config.cluster_url.to_string();
    Ok((super::client(config, timeout)?, server))
}

/// Refuses exec plugins, auth providers and paths to local files.
fn refuse_local_access(kubeconfig: &Kubeconfig) -> Result<(), String> {
    for named in &kubeconfig.auth_infos {
        let Some(user) = &named.auth_info else {
            continue;
        };
        let refused = [
            (user.exec.is_some(), "exec"),
            (user.auth_provider.is_some(), "auth-provider"),
            (user.token_file.is_some(), "tokenFile"),
            (user.client_certificate.is_some(), "client-certificate"),
            (user.client_key.is_some(), "client-key"),
        ];
        if let Some((_, field)) = refused.iter().find(|(set, _)| *set) {
            return Err(format!(
                "the kubeconfig's user {:?} uses {field}, which fleeet refuses in kubeconfigs read from Secrets (it would run a program or read a local file); use embedded credentials (token, client-certificate-data)",
                named.name
            ));
        }
    }
    for named in &kubeconfig.clusters {
        if named
            .cluster
            .as_ref()
            .is_some_and(|c| c.certificate_authority.is_some())
        {
            return Err(format!(
                "the kubeconfig's cluster {:?} uses certificate-authority (a local file), which fleeet refuses in kubeconfigs read from Secrets; use certificate-authority-data",
                named.name
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig(server: &str, user: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n{user}"
        )
    }

    fn build(text: &str) -> Result<(), String> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(client_from_kubeconfig_text(text, Duration::from_secs(1)))
            .map(drop)
    }

    #[test]
    fn builds_clients_for_plain_and_tls_servers() {
        let token = "    token: s3cr3t-t0ken\n";
        build(&kubeconfig("http://127.0.0.1:1", token)).unwrap();
        build(&kubeconfig("https://api.example:6443", token)).unwrap();
    }

    #[test]
    fn refuses_programs_and_local_files_without_quoting_secrets() {
        let exec = "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/sh\n      args: [-c, 'curl evil']\n";
        let err = build(&kubeconfig("https://x", exec)).unwrap_err();
        assert!(err.contains("uses exec"), "{err}");
        let file = "    tokenFile: /etc/shadow\n";
        let err = build(&kubeconfig("https://x", file)).unwrap_err();
        assert!(err.contains("tokenFile"), "{err}");
        let err = build("users: [ {token: s3cr3t-t0ken").unwrap_err();
        assert_eq!(err, "the kubeconfig is not valid YAML");
    }
}
