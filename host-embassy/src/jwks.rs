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

/// Connect, then [`http_get`].
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
    http_get(socket, request, buf).await
}

/// The HTTP/1.1 half of a fetch, over any connected byte stream: send
/// `request` (a complete `GET … Connection: close` head), read the
/// response into `buf`, move its body to the front of `buf` and return its
/// length. Status other than 200, chunked bodies and a body larger than
/// `buf` are errors.
///
/// [`HttpJwksFetcher`] runs it over an embassy-net `TcpSocket`. A board on
/// an open network runs it over a TLS connection instead (any type with
/// `embedded_io_async::Read + Write`, such as `embedded-tls`'s
/// `TlsConnection` wrapped around a connected `TcpSocket`) inside its own
/// [`JwksFetcher`]; see README.md, "Bring up a board".
pub async fn http_get<C>(conn: &mut C, request: &[u8], buf: &mut [u8]) -> Result<usize, FetchError>
where
    C: embedded_io_async::Read + embedded_io_async::Write,
{
    conn.write_all(request).await.map_err(|_| FetchError::Io)?;
    conn.flush().await.map_err(|_| FetchError::Io)?;
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
        let n = conn
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// A connection that is not a `TcpSocket`: what a TLS session looks
    /// like to [`http_get`] (it yields the decrypted response, takes the
    /// request to encrypt). Answers `response` in reads of at most 7 bytes.
    struct Scripted {
        response: &'static [u8],
        read: usize,
        written: Vec<u8>,
    }

    impl embedded_io_async::ErrorType for Scripted {
        type Error = core::convert::Infallible;
    }

    impl embedded_io_async::Read for Scripted {
        async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            let rest = &self.response[self.read..];
            let n = rest.len().min(buf.len()).min(7);
            buf[..n].copy_from_slice(&rest[..n]);
            self.read += n;
            Ok(n)
        }
    }

    impl embedded_io_async::Write for Scripted {
        async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }

        async fn flush(&mut self) -> Result<(), Self::Error> {
            Ok(())
        }
    }

    /// A board's own fetcher over such a connection, as a TLS one would be.
    struct OverConnection(&'static [u8]);

    impl JwksFetcher for OverConnection {
        async fn fetch(&mut self, buf: &mut [u8]) -> Result<usize, FetchError> {
            let mut conn = Scripted {
                response: self.0,
                read: 0,
                written: Vec::new(),
            };
            let request = b"GET /jwks.json HTTP/1.1\r\nHost: issuer\r\nConnection: close\r\n\r\n";
            let n = http_get(&mut conn, request, buf).await?;
            assert_eq!(conn.written, request);
            Ok(n)
        }
    }

    #[test]
    fn the_fetcher_trait_admits_any_connection() {
        let body = b"{\"keys\":[]}";
        let mut buf = [0u8; 128];
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"keys\":[]}";
        let n = embassy_futures::block_on(OverConnection(ok).fetch(&mut buf)).unwrap();
        assert_eq!(&buf[..n], body);
        let until_close = b"HTTP/1.1 200 OK\r\n\r\n{\"keys\":[]}";
        let n = embassy_futures::block_on(OverConnection(until_close).fetch(&mut buf)).unwrap();
        assert_eq!(&buf[..n], body);
        let mut small = [0u8; 40];
        assert_eq!(
            embassy_futures::block_on(OverConnection(ok).fetch(&mut small)),
            Err(FetchError::TooLarge)
        );
        let missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(
            embassy_futures::block_on(OverConnection(missing).fetch(&mut buf)),
            Err(FetchError::Status(404))
        );
    }

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
