//! A request's `params`: read as a map, or, for the hot request (a
//! 2025-era `tools/call`), into the few fields the server reads, without a
//! map of the members or a copy of the tool's name.

use alloc::borrow::Cow;
use alloc::string::String;

use serde::de::IgnoredAny;
use serde_json::{Map, Value};

use super::jsonrpc::{self, Envelope, ErrorCode, MessageKind};
use super::server::WireError;

/// A request's `params`.
pub(crate) enum Params<'a> {
    /// Any request's, as a map (`None`: absent).
    Map(Option<Map<String, Value>>),
    /// A `tools/call`'s (the hot request), read into the fields it needs,
    /// without a map of the members and a copy of the tool's name.
    ToolCall(ToolCall<'a>),
}

/// The fields of a `tools/call`'s params that the server reads. Anything
/// these fields cannot take as given (a name that is not a string, a
/// `_meta` that is not an object, …) is read as a map instead, where the
/// request gets the error a map's reader gives.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct ToolCall<'a> {
    #[serde(borrow)]
    pub(crate) name: Cow<'a, str>,
    #[serde(default)]
    pub(crate) arguments: Option<Value>,
    #[serde(rename = "_meta", default, deserialize_with = "present_object")]
    pub(crate) meta: Option<Map<String, Value>>,
    /// The other [`PARAM_KEYS`], read only so that a duplicate of one
    /// fails this reading as it fails `has_duplicate_member` (the derived
    /// reader refuses any field it knows twice), in the one pass over the
    /// params a `tools/call` takes.
    #[serde(default, rename = "uri")]
    _uri: Option<IgnoredAny>,
    #[serde(default, rename = "cursor")]
    _cursor: Option<IgnoredAny>,
    #[serde(default, rename = "level")]
    _level: Option<IgnoredAny>,
    #[serde(default, rename = "protocolVersion")]
    _protocol_version: Option<IgnoredAny>,
    #[serde(default, rename = "ref")]
    _ref: Option<IgnoredAny>,
    #[serde(default, rename = "requestId")]
    _request_id: Option<IgnoredAny>,
    #[serde(default, rename = "inputResponses")]
    _input_responses: Option<IgnoredAny>,
    #[serde(default, rename = "requestState")]
    _request_state: Option<IgnoredAny>,
}

/// `_meta` when present: an object (`null` is not absent).
fn present_object<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Map<String, Value>>, D::Error> {
    <Map<String, Value> as serde::Deserialize>::deserialize(d).map(Some)
}

impl ToolCall<'_> {
    /// The same params as a map (for the paths that take any method's).
    pub(crate) fn into_map(self) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("name".into(), Value::String(self.name.into_owned()));
        if let Some(arguments) = self.arguments {
            map.insert("arguments".into(), arguments);
        }
        if let Some(meta) = self.meta {
            map.insert("_meta".into(), Value::Object(meta));
        }
        map
    }
}

impl<'a> Params<'a> {
    /// `env`'s params, refusing duplicate members the server interprets;
    /// `header_modern`: the version header names the 2026 era, whose
    /// `tools/call` reads more members (its params are a map).
    #[allow(clippy::result_large_err)]
    pub(crate) fn parse(env: &Envelope<'a>, header_modern: bool) -> Result<Params<'a>, WireError> {
        let Some(raw) = env.params else {
            return Ok(Params::Map(None));
        };
        let bad = |msg| WireError::new(400, env.id.clone(), ErrorCode::InvalidParams, msg);
        // Read into its fields, a `tools/call` has no duplicate member.
        if let (MessageKind::Request, "tools/call", false) =
            (env.kind, env.method.as_str(), header_modern)
            && let Ok(call) = serde_json::from_str::<ToolCall<'a>>(raw)
            // So does a request whose `_meta` names a version.
            && !call
                .meta
                .as_ref()
                .is_some_and(|m| m.contains_key(super::modern::META_VERSION))
        {
            return Ok(Params::ToolCall(call));
        }
        if jsonrpc::has_duplicate_member(raw, &PARAM_KEYS) {
            return Err(bad("Duplicate member in params"));
        }
        // Any other params (alloc is fine past framing).
        let map: Map<String, Value> =
            serde_json::from_str(raw).map_err(|_| bad("Invalid params"))?;
        if map.get("_meta").is_some_and(|m| !m.is_object()) {
            return Err(bad("_meta must be an object"));
        }
        Ok(Params::Map(Some(map)))
    }

    /// `params._meta`, if any.
    pub(crate) fn meta(&self) -> Option<&Map<String, Value>> {
        match self {
            Params::Map(map) => map.as_ref()?.get("_meta")?.as_object(),
            Params::ToolCall(call) => call.meta.as_ref(),
        }
    }

    /// The params as a map (absent: empty).
    pub(crate) fn into_map(self) -> Option<Map<String, Value>> {
        match self {
            Params::Map(map) => map,
            Params::ToolCall(call) => Some(call.into_map()),
        }
    }
}

/// The params members whose duplicates are refused (a reader would take
/// one of the two, and which one differs between readers).
const PARAM_KEYS: [&str; 11] = [
    "name",
    "uri",
    "arguments",
    "_meta",
    "cursor",
    "level",
    "protocolVersion",
    "ref",
    "requestId",
    "inputResponses",
    "requestState",
];
