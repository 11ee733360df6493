//! rmcp (the official Rust MCP SDK) serving an `echo` tool over Streamable
//! HTTP without authorization: the SDK baseline of `bench/run.sh`. Same
//! runtime shape as `mcpauth serve` and `bare_hyper` (tokio multi-thread,
//! hyper 1 HTTP/1.1 keep-alive, `TCP_NODELAY`).
//!
//! `rmcp-echo 127.0.0.1:18483 [stateful|stateless]`: `stateless` (default)
//! answers each POST with plain JSON and needs no session; `stateful` keeps
//! the SDK's default sessions (the client must `initialize` first).

use std::sync::Arc;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{schemars, tool, tool_router};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct EchoArgs {
    /// Text to echo.
    text: String,
}

#[derive(Clone)]
struct Echo;

#[tool_router(server_handler)]
impl Echo {
    #[tool(name = "echo", description = "Echoes the given text back.")]
    fn echo(&self, Parameters(EchoArgs { text }): Parameters<EchoArgs>) -> String {
        text
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18483".to_owned());
    let stateful = args.next().as_deref() == Some("stateful");
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(stateful)
        .with_json_response(!stateful)
        .with_sse_keep_alive(None);
    let service = StreamableHttpService::new(
        || Ok(Echo),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("rmcp echo listening on {addr} (stateful: {stateful})");
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let svc = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
