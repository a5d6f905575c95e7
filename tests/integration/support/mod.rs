//! Helpers shared by the integration tests.

pub mod kube;
pub mod objects;

use std::path::{Path, PathBuf};

use self::kube::{FakeCluster, Server, capi_clusters};

/// The token the management cluster's kubeconfig carries.
pub const MANAGEMENT_TOKEN: &str = "mgmt-token-1";

/// A management cluster serving Cluster API `Cluster` at `versions` (the first preferred).
pub fn management(versions: &[&'static str]) -> FakeCluster {
    let cluster = FakeCluster::new();
    for (i, version) in versions.iter().enumerate() {
        cluster.serve(capi_clusters(version), i == 0);
    }
    cluster.require_token(MANAGEMENT_TOKEN);
    cluster
}

/// Starts `cluster` and writes a kubeconfig for it (context namespace `namespace`) into `dir`.
pub fn kubeconfig_file(dir: &Path, cluster: &FakeCluster, namespace: &str) -> PathBuf {
    let server = Server::start(cluster);
    let text = objects::kubeconfig(&server.url(), MANAGEMENT_TOKEN).replace(
        "    user: workload-admin\n",
        &format!("    user: workload-admin\n    namespace: {namespace}\n"),
    );
    let path = dir.join("mgmt.kubeconfig");
    std::fs::write(&path, text).unwrap();
    path
}

/// A fleet repository with `fleet.yaml` holding `spec`, and the other `files` (path, text).
pub fn fleet(spec: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let spec = if spec.is_empty() {
        "spec: {}\n".to_string()
    } else {
        format!("spec:\n{spec}")
    };
    let text =
        format!("apiVersion: fleeet.dev/v1alpha1\nkind: Fleet\nmetadata:\n  name: acme\n{spec}");
    std::fs::write(dir.path().join("fleet.yaml"), text).unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// The fleeet binary, with no CI variable leaking in from the environment.
pub fn fleeet() -> assert_cmd::Command {
    let mut command = assert_cmd::Command::cargo_bin("fleeet").unwrap();
    command.env_remove("KUBECONFIG").env("HOME", "/nonexistent");
    command
}
