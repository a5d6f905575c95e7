//! Durations in the Go syntax Flux uses (`30s`, `10m`, `1h30m`).

use std::borrow::Cow;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as Flux writes them: one or more `<number><unit>` with units `ms`, `s`,
/// `m`, `h` (for example `10m`, `1h30m`, `1.5h`). Kept as written, so rendering is faithful.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    text: String,
    millis: u64,
}

impl Duration {
    /// Parses a Flux duration, or says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let err = || {
            format!(
                "invalid duration {text:?}: expected a number and a unit (ms, s, m, h), like \"30s\", \"10m\" or \"1h30m\""
            )
        };
        let mut millis = 0f64;
        let mut rest = text;
        if rest.is_empty() {
            return Err(err());
        }
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(err)?;
            let (number, tail) = rest.split_at(digits);
            if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
                return Err(err());
            }
            let number: f64 = number.parse().map_err(|_| err())?;
            let (unit, tail) = if let Some(t) = tail.strip_prefix("ms") {
                (1.0, t)
            } else if let Some(t) = tail.strip_prefix('s') {
                (1_000.0, t)
            } else if let Some(t) = tail.strip_prefix('m') {
                (60_000.0, t)
            } else if let Some(t) = tail.strip_prefix('h') {
                (3_600_000.0, t)
            } else {
                return Err(err());
            };
            millis += number * unit;
            rest = tail;
        }
        if !millis.is_finite() || millis > u64::MAX as f64 {
            return Err(err());
        }
        Ok(Duration {
            text: text.to_string(),
            millis: millis as u64,
        })
    }

    /// The duration as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The duration as a standard library one.
    pub fn to_std(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.millis)
    }

    /// Length in whole seconds (rounded down).
    pub fn seconds(&self) -> i64 {
        (self.millis / 1000) as i64
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Duration::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$",
            "description": "A Go duration as Flux uses them, like \"30s\", \"10m\" or \"1h30m\"."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flux_durations() {
        assert_eq!(Duration::parse("10m").unwrap().seconds(), 600);
        assert_eq!(Duration::parse("1h30m").unwrap().seconds(), 5400);
        assert_eq!(Duration::parse("1.5h").unwrap().seconds(), 5400);
        assert_eq!(Duration::parse("1500ms").unwrap().seconds(), 1);
        assert_eq!(Duration::parse("0s").unwrap().seconds(), 0);
        assert_eq!(Duration::parse("2m3s").unwrap().as_str(), "2m3s");
    }

    #[test]
    fn rejects_other_forms() {
        for bad in [
            "", "10", "m", "10 m", "1d", "-1s", ".5s", "5.s", "10min", "1h 30m",
        ] {
            let err = Duration::parse(bad).unwrap_err();
            assert!(err.contains("invalid duration"), "{bad}: {err}");
        }
    }
}
