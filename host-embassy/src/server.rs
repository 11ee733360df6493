//! The connection loop: `SOCKETS` embassy-net [`TcpSocket`]s, each an
//! accept → serve → close loop over its own fixed buffers, all polled
//! concurrently inside one [`Runner::run`] future (one embassy task). While
//! one socket serves or recycles a connection, the others keep listening,
//! so a slow client never blocks the next.

use alloc::vec::Vec;

use embassy_futures::join::join_array;
use embassy_net::Stack;
use embassy_net::tcp::TcpSocket;
use embassy_time::{Duration, Instant, Timer, with_deadline, with_timeout};
use embedded_io_async::Write as _;
use mcpauth_core::http::{Method, Response};
use mcpauth_core::rand::SecureRandom;

use crate::clock::WallClock;
use crate::http::{FramingError, framing_error_response, parse_head, write_head};
use crate::rng::BoardRng;
use crate::service::{DeviceEnv, Service};

/// Receive buffer of each TCP socket (smoltcp window), bytes.
pub const TCP_RX_BUFFER: usize = 1536;
/// Transmit buffer of each TCP socket, bytes.
pub const TCP_TX_BUFFER: usize = 2048;
/// Per-connection request buffer: head plus body of one request must fit.
pub const REQUEST_BUFFER: usize = 8192;
/// Static RAM of one socket slot.
pub const SLOT_BYTES: usize = TCP_RX_BUFFER + TCP_TX_BUFFER + REQUEST_BUFFER;

/// Limits and timeouts of the HTTP server. Each names what it bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// TCP port to listen on.
    pub port: u16,
    /// Largest request head (request line + headers), bytes; at most
    /// [`REQUEST_BUFFER`]. Bounds what a peer makes us parse (431 beyond).
    pub max_head: usize,
    /// Largest request body, bytes; head + body must also fit in
    /// [`REQUEST_BUFFER`] (413 beyond).
    pub max_body: usize,
    /// How long an open connection may sit without a request (slot held by
    /// idle keep-alive clients).
    pub idle_timeout: Duration,
    /// How long one request may take to arrive once its first byte has
    /// (slowloris).
    pub request_timeout: Duration,
    /// How long writing one response may take (a peer that stops reading).
    pub write_timeout: Duration,
    /// Requests served on one connection before it is closed (fairness
    /// between clients when every slot is taken).
    pub max_requests_per_connection: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 80,
            max_head: 4096,
            max_body: REQUEST_BUFFER - 4096,
            idle_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            max_requests_per_connection: 100,
        }
    }
}

/// The buffers of one socket slot.
pub(crate) struct Slot {
    rx: [u8; TCP_RX_BUFFER],
    tx: [u8; TCP_TX_BUFFER],
    request: [u8; REQUEST_BUFFER],
}

impl Slot {
    const fn new() -> Self {
        Slot {
            rx: [0; TCP_RX_BUFFER],
            tx: [0; TCP_TX_BUFFER],
            request: [0; REQUEST_BUFFER],
        }
    }
}

/// All static memory of the server: `SOCKETS` slots of [`SLOT_BYTES`]
/// each. `const`-constructible, to live in a `StaticCell`.
pub struct Resources<const SOCKETS: usize> {
    slots: [Slot; SOCKETS],
}

impl<const SOCKETS: usize> core::fmt::Debug for Resources<SOCKETS> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Resources")
            .field("sockets", &SOCKETS)
            .field("bytes", &(SOCKETS * SLOT_BYTES))
            .finish()
    }
}

impl<const SOCKETS: usize> Default for Resources<SOCKETS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const SOCKETS: usize> Resources<SOCKETS> {
    /// Zeroed buffers.
    pub const fn new() -> Self {
        Resources {
            slots: [const { Slot::new() }; SOCKETS],
        }
    }
}

/// Build the server: `stack` to listen on, `config`, the static
/// `resources`, the `service` answering requests, the board's `rng` and the
/// wall `clock`. Spawn a task that awaits [`Runner::run`].
pub fn new<'d, S, R, const SOCKETS: usize>(
    stack: Stack<'d>,
    config: Config,
    resources: &'d mut Resources<SOCKETS>,
    service: &'d S,
    rng: &'d BoardRng<R>,
    clock: &'d WallClock,
) -> Runner<'d, S, R, SOCKETS>
where
    S: Service,
    R: SecureRandom + Send,
{
    let mut config = config;
    config.max_head = config.max_head.min(REQUEST_BUFFER);
    Runner {
        shared: Shared {
            stack,
            config,
            service,
            rng,
            clock,
        },
        slots: &mut resources.slots,
    }
}

/// Serves HTTP on `SOCKETS` sockets; see [`new`].
pub struct Runner<'d, S, R, const SOCKETS: usize> {
    shared: Shared<'d, S, R>,
    slots: &'d mut [Slot; SOCKETS],
}

impl<S, R, const SOCKETS: usize> core::fmt::Debug for Runner<'_, S, R, SOCKETS> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Runner")
            .field("config", &self.shared.config)
            .field("sockets", &SOCKETS)
            .finish_non_exhaustive()
    }
}

struct Shared<'d, S, R> {
    stack: Stack<'d>,
    config: Config,
    service: &'d S,
    rng: &'d BoardRng<R>,
    clock: &'d WallClock,
}

impl<'d, S, R, const SOCKETS: usize> Runner<'d, S, R, SOCKETS>
where
    S: Service,
    R: SecureRandom + Send,
{
    /// Serve forever.
    pub async fn run(&mut self) -> ! {
        let shared = &self.shared;
        let loops = self.slots.each_mut().map(|slot| shared.serve_slot(slot));
        join_array(loops).await;
        // Every slot loop is endless; this is never reached.
        loop {
            core::future::pending::<()>().await;
        }
    }
}

/// Why a connection ends.
enum End {
    /// Orderly: the peer closed, asked to close, or the limit was reached.
    Done,
    /// The peer vanished or a write failed/timed out.
    Broken,
}

impl<S, R> Shared<'_, S, R>
where
    S: Service,
    R: SecureRandom + Send,
{
    async fn serve_slot(&self, slot: &mut Slot) {
        loop {
            let mut socket = TcpSocket::new(self.stack, &mut slot.rx, &mut slot.tx);
            // smoltcp aborts a connection whose sent data stays unacknowledged
            // this long.
            socket.set_timeout(Some(self.config.write_timeout));
            if socket.accept(self.config.port).await.is_err() {
                // Only a misconfiguration (port 0) or a socket in a wrong
                // state gets here: do not spin.
                Timer::after(Duration::from_millis(100)).await;
                continue;
            }
            let end = self.connection(&mut socket, &mut slot.request).await;
            if matches!(end, End::Done) {
                socket.close();
                let _ = with_timeout(Duration::from_secs(2), socket.flush()).await;
            }
            socket.abort();
            let _ = with_timeout(Duration::from_millis(500), socket.flush()).await;
        }
    }

    async fn connection(&self, socket: &mut TcpSocket<'_>, buf: &mut [u8; REQUEST_BUFFER]) -> End {
        let cfg = &self.config;
        let peer = socket
            .remote_endpoint()
            .map(|ep| core::net::IpAddr::from(ep.addr));
        let mut filled = 0usize;
        let mut served = 0u32;
        loop {
            // Head: wait for the first byte (idle timeout), then for the rest
            // of the request (request timeout).
            let idle_deadline = Instant::now() + cfg.idle_timeout;
            let mut request_deadline = (filled > 0).then(|| Instant::now() + cfg.request_timeout);
            let head = loop {
                if filled > 0 {
                    match parse_head(&buf[..filled], cfg.max_head, cfg.max_body, peer) {
                        Ok(Some(head)) => break head,
                        Ok(None) => {}
                        Err(e) => return self.refuse(socket, e).await,
                    }
                }
                let deadline = request_deadline.unwrap_or(idle_deadline);
                match with_deadline(deadline, socket.read(&mut buf[filled..])).await {
                    Err(_) if filled > 0 => {
                        return self.refuse(socket, FramingError::Timeout).await;
                    }
                    Err(_) | Ok(Ok(0)) => return End::Done,
                    Ok(Err(_)) => return End::Broken,
                    Ok(Ok(n)) => {
                        if filled == 0 {
                            request_deadline = Some(Instant::now() + cfg.request_timeout);
                        }
                        filled += n;
                    }
                }
            };
            // Body.
            let total = head.len.saturating_add(head.content_length);
            if total > buf.len() {
                return self.refuse(socket, FramingError::BodyTooLarge).await;
            }
            if head.expect_continue
                && filled < total
                && !self.send(socket, b"HTTP/1.1 100 Continue\r\n\r\n").await
            {
                return End::Broken;
            }
            let deadline = request_deadline.unwrap_or(idle_deadline);
            while filled < total {
                match with_deadline(deadline, socket.read(&mut buf[filled..])).await {
                    Err(_) => return self.refuse(socket, FramingError::Timeout).await,
                    Ok(Ok(0)) | Ok(Err(_)) => return End::Broken,
                    Ok(Ok(n)) => filled += n,
                }
            }
            let mut request = head.request;
            request.body = buf[head.len..total].to_vec();
            // Keep pipelined bytes for the next round.
            buf.copy_within(total..filled, 0);
            filled -= total;

            served += 1;
            let keep_alive = head.keep_alive && served < cfg.max_requests_per_connection;
            let mut rng = self.rng.handle();
            let env = DeviceEnv {
                now: self.clock.now(),
                rng: &mut rng,
            };
            let is_head = request.method == Method::Head;
            let response = self.service.handle(request, env).await;
            if !self.respond(socket, &response, keep_alive, is_head).await {
                return End::Broken;
            }
            if !keep_alive {
                return End::Done;
            }
        }
    }

    /// Answer a framing error and end the connection.
    async fn refuse(&self, socket: &mut TcpSocket<'_>, err: FramingError) -> End {
        let resp = framing_error_response(err);
        if self.respond(socket, &resp, false, false).await {
            End::Done
        } else {
            End::Broken
        }
    }

    async fn respond(
        &self,
        socket: &mut TcpSocket<'_>,
        resp: &Response,
        keep_alive: bool,
        is_head: bool,
    ) -> bool {
        let mut head = Vec::with_capacity(256);
        write_head(resp, keep_alive, &mut head);
        if !self.send(socket, &head).await {
            return false;
        }
        drop(head);
        if !is_head && !self.send(socket, &resp.body).await {
            return false;
        }
        matches!(
            with_timeout(self.config.write_timeout, socket.flush()).await,
            Ok(Ok(()))
        )
    }

    async fn send(&self, socket: &mut TcpSocket<'_>, bytes: &[u8]) -> bool {
        matches!(
            with_timeout(self.config.write_timeout, socket.write_all(bytes)).await,
            Ok(Ok(()))
        )
    }
}
