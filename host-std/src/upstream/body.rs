//! The upstream's response body on its way to the client: frame by frame
//! as it arrives (never buffered), under the size bound, counted while
//! alive.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

/// Why a proxied body ended early.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// A response body streamed from the upstream. Dropping it (the client went
/// away) drops the upstream response, which closes that upstream
/// connection: the upstream sees the disconnect.
#[derive(Debug)]
pub struct UpstreamBody {
    inner: Incoming,
    /// Bytes still allowed; `None` for event streams (long-lived by design,
    /// bounded by the client's connection instead).
    remaining: Option<u64>,
    _live: LiveStream,
}

/// One proxied response body alive; the count goes down on drop.
#[derive(Debug)]
struct LiveStream(Arc<AtomicUsize>);

impl Drop for LiveStream {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl UpstreamBody {
    pub(super) fn new(inner: Incoming, limit: Option<u64>, live: &Arc<AtomicUsize>) -> Self {
        live.fetch_add(1, Ordering::Relaxed);
        UpstreamBody {
            inner,
            remaining: limit,
            _live: LiveStream(live.clone()),
        }
    }

    /// The whole body, up to the bound.
    pub async fn collect(self) -> Result<Vec<u8>, BodyError> {
        use http_body_util::BodyExt;
        let mut body = std::pin::pin!(self);
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                out.extend_from_slice(&data);
            }
        }
        Ok(out)
    }
}

/// The upstream sent more than [`super::UpstreamLimits::max_response_bytes`]
/// without declaring it: the stream is cut, the client sees an incomplete
/// body.
#[derive(Debug)]
struct TooLarge;

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("upstream response larger than the proxy's bound")
    }
}

impl std::error::Error for TooLarge {}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        loop {
            let frame = match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                None => return Poll::Ready(None),
                Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                Some(Ok(frame)) => frame,
            };
            let Some(data) = frame.data_ref() else {
                // Trailers are hop-by-hop framing here: not forwarded.
                continue;
            };
            if let Some(remaining) = &mut this.remaining {
                match remaining.checked_sub(data.len() as u64) {
                    Some(left) => *remaining = left,
                    None => {
                        tracing::warn!("upstream response over the size bound: cut");
                        return Poll::Ready(Some(Err(Box::new(TooLarge))));
                    }
                }
            }
            return Poll::Ready(Some(Ok(frame)));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
