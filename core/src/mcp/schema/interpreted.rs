//! The interpreted validator: walks a schema as JSON, resolving `$ref`s at
//! every use. It is the reference [`CompiledSchema`] is tested against (the
//! same answer on every schema, instance and depth the compiled validator
//! covers) and validates the specification's examples in the conformance
//! tests; the server never runs it. Built for tests only (feature
//! `testing`).

use alloc::format;
use alloc::string::String;

use serde_json::{Map, Value};

#[cfg(test)]
use super::{COMPILED_DEPTH, CompiledSchema, validate_compiled};
use super::{
    STEP_BUDGET, SchemaError, err, json_eq, push_pointer, resolve, type_matches, type_message,
};

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

    /// The compiled validator answers exactly as the interpreting one
    /// (result, error path and message) on random schemas (every supported
    /// keyword, local `$ref`s including cycles and dangling ones, invalid
    /// sub-schemas) and random instances, at several depth bounds.
    mod compiled_agrees {
        extern crate std;

        use super::*;
        use alloc::vec;
        use proptest::prelude::*;

        fn instance() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                (-3i64..4).prop_map(Value::from),
                prop_oneof![Just(0.5), Just(1.0), Just(-2.5), Just(3.0)].prop_map(Value::from),
                prop_oneof![Just(""), Just("a"), Just("ab"), Just("é~/"), Just("abc")]
                    .prop_map(|t| Value::String(t.into())),
            ];
            leaf.prop_recursive(3, 24, 3, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::btree_map(
                        prop_oneof![Just("a"), Just("b"), Just("c/d")].prop_map(String::from),
                        inner,
                        0..3
                    )
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        fn type_name() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just("object"),
                Just("array"),
                Just("string"),
                Just("boolean"),
                Just("null"),
                Just("number"),
                Just("integer"),
                Just("nonsense"),
            ]
            .prop_map(|t| Value::String(t.into()))
        }

        fn schema() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                any::<bool>().prop_map(Value::Bool),
                Just(Value::from(3)),
                Just(json!({})),
                type_name().prop_map(|t| json!({"type": t})),
                prop_oneof![
                    Just("#"),
                    Just("#/$defs/x"),
                    Just("#/$defs/missing"),
                    Just("#/properties/a"),
                    Just("https://elsewhere/x"),
                ]
                .prop_map(|r| json!({"$ref": r})),
            ];
            leaf.prop_recursive(4, 32, 4, |inner| {
                let keyword = prop_oneof![
                    prop_oneof![
                        type_name(),
                        prop::collection::vec(type_name(), 0..3).prop_map(Value::Array),
                        Just(Value::from(1)),
                    ]
                    .prop_map(|t| ("type", t)),
                    prop::collection::vec(instance(), 0..3).prop_map(|e| ("enum", Value::Array(e))),
                    instance().prop_map(|c| ("const", c)),
                    prop::collection::btree_map(
                        prop_oneof![Just("a"), Just("b"), Just("c/d")].prop_map(String::from),
                        inner.clone(),
                        0..3
                    )
                    .prop_map(|m| ("properties", Value::Object(m.into_iter().collect()))),
                    prop::collection::vec(
                        prop_oneof![Just(json!("a")), Just(json!("b")), Just(json!(1))],
                        0..3
                    )
                    .prop_map(|r| ("required", Value::Array(r))),
                    inner.clone().prop_map(|a| ("additionalProperties", a)),
                    inner.clone().prop_map(|i| ("items", i)),
                    (0u64..3).prop_map(|n| ("minItems", Value::from(n))),
                    (0u64..3).prop_map(|n| ("maxItems", Value::from(n))),
                    (0u64..3).prop_map(|n| ("minLength", Value::from(n))),
                    (0u64..3).prop_map(|n| ("maxLength", Value::from(n))),
                    (-2i64..3).prop_map(|n| ("minimum", Value::from(n))),
                    prop_oneof![Just(Value::from(0.5)), Just(Value::from(2))]
                        .prop_map(|n| ("maximum", n)),
                    prop::collection::vec(inner.clone(), 0..3)
                        .prop_map(|v| ("allOf", Value::Array(v))),
                    prop::collection::vec(inner.clone(), 0..3)
                        .prop_map(|v| ("anyOf", Value::Array(v))),
                    prop::collection::vec(inner.clone(), 0..3)
                        .prop_map(|v| ("oneOf", Value::Array(v))),
                    inner.clone().prop_map(|n| ("not", n)),
                    inner.clone().prop_map(|d| ("$defs", json!({ "x": d }))),
                ];
                prop::collection::vec(keyword, 0..5).prop_map(|kws| {
                    Value::Object(kws.into_iter().map(|(k, v)| (String::from(k), v)).collect())
                })
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]
            #[test]
            fn same_answer(schema in schema(), instances in prop::collection::vec(instance(), 1..4)) {
                let compiled = CompiledSchema::compile(&schema);
                for inst in &instances {
                    for depth in [0usize, 1, 3, 8, 32, COMPILED_DEPTH - 1] {
                        prop_assert_eq!(
                            validate_compiled(&compiled, inst, depth),
                            validate(&schema, inst, depth),
                            "schema {} instance {} depth {}", schema, inst, depth
                        );
                    }
                }
            }
        }

        #[test]
        fn deep_schemas_agree() {
            // Deeper than the compiled nesting: only reachable past the
            // depth bound, where both answer "too complex".
            let mut deep = json!({"type": "object"});
            for _ in 0..200 {
                deep = json!({"properties": {"a": deep}});
            }
            let mut inst = json!(1);
            for _ in 0..150 {
                inst = json!({ "a": inst });
            }
            let compiled = CompiledSchema::compile(&deep);
            for depth in [8usize, 100, 127] {
                assert_eq!(
                    validate_compiled(&compiled, &inst, depth),
                    validate(&deep, &inst, depth)
                );
            }
            // Deeper validations are capped: the compiled validator answers
            // as the interpreter does at `COMPILED_DEPTH - 1`, "too complex"
            // here, where the interpreter allowed 300 levels would accept.
            for depth in [128usize, 300] {
                assert_eq!(
                    validate_compiled(&compiled, &inst, depth),
                    validate(&deep, &inst, COMPILED_DEPTH - 1)
                );
                assert!(validate_compiled(&compiled, &inst, depth).is_err());
            }
        }
    }
}
