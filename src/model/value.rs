//! Free-form values (module values, value files) that remember where each entry was written, so a
//! template error can name its file, line and column.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_saphyr::{Location, Spanned};

/// A YAML value whose list items and map entries carry their source location.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    List(Vec<Spanned<Value>>),
    Map(ValueMap),
}

/// A map of values, each with the location it was written at.
pub type ValueMap = BTreeMap<String, Spanned<Value>>;

impl Value {
    /// The value without locations.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::Value::Number(n.clone()),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(items) => items.iter().map(|i| i.value.to_json()).collect(),
            Value::Map(map) => serde_json::Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), v.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// A value from JSON data, with unknown locations (for values made by code, not read).
    pub fn from_json(json: &serde_json::Value) -> Value {
        let spanned = |value| Spanned {
            value,
            referenced: Location::UNKNOWN,
            defined: Location::UNKNOWN,
        };
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.clone()),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::List(items.iter().map(|i| spanned(Value::from_json(i))).collect())
            }
            serde_json::Value::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), spanned(Value::from_json(v))))
                    .collect(),
            ),
        }
    }
}

/// Merges `overlay` into `base`: maps merge key by key, recursively; anything else in `overlay`
/// replaces what `base` had.
pub fn deep_merge(base: &mut ValueMap, overlay: &ValueMap) {
    for (key, value) in overlay {
        match (base.get_mut(key), &value.value) {
            (Some(existing), Value::Map(over)) if matches!(existing.value, Value::Map(_)) => {
                if let Value::Map(inner) = &mut existing.value {
                    deep_merge(inner, over);
                }
            }
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Merges JSON objects the same way as [`deep_merge`].
pub fn deep_merge_json(
    base: &mut serde_json::Map<String, serde_json::Value>,
    overlay: &serde_json::Map<String, serde_json::Value>,
) {
    for (key, value) in overlay {
        match (base.get_mut(key), value) {
            (Some(serde_json::Value::Object(inner)), serde_json::Value::Object(over)) => {
                deep_merge_json(inner, over)
            }
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("{v} is not a finite number")))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Value>>()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = ValueMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<Spanned<Value>>()?;
            entries.insert(key, value);
        }
        Ok(Value::Map(entries))
    }
}

impl Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl JsonSchema for Value {
    fn schema_name() -> Cow<'static, str> {
        "Value".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "description": "Any YAML value." })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ValueMap {
        serde_saphyr::from_str(text).unwrap()
    }

    #[test]
    fn remembers_where_each_entry_was_written() {
        let map = parse("a: 1\nb:\n  c: \"x\"\n  d: [true, ~]\n");
        assert_eq!(map["a"].referenced.line(), 1);
        let Value::Map(b) = &map["b"].value else {
            panic!("b is a map")
        };
        assert_eq!(b["c"].value, Value::String("x".into()));
        assert_eq!(
            (b["c"].referenced.line(), b["c"].referenced.column()),
            (3, 6)
        );
        assert_eq!(
            map["b"].value.to_json(),
            serde_json::json!({"c": "x", "d": [true, null]})
        );
    }

    #[test]
    fn deep_merge_merges_maps_and_replaces_the_rest() {
        let mut base = parse("a: {x: 1, y: [1, 2]}\nb: keep\n");
        deep_merge(&mut base, &parse("a: {y: [3], z: 2}\nc: new\n"));
        let json = Value::Map(base).to_json();
        assert_eq!(
            json,
            serde_json::json!({"a": {"x": 1, "y": [3], "z": 2}, "b": "keep", "c": "new"})
        );
    }
}
