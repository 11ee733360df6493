//! Live SSE streams of the 2025 era: an event log per stream, readers the
//! host drives, and the server-to-client requests a call waits on.
//!
//! The core owns no runtime: a host reads a stream through a
//! [`StreamReader`], whose [`StreamReader::poll_events`] returns the encoded
//! events after its cursor or registers the task's [`Waker`] under the hub's
//! lock; whoever appends an event wakes it. The call behind a POST stream
//! runs in a future the host spawns ([`super::McpServer::run_live`]).
//!
//! Event ids are `<stream key>.<sequence>`: the key is 16 random bytes
//! (base64url), so a `Last-Event-ID` names its stream and cannot be guessed;
//! a resumed reader replays the logged events after the sequence, then
//! follows the live ones.
//!
//! Bounds (all in [`super::McpLimits`]): streams held by the instance
//! (`max_streams`), streams per session (`max_streams_per_session`), events
//! logged per stream (`max_stream_events`; later notifications are dropped,
//! the final response always fits), seconds a finished stream stays
//! resumable (`stream_retention_secs`), server-to-client requests awaiting
//! an answer (`max_pending_inputs`).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::task::{Context as TaskContext, Poll, Waker};

use serde_json::Value;
use subtle::ConstantTimeEq;

use super::McpLimits;
use super::sse::SseWriter;
use crate::sync::{Arc, Mutex};
use crate::time::UnixTime;

/// One logged event.
#[derive(Debug)]
struct Event {
    seq: u64,
    data: String,
}

#[derive(Debug)]
struct Stream {
    key: String,
    /// The session it belongs to (`None`: stateless, bound to `owner` only).
    session: Option<String>,
    owner: Option<[u8; 32]>,
    /// The standalone `GET` stream of its session.
    standalone: bool,
    events: Vec<Event>,
    next_seq: u64,
    /// No event will follow (the response was logged).
    finished: bool,
    /// Bumped when a reader attaches or the server closes the connection:
    /// a reader of an older generation ends.
    generation: u64,
    /// Whether a reader of the current generation is attached.
    attached: bool,
    waker: Option<Waker>,
    created: UnixTime,
}

/// A server-to-client request awaiting the client's answer.
#[derive(Debug)]
struct Pending {
    /// The JSON-RPC id the core assigned (random).
    rpc_id: String,
    session: Option<String>,
    owner: Option<[u8; 32]>,
    deadline: u64,
    answer: Option<Result<Value, Value>>,
    waker: Option<Waker>,
}

#[derive(Debug, Default)]
struct Hub {
    streams: Vec<Stream>,
    pending: Vec<Pending>,
    /// The host's timer task ([`StreamHub::set_timer_waker`]): woken when
    /// a deadline is added that is earlier than the one it sleeps to.
    timer: Option<Waker>,
    /// The time of the timer task's last run (`handle_timeout`).
    timer_ran: Option<u64>,
    /// What the timer task sleeps to, as `poll_timeout` last answered
    /// (`None`: unknown, so every new deadline wakes it).
    timer_at: Option<u64>,
}

impl Hub {
    /// A deadline was added: wake the timer task only if it sleeps past it.
    /// Its sleep never exceeds [`TIMER_HORIZON_SECS`](super::timer::TIMER_HORIZON_SECS),
    /// so the deadlines every request adds (a stream's retention, a
    /// session's idle end) wake nobody: a cross-thread wakeup per request
    /// was most of what the timer cost.
    fn wake_timer_for(&mut self, deadline: u64) {
        if self.timer_at.is_some_and(|at| at <= deadline) {
            return;
        }
        if let Some(w) = &self.timer {
            w.wake_by_ref();
            // It sleeps to this at the latest now; later deadlines wake
            // nothing until it has looked again.
            self.timer_at = Some(deadline);
        }
    }
}

impl Stream {
    /// When the stream leaves the hub: a finished stream nobody reads
    /// after the retention time; any stream once older than the session
    /// idle time (and the retention time).
    fn leaves_at(&self, limits: &McpLimits) -> u64 {
        let created = self.created.secs();
        let retention = limits.stream_retention_secs;
        let end = created.saturating_add(limits.session_idle_secs.max(retention));
        if self.finished && !self.attached {
            end.min(created.saturating_add(retention))
        } else {
            end
        }
    }
}

/// Why a stream could not be opened or resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamError {
    /// Too many streams (instance or session): try later.
    Full,
    /// No such stream for this caller (unknown, expired or someone else's).
    Unknown,
    /// The session already has a standalone stream with a reader.
    Conflict,
}

/// What a live call's stream is opened with. The stream is opened lazily:
/// by the call's first event, or when the call first waits. A call that
/// finishes at once without a notification never opens one, and is
/// answered with plain JSON.
#[derive(Debug)]
pub(crate) struct StreamSpec {
    /// The stream key (random, see [`super::server::Entropy::stream_key`]).
    pub(crate) key: String,
    /// The caller's session, if any.
    pub(crate) session: Option<String>,
    /// The caller ([`super::session::session_owner`]).
    pub(crate) owner: Option<[u8; 32]>,
    /// When the call started.
    pub(crate) created: UnixTime,
}

/// The instance-wide table of live streams and pending input requests.
#[derive(Debug)]
pub(crate) struct StreamHub {
    hub: Mutex<Hub>,
    limits: McpLimits,
}

/// What a reader of a stream needs: the hub, the stream, its cursor.
/// Dropping it detaches the reader (the events stay for a resumption).
#[derive(Debug)]
pub struct StreamReader {
    hub: Arc<StreamHub>,
    key: String,
    generation: u64,
    /// Last sequence delivered.
    cursor: u64,
    retry_ms: u32,
    /// Whether the retry hint still has to be written.
    opening: bool,
    /// Whether a priming event goes first (a fresh stream, not a resumption).
    prime: bool,
}

impl PartialEq for StreamReader {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.generation == other.generation
    }
}

impl Eq for StreamReader {}

fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl StreamHub {
    pub(crate) fn new(limits: McpLimits) -> StreamHub {
        StreamHub {
            hub: Mutex::new(Hub::default()),
            limits,
        }
    }

    /// Open a stream `key` (fresh random) for `session`/`owner`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn open(
        hub: &Arc<Self>,
        key: String,
        session: Option<&str>,
        owner: Option<[u8; 32]>,
        standalone: bool,
        priming: bool,
        now: UnixTime,
        retry_ms: u32,
    ) -> Result<StreamReader, StreamError> {
        let mut h = hub.hub.lock();
        hub.insert(&mut h, key.clone(), session, owner, standalone, now)?;
        drop(h);
        Ok(StreamReader::fresh(hub, key, retry_ms, priming))
    }

    /// Add stream `key` to the table, within the instance and session
    /// bounds (the oldest finished unread stream makes room).
    fn insert(
        &self,
        h: &mut Hub,
        key: String,
        session: Option<&str>,
        owner: Option<[u8; 32]>,
        standalone: bool,
        now: UnixTime,
    ) -> Result<(), StreamError> {
        self.expire_streams(h, now);
        if let Some(sid) = session {
            let held = |streams: &[Stream]| {
                streams
                    .iter()
                    .filter(|s| s.session.as_deref() == Some(sid))
                    .count()
            };
            let max = self.limits.max_streams_per_session;
            if held(&h.streams) >= max {
                drop_oldest_finished(&mut h.streams, Some(sid));
                if held(&h.streams) >= max {
                    return Err(StreamError::Full);
                }
            }
        }
        if h.streams.len() >= self.limits.max_streams {
            drop_oldest_finished(&mut h.streams, None);
            if h.streams.len() >= self.limits.max_streams {
                return Err(StreamError::Full);
            }
        }
        let stream = Stream {
            key,
            session: session.map(ToString::to_string),
            owner,
            standalone,
            events: Vec::new(),
            next_seq: 1,
            finished: false,
            generation: 0,
            attached: true,
            waker: None,
            created: now,
        };
        let leaves = stream.leaves_at(&self.limits);
        h.streams.push(stream);
        h.wake_timer_for(leaves);
        Ok(())
    }

    /// Make sure the stream of a live call exists (it is opened by its
    /// first event, or when the call first waits); `false` when the table
    /// is full.
    pub(crate) fn ensure_open(&self, spec: &StreamSpec) -> bool {
        let mut h = self.hub.lock();
        self.open_locked(&mut h, spec)
    }

    /// [`StreamHub::ensure_open`] under the lock already taken.
    fn open_locked(&self, h: &mut Hub, spec: &StreamSpec) -> bool {
        h.streams.iter().any(|s| s.key == spec.key)
            || self
                .insert(
                    h,
                    spec.key.clone(),
                    spec.session.as_deref(),
                    spec.owner,
                    false,
                    spec.created,
                )
                .is_ok()
    }

    /// Attach a new reader to the standalone stream of `session`, if one
    /// exists: [`StreamError::Conflict`] while another reader is attached.
    pub(crate) fn attach_standalone(
        hub: &Arc<Self>,
        session: &str,
        retry_ms: u32,
    ) -> Result<Option<StreamReader>, StreamError> {
        let mut h = hub.hub.lock();
        let Some(s) = h
            .streams
            .iter_mut()
            .find(|s| s.standalone && s.session.as_deref() == Some(session))
        else {
            return Ok(None);
        };
        if s.attached {
            return Err(StreamError::Conflict);
        }
        let cursor = s.next_seq.saturating_sub(1);
        Ok(Some(Self::reattach(hub, s, cursor, retry_ms)))
    }

    fn reattach(hub: &Arc<Self>, s: &mut Stream, cursor: u64, retry_ms: u32) -> StreamReader {
        s.generation = s.generation.wrapping_add(1);
        s.attached = true;
        if let Some(w) = s.waker.take() {
            w.wake();
        }
        StreamReader {
            hub: hub.clone(),
            key: s.key.clone(),
            generation: s.generation,
            cursor,
            retry_ms,
            opening: true,
            prime: false,
        }
    }

    /// Resume after event `last_event_id` (`<key>.<seq>`) for the caller
    /// (`session`, `owner`); the events after it are replayed.
    pub(crate) fn resume(
        hub: &Arc<Self>,
        last_event_id: &str,
        session: Option<&str>,
        owner: Option<[u8; 32]>,
        retry_ms: u32,
    ) -> Result<StreamReader, StreamError> {
        let (key, seq) = last_event_id
            .trim()
            .split_once('.')
            .ok_or(StreamError::Unknown)?;
        let seq: u64 = seq.parse().map_err(|_| StreamError::Unknown)?;
        let mut h = hub.hub.lock();
        let s = h
            .streams
            .iter_mut()
            .find(|s| same(&s.key, key))
            .ok_or(StreamError::Unknown)?;
        let session_ok = match (&s.session, session) {
            (Some(a), Some(b)) => same(a, b),
            (None, None) => true,
            _ => false,
        };
        if !session_ok || s.owner != owner || seq >= s.next_seq {
            return Err(StreamError::Unknown);
        }
        Ok(Self::reattach(hub, s, seq, retry_ms))
    }

    /// Drop the streams whose time is up ([`Stream::leaves_at`]); a reader
    /// still attached is woken and ends.
    fn expire_streams(&self, h: &mut Hub, now: UnixTime) {
        let limits = &self.limits;
        h.streams.retain_mut(|s| {
            let stays = s.leaves_at(limits) > now.secs();
            if !stays && let Some(w) = s.waker.take() {
                w.wake();
            }
            stays
        });
    }

    /// Refuse the server-to-client requests past their deadline: the
    /// waiting call wakes and ends.
    fn expire_inputs(h: &mut Hub, now: UnixTime) {
        for p in h.pending.iter_mut() {
            if p.deadline <= now.secs() && p.answer.is_none() {
                p.answer = Some(Err(Value::Null));
                if let Some(w) = p.waker.take() {
                    w.wake();
                }
            }
        }
    }

    /// The earliest deadline of the hub: an unanswered input request's, or
    /// a stream's departure.
    pub(crate) fn poll_timeout(&self) -> Option<UnixTime> {
        let h = self.hub.lock();
        let inputs = h
            .pending
            .iter()
            .filter(|p| p.answer.is_none())
            .map(|p| p.deadline);
        let streams = h.streams.iter().map(|s| s.leaves_at(&self.limits));
        inputs.chain(streams).min().map(UnixTime)
    }

    /// Expire what is due at `now` (input requests, streams).
    pub(crate) fn handle_timeout(&self, now: UnixTime) {
        let mut h = self.hub.lock();
        h.timer_ran = Some(now.secs());
        Self::expire_inputs(&mut h, now);
        self.expire_streams(&mut h, now);
    }

    /// The timer task asked for the next deadline (`earliest`, of every
    /// timed thing): it sleeps to that, or at most
    /// [`TIMER_HORIZON_SECS`](super::timer::TIMER_HORIZON_SECS) after its
    /// last run. Remembered, so that only earlier deadlines wake it.
    pub(crate) fn timer_polled(&self, earliest: Option<UnixTime>) {
        let mut h = self.hub.lock();
        let horizon = h
            .timer_ran
            .map(|ran| ran.saturating_add(super::timer::TIMER_HORIZON_SECS));
        h.timer_at = match (earliest.map(UnixTime::secs), horizon) {
            (Some(a), Some(b)) => Some(a.min(b)),
            // Never ran: the host's sleep is unknown.
            (_, None) => None,
            (None, b) => b,
        };
    }

    /// Wake `waker` whenever a deadline is added (see
    /// [`super::McpServer::set_timer_waker`]).
    pub(crate) fn set_timer_waker(&self, waker: Waker) {
        self.hub.lock().timer = Some(waker);
    }

    /// A deadline elsewhere (a new session's idle end) was added: wake the
    /// timer task if it sleeps past it.
    pub(crate) fn wake_timer_for(&self, deadline: UnixTime) {
        self.hub.lock().wake_timer_for(deadline.secs());
    }

    /// Append a message to stream `key` (dropped when its log is full,
    /// unless `last`, which also finishes the stream).
    pub(crate) fn push(&self, key: &str, data: String, last: bool) {
        let mut h = self.hub.lock();
        self.push_locked(&mut h, key, data, last);
    }

    /// [`StreamHub::push`] to a live call's stream, opening it first if
    /// this is its first event. `false` when it could not be opened (the
    /// table is full): the message is dropped.
    pub(crate) fn push_opening(&self, spec: &StreamSpec, data: String, last: bool) -> bool {
        let mut h = self.hub.lock();
        let exists = self.open_locked(&mut h, spec);
        if exists {
            self.push_locked(&mut h, &spec.key, data, last);
        }
        exists
    }

    fn push_locked(&self, h: &mut Hub, key: &str, data: String, last: bool) {
        let max = self.limits.max_stream_events;
        let Some(s) = h.streams.iter_mut().find(|s| s.key == key) else {
            return;
        };
        if s.finished || (!last && s.events.len() >= max) {
            return;
        }
        s.events.push(Event {
            seq: s.next_seq,
            data,
        });
        s.next_seq += 1;
        s.finished |= last;
        if let Some(w) = s.waker.take() {
            w.wake();
        }
        if last {
            // A finished stream may leave sooner.
            let leaves = s.leaves_at(&self.limits);
            h.wake_timer_for(leaves);
        }
    }

    /// Append a notification to the standalone stream of `session`, if it
    /// has one.
    pub(crate) fn push_standalone(&self, session: &str, data: String) {
        let key = {
            let h = self.hub.lock();
            h.streams
                .iter()
                .find(|s| s.standalone && s.session.as_deref() == Some(session))
                .map(|s| s.key.clone())
        };
        if let Some(key) = key {
            self.push(&key, data, false);
        }
    }

    /// End the current connection of stream `key` (SSE polling): its reader
    /// finishes; the client resumes with `Last-Event-ID`.
    pub(crate) fn close_connection(&self, key: &str) {
        let mut h = self.hub.lock();
        if let Some(s) = h.streams.iter_mut().find(|s| s.key == key) {
            s.generation = s.generation.wrapping_add(1);
            s.attached = false;
            if let Some(w) = s.waker.take() {
                w.wake();
            }
        }
    }

    /// Forget every stream and pending request of `session` (DELETE).
    pub(crate) fn end_session(&self, session: &str) {
        let mut h = self.hub.lock();
        for s in h.streams.iter_mut() {
            if s.session.as_deref() == Some(session)
                && let Some(w) = s.waker.take()
            {
                w.wake();
            }
        }
        h.streams.retain(|s| s.session.as_deref() != Some(session));
        for p in h.pending.iter_mut() {
            if p.session.as_deref() == Some(session) {
                p.answer = Some(Err(Value::Null));
                if let Some(w) = p.waker.take() {
                    w.wake();
                }
            }
        }
    }

    /// Register server-to-client request `rpc_id`; false when the table is
    /// full.
    pub(crate) fn expect_answer(
        &self,
        rpc_id: &str,
        session: Option<&str>,
        owner: Option<[u8; 32]>,
        now: UnixTime,
    ) -> bool {
        let mut h = self.hub.lock();
        let now_s = now.secs();
        Self::expire_inputs(&mut h, now);
        if h.pending.len() >= self.limits.max_pending_inputs {
            return false;
        }
        h.pending.push(Pending {
            rpc_id: rpc_id.into(),
            session: session.map(ToString::to_string),
            owner,
            deadline: now_s.saturating_add(self.limits.input_wait_secs),
            answer: None,
            waker: None,
        });
        h.wake_timer_for(now_s.saturating_add(self.limits.input_wait_secs));
        true
    }

    /// The client's answer to `rpc_id` (`Ok(result)` or `Err(error)`).
    /// False when no such request is pending for this caller.
    pub(crate) fn answer(
        &self,
        rpc_id: &str,
        session: Option<&str>,
        owner: Option<[u8; 32]>,
        answer: Result<Value, Value>,
    ) -> bool {
        let mut h = self.hub.lock();
        let Some(p) = h.pending.iter_mut().find(|p| {
            same(&p.rpc_id, rpc_id)
                && p.answer.is_none()
                && p.owner == owner
                && p.session.as_deref() == session
        }) else {
            return false;
        };
        p.answer = Some(answer);
        if let Some(w) = p.waker.take() {
            w.wake();
        }
        true
    }

    /// Take the answers to `ids` once all arrived, or register the waker.
    pub(crate) fn poll_answers(
        &self,
        ids: &[String],
        cx: &mut TaskContext<'_>,
    ) -> Poll<Vec<Result<Value, Value>>> {
        let mut h = self.hub.lock();
        let ready = ids.iter().all(|id| {
            h.pending
                .iter()
                .any(|p| p.rpc_id == *id && p.answer.is_some())
        });
        if !ready {
            for p in h.pending.iter_mut().filter(|p| ids.contains(&p.rpc_id)) {
                p.waker = Some(cx.waker().clone());
            }
            // A request already gone (session ended) counts as refused.
            if ids
                .iter()
                .all(|id| h.pending.iter().any(|p| p.rpc_id == *id))
            {
                return Poll::Pending;
            }
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let answer = h
                .pending
                .iter_mut()
                .find(|p| p.rpc_id == *id)
                .and_then(|p| p.answer.take())
                .unwrap_or(Err(Value::Null));
            out.push(answer);
        }
        h.pending.retain(|p| !ids.contains(&p.rpc_id));
        Poll::Ready(out)
    }

    /// Forget pending requests `ids` (the waiting call ended).
    pub(crate) fn forget(&self, ids: &[String]) {
        self.hub.lock().pending.retain(|p| !ids.contains(&p.rpc_id));
    }

    fn detach(&self, key: &str, generation: u64) {
        let mut h = self.hub.lock();
        if let Some(s) = h
            .streams
            .iter_mut()
            .find(|s| s.key == key && s.generation == generation)
        {
            s.attached = false;
            s.waker = None;
            if s.finished {
                // Unread now: it may leave sooner.
                let leaves = s.leaves_at(&self.limits);
                h.wake_timer_for(leaves);
            }
        }
    }
}

/// Drop the oldest finished stream without a reader (of `session`, or any).
fn drop_oldest_finished(streams: &mut Vec<Stream>, session: Option<&str>) {
    let victim = streams
        .iter()
        .enumerate()
        .filter(|(_, s)| s.finished && !s.attached)
        .filter(|(_, s)| session.is_none() || s.session.as_deref() == session)
        .min_by_key(|(_, s)| s.created.secs())
        .map(|(i, _)| i);
    if let Some(i) = victim {
        streams.remove(i);
    }
}

impl StreamReader {
    /// A reader of fresh stream `key`, from its first event on (the stream
    /// itself may be opened later, see [`StreamSpec`]).
    pub(crate) fn fresh(hub: &Arc<StreamHub>, key: String, retry_ms: u32, priming: bool) -> Self {
        StreamReader {
            hub: hub.clone(),
            key,
            generation: 0,
            cursor: 0,
            retry_ms,
            opening: true,
            prime: priming,
        }
    }

    /// The id of the stream this reader follows (diagnostics, tests).
    pub fn stream_key(&self) -> &str {
        &self.key
    }

    /// The SSE bytes of the events after this reader's cursor (the retry
    /// hint and, from 2025-11-25 on, a priming event first), `Ready(None)`
    /// when the stream finished and everything was delivered, when the
    /// server closed this connection, or when another reader took the
    /// stream over; otherwise the waker is registered and `Pending`.
    pub fn poll_events(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<Vec<u8>>> {
        let mut h = self.hub.hub.lock();
        let Some(s) = h.streams.iter_mut().find(|s| s.key == self.key) else {
            return Poll::Ready(None);
        };
        // The server closed this connection or a resumption took over: the
        // reader ends, but first writes the retry hint and priming event if
        // it has not yet (the client needs them to resume).
        let superseded = s.generation != self.generation;
        if superseded && !self.opening {
            return Poll::Ready(None);
        }
        let mut w = SseWriter::new();
        let mut any = false;
        if self.opening {
            self.opening = false;
            w.retry(self.retry_ms);
            if self.prime {
                // Priming event: an id and empty data (2025-11-25), so the
                // client can resume before the first message.
                w.event(Some(&alloc::format!("{}.0", s.key)), "");
            }
            any = true;
        }
        if superseded {
            return Poll::Ready(Some(w.finish()));
        }
        let from = self.cursor;
        for e in s.events.iter().filter(|e| e.seq > from) {
            w.event(Some(&alloc::format!("{}.{}", s.key, e.seq)), &e.data);
            self.cursor = e.seq;
            any = true;
        }
        let done = s.finished && self.cursor + 1 >= s.next_seq;
        if any {
            return Poll::Ready(Some(w.finish()));
        }
        if done {
            return Poll::Ready(None);
        }
        s.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl StreamReader {
    /// The whole stream as one response with `head`'s status and headers,
    /// once its call has finished (for a host that ran the call to its end
    /// before answering): a lone response becomes `application/json`, as a
    /// buffered call would answer; otherwise the SSE events. The stream
    /// leaves the hub (nothing is left to resume).
    pub fn into_whole(mut self, mut head: crate::http::Response) -> crate::http::Response {
        let lone = {
            let mut h = self.hub.hub.lock();
            let i = h
                .streams
                .iter()
                .position(|s| s.key == self.key && s.finished && s.events.len() == 1);
            i.map(|i| h.streams.swap_remove(i))
                .and_then(|s| s.events.into_iter().next())
                .map(|e| e.data)
        };
        if let Some(message) = lone {
            return crate::http::Response::json(head.status, message);
        }
        let mut cx = TaskContext::from_waker(Waker::noop());
        let mut body = Vec::new();
        while let Poll::Ready(Some(bytes)) = self.poll_events(&mut cx) {
            body.extend_from_slice(&bytes);
        }
        let mut h = self.hub.hub.lock();
        h.streams.retain(|s| !(s.key == self.key && s.finished));
        drop(h);
        head.body = body;
        head
    }
}

impl Drop for StreamReader {
    fn drop(&mut self) {
        self.hub.detach(&self.key, self.generation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(limits: McpLimits) -> Arc<StreamHub> {
        Arc::new(StreamHub::new(limits))
    }

    fn drain(reader: &mut StreamReader) -> (String, bool) {
        let mut cx = TaskContext::from_waker(Waker::noop());
        let mut text = String::new();
        loop {
            match reader.poll_events(&mut cx) {
                Poll::Ready(Some(b)) => text.push_str(core::str::from_utf8(&b).unwrap_or("")),
                Poll::Ready(None) => return (text, true),
                Poll::Pending => return (text, false),
            }
        }
    }

    #[test]
    fn event_log_is_bounded_but_the_response_always_fits() {
        let h = hub(McpLimits {
            max_stream_events: 2,
            ..McpLimits::default()
        });
        let mut r = StreamHub::open(&h, "k".into(), Some("s"), None, false, true, UnixTime(0), 5)
            .expect("open");
        for n in 0..3 {
            h.push("k", alloc::format!("note{n}"), false);
        }
        h.push("k", "response".into(), true);
        h.push("k", "after the end".into(), false);
        let (text, ended) = drain(&mut r);
        assert!(ended);
        assert_eq!(
            text,
            "retry: 5\n\nid: k.0\ndata: \n\nid: k.1\ndata: note0\n\nid: k.2\ndata: note1\n\n\
             id: k.3\ndata: response\n\n"
        );
    }

    #[test]
    fn resumption_checks_stream_caller_and_sequence() {
        let h = hub(McpLimits::default());
        let r = StreamHub::open(
            &h,
            "k".into(),
            Some("s"),
            Some([1; 32]),
            false,
            true,
            UnixTime(0),
            5,
        )
        .expect("open");
        h.push("k", "one".into(), false);
        for (id, session, owner) in [
            ("k.2", Some("s"), Some([1; 32])),
            ("k.x", Some("s"), Some([1; 32])),
            ("q.0", Some("s"), Some([1; 32])),
            ("k.0", Some("t"), Some([1; 32])),
            ("k.0", None, Some([1; 32])),
            ("k.0", Some("s"), Some([2; 32])),
        ] {
            assert_eq!(
                StreamHub::resume(&h, id, session, owner, 5).err(),
                Some(StreamError::Unknown),
                "{id}"
            );
        }
        let mut resumed =
            StreamHub::resume(&h, "k.0", Some("s"), Some([1; 32]), 5).expect("resume");
        // The first reader is superseded: it writes only what a client needs
        // to resume (retry hint, priming event), never the events, and ends.
        let mut first = r;
        assert_eq!(
            drain(&mut first),
            ("retry: 5\n\nid: k.0\ndata: \n\n".into(), true)
        );
        assert_eq!(drain(&mut resumed).0, "retry: 5\n\nid: k.1\ndata: one\n\n");
    }

    #[test]
    fn streams_per_session_and_instance_are_bounded() {
        let h = hub(McpLimits {
            max_streams: 3,
            max_streams_per_session: 2,
            ..McpLimits::default()
        });
        let open = |key: &str, sid| {
            StreamHub::open(
                &h,
                key.into(),
                Some(sid),
                None,
                false,
                false,
                UnixTime(0),
                5,
            )
        };
        let a = open("a", "s").expect("a");
        let _b = open("b", "s").expect("b");
        assert_eq!(open("c", "s").err(), Some(StreamError::Full));
        let _c = open("c", "t").expect("c");
        assert_eq!(open("d", "u").err(), Some(StreamError::Full));
        // A finished stream without a reader makes room.
        h.push("a", "done".into(), true);
        drop(a);
        assert!(open("d", "s").is_ok());
    }
}
