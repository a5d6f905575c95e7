//! Kubernetes JSON as the management and workload clusters answer it: Cluster API clusters and
//! ConfigMaps into inventory files (which must read back as written), Flux objects into module
//! health.
//!
//! The input is a JSON object `{"clusters": [...], "configMaps": {...}, "kustomizations":
//! [...], "helmReleases": [...]}`; missing parts are empty.

#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use fleeet::model::{ClusterDocument, InventorySettings, JsonMap};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let list = |key: &str| input[key].as_array().cloned().unwrap_or_default();
    let clusters = list("clusters");
    let mut config_maps: BTreeMap<(String, String), JsonMap> = BTreeMap::new();
    for (key, data) in input["configMaps"].as_object().into_iter().flatten() {
        let (namespace, name) = key.split_once('/').unwrap_or(("default", key));
        let values: JsonMap = fleeet::inventory::string_map(data)
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        config_maps.insert((namespace.into(), name.into()), values);
    }
    let settings = InventorySettings {
        values_config_map: Some("{{ name }}-fleeet".into()),
        annotations: vec!["example.com/owner".into()],
        ..InventorySettings::default()
    };
    match fleeet::inventory::files(&clusters, &config_maps, &settings, &"fleet.yaml".into()) {
        Ok(files) => {
            for (path, text) in &files {
                let docs: Vec<ClusterDocument> =
                    serde_saphyr::from_multiple_with_options(text, fleeet::load::yaml_options())
                        .unwrap_or_else(|e| panic!("{path} reads back: {e}\n{text}"));
                assert_eq!(docs.len(), 1, "{text}");
                let name = path.strip_suffix(".yaml").unwrap();
                assert_eq!(docs[0].metadata.name.value, name);
                // The values read back are those of the ConfigMap, types included.
                let namespace = clusters
                    .iter()
                    .filter(|c| c["metadata"]["deletionTimestamp"].is_null())
                    .find(|c| c["metadata"]["name"] == name)
                    .and_then(|c| c["metadata"]["namespace"].as_str());
                if let Some(namespace) = namespace {
                    let key = (namespace.to_string(), format!("{name}-fleeet"));
                    let values = config_maps.get(&key).cloned().unwrap_or_default();
                    assert_eq!(docs[0].spec.values, values, "{text}");
                }
            }
        }
        Err(diagnostics) => {
            let _ = diagnostics.to_string();
        }
    }
    let helm: BTreeSet<String> = ["monitoring".to_string()].into();
    let _ = fleeet::health::flux::modules(&list("kustomizations"), &list("helmReleases"), &helm);
});
