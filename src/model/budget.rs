//! Failure budgets: a count or a percentage of a wave's clusters, Kubernetes style.

use std::borrow::Cow;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `2` (clusters) or `"5%"` (of the wave's clusters, rounded down).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    Count(u32),
    Percent(u32),
}

/// None allowed: today's behaviour.
impl Default for Budget {
    fn default() -> Self {
        Budget::Count(0)
    }
}

impl Budget {
    /// How many of a wave of `clusters` clusters this allows.
    pub fn of(self, clusters: usize) -> usize {
        match self {
            Budget::Count(n) => n as usize,
            Budget::Percent(p) => clusters * p as usize / 100,
        }
    }

    /// Parses `"5%"` or `"2"`.
    pub fn parse(text: &str) -> Result<Budget, String> {
        let err = || {
            format!(
                "invalid budget {text:?}: expected a count like 2 or a percentage like \"5%\" (0% to 100%)"
            )
        };
        let (digits, percent) = match text.strip_suffix('%') {
            Some(digits) => (digits, true),
            None => (text, false),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let n: u32 = digits.parse().map_err(|_| err())?;
        match percent {
            true if n > 100 => Err(err()),
            true => Ok(Budget::Percent(n)),
            false => Ok(Budget::Count(n)),
        }
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Budget::Count(n) => write!(f, "{n}"),
            Budget::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl<'de> Deserialize<'de> for Budget {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Budget;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a count like 2 or a percentage like \"5%\"")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Budget, E> {
                u32::try_from(n)
                    .map(Budget::Count)
                    .map_err(|_| E::custom(format!("budget {n} is too large")))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Budget, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(E::custom(format!("budget {n} must not be negative"))),
                }
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Budget, E> {
                Budget::parse(text).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Serialize for Budget {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Budget::Count(n) => serializer.serialize_u32(*n),
            Budget::Percent(_) => serializer.serialize_str(&self.to_string()),
        }
    }
}

impl JsonSchema for Budget {
    fn schema_name() -> Cow<'static, str> {
        "Budget".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "oneOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": "^(100|[1-9]?[0-9])%$"}
            ],
            "description": "A count of clusters (2) or a percentage of the wave's clusters (\"5%\", rounded down)."
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_percentages_rounded_down() {
        assert_eq!(Budget::parse("2").unwrap().of(10), 2);
        assert_eq!(Budget::parse("5%").unwrap().of(39), 1);
        assert_eq!(Budget::parse("5%").unwrap().of(19), 0);
        assert_eq!(Budget::parse("100%").unwrap().of(7), 7);
        let parsed: Budget = serde_saphyr::from_str("3").unwrap();
        assert_eq!(parsed, Budget::Count(3));
        let parsed: Budget = serde_saphyr::from_str("\"3%\"").unwrap();
        assert_eq!(parsed, Budget::Percent(3));
    }

    #[test]
    fn rejects_other_forms() {
        for bad in ["", "%", "101%", "-1", "1.5", "five", "5 %", "+5%"] {
            assert!(Budget::parse(bad).is_err(), "{bad}");
        }
        assert!(serde_saphyr::from_str::<Budget>("-2").is_err());
    }
}
