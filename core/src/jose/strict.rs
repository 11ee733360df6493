//! Strict JSON objects: `serde_json` keeps the *last* of two equal member
//! names, so `{"iss":"a","iss":"b"}` would slip through an ordinary parse and
//! two JWT implementations could disagree on what a token says. This visitor
//! builds a [`serde_json::Value`] exactly like `serde_json` does, except that
//! a repeated member name (after unescaping, at any depth) is an error.
//!
//! It is a serde visitor over `serde_json`'s own parser, not a JSON parser:
//! syntax, escapes, numbers and the recursion limit stay `serde_json`'s job.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Why a byte string is not an acceptable JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrictError {
    /// Not JSON, trailing data, not an object, or nested too deeply.
    Syntax,
    /// A member name occurs twice in one object.
    DuplicateKey,
}

/// A JSON value whose objects have unique member names.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

/// The only error this visitor raises itself. `serde_json` reports errors
/// raised by a visitor as `Category::Data`; plain JSON parsing into an untyped
/// value never produces a data error of its own, which is how we tell them
/// apart without looking at messages.
const DUPLICATE: &str = "duplicate member name";

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        // serde_json only produces finite floats.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(DUPLICATE));
            }
            let StrictValue(value) = access.next_value()?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

/// Parse `bytes` as one JSON object with unique member names at every depth.
/// Whitespace around the object is allowed (RFC 8259); anything else is not.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, StrictError> {
    match serde_json::from_slice::<StrictValue>(bytes) {
        Ok(StrictValue(Value::Object(map))) => Ok(map),
        Ok(_) => Err(StrictError::Syntax),
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            Err(StrictError::DuplicateKey)
        }
        Err(_) => Err(StrictError::Syntax),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_objects() {
        let m = parse_object(br#" {"a":1,"b":[true,null,"x",{"c":-2.5}]} "#).expect("valid");
        assert_eq!(m.len(), 2);
        assert_eq!(m["a"], Value::from(1));
    }

    #[test]
    fn refuses_duplicates_at_any_depth_and_after_unescaping() {
        for bad in [
            &br#"{"a":1,"a":2}"#[..],
            br#"{"a":1,"\u0061":2}"#,
            br#"{"x":{"b":1,"b":1}}"#,
            br#"{"x":[{"b":1,"b":1}]}"#,
        ] {
            assert_eq!(parse_object(bad), Err(StrictError::DuplicateKey));
        }
    }

    #[test]
    fn refuses_non_objects_and_garbage() {
        for bad in [
            &b"[1]"[..],
            b"\"s\"",
            b"",
            b"{",
            br#"{"a":1}x"#,
            br#"{"a":1}{}"#,
            br#"{'a':1}"#,
            b"{\"a\":1,}",
            // Invalid escapes are syntax errors, not mistaken for duplicates.
            br#"{"\ud800":1}"#,
            br#"{"a":"\ud800"}"#,
            br#"{"a":"\x"}"#,
            b"{\"a\":\"\xff\"}",
            b"{\"a\":1e999}",
        ] {
            assert_eq!(parse_object(bad), Err(StrictError::Syntax));
        }
    }

    #[test]
    fn deep_nesting_is_a_syntax_error_not_a_crash() {
        let mut s = String::from("{\"a\":");
        for _ in 0..1000 {
            s.push('[');
        }
        assert_eq!(parse_object(s.as_bytes()), Err(StrictError::Syntax));
    }
}
