//! `mcpauth healthcheck` (the container image's HEALTHCHECK) against the real
//! server: 0 while it answers, non-zero once it is gone.

mod common;

use std::process::Command;

use common::{Server, TempDir, free_port, program};

fn healthcheck(listen: &str) -> std::process::Output {
    Command::new(program())
        .args(["healthcheck", "--listen", listen, "--timeout", "2s"])
        .output()
        .expect("run mcpauth healthcheck")
}

#[tokio::test]
async fn healthcheck_exits_zero_while_serving_and_non_zero_after_stop() {
    let dir = TempDir::new("healthcheck");
    let port = free_port();
    let server = Server::start_on(&dir.0, port, &[]).await;

    // As the image runs it: the listen address is unspecified.
    let up = healthcheck(&format!("0.0.0.0:{port}"));
    assert!(
        up.status.success(),
        "healthy server: {}",
        String::from_utf8_lossy(&up.stderr)
    );

    server.stop();
    let down = healthcheck(&format!("127.0.0.1:{port}"));
    assert!(!down.status.success(), "stopped server must fail the check");
    let stderr = String::from_utf8_lossy(&down.stderr);
    assert!(stderr.contains("/healthz"), "says what failed: {stderr}");
}
