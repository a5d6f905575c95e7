//! Strings a health snapshot repeats, allocated once while it is read.
//!
//! A snapshot of 100,000 clusters holds 1.2 million module entries, and among them a few
//! hundred distinct module names, revisions, reasons and messages: held as their own strings
//! they were a fifth of what `reconcile` holds at that size. Within [`sharing`], each
//! [`Shared`] string read is looked up among those read before and shared.

use std::borrow::Borrow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};

/// A string of a health snapshot: shared with the equal ones read with it (see [`sharing`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shared(Arc<str>);

thread_local! {
    /// The strings read so far by [`sharing`] on this thread, if it is reading.
    static SEEN: RefCell<Option<HashSet<Arc<str>>>> = const { RefCell::new(None) };
}

/// Runs `read`, with the [`Shared`] strings it deserializes on this thread allocated once each.
pub fn sharing<T>(read: impl FnOnce() -> T) -> T {
    SEEN.with(|seen| *seen.borrow_mut() = Some(HashSet::new()));
    let out = read();
    SEEN.with(|seen| *seen.borrow_mut() = None);
    out
}

impl Shared {
    /// `text`, shared with an equal string read before when [`sharing`].
    fn read(text: &str) -> Shared {
        SEEN.with(|seen| match seen.borrow_mut().as_mut() {
            Some(seen) => match seen.get(text) {
                Some(shared) => Shared(shared.clone()),
                None => {
                    let shared: Arc<str> = text.into();
                    seen.insert(shared.clone());
                    Shared(shared)
                }
            },
            None => Shared(text.into()),
        })
    }
}

impl Deref for Shared {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Shared {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Shared {
    fn from(text: &str) -> Shared {
        Shared(text.into())
    }
}

impl From<String> for Shared {
    fn from(text: String) -> Shared {
        Shared(text.into())
    }
}

impl PartialEq<str> for Shared {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Shared {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl Serialize for Shared {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Shared {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Shared, D::Error> {
        struct Text;
        impl Visitor<'_> for Text {
            type Value = Shared;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Shared, E> {
                Ok(Shared::read(text))
            }
        }
        deserializer.deserialize_str(Text)
    }
}

impl JsonSchema for Shared {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        String::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        String::json_schema(generator)
    }

    fn inline_schema() -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_read_together_are_one_allocation() {
        let read = || serde_json::from_str::<Vec<Shared>>(r#"["a", "b", "a"]"#).unwrap();
        let together = sharing(read);
        assert!(Arc::ptr_eq(&together[0].0, &together[2].0));
        assert_eq!(together[1], "b");
        let apart = read();
        assert!(!Arc::ptr_eq(&apart[0].0, &apart[2].0));
        assert_eq!(apart, together);
        // Escaped strings arrive as owned text: shared too.
        let escaped = sharing(|| serde_json::from_str::<Vec<Shared>>(r#"["\u0061", "a"]"#));
        let escaped = escaped.unwrap();
        assert!(Arc::ptr_eq(&escaped[0].0, &escaped[1].0));
        assert_eq!(serde_json::to_string(&escaped).unwrap(), r#"["a","a"]"#);
    }
}
