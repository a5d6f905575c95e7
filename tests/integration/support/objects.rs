//! Kubernetes objects as real servers return them, shaped after the Cluster API (v1beta1,
//! v1beta2) and Flux (kustomize v1, helm v2) CRDs.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use serde_json::{Value, json};

const CREATED: &str = "2026-10-01T08:00:00Z";

fn metadata(namespace: &str, name: &str, labels: &[(&str, &str)]) -> Value {
    let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
    json!({
        "name": name, "namespace": namespace, "uid": format!("0f3c{:0>4}-uid-{name}", name.len()),
        "generation": 2, "creationTimestamp": CREATED, "labels": labels,
    })
}

/// A Cluster API v1beta2 `Cluster` built from a ClusterClass, provisioned.
pub fn cluster_v1beta2(namespace: &str, name: &str, labels: &[(&str, &str)]) -> Value {
    let condition = |kind: &str, reason: &str| {
        json!({"type": kind, "status": "True", "reason": reason, "message": "",
               "lastTransitionTime": "2026-10-01T08:12:00Z", "observedGeneration": 2})
    };
    json!({
        "apiVersion": "cluster.x-k8s.io/v1beta2",
        "kind": "Cluster",
        "metadata": metadata(namespace, name, labels),
        "spec": {
            "clusterNetwork": {"pods": {"cidrBlocks": ["192.168.0.0/16"]},
                               "services": {"cidrBlocks": ["10.128.0.0/12"]},
                               "serviceDomain": "cluster.local"},
            "controlPlaneEndpoint": {"host": format!("{name}.api.example"), "port": 6443},
            "controlPlaneRef": {"apiGroup": "controlplane.cluster.x-k8s.io",
                                "kind": "KubeadmControlPlane", "name": format!("{name}-cp")},
            "infrastructureRef": {"apiGroup": "infrastructure.cluster.x-k8s.io",
                                  "kind": "DockerCluster", "name": name},
            "topology": {
                "classRef": {"name": "standard"},
                "version": "v1.33.2",
                "controlPlane": {"replicas": 3},
                "workers": {"machineDeployments": [{"class": "default-worker", "name": "md-0", "replicas": 3}]},
                "variables": [{"name": "region", "value": "eu-west-1"}]
            }
        },
        "status": {
            "conditions": [
                condition("Available", "Available"),
                condition("InfrastructureReady", "Ready"),
                condition("ControlPlaneInitialized", "Initialized"),
                condition("ControlPlaneAvailable", "Available"),
            ],
            "initialization": {"infrastructureProvisioned": true, "controlPlaneInitialized": true},
            "controlPlane": {"desiredReplicas": 3, "replicas": 3, "readyReplicas": 3,
                             "availableReplicas": 3, "upToDateReplicas": 3},
            "workers": {"desiredReplicas": 3, "replicas": 3, "readyReplicas": 3,
                        "availableReplicas": 3, "upToDateReplicas": 3},
            "phase": "Provisioned",
            "observedGeneration": 2,
            "deprecated": {"v1beta1": {"conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-10-01T08:12:00Z"}
            ]}}
        }
    })
}

/// A Cluster API v1beta1 `Cluster` (older management clusters), still provisioning its
/// control plane.
pub fn cluster_v1beta1(namespace: &str, name: &str, labels: &[(&str, &str)]) -> Value {
    json!({
        "apiVersion": "cluster.x-k8s.io/v1beta1",
        "kind": "Cluster",
        "metadata": metadata(namespace, name, labels),
        "spec": {
            "clusterNetwork": {"pods": {"cidrBlocks": ["192.168.0.0/16"]}},
            "controlPlaneEndpoint": {"host": "", "port": 0},
            "controlPlaneRef": {"apiVersion": "controlplane.cluster.x-k8s.io/v1beta1",
                                "kind": "KubeadmControlPlane", "name": format!("{name}-cp"),
                                "namespace": namespace},
            "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
                                  "kind": "AWSCluster", "name": name, "namespace": namespace},
            "topology": {"class": "legacy", "version": "v1.31.4",
                         "workers": {"machineDeployments": [{"class": "default-worker", "name": "md-0"}]}}
        },
        "status": {
            "conditions": [
                {"type": "Ready", "status": "False", "severity": "Info", "reason": "WaitingForControlPlane",
                 "lastTransitionTime": "2026-10-01T08:02:00Z"},
                {"type": "InfrastructureReady", "status": "True", "lastTransitionTime": "2026-10-01T08:05:00Z"}
            ],
            "controlPlaneReady": false,
            "infrastructureReady": true,
            "phase": "Provisioning",
            "observedGeneration": 2,
            "v1beta2": {"conditions": []}
        }
    })
}

/// A ConfigMap holding `data`.
pub fn config_map(namespace: &str, name: &str, data: &[(&str, &str)]) -> Value {
    let data: BTreeMap<&str, &str> = data.iter().copied().collect();
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": metadata(namespace, name, &[]),
        "data": data,
    })
}

/// A kubeconfig reaching `server` with a bearer token.
pub fn kubeconfig(server: &str, token: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: workload
  cluster:
    server: {server}
contexts:
- name: workload-admin@workload
  context:
    cluster: workload
    user: workload-admin
current-context: workload-admin@workload
users:
- name: workload-admin
  user:
    token: {token}
"
    )
}

/// The Cluster API kubeconfig Secret (`<cluster>-kubeconfig`, key `value`) of a cluster.
pub fn kubeconfig_secret(namespace: &str, name: &str, server: &str, token: &str) -> Value {
    let secret = Secret {
        type_: Some("cluster.x-k8s.io/secret".into()),
        data: Some(BTreeMap::from([(
            "value".to_string(),
            ByteString(kubeconfig(server, token).into_bytes()),
        )])),
        ..Secret::default()
    };
    let mut value = serde_json::to_value(secret).unwrap();
    value["apiVersion"] = json!("v1");
    value["kind"] = json!("Secret");
    value["metadata"] = metadata(namespace, name, &[("cluster.x-k8s.io/cluster-name", name)]);
    value
}

/// The state a Flux object is in.
#[derive(Clone, Copy, Debug)]
pub enum Flux {
    /// Ready at the revision.
    Healthy,
    /// Reconciling a new revision.
    Progressing,
    /// `Ready=False` with a failure reason, never reconciled successfully: as kustomize-controller
    /// does, `status.observedGeneration` is `-1` and the condition carries the generation.
    Failed,
    /// `Stalled=True`.
    Stalled,
    /// `Ready=True` for a generation older than the object's.
    StaleGeneration,
}

fn flux_conditions(state: Flux, success: &str, failure: &str, message: &str) -> (Value, i64) {
    let at = "2026-11-21T09:40:00Z";
    let ready_of = |generation: i64, status: &str, reason: &str, message: &str| {
        json!({"type": "Ready", "status": status, "reason": reason, "message": message,
               "lastTransitionTime": at, "observedGeneration": generation})
    };
    let ready = |status: &str, reason: &str, message: &str| ready_of(3, status, reason, message);
    match state {
        Flux::Healthy => (json!([ready("True", success, message)]), 3),
        Flux::Progressing => (
            json!([
                {"type": "Reconciling", "status": "True", "reason": "Progressing",
                 "message": "Reconciliation in progress", "lastTransitionTime": at, "observedGeneration": 3},
                ready("Unknown", "Progressing", "Reconciliation in progress"),
            ]),
            3,
        ),
        Flux::Failed => (
            json!([ready(
                "False",
                failure,
                "timeout waiting for: [Deployment/ingress/controller status: 'InProgress']\n"
            )]),
            -1,
        ),
        Flux::Stalled => (
            json!([
                {"type": "Stalled", "status": "True", "reason": "InvalidPath",
                 "message": "path './deploy' not found", "lastTransitionTime": at, "observedGeneration": 3},
                ready("False", "InvalidPath", "path './deploy' not found"),
            ]),
            3,
        ),
        Flux::StaleGeneration => (json!([ready_of(2, "True", success, message)]), 2),
    }
}

fn flux_metadata(namespace: &str, module: &str, version: &str) -> Value {
    let mut meta = metadata(
        namespace,
        module,
        &[
            ("app.kubernetes.io/managed-by", "fleeet"),
            ("fleeet.dev/module", module),
        ],
    );
    meta["generation"] = json!(3);
    meta["annotations"] = json!({"fleeet.dev/version": version});
    meta["finalizers"] = json!(["finalizers.fluxcd.io"]);
    meta
}

/// The Kustomization of a git or OCI module whose source is at `revision`.
pub fn kustomization(namespace: &str, module: &str, revision: &str, state: Flux) -> Value {
    let message = format!("Applied revision: {revision}");
    let (conditions, observed) = flux_conditions(
        state,
        "ReconciliationSucceeded",
        "HealthCheckFailed",
        &message,
    );
    let version = revision.split('@').next().unwrap_or(revision);
    json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": flux_metadata(namespace, module, version),
        "spec": {"interval": "10m", "path": "./", "prune": true,
                 "sourceRef": {"kind": "GitRepository", "name": module}},
        "status": {
            "conditions": conditions,
            "lastAppliedRevision": revision,
            "lastAttemptedRevision": revision,
            "observedGeneration": observed,
            "inventory": {"entries": [{"id": format!("{module}_controller_apps_Deployment"), "v": "v1"}]}
        }
    })
}

/// The wrapper Kustomization of a helm module (it applies the HelmRelease from the rendered
/// branch), ready.
pub fn helm_wrapper(namespace: &str, module: &str, cluster: &str) -> Value {
    let mut wrapper = kustomization(
        namespace,
        module,
        "fleeet/rendered@sha1:9f8e7d6c",
        Flux::Healthy,
    );
    wrapper["spec"]["path"] = json!(format!("./clusters/{cluster}/{module}"));
    wrapper["spec"]["sourceRef"]["name"] = json!("fleeet");
    wrapper
}

/// The HelmRelease of a helm module that runs (or tried) `chart_version`.
pub fn helm_release(namespace: &str, module: &str, chart_version: &str, state: Flux) -> Value {
    let message = format!(
        "Helm upgrade succeeded for release {module}/{module}.v4 with chart {module}@{chart_version}"
    );
    let (conditions, observed) =
        flux_conditions(state, "UpgradeSucceeded", "UpgradeFailed", &message);
    json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": flux_metadata(namespace, module, chart_version),
        "spec": {"interval": "10m", "chart": {"spec": {"chart": module, "version": chart_version,
                 "sourceRef": {"kind": "HelmRepository", "name": module}}}},
        "status": {
            "conditions": conditions,
            "history": [{
                "chartName": module, "chartVersion": chart_version, "appVersion": "v0.75.0",
                "configDigest": "sha256:1f2e3d", "digest": "sha256:4c5b6a",
                "firstDeployed": "2026-10-02T10:00:00Z", "lastDeployed": "2026-11-21T09:39:00Z",
                "name": module, "namespace": module, "status": "deployed", "version": 4
            }],
            "lastAttemptedRevision": chart_version,
            "lastAttemptedConfigDigest": "sha256:1f2e3d",
            "lastAttemptedGeneration": observed,
            "lastAttemptedReleaseAction": "upgrade",
            "observedGeneration": observed,
            "storageNamespace": module,
            "helmChart": format!("{namespace}/{namespace}-{module}")
        }
    })
}
