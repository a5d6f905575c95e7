//! Whole numbers in fleet files, read with an error that says what was expected (the YAML
//! parser alone says only "invalid u32").

use std::fmt;
use std::num::NonZeroU32;

use serde::Deserializer;
use serde::de::{Error, Unexpected, Visitor};

/// A whole number of at least `min`.
struct WholeNumber {
    min: u32,
}

impl Visitor<'_> for WholeNumber {
    type Value = u32;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.min {
            0 => f.write_str("a whole number, like 10"),
            min => write!(f, "a whole number of at least {min}, like 32"),
        }
    }

    fn visit_u64<E: Error>(self, value: u64) -> Result<u32, E> {
        u32::try_from(value)
            .ok()
            .filter(|&n| n >= self.min)
            .ok_or_else(|| E::invalid_value(Unexpected::Unsigned(value), &self))
    }

    fn visit_i64<E: Error>(self, value: i64) -> Result<u32, E> {
        match u64::try_from(value) {
            Ok(value) => self.visit_u64(value),
            Err(_) => Err(E::invalid_value(Unexpected::Signed(value), &self)),
        }
    }

    fn visit_f64<E: Error>(self, value: f64) -> Result<u32, E> {
        Err(E::invalid_value(Unexpected::Float(value), &self))
    }
}

/// For `deserialize_with`: a whole number of at least 1.
pub fn at_least_one<'de, D: Deserializer<'de>>(d: D) -> Result<NonZeroU32, D::Error> {
    let n = d.deserialize_any(WholeNumber { min: 1 })?;
    Ok(NonZeroU32::new(n).expect("at least 1"))
}

/// For `deserialize_with` (with `default`): an optional whole number.
pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    d.deserialize_any(WholeNumber { min: 0 }).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Settings {
        #[serde(deserialize_with = "at_least_one")]
        concurrency: NonZeroU32,
        #[serde(default, deserialize_with = "optional")]
        count: Option<u32>,
    }

    fn read(yaml: &str) -> Result<Settings, String> {
        serde_saphyr::from_str(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn whole_numbers_are_read_and_anything_else_says_what_was_expected() {
        let settings = read("concurrency: 8\ncount: 0").unwrap();
        assert_eq!((settings.concurrency.get(), settings.count), (8, Some(0)));
        assert_eq!(read("concurrency: 8").unwrap().count, None);
        for (yaml, found) in [
            ("concurrency: many", "string \"many\""),
            ("concurrency: 0", "integer `0`"),
            ("concurrency: -3", "integer `-3`"),
            ("concurrency: 2.5", "floating point `2.5`"),
            ("concurrency: 1\ncount: lots", "string \"lots\""),
        ] {
            let error = read(yaml).unwrap_err();
            assert!(error.contains(found), "{yaml}: {error}");
            assert!(error.contains("expected a whole number"), "{yaml}: {error}");
        }
    }
}
