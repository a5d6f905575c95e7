//! The facts an inventory cluster records about its Cluster API `Cluster`, read from either
//! served version: v1beta2 (`spec.topology.classRef`, `status.initialization`, conditions) or
//! v1beta1 (`spec.topology.class`, `status.controlPlaneReady`, `status.infrastructureReady`).

use serde_json::{Value, json};

use crate::model::{FactSource, JsonMap};

/// The facts of `cluster` (a whole Cluster API object as JSON), then the `custom` ones.
/// Fields the object does not have are left out.
pub fn facts(cluster: &Value, custom: &[FactSource]) -> JsonMap {
    let mut facts = JsonMap::new();
    let meta = &cluster["metadata"];
    facts.insert(
        "clusterAPI".into(),
        json!({
            "namespace": meta["namespace"],
            "name": meta["name"],
            "uid": meta["uid"],
        }),
    );
    let topology = &cluster["spec"]["topology"];
    if let Some(version) = topology["version"].as_str() {
        facts.insert("kubernetesVersion".into(), version.into());
    }
    if let Some(class) = topology["classRef"]["name"]
        .as_str()
        .or(topology["class"].as_str())
    {
        facts.insert("class".into(), class.into());
    }
    let endpoint = &cluster["spec"]["controlPlaneEndpoint"];
    if endpoint["host"].as_str().is_some_and(|h| !h.is_empty()) {
        facts.insert(
            "controlPlaneEndpoint".into(),
            json!({ "host": endpoint["host"], "port": endpoint["port"] }),
        );
    }
    let status = &cluster["status"];
    if let Some(phase) = status["phase"].as_str() {
        facts.insert("phase".into(), phase.into());
    }
    let ready = |v1beta2: &str, v1beta1: &str, condition: &str| {
        status["initialization"][v1beta2]
            .as_bool()
            .or(status[v1beta1].as_bool())
            .unwrap_or_else(|| condition_true(status, condition))
    };
    facts.insert(
        "controlPlaneReady".into(),
        ready(
            "controlPlaneInitialized",
            "controlPlaneReady",
            "ControlPlaneInitialized",
        )
        .into(),
    );
    facts.insert(
        "infrastructureReady".into(),
        ready(
            "infrastructureProvisioned",
            "infrastructureReady",
            "InfrastructureReady",
        )
        .into(),
    );
    for fact in custom {
        if let Some(value) = cluster.pointer(&fact.field_path) {
            facts.insert(fact.name.clone(), value.clone());
        }
    }
    facts
}

fn condition_true(status: &Value, kind: &str) -> bool {
    status["conditions"].as_array().is_some_and(|conditions| {
        conditions
            .iter()
            .any(|c| c["type"] == kind && c["status"] == "True")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_v1beta2_clusters() {
        let cluster = json!({
            "apiVersion": "cluster.x-k8s.io/v1beta2",
            "kind": "Cluster",
            "metadata": {"name": "prod-1", "namespace": "fleet", "uid": "u-1"},
            "spec": {
                "controlPlaneEndpoint": {"host": "10.0.0.1", "port": 6443},
                "topology": {"classRef": {"name": "standard"}, "version": "v1.33.2",
                             "variables": [{"name": "region", "value": "eu-west-1"}]}
            },
            "status": {
                "phase": "Provisioned",
                "initialization": {"controlPlaneInitialized": true},
                "conditions": [{"type": "InfrastructureReady", "status": "True"}]
            }
        });
        let custom = [
            FactSource {
                name: "region".into(),
                field_path: "/spec/topology/variables/0/value".into(),
            },
            FactSource {
                name: "absent".into(),
                field_path: "/spec/nothing".into(),
            },
        ];
        assert_eq!(
            Value::Object(facts(&cluster, &custom)),
            json!({
                "clusterAPI": {"namespace": "fleet", "name": "prod-1", "uid": "u-1"},
                "kubernetesVersion": "v1.33.2",
                "class": "standard",
                "controlPlaneEndpoint": {"host": "10.0.0.1", "port": 6443},
                "phase": "Provisioned",
                "controlPlaneReady": true,
                "infrastructureReady": true,
                "region": "eu-west-1"
            })
        );
    }

    #[test]
    fn reads_v1beta1_clusters() {
        let cluster = json!({
            "metadata": {"name": "old", "namespace": "default", "uid": "u-2"},
            "spec": {"controlPlaneEndpoint": {"host": "", "port": 0},
                     "topology": {"class": "legacy", "version": "v1.30.1"}},
            "status": {"phase": "Provisioning", "controlPlaneReady": false,
                       "infrastructureReady": true}
        });
        let facts = facts(&cluster, &[]);
        assert_eq!(facts["class"], "legacy");
        assert_eq!(facts["controlPlaneReady"], false);
        assert_eq!(facts["infrastructureReady"], true);
        assert!(!facts.contains_key("controlPlaneEndpoint"));
    }
}
