//! Following the issuer's key rotation: the device fetches the issuer's
//! JWKS again when a token names a `kid` it does not know (rate-limited by
//! the core's [`JwksRefreshSchedule`]) and periodically
//! ([`crate::FleetService::run_key_refresh`]). The old keys stay valid as
//! long as the issuer publishes them: the fetched document replaces the key
//! set, and the issuer keeps a rotated-out key in it until every token it
//! signed has expired.
//!
//! The fetching is the board's: a [`JwksFetcher`]. [`HttpJwksFetcher`] is
//! plain HTTP/1.1 over an embassy-net TCP socket to an IPv4 address, for a
//! private network or a TLS-terminating gateway (the TAP test uses it). On
//! an open network a board implements [`JwksFetcher`] over a TLS client
//! (e.g. `embedded-tls` on the same socket): over plain HTTP whoever is on
//! the path can hand the device keys of their own.

use core::future::Future;

use embassy_net::tcp::TcpSocket;
use embassy_net::{IpAddress, IpEndpoint, Stack};
use embassy_time::{Duration, with_timeout};
use embedded_io_async::Write as _;

/// Largest JWKS document a device fetches, bytes (response head included
/// for [`HttpJwksFetcher`]). It bounds the heap a broken or hostile issuer,
/// or anyone on the path of a plain-HTTP fetch, can make the device spend:
/// the document is read into one buffer of this size and parsed from it. An
/// issuer publishes a few keys of about 450 bytes each (RSA-2048).
pub const MAX_DEVICE_JWKS_LEN: usize = 8 * 1024;

/// Receive buffer of the fetch socket, bytes.
pub const FETCH_RX_BUFFER: usize = 1024;
/// Transmit buffer of the fetch socket, bytes (one GET request).
pub const FETCH_TX_BUFFER: usize = 512;
/// Most response header fields [`HttpJwksFetcher`] accepts.
const MAX_RESPONSE_HEADERS: usize = 24;

/// Why a fetch failed. The old key set stays in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchError {
    /// No fetcher is configured.
    NotConfigured,
    /// The JWKS URL is not `http://a.b.c.d[:port]/path`.
    Url,
    /// The connection could not be made.
    Connect,
    /// The fetch took longer than its timeout.
    Timeout,
    /// The connection failed midway.
    Io,
    /// The issuer answered with this status instead of 200.
    Status(u16),
    /// Not an HTTP response with a body this client reads (chunked, say).
    Malformed,
    /// Larger than the buffer ([`MAX_DEVICE_JWKS_LEN`]).
    TooLarge,
}

/// Fetches the issuer's JWKS document. The board supplies it: plain HTTP
/// ([`HttpJwksFetcher`]), a TLS client, or anything else that yields the
/// bytes the issuer publishes at its `jwks_uri`.
pub trait JwksFetcher {
    /// Fetch the document into `buf` and return its length. A document
    /// larger than `buf` is [`FetchError::TooLarge`], never truncated.
    fn fetch(&mut self, buf: &mut [u8]) -> impl Future<Output = Result<usize, FetchError>>;
}

/// No fetching: the key set changes only through
/// [`crate::FleetService::update_jwks`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFetcher;

impl JwksFetcher for NoFetcher {
    async fn fetch(&mut self, _buf: &mut [u8]) -> Result<usize, FetchError> {
        Err(FetchError::NotConfigured)
    }
}

/// A fetcher chosen at start-up: `None` fetches nothing.
impl<F: JwksFetcher> JwksFetcher for Option<F> {
    async fn fetch(&mut self, buf: &mut [u8]) -> Result<usize, FetchError> {
        match self {
            Some(f) => f.fetch(buf).await,
            None => Err(FetchError::NotConfigured),
        }
    }
}

/// The socket buffers of an [`HttpJwksFetcher`]; `const`-constructible, to
/// live in a `StaticCell`.
#[derive(Debug)]
pub struct FetchBuffers {
    rx: [u8; FETCH_RX_BUFFER],
    tx: [u8; FETCH_TX_BUFFER],
}

impl Default for FetchBuffers {
    fn default() -> Self {
        Self::new()
    }
}

impl FetchBuffers {
    /// Zeroed buffers.
    pub const fn new() -> Self {
        FetchBuffers {
            rx: [0; FETCH_RX_BUFFER],
            tx: [0; FETCH_TX_BUFFER],
        }
    }
}

/// GET `http://a.b.c.d[:port]/path` over one embassy-net TCP connection per
/// fetch (`Connection: close`), reading a `Content-Length` body or one that
/// ends with the connection. No DNS, no redirects, no TLS: see the module
/// documentation.
pub struct HttpJwksFetcher<'d> {
    stack: Stack<'d>,
    endpoint: IpEndpoint,
    /// `GET <path> HTTP/1.1` + `Host`, built once.
    request: heapless::String<FETCH_TX_BUFFER>,
    buffers: &'d mut FetchBuffers,
    timeout: Duration,
}

impl core::fmt::Debug for HttpJwksFetcher<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HttpJwksFetcher")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl<'d> HttpJwksFetcher<'d> {
    /// A fetcher of `url` (`http://` + IPv4 address + optional port +
    /// path) over `stack`, giving up after `timeout` per fetch.
    pub fn new(
        stack: Stack<'d>,
        url: &str,
        buffers: &'d mut FetchBuffers,
        timeout: Duration,
    ) -> Result<HttpJwksFetcher<'d>, FetchError> {
        let rest = url.strip_prefix("http://").ok_or(FetchError::Url)?;
        let (authority, path) = rest.split_at(rest.find('/').ok_or(FetchError::Url)?);
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| FetchError::Url)?),
            None => (authority, 80),
        };
        let address: core::net::Ipv4Addr = host.parse().map_err(|_| FetchError::Url)?;
        if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(FetchError::Url);
        }
        let mut request = heapless::String::new();
        core::fmt::write(
            &mut request,
            format_args!(
                "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\n\
                 Connection: close\r\n\r\n"
            ),
        )
        .map_err(|_| FetchError::Url)?;
        Ok(HttpJwksFetcher {
            stack,
            endpoint: IpEndpoint::new(IpAddress::Ipv4(address), port),
            request,
            buffers,
            timeout,
        })
    }

    async fn get(&mut self, buf: &mut [u8]) -> Result<usize, FetchError> {
        let FetchBuffers { rx, tx } = &mut *self.buffers;
        let mut socket = TcpSocket::new(self.stack, rx, tx);
        socket.set_timeout(Some(self.timeout));
        let result = exchange(&mut socket, self.endpoint, self.request.as_bytes(), buf).await;
        socket.abort();
        let _ = with_timeout(Duration::from_millis(500), socket.flush()).await;
        result
    }
}

impl JwksFetcher for HttpJwksFetcher<'_> {
    async fn fetch(&mut self, buf: &mut [u8]) -> Result<usize, FetchError> {
        let timeout = self.timeout;
        with_timeout(timeout, self.get(buf))
            .await
            .unwrap_or(Err(FetchError::Timeout))
    }
}

/// Send `request`, read the response into `buf`, move its body to the
/// front of `buf`, return the body's length.
async fn exchange(
    socket: &mut TcpSocket<'_>,
    endpoint: IpEndpoint,
    request: &[u8],
    buf: &mut [u8],
) -> Result<usize, FetchError> {
    socket
        .connect(endpoint)
        .await
        .map_err(|_| FetchError::Connect)?;
    socket
        .write_all(request)
        .await
        .map_err(|_| FetchError::Io)?;
    socket.flush().await.map_err(|_| FetchError::Io)?;
    let mut filled = 0;
    let mut framing: Option<(usize, Option<usize>)> = None;
    loop {
        if let Some((start, Some(len))) = framing
            && filled >= start + len
        {
            buf.copy_within(start..start + len, 0);
            return Ok(len);
        }
        if filled == buf.len() {
            return Err(FetchError::TooLarge);
        }
        let n = socket
            .read(&mut buf[filled..])
            .await
            .map_err(|_| FetchError::Io)?;
        if n == 0 {
            // The connection ended: the body is what came, unless a
            // length was promised.
            return match framing {
                Some((start, None)) => {
                    buf.copy_within(start..filled, 0);
                    Ok(filled - start)
                }
                _ => Err(FetchError::Malformed),
            };
        }
        filled += n;
        if framing.is_none() {
            framing = parse_head(&buf[..filled])?;
        }
    }
}

/// `Some((body start, Content-Length))` once the head is complete.
fn parse_head(bytes: &[u8]) -> Result<Option<(usize, Option<usize>)>, FetchError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let start = match response.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(FetchError::Malformed),
    };
    let status = response.code.unwrap_or(0);
    if status != 200 {
        return Err(FetchError::Status(status));
    }
    let mut length = None;
    for h in response.headers.iter() {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(FetchError::Malformed);
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            let value = core::str::from_utf8(h.value).map_err(|_| FetchError::Malformed)?;
            let n = value
                .trim()
                .parse::<usize>()
                .map_err(|_| FetchError::Malformed)?;
            if length.is_some_and(|l| l != n) {
                return Err(FetchError::Malformed);
            }
            length = Some(n);
        }
    }
    Ok(Some((start, length)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_heads() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"keys\":[]}";
        assert_eq!(parse_head(ok), Ok(Some((39, Some(12)))));
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Le"), Ok(None));
        assert_eq!(
            parse_head(b"HTTP/1.1 404 Not Found\r\n\r\n"),
            Err(FetchError::Status(404))
        );
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(FetchError::Malformed)
        );
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            Err(FetchError::Malformed)
        );
        assert_eq!(
            parse_head(b"\x00garbage\r\n\r\n"),
            Err(FetchError::Malformed)
        );
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\n\r\nbody"),
            Ok(Some((19, None)))
        );
    }
}
