//! A few dedicated threads that run the core's OAuth futures.
//!
//! The core's OAuth future is not `Send` (its `Env` holds a
//! `dyn SecureRandom + Send` that is not `Sync`), so it cannot run on the
//! async workers. It used to run one request per blocking-pool thread under
//! `block_on`, which tied the requests in flight to threads: a refresh grant
//! parks its thread while its rotation waits for the group commit's fsync,
//! so 16 grants in flight meant 16 threads (their stacks and malloc arenas
//! in the resident set) taking turns on 2 cores to sign.
//!
//! Here each worker thread runs a `LocalSet` under the server runtime's
//! handle (its I/O and timers), and a request is a local task: while one
//! waits for the disk, the same thread signs another's token. One thread per
//! core is enough for the CPU-bound part (RSA signing); password checks
//! still go to the blocking pool from inside the task (`Users::check`), so a
//! sign-in never stalls a worker. The requests in flight are bounded by the
//! caller (the app's OAuth slots), and each worker's queue by
//! [`QUEUE_PER_WORKER`].

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

/// A request's work: built on the worker thread, so it need not be `Send`.
type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// Jobs waiting for one worker. The app admits at most its OAuth slots
/// (16) at once, so this is never reached in practice; past it a request is
/// refused rather than queued.
pub const QUEUE_PER_WORKER: usize = 64;

/// The worker threads. Dropping it lets each thread finish the requests it
/// holds and exit.
#[derive(Debug)]
pub struct OAuthWorkers {
    queues: Vec<mpsc::Sender<Job>>,
    next: AtomicUsize,
}

/// The request could not be handed to a worker (threads gone or queue full).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected;

impl OAuthWorkers {
    /// Start `threads` workers (at least one) on the runtime of `handle`.
    pub fn start(handle: &tokio::runtime::Handle, threads: usize) -> std::io::Result<OAuthWorkers> {
        let mut queues = Vec::new();
        for i in 0..threads.max(1) {
            let (tx, rx) = mpsc::channel::<Job>(QUEUE_PER_WORKER);
            let handle = handle.clone();
            std::thread::Builder::new()
                .name(format!("mcpauth-oauth-{i}"))
                .spawn(move || run_worker(&handle, rx))?;
            queues.push(tx);
        }
        Ok(OAuthWorkers {
            queues,
            next: AtomicUsize::new(0),
        })
    }

    /// Start one worker per available core.
    pub fn per_core(handle: &tokio::runtime::Handle) -> std::io::Result<OAuthWorkers> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        OAuthWorkers::start(handle, cores)
    }

    /// Run the future made by `make` on a worker and return its output.
    /// `make` runs on the worker thread, so its future may hold non-`Send`
    /// state.
    pub async fn run<T, F, Fut>(&self, make: F) -> Result<T, Rejected>
    where
        T: Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            Box::pin(async move {
                // The caller may have gone (client disconnected): nothing to do.
                let _ = tx.send(make().await);
            })
        });
        // Round robin: requests are short and alike, and a worker busy
        // signing still takes its next request as soon as it awaits.
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.queues.len();
        self.queues[i].try_send(job).map_err(|_| Rejected)?;
        rx.await.map_err(|_| Rejected)
    }
}

fn run_worker(handle: &tokio::runtime::Handle, mut queue: mpsc::Receiver<Job>) {
    let local = tokio::task::LocalSet::new();
    handle.block_on(async move {
        local
            .run_until(async {
                while let Some(job) = queue.recv().await {
                    tokio::task::spawn_local(job());
                }
            })
            .await;
        // The queue is closed: finish what was accepted, then exit.
        local.await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_non_send_futures_concurrently_on_few_threads() {
        let workers =
            Arc::new(OAuthWorkers::start(&tokio::runtime::Handle::current(), 1).expect("start"));
        let (release, wait) = tokio::sync::watch::channel(false);
        // Eight requests that all wait for one signal on a single thread:
        // they can only all finish if the thread interleaves them.
        let mut tasks = Vec::new();
        for n in 0..8u32 {
            let workers = workers.clone();
            let mut wait = wait.clone();
            tasks.push(tokio::spawn(async move {
                workers
                    .run(move || async move {
                        let not_send = Rc::new(n);
                        let _ = wait.wait_for(|go| *go).await;
                        (*not_send, std::thread::current().name().map(str::to_owned))
                    })
                    .await
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        release.send(true).expect("send");
        for (n, task) in (0u32..).zip(tasks) {
            let answer = tokio::time::timeout(std::time::Duration::from_secs(5), task)
                .await
                .expect("no deadlock")
                .expect("join");
            let (value, thread) = answer.expect("ran");
            assert_eq!(value, n);
            assert_eq!(thread.as_deref(), Some("mcpauth-oauth-0"));
        }
    }
}
