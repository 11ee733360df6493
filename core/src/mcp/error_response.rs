//! The one JSON-RPC error encoder: every JSON-RPC error body mcpauth sends
//! (the MCP server's answers of both eras, the events of a live stream, the
//! router's DNS-rebinding refusal, a host's gateway errors) is an
//! [`ErrorResponse`], written by its one [`Serialize`] impl.
//!
//! Member order and the id rule are decided here once: `jsonrpc`, then
//! `id` (the request's; `null` when it could not be read, as JSON-RPC 2.0
//! says; left out when the 2026-07-28 era says "a JSON-RPC error response
//! that has no id"), then `error` with `code`, `message` and optional
//! `data`.
//!
//! The impl only calls the serializer, so the same value can be written
//! without the heap into a caller-owned buffer
//! (`serde_json_core::to_slice`, as a device may), or as text or a
//! `serde_json::Value` ([`ErrorResponse::to_json`],
//! [`ErrorResponse::to_value`]).

use alloc::string::String;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::context::McpError;
use super::jsonrpc::{ErrorCode, RequestId};
use crate::http::Response;

/// The `id` member of an error response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorId<'a> {
    /// The id of the request answered.
    Id(&'a RequestId),
    /// `"id": null`: the request's id could not be read (JSON-RPC 2.0).
    Null,
    /// No `id` member (the 2026-07-28 era's error "that has no id").
    Omitted,
}

impl<'a> ErrorId<'a> {
    /// The id when there is one; otherwise `null`, or nothing when
    /// `omit_unknown` (2026-07-28).
    pub fn of(id: Option<&'a RequestId>, omit_unknown: bool) -> ErrorId<'a> {
        match (id, omit_unknown) {
            (Some(id), _) => ErrorId::Id(id),
            (None, false) => ErrorId::Null,
            (None, true) => ErrorId::Omitted,
        }
    }
}

/// A JSON-RPC error response, borrowed from its parts.
#[derive(Debug, Clone, Copy)]
pub struct ErrorResponse<'a> {
    /// The `id` member.
    pub id: ErrorId<'a>,
    /// `error.code`.
    pub code: ErrorCode,
    /// `error.message` (client-visible: never internal detail).
    pub message: &'a str,
    /// `error.data`, when there is any.
    pub data: Option<&'a Value>,
}

impl<'a> ErrorResponse<'a> {
    /// `code` with its standard message and no data.
    pub fn new(id: ErrorId<'a>, code: ErrorCode) -> ErrorResponse<'a> {
        ErrorResponse {
            id,
            code,
            message: code.default_message(),
            data: None,
        }
    }

    /// The response carrying `error`.
    pub fn of(id: ErrorId<'a>, error: &'a McpError) -> ErrorResponse<'a> {
        ErrorResponse {
            id,
            code: error.code,
            message: &error.message,
            data: error.data.as_ref(),
        }
    }

    /// Builder: `error.message`.
    #[must_use]
    pub fn with_message(mut self, message: &'a str) -> ErrorResponse<'a> {
        self.message = message;
        self
    }

    /// The JSON text.
    pub fn to_json(&self) -> String {
        // Serializing strings, integers and a `Value` into a `Vec` cannot
        // fail; the fallback is still a valid error response.
        serde_json::to_string(self).unwrap_or_else(|_| {
            String::from(
                r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"Internal error"}}"#,
            )
        })
    }

    /// The JSON value (for a message that is composed further, e.g. an
    /// SSE event list).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// An `application/json` response with `status` carrying it.
    pub fn response(&self, status: u16) -> Response {
        Response::json(status, self.to_json())
    }
}

struct Id<'a>(&'a RequestId);

impl Serialize for Id<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            RequestId::Number(n) => s.serialize_i64(*n),
            RequestId::String(v) => s.serialize_str(v),
        }
    }
}

struct ErrorObject<'a>(&'a ErrorResponse<'a>);

impl Serialize for ErrorObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut m = s.serialize_map(Some(2 + usize::from(e.data.is_some())))?;
        m.serialize_entry("code", &e.code.code())?;
        m.serialize_entry("message", e.message)?;
        if let Some(data) = e.data {
            m.serialize_entry("data", data)?;
        }
        m.end()
    }
}

impl Serialize for ErrorResponse<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let with_id = self.id != ErrorId::Omitted;
        let mut m = s.serialize_map(Some(2 + usize::from(with_id)))?;
        m.serialize_entry("jsonrpc", "2.0")?;
        match self.id {
            ErrorId::Id(id) => m.serialize_entry("id", &Id(id))?,
            ErrorId::Null => m.serialize_entry("id", &())?,
            ErrorId::Omitted => {}
        }
        m.serialize_entry("error", &ErrorObject(self))?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(e: &ErrorResponse<'_>) -> String {
        e.to_json()
    }

    #[test]
    fn ids_of_both_eras() {
        let n = RequestId::Number(7);
        let s = RequestId::String(heapless::String::try_from("a\"b").unwrap_or_default());
        let e = |id| ErrorResponse::new(id, ErrorCode::InvalidRequest);
        assert_eq!(
            text(&e(ErrorId::Id(&n))),
            r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32600,"message":"Invalid Request"}}"#
        );
        assert_eq!(
            text(&e(ErrorId::Id(&s))),
            r#"{"jsonrpc":"2.0","id":"a\"b","error":{"code":-32600,"message":"Invalid Request"}}"#
        );
        assert_eq!(
            text(&e(ErrorId::Null)),
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request"}}"#
        );
        assert_eq!(
            text(&e(ErrorId::Omitted)),
            r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"}}"#
        );
        assert_eq!(ErrorId::of(None, true), ErrorId::Omitted);
        assert_eq!(ErrorId::of(None, false), ErrorId::Null);
        assert_eq!(ErrorId::of(Some(&n), true), ErrorId::Id(&n));
    }

    #[test]
    fn message_and_data_are_escaped_and_kept() {
        let data = json!({"uri": "x\n\"y\""});
        let err = McpError::new(ErrorCode::ResourceNotFoundLegacy, "not \"here\"\u{1}")
            .with_data(data.clone());
        let id = RequestId::Number(-3);
        let e = ErrorResponse::of(ErrorId::Id(&id), &err);
        let v: Value = serde_json::from_str(&e.to_json()).unwrap_or(Value::Null);
        assert_eq!(
            v,
            json!({"jsonrpc": "2.0", "id": -3, "error":
                {"code": -32002, "message": "not \"here\"\u{1}", "data": data}})
        );
        assert_eq!(e.to_value(), v);
        let r = e.response(404);
        assert_eq!(r.status, 404);
        assert_eq!(r.header("content-type"), Some("application/json"));
    }

    #[test]
    fn writes_into_a_fixed_buffer_as_it_writes_text() {
        let id = RequestId::Number(1);
        let e = ErrorResponse::new(ErrorId::Id(&id), ErrorCode::MethodNotFound)
            .with_message("Method \"x\" not found");
        let mut buf = [0u8; 128];
        let n = serde_json_core::to_slice(&e, &mut buf).unwrap_or(0);
        assert_eq!(buf.get(..n), Some(e.to_json().as_bytes()));
        // Too small a buffer is an error, never a truncated body.
        let mut small = [0u8; 16];
        assert!(serde_json_core::to_slice(&e, &mut small).is_err());
    }
}
