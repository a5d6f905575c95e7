//! JSON Schemas of the fleet documents, generated from the Rust types.

use schemars::{JsonSchema, generate::SchemaSettings};

use crate::model::{ClusterDocument, FleetDocument, ModuleDocument};

/// Every schema as (file name, JSON text), in the order they are listed.
pub fn schemas() -> Vec<(&'static str, String)> {
    vec![
        ("fleet.json", schema::<FleetDocument>()),
        ("cluster.json", schema::<ClusterDocument>()),
        ("module.json", schema::<ModuleDocument>()),
    ]
}

fn schema<T: JsonSchema>() -> String {
    let schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<T>();
    let mut text = serde_json::to_string_pretty(&schema).expect("schemas serialize");
    text.push('\n');
    text
}
