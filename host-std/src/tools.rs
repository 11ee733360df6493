//! The tools the binary ships with: `whoami`, `echo`, and a ChatGPT Apps
//! widget demo (`show_card`, rendered by the `ui://widget/card.html`
//! resource). Add your own with [`Registry::tool`] (see
//! `examples/custom_tool.rs`).

use mcpauth_core::mcp::{
    CallToolResult, ContentBlock, MIME_SKYBRIDGE, McpError, Registry, RegistryError, Resource,
    ResourceContents, Tool,
};
use serde_json::{Map, Value, json};

/// URI of the widget template.
pub const CARD_WIDGET_URI: &str = "ui://widget/card.html";

/// The widget: plain HTML + JS reading `window.openai.toolOutput` (the
/// tool's `structuredContent`) and re-rendering when ChatGPT updates it.
const CARD_WIDGET_HTML: &str = r#"<div id="mcpauth-card" style="font-family:system-ui,sans-serif;border:1px solid #ddd;border-radius:12px;padding:16px;max-width:420px">
  <h3 id="t" style="margin:0 0 8px 0">…</h3>
  <p id="b" style="margin:0;color:#444"></p>
  <ul id="items" style="margin:8px 0 0 0;padding-left:20px"></ul>
</div>
<script>
(function () {
  function render() {
    var out = (window.openai && window.openai.toolOutput) || {};
    document.getElementById("t").textContent = out.title || "(no title)";
    document.getElementById("b").textContent = out.body || "";
    var ul = document.getElementById("items");
    ul.textContent = "";
    (out.items || []).forEach(function (it) {
      var li = document.createElement("li");
      li.textContent = String(it);
      ul.appendChild(li);
    });
  }
  window.addEventListener("openai:set_globals", render);
  render();
})();
</script>
"#;

fn object_schema(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// Register `whoami`, `echo`, `show_card` and the card widget resource.
pub fn register_builtin(registry: &mut Registry) -> Result<(), RegistryError> {
    registry.immediate_tool(
        Tool::new("whoami", object_schema(json!({}), &[]))
            .with_title("Who am I?")
            .with_description(
                "Returns the authenticated caller: subject, client id and granted scopes.",
            )
            .with_annotations(json!({"readOnlyHint": true, "openWorldHint": false})),
        |ctx, _args| {
            let Some(p) = ctx.principal.as_ref() else {
                return Ok(CallToolResult::error("no authenticated caller"));
            };
            let info = json!({
                "sub": p.subject,
                "client_id": p.client_id,
                "scopes": p.scopes,
                "aud": p.audience,
                "exp": p.expires_at,
            });
            Ok(CallToolResult::structured(info))
        },
    )?;

    registry.immediate_tool(
        Tool::new(
            "echo",
            object_schema(
                json!({"text": {"type": "string", "description": "Text to echo", "maxLength": 10000}}),
                &["text"],
            ),
        )
        .with_title("Echo")
        .with_description("Echoes the given text back.")
        .with_annotations(json!({"readOnlyHint": true, "openWorldHint": false})),
        |_ctx, args| {
            let text = args.get("text").and_then(Value::as_str).unwrap_or_default();
            Ok(CallToolResult::text(text))
        },
    )?;

    let mut meta = Map::new();
    meta.insert("openai/outputTemplate".into(), json!(CARD_WIDGET_URI));
    meta.insert(
        "openai/toolInvocation/invoking".into(),
        json!("Drawing the card…"),
    );
    meta.insert("openai/toolInvocation/invoked".into(), json!("Card ready"));
    meta.insert("openai/widgetAccessible".into(), json!(false));
    registry.immediate_tool(
        Tool::new(
            "show_card",
            object_schema(
                json!({
                    "title": {"type": "string", "maxLength": 200},
                    "body": {"type": "string", "maxLength": 2000},
                    "items": {"type": "array", "items": {"type": "string", "maxLength": 200}, "maxItems": 20},
                }),
                &["title"],
            ),
        )
        .with_title("Show a card")
        .with_description(
            "ChatGPT Apps demo: shows a card widget with a title, a body and a list of items.",
        )
        .with_annotations(json!({"readOnlyHint": true, "openWorldHint": false}))
        .with_meta(meta),
        |_ctx, args| {
            let card = json!({
                "title": args.get("title").cloned().unwrap_or(json!("")),
                "body": args.get("body").cloned().unwrap_or(json!("")),
                "items": args.get("items").cloned().unwrap_or(json!([])),
            });
            let title = card["title"].as_str().unwrap_or_default().to_owned();
            let mut result = CallToolResult::structured(card);
            result.content = vec![ContentBlock::Text(format!("Card: {title}"))];
            Ok(result)
        },
    )?;

    let mut widget_meta = Map::new();
    widget_meta.insert(
        "openai/widgetDescription".into(),
        json!("A card with a title, body and items."),
    );
    widget_meta.insert("openai/widgetPrefersBorder".into(), json!(true));
    widget_meta.insert(
        "openai/widgetCSP".into(),
        json!({"connect_domains": [], "resource_domains": []}),
    );
    let resource_meta = Value::Object(widget_meta.clone());
    registry.resource(
        Resource::new(CARD_WIDGET_URI, "card-widget", Some(MIME_SKYBRIDGE))
            .with("title", json!("Card widget"))
            .with("_meta", resource_meta),
        move |_ctx, uri| {
            let meta = widget_meta.clone();
            Box::pin(async move {
                if uri != CARD_WIDGET_URI {
                    return Err(McpError::invalid_params("unknown resource"));
                }
                let mut contents =
                    ResourceContents::text(CARD_WIDGET_URI, Some(MIME_SKYBRIDGE), CARD_WIDGET_HTML);
                if let ResourceContents::Text { meta: m, .. } = &mut contents {
                    *m = Some(meta);
                }
                Ok(vec![contents])
            })
        },
    )?;
    Ok(())
}
