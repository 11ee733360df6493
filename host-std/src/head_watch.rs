//! The request-head deadline of a connection (slowloris bound), with one
//! timer per connection instead of one per request.
//!
//! hyper's own `header_read_timeout` arms a timer for every request head:
//! on a keep-alive connection each request resets a `Sleep` in the
//! runtime's timer wheel and removes it again, under the wheel's lock that
//! every worker shares (about 2 % of the server's samples on an
//! authenticated `tools/call`). Here the connection keeps one timer that
//! fires at most once per `limit`, and a request costs two relaxed atomic
//! stores and one clock read:
//!
//! - while a request is being answered (from its head until its response
//!   body has been written, a live SSE stream included), no head is due;
//! - otherwise the next head is due `limit` after the last response ended
//!   (or the connection opened): a connection that idles or trickles a head
//!   for longer is closed, as hyper's timeout does.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use hyper::body::{Body, Frame, SizeHint};
use hyper_util::server::graceful::GracefulConnection;

/// `state` while a request is being answered.
const ANSWERING: u64 = u64::MAX;

/// What a connection is doing, shared by its task, its service and the
/// bodies of its responses.
#[derive(Debug)]
pub struct HeadWatch {
    opened: Instant,
    /// [`ANSWERING`], or the millisecond (since `opened`) from which the
    /// next request head is awaited.
    state: AtomicU64,
}

impl HeadWatch {
    /// A connection that has just opened: its first head is due from now.
    pub fn new() -> Arc<HeadWatch> {
        Arc::new(HeadWatch {
            opened: Instant::now(),
            state: AtomicU64::new(0),
        })
    }

    /// A request head arrived: none is due until its answer is written.
    pub fn answering(&self) {
        self.state.store(ANSWERING, Ordering::Relaxed);
    }

    /// The answer has been written: the next head is due from now.
    pub fn awaiting_head(&self) {
        let ms = self.opened.elapsed().as_millis();
        self.state.store(
            u64::try_from(ms).unwrap_or(ANSWERING - 1),
            Ordering::Relaxed,
        );
    }

    /// When the next head is due, if one is (`limit` after it began to be
    /// awaited).
    fn due(&self, limit: Duration) -> Option<Instant> {
        match self.state.load(Ordering::Relaxed) {
            ANSWERING => None,
            ms => Some(self.opened + Duration::from_millis(ms) + limit),
        }
    }
}

/// A response body that tells its connection's [`HeadWatch`] when it has
/// been written (hyper drops a body once its last frame is out, or when
/// the connection ends).
#[derive(Debug)]
pub struct Watched<B> {
    body: B,
    watch: Arc<HeadWatch>,
}

impl<B> Watched<B> {
    /// `body`, reporting its end to `watch`.
    pub fn new(body: B, watch: Arc<HeadWatch>) -> Watched<B> {
        Watched { body, watch }
    }
}

impl<B> Drop for Watched<B> {
    fn drop(&mut self) {
        self.watch.awaiting_head();
    }
}

impl<B: Body + Unpin> Body for Watched<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Serve `connection` until it ends; drop it (which closes the socket) when
/// a request head it awaits is more than `limit` late; shut it down
/// gracefully (the request in progress is answered, then the connection
/// closes) once `stop` turns true or its sender is gone. The server waits
/// for every connection's `stop` receiver to be dropped.
///
/// The deadline timer and the stop signal are polled only after one of
/// them woke the task. A plain `select!` would poll both, through the
/// timer wheel's and the channel's shared state, on every wake-up of the
/// connection, several times per request.
pub async fn serve_guarded<C: GracefulConnection>(
    connection: C,
    watch: Arc<HeadWatch>,
    limit: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Option<C::Output> {
    let mut connection = std::pin::pin!(connection);
    let mut timer = std::pin::pin!(tokio::time::sleep(limit));
    let mut stopped = std::pin::pin!(async {
        let _ = stop.wait_for(|&stop| stop).await;
    });
    let mut stopping = false;
    let side = Arc::new(SideWake {
        woken: AtomicBool::new(true),
        task: Mutex::new(None),
    });
    let side_waker = Waker::from(side.clone());
    let mut task_waker: Option<Waker> = None;
    std::future::poll_fn(|cx| {
        if !task_waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            task_waker = Some(cx.waker().clone());
            *side.task.lock().unwrap_or_else(|e| e.into_inner()) = task_waker.clone();
        }
        loop {
            if let Poll::Ready(out) = connection.as_mut().poll(cx) {
                return Poll::Ready(Some(out));
            }
            if !(side.woken.load(Ordering::Acquire) && side.woken.swap(false, Ordering::AcqRel)) {
                return Poll::Pending;
            }
            let mut side_cx = Context::from_waker(&side_waker);
            if !stopping && stopped.as_mut().poll(&mut side_cx).is_ready() {
                stopping = true;
                connection.as_mut().graceful_shutdown();
                // The connection is polled again (it may close at once),
                // then the timer.
                side.woken.store(true, Ordering::Release);
                continue;
            }
            // Re-armed only when it fires: at most once per `limit`,
            // whatever the number of requests in between.
            while timer.as_mut().poll(&mut side_cx).is_ready() {
                let now = Instant::now();
                match watch.due(limit) {
                    Some(due) if due <= now => return Poll::Ready(None),
                    Some(due) => timer.as_mut().reset(due.into()),
                    None => timer.as_mut().reset((now + limit).into()),
                }
            }
        }
    })
    .await
}

/// Wakes a guarded connection's task on behalf of its timer or stop
/// signal, and says so.
struct SideWake {
    woken: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl Wake for SideWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(task) = task {
            task.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_head_is_due_while_answering() {
        let watch = HeadWatch::new();
        let limit = Duration::from_secs(10);
        let first = watch.due(limit).expect("the first head is due");
        assert!(first <= Instant::now() + limit);
        watch.answering();
        assert_eq!(watch.due(limit), None);
        std::thread::sleep(Duration::from_millis(5));
        watch.awaiting_head();
        let next = watch.due(limit).expect("the next head is due");
        assert!(next > first, "counted from the end of the answer");
    }
}
