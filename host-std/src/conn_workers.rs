//! Connection workers: threads that each run a single-threaded tokio
//! runtime, and serve every connection handed to them for its whole life.
//!
//! On tokio's multi-thread runtime an idle worker steals tasks from a busy
//! one, so a keep-alive connection's task, and the few kilobytes of state
//! each request touches (hyper's buffers, the service future, the MCP
//! call), move between cores request after request. For a bare hyper
//! server that state is small. For mcpauth, two workers pinned to one core
//! served `tools/call` with 23 % less CPU per request than two workers on
//! two cores (BENCHMARKS.md, session 9), and serving each connection on
//! one thread throughout takes 5–15 % off (session 10). actix-web serves
//! connections the same way.
//!
//! The price is that a connection cannot move off a busy thread: each new
//! connection goes to the worker holding the fewest, and CPU-heavy work
//! never runs on these threads (RSA signing and password hashing run on
//! the OAuth workers and the blocking pool).
//!
//! The accept loop stays on the caller's runtime and hands each accepted
//! socket over (two `epoll_ctl` calls per connection, none per request).
//! Everything a connection spawns (a live MCP call that outlasts its first
//! poll, `spawn_blocking` work) runs on its worker's runtime.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// The workers. Dropping them stops each thread: the connections it still
/// serves are dropped (the server's graceful shutdown has waited for them
/// by then).
#[derive(Debug)]
pub struct ConnectionWorkers {
    workers: Vec<Worker>,
}

#[derive(Debug)]
struct Worker {
    handle: Handle,
    /// Connections the worker serves now.
    live: Arc<AtomicUsize>,
    /// Dropped (or sent) to stop the thread.
    _stop: oneshot::Sender<()>,
}

/// Counts a connection on its worker until the connection ends.
struct Live(Arc<AtomicUsize>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl ConnectionWorkers {
    /// Start `threads` workers (at least one).
    pub fn start(threads: usize) -> std::io::Result<ConnectionWorkers> {
        let mut workers = Vec::new();
        for i in 0..threads.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let handle = runtime.handle().clone();
            let (stop, stopped) = oneshot::channel::<()>();
            std::thread::Builder::new()
                .name(format!("mcpauth-conn-{i}"))
                .spawn(move || {
                    // Returns when the sender is dropped; the runtime (and
                    // every task still on it) is dropped on this thread.
                    let _ = runtime.block_on(stopped);
                })?;
            workers.push(Worker {
                handle,
                live: Arc::new(AtomicUsize::new(0)),
                _stop: stop,
            });
        }
        Ok(ConnectionWorkers { workers })
    }

    /// Serve `stream` with `serve` on the worker holding the fewest
    /// connections. A socket that cannot move to it is closed.
    pub fn spawn<F, Fut>(&self, stream: TcpStream, serve: F)
    where
        F: FnOnce(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Some(worker) = self
            .workers
            .iter()
            .min_by_key(|w| w.live.load(Ordering::Relaxed))
        else {
            return;
        };
        // Leave this runtime's reactor; the worker registers it with its own.
        let stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(error = %e, "cannot hand a connection over");
                return;
            }
        };
        worker.live.fetch_add(1, Ordering::Relaxed);
        let live = Live(worker.live.clone());
        worker.handle.spawn(async move {
            let _live = live;
            match TcpStream::from_std(stream) {
                Ok(stream) => serve(stream).await,
                Err(e) => tracing::debug!(error = %e, "cannot register a connection"),
            }
        });
    }
}
