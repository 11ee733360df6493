//! `x-mcp-header`: tool parameters mirrored into `Mcp-Param-{Name}` HTTP
//! headers (2026-07-28), and the header value encoding shared with
//! `Mcp-Name` (plain visible ASCII, or the `=?base64?…?=` sentinel).
//!
//! At registration a tool's input schema is checked against every
//! constraint of the specification (non-empty token, case-insensitively
//! unique, only on `string`/`integer`/`boolean` properties reachable from the
//! root through `properties` alone); an invalid annotation refuses the tool.
//! On a 2026-era `tools/call`, each annotated argument present in the body
//! must arrive in its header with the same value (integers compared
//! numerically), else 400 with -32020.

use alloc::string::String;
use alloc::vec::Vec;

use serde_json::{Map, Value};

/// The primitive type of an annotated parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamKind {
    String,
    Integer,
    Boolean,
}

/// One `x-mcp-header` annotation: header name part and property path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParamHeader {
    pub(crate) name: String,
    pub(crate) path: Vec<String>,
    pub(crate) kind: ParamKind,
}

/// Largest safe integer in JavaScript (2^53 - 1).
const MAX_SAFE: i64 = (1 << 53) - 1;

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Collect and check the `x-mcp-header` annotations of an input schema.
pub(crate) fn param_headers(schema: &Value) -> Result<Vec<ParamHeader>, &'static str> {
    let mut out = Vec::new();
    let mut path = Vec::new();
    walk(schema, true, &mut path, &mut out, 0)?;
    for (i, a) in out.iter().enumerate() {
        if out
            .iter()
            .skip(i + 1)
            .any(|b| b.name.eq_ignore_ascii_case(&a.name))
        {
            return Err("x-mcp-header values must be unique");
        }
    }
    Ok(out)
}

fn walk(
    schema: &Value,
    reachable: bool,
    path: &mut Vec<String>,
    out: &mut Vec<ParamHeader>,
    depth: usize,
) -> Result<(), &'static str> {
    if depth > 64 {
        return Err("input schema nested too deeply");
    }
    match schema {
        Value::Object(m) => {
            if let Some(h) = m.get("x-mcp-header") {
                // The root itself is not a parameter.
                if !reachable || path.is_empty() {
                    return Err(
                        "x-mcp-header is only allowed on properties reachable through properties",
                    );
                }
                out.push(annotation(h, m, path)?);
            }
            for (k, v) in m {
                if k == "properties" {
                    if let Value::Object(props) = v {
                        for (name, sub) in props {
                            path.push(name.clone());
                            walk(sub, reachable, path, out, depth + 1)?;
                            path.pop();
                        }
                    }
                } else if !matches!(
                    k.as_str(),
                    "x-mcp-header" | "const" | "enum" | "default" | "examples"
                ) {
                    // Any other keyword leads off the static chain.
                    walk(v, false, path, out, depth + 1)?;
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            for v in items {
                walk(v, false, path, out, depth + 1)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn annotation(
    h: &Value,
    prop: &Map<String, Value>,
    path: &[String],
) -> Result<ParamHeader, &'static str> {
    let name = h.as_str().ok_or("x-mcp-header must be a string")?;
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err("x-mcp-header must be an HTTP token");
    }
    let kind = match prop.get("type").and_then(Value::as_str) {
        Some("string") => ParamKind::String,
        Some("integer") => ParamKind::Integer,
        Some("boolean") => ParamKind::Boolean,
        _ => return Err("x-mcp-header is only allowed on string, integer or boolean properties"),
    };
    Ok(ParamHeader {
        name: name.into(),
        path: path.to_vec(),
        kind,
    })
}

/// Decode a header value that may use the `=?base64?…?=` sentinel. `None`
/// when it has characters outside visible ASCII, space and tab, or the
/// Base64 is invalid.
pub(crate) fn decode_header_value(raw: &str) -> Option<String> {
    if !raw.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)) {
        return None;
    }
    let value = raw.trim_matches([' ', '\t']);
    match value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    {
        Some(b64) => {
            use base64ct::{Base64, Encoding};
            let bytes = Base64::decode_vec(b64).ok()?;
            String::from_utf8(bytes).ok()
        }
        None => Some(value.into()),
    }
}

/// Whether the (decoded) header value equals the argument value.
fn same_value(kind: ParamKind, header: &str, arg: &Value) -> bool {
    match (kind, arg) {
        (ParamKind::String, Value::String(s)) => s == header,
        (ParamKind::Boolean, Value::Bool(b)) => header == if *b { "true" } else { "false" },
        (ParamKind::Integer, Value::Number(n)) => {
            let Some(body) = n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && *f == (*f as i64) as f64)
                    .map(|f| f as i64)
            }) else {
                return false;
            };
            if !(-MAX_SAFE..=MAX_SAFE).contains(&body) {
                return false;
            }
            match header.parse::<i64>() {
                Ok(h) => h == body,
                Err(_) => header
                    .parse::<f64>()
                    .is_ok_and(|f| f.is_finite() && f == body as f64),
            }
        }
        _ => false,
    }
}

/// Check the `Mcp-Param-*` headers of a `tools/call` against its arguments.
/// `header(name)` returns every value of header `name`.
pub(crate) fn check_param_headers<'h>(
    annotations: &[ParamHeader],
    arguments: Option<&Value>,
    header: impl Fn(&str) -> Vec<&'h str>,
) -> Result<(), &'static str> {
    for a in annotations {
        let field = alloc::format!("Mcp-Param-{}", a.name);
        let values = header(&field);
        if values.len() > 1 {
            return Err("Header mismatch: repeated Mcp-Param header");
        }
        let decoded = match values.first() {
            Some(raw) => Some(
                decode_header_value(raw).ok_or("Header mismatch: Mcp-Param header is malformed")?,
            ),
            None => None,
        };
        let mut arg = arguments;
        for key in &a.path {
            arg = arg.and_then(|v| v.get(key));
        }
        match (arg, decoded) {
            (None | Some(Value::Null), _) => {}
            (Some(_), None) => return Err("Header mismatch: Mcp-Param header is missing"),
            (Some(v), Some(h)) => {
                if !same_value(a.kind, &h, v) {
                    return Err("Header mismatch: Mcp-Param header does not match the body");
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn annotations_are_checked() {
        let ok = json!({"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "n": {"type": "integer", "x-mcp-header": "N"},
            "nested": {"type": "object", "properties": {"flag": {"type": "boolean", "x-mcp-header": "Flag"}}}
        }});
        let h = param_headers(&ok).expect("valid");
        assert_eq!(h.len(), 3);
        assert!(h.iter().any(|a| a.path == ["nested", "flag"]));
        for bad in [
            json!({"properties": {"a": {"type": "number", "x-mcp-header": "A"}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": ""}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": "A B"}}}),
            json!({"properties": {"a": {"type": "string", "x-mcp-header": "A"}, "b": {"type": "string", "x-mcp-header": "a"}}}),
            json!({"properties": {"a": {"type": "array", "items": {"type": "string", "x-mcp-header": "A"}}}}),
            json!({"anyOf": [{"properties": {"a": {"type": "string", "x-mcp-header": "A"}}}]}),
            json!({"x-mcp-header": "Root", "type": "string"}),
        ] {
            assert!(param_headers(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_compare() {
        assert!(same_value(ParamKind::Integer, "42", &json!(42)));
        assert!(same_value(ParamKind::Integer, "42.0", &json!(42)));
        assert!(!same_value(ParamKind::Integer, "43", &json!(42)));
        assert!(same_value(ParamKind::Boolean, "true", &json!(true)));
        assert!(!same_value(ParamKind::Boolean, "True", &json!(true)));
        assert!(same_value(
            ParamKind::String,
            "us-west1",
            &json!("us-west1")
        ));
        assert_eq!(
            decode_header_value("=?base64?SGVsbG8sIOS4lueVjA==?=").as_deref(),
            Some("Hello, 世界")
        );
        assert_eq!(
            decode_header_value("=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=").as_deref(),
            Some("=?base64?literal?=")
        );
        assert_eq!(decode_header_value("line\n"), None);
    }
}
