//! `mcpauth healthcheck`: one `GET /healthz` against a running server.
//!
//! Container images ship no curl or wget; the binary checks itself. Plain
//! HTTP on loopback only: a server that terminates TLS itself is checked
//! with a TCP probe by its orchestrator instead (host-std/README.md).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;

use crate::config::HealthcheckArgs;

/// The address `serve` listens on unless told otherwise.
const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
/// How long the whole check may take unless told otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// Where to ask: the listen address, with an unspecified IP (`0.0.0.0`,
/// `::`) replaced by loopback of the same family.
pub fn probe_address(listen: Option<SocketAddr>) -> SocketAddr {
    let mut addr = listen.unwrap_or(DEFAULT_LISTEN);
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    addr
}

/// Ask `/healthz`; `Ok(())` on a 200, else why not.
pub fn run(args: &HealthcheckArgs) -> Result<(), String> {
    let addr = probe_address(args.listen);
    let timeout = args.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    runtime.block_on(async {
        match tokio::time::timeout(timeout, get_healthz(addr)).await {
            Ok(Ok(200)) => Ok(()),
            Ok(Ok(status)) => Err(format!("http://{addr}/healthz answered {status}")),
            Ok(Err(e)) => Err(format!("http://{addr}/healthz: {e}")),
            Err(_) => Err(format!(
                "http://{addr}/healthz did not answer within {timeout:?}"
            )),
        }
    })
}

async fn get_healthz(addr: SocketAddr) -> Result<u16, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    let connection = tokio::spawn(connection);
    let request = hyper::Request::get("/healthz")
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    connection.abort();
    Ok(response.status().as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_listen_addresses_are_probed_on_loopback() {
        let v4: SocketAddr = "0.0.0.0:9000".parse().expect("addr");
        assert_eq!(probe_address(Some(v4)).to_string(), "127.0.0.1:9000");
        let v6: SocketAddr = "[::]:9000".parse().expect("addr");
        assert_eq!(probe_address(Some(v6)).to_string(), "[::1]:9000");
        assert_eq!(probe_address(None).to_string(), "127.0.0.1:8080");
        let given: SocketAddr = "10.1.2.3:8443".parse().expect("addr");
        assert_eq!(probe_address(Some(given)), given);
    }
}
