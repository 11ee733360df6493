//! Your own tools next to the built-in ones, with the full `mcpauth` CLI
//! (serve, user, client, keys) and everything else unchanged.
//!
//! ```sh
//! cargo run --release -p mcpauth --example custom_tool -- user add alice <<< 'a-long-password'
//! cargo run --release -p mcpauth --example custom_tool -- serve
//! ```
//!
//! A tool is a name, a JSON Schema for its arguments, and an async handler.
//! The handler gets the authenticated caller (`ctx.principal`: subject,
//! client id, scopes) and the validated arguments, and returns a
//! `CallToolResult` (text, structured content, or a tool error).

use mcpauth_core::mcp::{CallToolResult, Registry, RegistryError, Tool};
use serde_json::{Value, json};

fn my_tools(registry: &mut Registry) -> Result<(), RegistryError> {
    // A tool anyone with the `mcp` scope may call.
    registry.tool(
        Tool::new(
            "add",
            json!({
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"],
            }),
        )
        .with_description("Adds two numbers.")
        .with_annotations(json!({"readOnlyHint": true})),
        |_ctx, args| {
            Box::pin(async move {
                let a = args.get("a").and_then(Value::as_f64).unwrap_or(0.0);
                let b = args.get("b").and_then(Value::as_f64).unwrap_or(0.0);
                Ok(CallToolResult::structured(json!({"sum": a + b})))
            })
        },
    )?;

    // A tool that uses the caller's identity, e.g. to scope data per user.
    registry.tool(
        Tool::new("greet", json!({"type": "object", "properties": {}}))
            .with_description("Greets the signed-in user."),
        |ctx, _args| {
            Box::pin(async move {
                let who = ctx
                    .principal
                    .as_ref()
                    .map(|p| p.subject.clone())
                    .unwrap_or_else(|| "stranger".into());
                Ok(CallToolResult::text(format!("Hello, {who}!")))
            })
        },
    )?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    mcpauth::cli::main_with(my_tools)
}
