//! The baseline of `bench/run.sh`: a bare hyper 1 "hello world" on the same
//! runtime shape as `mcpauth serve` (tokio multi-thread, HTTP/1.1,
//! keep-alive), answering every request with a small JSON body.
//!
//! `cargo run --release -p mcpauth --example bare_hyper -- 127.0.0.1:8099`
//!
//! With `BARE_SPIN_NS=N` it busy-waits N ns per request before answering:
//! a server with more user time and nothing else different, which is how
//! `CALIBRATE` in `bench/run.sh interleaved` measures what each µs of a
//! server's own work costs in kernel time (wrk's wake-ups, preemption).

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8099".to_owned());
    // Calibration (see the module comment).
    let spin = std::time::Duration::from_nanos(
        std::env::var("BARE_SPIN_NS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("bare hyper listening on {addr}");
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let svc = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                // Read the body like the real server does.
                let _ = req.into_body().collect().await;
                if !spin.is_zero() {
                    let t = std::time::Instant::now();
                    while t.elapsed() < spin {
                        std::hint::spin_loop();
                    }
                }
                Ok::<_, Infallible>(
                    hyper::Response::builder()
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from_static(
                            br#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hello"}]}}"#,
                        )))
                        .unwrap_or_default(),
                )
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
