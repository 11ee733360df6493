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
//!
//! The server validates with [`CompiledSchema`] (compiled once, when a tool
//! is registered). The interpreted validator it was derived from, which
//! walks the schema as JSON, is the reference the compiled one is tested
//! against; it lives in `interpreted` and is built only for tests (feature
//! `testing`).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

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

/// The interpreted validator's failure at `path`.
#[cfg(any(test, feature = "testing"))]
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

/// Schema nesting [`CompiledSchema::compile`] follows. A validation runs
/// at most `COMPILED_DEPTH - 1` nested schema applications deep, whatever
/// its `max_depth` says (a larger `max_depth` acts as `COMPILED_DEPTH - 1`).
pub const COMPILED_DEPTH: usize = 128;

/// A schema compiled once (when a tool is registered) into a tree whose
/// keywords are fields, so that a validation looks nothing up by name.
///
/// It validates exactly as the interpreted validator (feature `testing`)
/// does on the schema it came from, up to a depth of `COMPILED_DEPTH - 1`:
/// same checks in the same order, same error paths and messages, and the
/// same depth and [`STEP_BUDGET`] accounting (every schema application of
/// the interpreter is one here). A `$ref` is resolved at compile time, each
/// target once, so recursive schemas compile to a cyclic graph that the
/// depth bound stops as before.
#[derive(Debug, Clone)]
pub struct CompiledSchema {
    /// `nodes[0]` is the root.
    nodes: Vec<Node>,
}

type NodeId = usize;

#[derive(Debug, Clone)]
enum Node {
    True,
    False,
    /// Neither a boolean nor an object: fails when applied.
    Invalid,
    /// Nested deeper than [`COMPILED_DEPTH`]: only reachable when
    /// `max_depth >= COMPILED_DEPTH`, which [`validate_compiled`] routes to
    /// [`validate`].
    TooDeep,
    Keywords(Box<Keywords>),
}

/// `type` as a set of instance kinds.
const OBJECT: u8 = 1;
const ARRAY: u8 = 2;
const STRING: u8 = 4;
const BOOLEAN: u8 = 8;
const NULL: u8 = 16;
const NUMBER: u8 = 32;
const INTEGER: u8 = 64;

#[derive(Debug, Clone, Default)]
struct Keywords {
    /// `$ref`: `Some(None)` when it does not resolve.
    reference: Option<Option<NodeId>>,
    /// Allowed kinds and the message when the instance is none of them.
    types: Option<(u8, &'static str)>,
    enumeration: Option<Vec<Value>>,
    constant: Option<Value>,
    all_of: Option<Vec<NodeId>>,
    any_of: Option<Vec<NodeId>>,
    one_of: Option<Vec<NodeId>>,
    not: Option<NodeId>,
    /// `required` names (when `required` is an array).
    required: Option<Vec<String>>,
    /// `properties` (when it is an object).
    properties: Option<alloc::collections::BTreeMap<String, NodeId>>,
    additional: Option<Additional>,
    items: Option<NodeId>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    minimum: Option<f64>,
    maximum: Option<f64>,
}

#[derive(Debug, Clone)]
enum Additional {
    /// `additionalProperties: false`.
    Forbidden,
    Schema(NodeId),
}

fn kind_bits(t: &str) -> u8 {
    match t {
        "object" => OBJECT,
        "array" => ARRAY,
        "string" => STRING,
        "boolean" => BOOLEAN,
        "null" => NULL,
        "number" => NUMBER,
        "integer" => INTEGER,
        _ => 0,
    }
}

/// The kinds `v` is an instance of (`integer` as [`type_matches`] says).
fn instance_bits(v: &Value) -> u8 {
    match v {
        Value::Object(_) => OBJECT,
        Value::Array(_) => ARRAY,
        Value::String(_) => STRING,
        Value::Bool(_) => BOOLEAN,
        Value::Null => NULL,
        Value::Number(_) if type_matches("integer", v) => NUMBER | INTEGER,
        Value::Number(_) => NUMBER,
    }
}

struct Compiler<'s> {
    root: &'s Value,
    nodes: Vec<Node>,
    /// `$ref` targets already compiled, by reference text.
    targets: Vec<(&'s str, NodeId)>,
}

impl<'s> Compiler<'s> {
    fn compile(&mut self, schema: &'s Value, nesting: usize) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(Node::Invalid);
        let node = match schema {
            _ if nesting > COMPILED_DEPTH => Node::TooDeep,
            Value::Bool(true) => Node::True,
            Value::Bool(false) => Node::False,
            Value::Object(s) => Node::Keywords(Box::new(self.keywords(s, nesting))),
            _ => Node::Invalid,
        };
        if let Some(slot) = self.nodes.get_mut(id) {
            *slot = node;
        }
        id
    }

    fn list(
        &mut self,
        s: &'s Map<String, Value>,
        key: &str,
        nesting: usize,
    ) -> Option<Vec<NodeId>> {
        match s.get(key) {
            Some(Value::Array(subs)) => Some(
                subs.iter()
                    .map(|sub| self.compile(sub, nesting + 1))
                    .collect(),
            ),
            _ => None,
        }
    }

    fn reference(&mut self, r: &'s str) -> Option<NodeId> {
        if let Some(&(_, id)) = self.targets.iter().find(|(t, _)| *t == r) {
            return Some(id);
        }
        let target = resolve(self.root, r)?;
        // Registered before compiling, so a cycle refers back to it.
        let id = self.nodes.len();
        self.targets.push((r, id));
        // The target is applied one level below the `$ref` site, and at
        // least at depth 1: its own nesting starts there.
        self.compile(target, 1);
        Some(id)
    }

    fn keywords(&mut self, s: &'s Map<String, Value>, nesting: usize) -> Keywords {
        let deeper = nesting + 1;
        Keywords {
            reference: s
                .get("$ref")
                .and_then(Value::as_str)
                .map(|r| self.reference(r)),
            types: match s.get("type") {
                Some(t @ Value::String(name)) => Some((kind_bits(name), type_message(t))),
                Some(t @ Value::Array(names)) => Some((
                    names
                        .iter()
                        .filter_map(Value::as_str)
                        .fold(0, |m, n| m | kind_bits(n)),
                    type_message(t),
                )),
                _ => None,
            },
            enumeration: match s.get("enum") {
                Some(Value::Array(options)) => Some(options.clone()),
                _ => None,
            },
            constant: s.get("const").cloned(),
            all_of: self.list(s, "allOf", nesting),
            any_of: self.list(s, "anyOf", nesting),
            one_of: self.list(s, "oneOf", nesting),
            not: s.get("not").map(|n| self.compile(n, deeper)),
            required: match s.get("required") {
                Some(Value::Array(names)) => Some(
                    names
                        .iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect(),
                ),
                _ => None,
            },
            properties: s.get("properties").and_then(Value::as_object).map(|p| {
                p.iter()
                    .map(|(k, v)| (k.clone(), self.compile(v, deeper)))
                    .collect()
            }),
            additional: s.get("additionalProperties").map(|a| {
                if a == &Value::Bool(false) {
                    Additional::Forbidden
                } else {
                    Additional::Schema(self.compile(a, deeper))
                }
            }),
            items: s.get("items").map(|i| self.compile(i, deeper)),
            min_items: s.get("minItems").and_then(Value::as_u64),
            max_items: s.get("maxItems").and_then(Value::as_u64),
            min_length: s.get("minLength").and_then(Value::as_u64),
            max_length: s.get("maxLength").and_then(Value::as_u64),
            minimum: s.get("minimum").and_then(Value::as_f64),
            maximum: s.get("maximum").and_then(Value::as_f64),
        }
    }
}

impl CompiledSchema {
    /// Compile `schema` (its `$ref`s resolve in itself).
    pub fn compile(schema: &Value) -> CompiledSchema {
        let mut c = Compiler {
            root: schema,
            nodes: Vec::new(),
            targets: Vec::new(),
        };
        c.compile(schema, 0);
        CompiledSchema { nodes: c.nodes }
    }
}

/// Validate `instance` against `compiled`, at most `max_depth` (capped at
/// `COMPILED_DEPTH - 1`) nested schema applications deep.
pub fn validate_compiled(
    compiled: &CompiledSchema,
    instance: &Value,
    max_depth: usize,
) -> Result<(), SchemaError> {
    let mut v = CompiledValidator {
        nodes: &compiled.nodes,
        steps: 0,
        max_depth: max_depth.min(COMPILED_DEPTH - 1),
    };
    v.check(0, instance, &Here { up: None }, 0)
}

/// Where the compiled validator is in the instance: a chain of steps on
/// the stack back to the root, written out as a JSON Pointer only when a
/// check fails, so that a valid instance costs no allocation.
struct Here<'p> {
    up: Option<(&'p Here<'p>, Step<'p>)>,
}

#[derive(Clone, Copy)]
enum Step<'p> {
    Key(&'p str),
    Index(usize),
}

impl Here<'_> {
    fn step<'a>(&'a self, step: Step<'a>) -> Here<'a> {
        Here {
            up: Some((self, step)),
        }
    }

    /// A failure here: the pointer from the root, then `message`.
    fn fail(&self, message: &'static str) -> SchemaError {
        let mut steps = Vec::new();
        let mut at = self;
        while let Some((up, step)) = at.up {
            steps.push(step);
            at = up;
        }
        let mut path = String::new();
        for step in steps.iter().rev() {
            match *step {
                Step::Key(k) => push_pointer(&mut path, k),
                Step::Index(i) => {
                    let _ = core::fmt::Write::write_fmt(&mut path, format_args!("/{i}"));
                }
            }
        }
        SchemaError { path, message }
    }
}

struct CompiledValidator<'c> {
    nodes: &'c [Node],
    steps: usize,
    max_depth: usize,
}

impl CompiledValidator<'_> {
    fn check(
        &mut self,
        node: NodeId,
        inst: &Value,
        here: &Here<'_>,
        depth: usize,
    ) -> Result<(), SchemaError> {
        self.steps += 1;
        if depth > self.max_depth || self.steps > STEP_BUDGET {
            return Err(here.fail("schema too complex to validate"));
        }
        let s = match self.nodes.get(node) {
            Some(Node::True) => return Ok(()),
            Some(Node::False) => return Err(here.fail("no value is allowed here")),
            Some(Node::Keywords(s)) => s,
            Some(Node::TooDeep) => return Err(here.fail("schema too complex to validate")),
            Some(Node::Invalid) | None => return Err(here.fail("invalid schema")),
        };
        match s.reference {
            Some(Some(target)) => self.check(target, inst, here, depth + 1)?,
            Some(None) => return Err(here.fail("unresolvable $ref")),
            None => {}
        }
        if let Some((kinds, message)) = s.types
            && kinds & instance_bits(inst) == 0
        {
            return Err(here.fail(message));
        }
        if let Some(options) = &s.enumeration
            && !options.iter().any(|o| json_eq(o, inst))
        {
            return Err(here.fail("value is not one of the allowed values"));
        }
        if let Some(c) = &s.constant
            && !json_eq(c, inst)
        {
            return Err(here.fail("value is not the required constant"));
        }
        self.check_composition(s, inst, here, depth)?;
        match inst {
            Value::Object(obj) => self.check_object(s, obj, here, depth)?,
            Value::Array(items) => {
                let n = items.len() as u64;
                if s.min_items.is_some_and(|m| n < m) {
                    return Err(here.fail("too few items"));
                }
                if s.max_items.is_some_and(|m| n > m) {
                    return Err(here.fail("too many items"));
                }
                if let Some(item_schema) = s.items {
                    for (i, item) in items.iter().enumerate() {
                        self.check(item_schema, item, &here.step(Step::Index(i)), depth + 1)?;
                    }
                }
            }
            // Characters are counted only when a length is constrained.
            Value::String(text) if s.min_length.is_some() || s.max_length.is_some() => {
                let n = text.chars().count() as u64;
                if s.min_length.is_some_and(|m| n < m) {
                    return Err(here.fail("string too short"));
                }
                if s.max_length.is_some_and(|m| n > m) {
                    return Err(here.fail("string too long"));
                }
            }
            Value::Number(n) => {
                let x = n.as_f64().unwrap_or(0.0);
                if s.minimum.is_some_and(|m| x < m) {
                    return Err(here.fail("number below minimum"));
                }
                if s.maximum.is_some_and(|m| x > m) {
                    return Err(here.fail("number above maximum"));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn check_composition(
        &mut self,
        s: &Keywords,
        inst: &Value,
        here: &Here<'_>,
        depth: usize,
    ) -> Result<(), SchemaError> {
        for &sub in s.all_of.iter().flatten() {
            self.check(sub, inst, here, depth + 1)?;
        }
        if let Some(any) = &s.any_of {
            let mut ok = false;
            for &sub in any {
                if self.probe(sub, inst, here, depth)? {
                    ok = true;
                    break;
                }
            }
            if !ok {
                return Err(here.fail("value matches none of the allowed shapes"));
            }
        }
        if let Some(one) = &s.one_of {
            let mut n = 0;
            for &sub in one {
                if self.probe(sub, inst, here, depth)? {
                    n += 1;
                }
            }
            if n != 1 {
                return Err(here.fail("value must match exactly one allowed shape"));
            }
        }
        if let Some(not) = s.not
            && self.probe(not, inst, here, depth)?
        {
            return Err(here.fail("value matches a forbidden shape"));
        }
        Ok(())
    }

    /// Whether `inst` validates against `sub`; budget exhaustion propagates.
    fn probe(
        &mut self,
        sub: NodeId,
        inst: &Value,
        here: &Here<'_>,
        depth: usize,
    ) -> Result<bool, SchemaError> {
        match self.check(sub, inst, here, depth + 1) {
            Ok(()) => Ok(true),
            Err(e) if e.message == "schema too complex to validate" => Err(e),
            Err(_) => Ok(false),
        }
    }

    fn check_object(
        &mut self,
        s: &Keywords,
        obj: &Map<String, Value>,
        here: &Here<'_>,
        depth: usize,
    ) -> Result<(), SchemaError> {
        for name in s.required.iter().flatten() {
            if !obj.contains_key(name) {
                return Err(here
                    .step(Step::Key(name))
                    .fail("required property is missing"));
            }
        }
        for (k, v) in obj {
            let here = here.step(Step::Key(k));
            match s.properties.as_ref().and_then(|p| p.get(k)) {
                Some(&ps) => self.check(ps, v, &here, depth + 1)?,
                None => match s.additional {
                    Some(Additional::Forbidden) => {
                        return Err(here.fail("property is not allowed"));
                    }
                    Some(Additional::Schema(a)) => self.check(a, v, &here, depth + 1)?,
                    None => {}
                },
            }
        }
        Ok(())
    }
}

#[cfg(any(test, feature = "testing"))]
mod interpreted;
#[cfg(any(test, feature = "testing"))]
pub use interpreted::{validate, validate_with_root};
