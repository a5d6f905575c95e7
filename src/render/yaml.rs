//! A fast writer for the block YAML that serde-saphyr writes, limited to the shapes pointer files
//! are made of: non-empty maps and lists, integers, booleans, and strings whose YAML form is
//! certain from their characters alone. [`write`] refuses anything else, and the caller then
//! lets serde-saphyr write the whole document, so the output is the same byte for byte either
//! way (the tests compare the two on random documents).
//!
//! Why: serde-saphyr decides the quoting of every scalar with general (and slow) checks; a
//! fleet render writes millions of small, plain scalars.

use std::fmt::Write as _;

use serde::ser::{self, Serialize};

/// The document is outside what this writer handles; write it with serde-saphyr instead.
#[derive(Debug)]
pub struct Unsupported;

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a plain document")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Unsupported
    }
}

type Result<T = ()> = std::result::Result<T, Unsupported>;

/// Serializer methods that refuse scalars of these types.
macro_rules! refuse {
    ($($method:ident: $ty:ty),* $(,)?) => {
        $(fn $method(self, _: $ty) -> Result {
            Err(Unsupported)
        })*
    };
}

/// Serializer methods that refuse `None`, unit values and newtype wrappers.
macro_rules! refuse_empty_and_wrapped {
    () => {
        fn serialize_none(self) -> Result {
            Err(Unsupported)
        }

        fn serialize_unit(self) -> Result {
            Err(Unsupported)
        }

        fn serialize_unit_struct(self, _: &'static str) -> Result {
            Err(Unsupported)
        }

        fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result {
            Err(Unsupported)
        }

        fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, _: &T) -> Result {
            Err(Unsupported)
        }

        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result {
            Err(Unsupported)
        }
    };
}

/// Appends `value` as one YAML document to `out`, exactly as `serde_saphyr::to_fmt_writer`
/// would, or fails (leaving partial output behind) when `value` holds something else.
pub fn write<T: Serialize + ?Sized>(out: &mut String, value: &T) -> Result {
    value.serialize(Value {
        out,
        place: Place::Top,
    })
}

/// How a string is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Plain,
    /// In double quotes; the strings given this style need no escapes.
    Quoted,
}

/// Words YAML 1.1 or 1.2 reads as something other than a string (compared ignoring case).
const AMBIGUOUS_WORDS: [&str; 11] = [
    "null", "true", "false", "yes", "no", "on", "off", "y", "n", "nan", "inf",
];

fn ambiguous_word(s: &str) -> bool {
    AMBIGUOUS_WORDS.iter().any(|w| s.eq_ignore_ascii_case(w))
}

/// The style of a string in value position, when it is certain; `None` leaves the document to
/// serde-saphyr.
fn value_style(s: &str) -> Option<Style> {
    let bytes = s.as_bytes();
    // Longer strings may be folded; the empty string is quoted.
    if bytes.is_empty() || bytes.len() > 80 {
        return None;
    }
    let known = |b: &u8| b.is_ascii_alphanumeric() || b"._/:@-".contains(b);
    match bytes[0] {
        // An alias indicator: never plain.
        b'*' => bytes[1..].iter().all(known).then_some(Style::Quoted),
        _ if !bytes.iter().all(known) || bytes.ends_with(b":") => None,
        b'a'..=b'z' | b'A'..=b'Z' => Some(if ambiguous_word(s) {
            Style::Quoted
        } else {
            Style::Plain
        }),
        // A relative path is never a number or a document marker.
        b'.' if s.starts_with("./") => Some(Style::Plain),
        b'0'..=b'9' => digit_style(s),
        _ => None,
    }
}

/// The style of a string of [`value_style`]'s characters starting with a digit: numbers are
/// quoted; a string is plain when one of its characters cannot be part of a YAML 1.1 number,
/// base-60 number, timestamp or radix literal.
fn digit_style(s: &str) -> Option<Style> {
    let bytes = s.as_bytes();
    if bytes.iter().all(|b| b.is_ascii_digit() || *b == b'.') {
        return Some(Style::Quoted);
    }
    let radix = bytes.len() > 1 && bytes[0] == b'0' && b"bBoOxX".contains(&bytes[1]);
    let numeric_byte = |b: &u8| b.is_ascii_digit() || b".eE+-".contains(b);
    if radix || s.contains(['_', ':']) || bytes.iter().all(numeric_byte) {
        return None;
    }
    Some(Style::Plain)
}

/// Whether a mapping key is written plain (keys outside this set are left to serde-saphyr).
fn plain_key(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"_./-".contains(b))
        && !ambiguous_word(s)
}

/// Where the next node goes.
#[derive(Clone, Copy)]
enum Place {
    /// The document itself.
    Top,
    /// After `key:` written at this depth.
    AfterKey(usize),
    /// After `- ` written at this depth.
    AfterDash(usize),
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// Serializes one node.
struct Value<'a> {
    out: &'a mut String,
    place: Place,
}

impl<'a> Value<'a> {
    fn scalar(self, text: &str, style: Style) -> Result {
        match self.place {
            Place::Top => return Err(Unsupported),
            Place::AfterKey(_) => self.out.push(' '),
            Place::AfterDash(_) => {}
        }
        match style {
            Style::Plain => self.out.push_str(text),
            Style::Quoted => {
                self.out.push('"');
                self.out.push_str(text);
                self.out.push('"');
            }
        }
        self.out.push('\n');
        Ok(())
    }

    fn integer(self, v: impl std::fmt::Display) -> Result {
        let mut text = String::new();
        let _ = write!(text, "{v}");
        self.scalar(&text, Style::Plain)
    }

    fn map(self) -> Map<'a> {
        let (depth, inline_first) = match self.place {
            Place::Top => (0, false),
            Place::AfterKey(depth) => {
                self.out.push('\n');
                (depth + 1, false)
            }
            Place::AfterDash(depth) => (depth + 1, true),
        };
        Map {
            out: self.out,
            depth,
            inline_first,
            entries: 0,
        }
    }
}

/// A mapping being written: keys at `depth`; the first key inline after a dash.
struct Map<'a> {
    out: &'a mut String,
    depth: usize,
    inline_first: bool,
    entries: usize,
}

impl Map<'_> {
    fn key(&mut self, key: &str) -> Result {
        if !plain_key(key) {
            return Err(Unsupported);
        }
        if !(self.inline_first && self.entries == 0) {
            indent(self.out, self.depth);
        }
        self.out.push_str(key);
        self.out.push(':');
        self.entries += 1;
        Ok(())
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        value.serialize(Value {
            out: self.out,
            place: Place::AfterKey(self.depth),
        })
    }

    fn end(self) -> Result {
        if self.entries == 0 {
            Err(Unsupported)
        } else {
            Ok(())
        }
    }
}

/// A sequence being written: dashes at `depth`.
struct Seq<'a> {
    out: &'a mut String,
    depth: usize,
    items: usize,
}

impl Seq<'_> {
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        indent(self.out, self.depth);
        self.out.push_str("- ");
        self.items += 1;
        value.serialize(Value {
            out: self.out,
            place: Place::AfterDash(self.depth),
        })
    }

    fn end(self) -> Result {
        if self.items == 0 {
            Err(Unsupported)
        } else {
            Ok(())
        }
    }
}

impl<'a> ser::Serializer for Value<'a> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = ser::Impossible<(), Unsupported>;
    type SerializeTupleStruct = ser::Impossible<(), Unsupported>;
    type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
    type SerializeMap = Map<'a>;
    type SerializeStruct = Map<'a>;
    type SerializeStructVariant = ser::Impossible<(), Unsupported>;

    fn serialize_bool(self, v: bool) -> Result {
        self.scalar(if v { "true" } else { "false" }, Style::Plain)
    }

    fn serialize_i8(self, v: i8) -> Result {
        self.integer(v)
    }

    fn serialize_i16(self, v: i16) -> Result {
        self.integer(v)
    }

    fn serialize_i32(self, v: i32) -> Result {
        self.integer(v)
    }

    fn serialize_i64(self, v: i64) -> Result {
        self.integer(v)
    }

    fn serialize_u8(self, v: u8) -> Result {
        self.integer(v)
    }

    fn serialize_u16(self, v: u16) -> Result {
        self.integer(v)
    }

    fn serialize_u32(self, v: u32) -> Result {
        self.integer(v)
    }

    fn serialize_u64(self, v: u64) -> Result {
        self.integer(v)
    }

    refuse!(
        serialize_f32: f32,
        serialize_f64: f64,
        serialize_char: char,
        serialize_bytes: &[u8],
    );

    fn serialize_str(self, v: &str) -> Result {
        let style = value_style(v).ok_or(Unsupported)?;
        self.scalar(v, style)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }

    refuse_empty_and_wrapped!();

    fn serialize_seq(self, len: Option<usize>) -> Result<Seq<'a>> {
        let depth = match self.place {
            Place::Top => 0,
            Place::AfterKey(depth) if len != Some(0) => {
                self.out.push('\n');
                depth
            }
            _ => return Err(Unsupported),
        };
        Ok(Seq {
            out: self.out,
            depth,
            items: 0,
        })
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(Unsupported)
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(Unsupported)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(Unsupported)
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Map<'a>> {
        if len == Some(0) {
            return Err(Unsupported);
        }
        Ok(self.map())
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Map<'a>> {
        Ok(self.map())
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(Unsupported)
    }
}

impl ser::SerializeSeq for Seq<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.item(value)
    }

    fn end(self) -> Result {
        Seq::end(self)
    }
}

impl ser::SerializeMap for Map<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        key.serialize(KeyText(self))
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.value(value)
    }

    fn end(self) -> Result {
        Map::end(self)
    }
}

impl ser::SerializeStruct for Map<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result {
        self.key(key)?;
        self.value(value)
    }

    fn end(self) -> Result {
        Map::end(self)
    }
}

/// Writes a map key, which must be a string.
struct KeyText<'m, 'a>(&'m mut Map<'a>);

impl ser::Serializer for KeyText<'_, '_> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = ser::Impossible<(), Unsupported>;
    type SerializeTuple = ser::Impossible<(), Unsupported>;
    type SerializeTupleStruct = ser::Impossible<(), Unsupported>;
    type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
    type SerializeMap = ser::Impossible<(), Unsupported>;
    type SerializeStruct = ser::Impossible<(), Unsupported>;
    type SerializeStructVariant = ser::Impossible<(), Unsupported>;

    fn serialize_str(self, v: &str) -> Result {
        self.0.key(v)
    }

    refuse!(
        serialize_bool: bool,
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
        serialize_f32: f32,
        serialize_f64: f64,
        serialize_char: char,
        serialize_bytes: &[u8],
    );

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result {
        Err(Unsupported)
    }

    refuse_empty_and_wrapped!();

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(Unsupported)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(Unsupported)
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(Unsupported)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(Unsupported)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
        Err(Unsupported)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        Err(Unsupported)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value as Json, json};

    fn saphyr(value: &impl Serialize) -> String {
        let mut out = String::new();
        serde_saphyr::to_fmt_writer(&mut out, value).unwrap();
        out
    }

    fn fast(value: &impl Serialize) -> Option<String> {
        let mut out = String::new();
        write(&mut out, value).ok().map(|()| out)
    }

    #[test]
    fn writes_what_serde_saphyr_writes() {
        let doc = json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "metadata": {"name": "a", "labels": {"app.kubernetes.io/managed-by": "fleeet"},
                         "annotations": {"fleeet.dev/version": "1.2.0"}},
            "spec": {
                "path": "./clusters/a/b", "prune": true, "replicas": 3, "neg": -2,
                "dependsOn": [{"name": "x"}, {"name": "y"}],
                "env": [{"name": "CLUSTER", "value": "v1.2"}, {"name": "N", "value": "*.a.b"}],
                "substitute": {"cluster_name": "a-1", "retention": "15d", "interval": "1h30m"},
                "list": ["a", "10m", "1.5", "yes"],
                "nested": {"deeper": {"deepest": [{"k": {"x": "y"}, "l": ["a"]}]}},
            },
        });
        assert_eq!(fast(&doc).as_deref(), Some(saphyr(&doc).as_str()));
    }

    #[test]
    fn writes_options_and_skipped_fields_as_serde_saphyr_does() {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Spec {
            timeout: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            target_namespace: Option<String>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            depends_on: Vec<String>,
            labels: std::collections::BTreeMap<&'static str, String>,
        }
        let spec = Spec {
            timeout: Some("10m".into()),
            target_namespace: None,
            depends_on: Vec::new(),
            labels: [("fleeet.dev/module", "a".to_string())].into(),
        };
        assert_eq!(fast(&spec).as_deref(), Some(saphyr(&spec).as_str()));
    }

    #[test]
    fn refuses_what_it_cannot_be_sure_of() {
        for doc in [
            json!({"a": ""}),
            json!({"a": "x y"}),
            json!({"a": "1e5"}),
            json!({"a": "0x1f"}),
            json!({"a": "2026-01-01"}),
            json!({"a": "1_000"}),
            json!({"a": "12:30"}),
            json!({"a": "a:"}),
            json!({"a": "multi\nline"}),
            json!({"a": "x".repeat(81)}),
            json!({"a": 1.5}),
            json!({"a": null}),
            json!({"a": {}}),
            json!({"a": []}),
            json!({"a": [[1]]}),
            json!({"true": 1}),
            json!({"a b": 1}),
            json!("top-level scalar"),
        ] {
            assert_eq!(fast(&doc), None, "{doc}");
        }
    }

    fn arb_string() -> impl Strategy<Value = String> {
        prop_oneof![
            8 => "[a-zA-Z][a-zA-Z0-9._/:@-]{0,12}",
            4 => "[a-zA-Z0-9._/:@*-]{0,12}",
            4 => "[0-9][0-9.eExXbBoO_:+-]{0,6}[a-z]?",
            1 => prop::sample::select(vec!["true", "No", "inf", ".inf", "./x", "...", "2026-01-02", "1e5", "0x1F", "12:30"]).prop_map(String::from),
            1 => "[ -~]{0,10}",
        ]
    }

    fn arb_key() -> impl Strategy<Value = String> {
        prop_oneof![
            8 => "[a-zA-Z][a-zA-Z0-9._/-]{0,8}",
            1 => "[ -~]{1,6}",
            1 => Just("y".to_string()),
        ]
    }

    /// Documents the fast writer mostly takes; `odd` weighs leaves it must refuse.
    fn arb_json(odd: u32) -> impl Strategy<Value = Json> {
        let plain = prop_oneof![
            "[a-zA-Z][a-zA-Z0-9._/:@-]{0,12}",
            "[0-9][0-9.a-z/-]{0,6}",
            "\\*[a-z.]{1,8}",
        ];
        let leaf = prop_oneof![
            8 => plain.prop_map(Json::String),
            odd => arb_string().prop_map(Json::String),
            2 => any::<i64>().prop_map(Json::from),
            1 => any::<bool>().prop_map(Json::Bool),
            odd => prop_oneof![Just(Json::Null), Just(json!(1.5)), Just(json!({})), Just(json!([]))],
        ];
        leaf.prop_recursive(4, 40, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..4).prop_map(Json::Array),
                prop::collection::btree_map(
                    prop_oneof![8 => "[a-z][a-zA-Z0-9._/-]{0,8}", odd => arb_key()],
                    inner,
                    1..4
                )
                .prop_map(|m| Json::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn agrees_with_serde_saphyr_whenever_it_writes(
            map in prop::collection::btree_map(arb_key(), arb_json(1), 1..5)
        ) {
            let doc = Json::Object(map.into_iter().collect());
            if let Some(text) = fast(&doc) {
                prop_assert_eq!(text, saphyr(&doc));
            }
        }

        #[test]
        fn agrees_with_serde_saphyr_on_plain_documents(
            map in prop::collection::btree_map("[a-z][a-zA-Z0-9._/-]{0,8}", arb_json(0), 1..5)
        ) {
            let doc = Json::Object(map.into_iter().collect());
            if let Some(text) = fast(&doc) {
                prop_assert_eq!(text, saphyr(&doc));
            }
        }

        #[test]
        fn agrees_on_every_string_it_styles(s in arb_string()) {
            let doc = json!({"key": s, "list": [s]});
            if let Some(text) = fast(&doc) {
                prop_assert_eq!(text, saphyr(&doc));
            }
        }
    }
}
