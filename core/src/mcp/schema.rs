//! A small JSON Schema (2020-12 / draft-07 subset) validator for tool input
//! and output schemas.
//!
//! Supported keywords: `type`, `enum`, `const`, `properties`, `required`,
//! `additionalProperties`, `items`, `minItems`, `maxItems`, `minLength`,
//! `maxLength`, `minimum`, `maximum`, `anyOf`, `oneOf`, `allOf`, `not`, and
//! `$ref` to a local `#/$defs/…` or `#/definitions/…`. Other keywords
//! (`format`, `pattern`, `description`, …) are annotations here and accept
//! every value. Network `$ref`s are never dereferenced: they fail validation.
//!
//! Work is bounded: at most `max_depth` nested schema applications and
//! [`STEP_BUDGET`] schema applications per validation (a composition-heavy
//! schema cannot turn into a denial of service).

use alloc::format;
use alloc::string::String;

use serde_json::{Map, Value};

/// Most schema applications per validation.
pub const STEP_BUDGET: usize = 20_000;

/// A validation failure: where, and what was expected. Both are safe to
/// show to the client (they describe the client's own input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// JSON Pointer into the instance.
    pub path: String,
    /// What went wrong.
    pub message: &'static str,
}

impl core::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.path.is_empty() {
            f.write_str(self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Validate `instance` against `schema` (whose `$ref`s resolve in `schema`).
pub fn validate(schema: &Value, instance: &Value, max_depth: usize) -> Result<(), SchemaError> {
    validate_with_root(schema, schema, instance, max_depth)
}

/// Validate `instance` against `schema`, resolving `$ref`s in `root`.
pub fn validate_with_root(
    root: &Value,
    schema: &Value,
    instance: &Value,
    max_depth: usize,
) -> Result<(), SchemaError> {
    let mut v = Validator {
        root,
        steps: 0,
        max_depth,
    };
    let mut path = String::new();
    v.check(schema, instance, &mut path, 0)
}

struct Validator<'r> {
    root: &'r Value,
    steps: usize,
    max_depth: usize,
}

fn err(path: &str, message: &'static str) -> SchemaError {
    SchemaError {
        path: path.into(),
        message,
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => {
            v.is_i64()
                || v.is_u64()
                || v.as_f64()
                    .is_some_and(|f| f.is_finite() && f.abs() < 9.0e15 && f == (f as i64) as f64)
        }
        _ => false,
    }
}

fn resolve<'r>(root: &'r Value, reference: &str) -> Option<&'r Value> {
    let pointer = reference.strip_prefix('#')?;
    if pointer.is_empty() {
        return Some(root);
    }
    root.pointer(pointer)
}

impl<'r> Validator<'r> {
    fn check(
        &mut self,
        schema: &'r Value,
        inst: &Value,
        path: &mut String,
        depth: usize,
    ) -> Result<(), SchemaError> {
        self.steps += 1;
        if depth > self.max_depth || self.steps > STEP_BUDGET {
            return Err(err(path, "schema too complex to validate"));
        }
        let s = match schema {
            Value::Bool(true) => return Ok(()),
            Value::Bool(false) => return Err(err(path, "no value is allowed here")),
            Value::Object(s) => s,
            _ => return Err(err(path, "invalid schema")),
        };
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let target = resolve(self.root, r).ok_or_else(|| err(path, "unresolvable $ref"))?;
            self.check(target, inst, path, depth + 1)?;
        }
        if let Some(t) = s.get("type") {
            let ok = match t {
                Value::String(t) => type_matches(t, inst),
                Value::Array(ts) => ts
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|t| type_matches(t, inst)),
                _ => true,
            };
            if !ok {
                return Err(err(path, type_message(t)));
            }
        }
        if let Some(Value::Array(options)) = s.get("enum")
            && !options.iter().any(|o| json_eq(o, inst))
        {
            return Err(err(path, "value is not one of the allowed values"));
        }
        if let Some(c) = s.get("const")
            && !json_eq(c, inst)
        {
            return Err(err(path, "value is not the required constant"));
        }
        self.check_composition(s, inst, path, depth)?;
        match inst {
            Value::Object(obj) => self.check_object(s, obj, path, depth)?,
            Value::Array(items) => {
                let n = items.len() as u64;
                if s.get("minItems")
                    .and_then(Value::as_u64)
                    .is_some_and(|m| n < m)
                {
                    return Err(err(path, "too few items"));
                }
                if s.get("maxItems")
                    .and_then(Value::as_u64)
                    .is_some_and(|m| n > m)
                {
                    return Err(err(path, "too many items"));
                }
                if let Some(item_schema) = s.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        let len = path.len();
                        path.push_str(&format!("/{i}"));
                        self.check(item_schema, item, path, depth + 1)?;
                        path.truncate(len);
                    }
                }
            }
            Value::String(text) => {
                let n = text.chars().count() as u64;
                if s.get("minLength")
                    .and_then(Value::as_u64)
                    .is_some_and(|m| n < m)
                {
                    return Err(err(path, "string too short"));
                }
                if s.get("maxLength")
                    .and_then(Value::as_u64)
                    .is_some_and(|m| n > m)
                {
                    return Err(err(path, "string too long"));
                }
            }
            Value::Number(n) => {
                let x = n.as_f64().unwrap_or(0.0);
                if s.get("minimum")
                    .and_then(Value::as_f64)
                    .is_some_and(|m| x < m)
                {
                    return Err(err(path, "number below minimum"));
                }
                if s.get("maximum")
                    .and_then(Value::as_f64)
                    .is_some_and(|m| x > m)
                {
                    return Err(err(path, "number above maximum"));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn check_composition(
        &mut self,
        s: &'r Map<String, Value>,
        inst: &Value,
        path: &mut String,
        depth: usize,
    ) -> Result<(), SchemaError> {
        if let Some(Value::Array(all)) = s.get("allOf") {
            for sub in all {
                self.check(sub, inst, path, depth + 1)?;
            }
        }
        if let Some(Value::Array(any)) = s.get("anyOf") {
            let mut ok = false;
            for sub in any {
                if self.probe(sub, inst, path, depth)? {
                    ok = true;
                    break;
                }
            }
            if !ok {
                return Err(err(path, "value matches none of the allowed shapes"));
            }
        }
        if let Some(Value::Array(one)) = s.get("oneOf") {
            let mut n = 0;
            for sub in one {
                if self.probe(sub, inst, path, depth)? {
                    n += 1;
                }
            }
            if n != 1 {
                return Err(err(path, "value must match exactly one allowed shape"));
            }
        }
        if let Some(not) = s.get("not")
            && self.probe(not, inst, path, depth)?
        {
            return Err(err(path, "value matches a forbidden shape"));
        }
        Ok(())
    }

    /// Whether `inst` validates against `sub`; budget exhaustion propagates.
    fn probe(
        &mut self,
        sub: &'r Value,
        inst: &Value,
        path: &mut String,
        depth: usize,
    ) -> Result<bool, SchemaError> {
        let len = path.len();
        let r = self.check(sub, inst, path, depth + 1);
        path.truncate(len);
        match r {
            Ok(()) => Ok(true),
            Err(e) if e.message == "schema too complex to validate" => Err(e),
            Err(_) => Ok(false),
        }
    }

    fn check_object(
        &mut self,
        s: &'r Map<String, Value>,
        obj: &Map<String, Value>,
        path: &mut String,
        depth: usize,
    ) -> Result<(), SchemaError> {
        if let Some(Value::Array(req)) = s.get("required") {
            for name in req.iter().filter_map(Value::as_str) {
                if !obj.contains_key(name) {
                    let len = path.len();
                    push_pointer(path, name);
                    let e = err(path, "required property is missing");
                    path.truncate(len);
                    return Err(e);
                }
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        let additional = s.get("additionalProperties");
        for (k, v) in obj {
            let len = path.len();
            push_pointer(path, k);
            match props.and_then(|p| p.get(k)) {
                Some(ps) => self.check(ps, v, path, depth + 1)?,
                None => {
                    if let Some(a) = additional {
                        if a == &Value::Bool(false) {
                            let e = err(path, "property is not allowed");
                            path.truncate(len);
                            return Err(e);
                        }
                        self.check(a, v, path, depth + 1)?;
                    }
                }
            }
            path.truncate(len);
        }
        Ok(())
    }
}

fn push_pointer(path: &mut String, key: &str) {
    path.push('/');
    for c in key.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

fn type_message(t: &Value) -> &'static str {
    match t.as_str() {
        Some("object") => "expected an object",
        Some("array") => "expected an array",
        Some("string") => "expected a string",
        Some("boolean") => "expected a boolean",
        Some("null") => "expected null",
        Some("number") => "expected a number",
        Some("integer") => "expected an integer",
        _ => "value has the wrong type",
    }
}

/// JSON equality with numbers compared by value (1 == 1.0).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset() {
        let s = json!({
            "type": "object",
            "properties": {
                "n": {"type": "integer", "minimum": 0},
                "unit": {"enum": ["c", "f"]},
                "tags": {"type": "array", "items": {"type": "string"}}
            },
            "required": ["n"],
            "additionalProperties": false
        });
        assert!(validate(&s, &json!({"n": 1, "unit": "c", "tags": ["a"]}), 8).is_ok());
        let e = validate(&s, &json!({"unit": "c"}), 8).err();
        assert_eq!(e.map(|e| e.path), Some("/n".into()));
        assert!(validate(&s, &json!({"n": "1"}), 8).is_err());
        assert!(validate(&s, &json!({"n": -1}), 8).is_err());
        assert!(validate(&s, &json!({"n": 1, "unit": "k"}), 8).is_err());
        assert!(validate(&s, &json!({"n": 1, "x": 1}), 8).is_err());
        assert!(validate(&s, &json!({"n": 1, "tags": [1]}), 8).is_err());
        assert!(validate(&s, &json!({"n": 1.0}), 8).is_ok());
    }

    #[test]
    fn refs_and_composition() {
        let s = json!({
            "$defs": {"Id": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "type": "object",
            "properties": {"id": {"$ref": "#/$defs/Id"}, "r": {"$ref": "https://evil/x"}}
        });
        assert!(validate(&s, &json!({"id": "a"}), 8).is_ok());
        assert!(validate(&s, &json!({"id": 1.5}), 8).is_err());
        assert!(validate(&s, &json!({"r": 1}), 8).is_err());
        // Self-referential schemas stop at the depth bound.
        let looped = json!({"$ref": "#"});
        assert!(validate(&looped, &json!(1), 8).is_err());
    }
}
