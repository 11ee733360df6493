//! The MCP server's timer contract, in the manner of quinn-proto: the core
//! owns no clock and no runtime, so it says when it next has timed work and
//! the host calls back then.
//!
//! Timed work: a server-to-client input request reaching its deadline
//! ([`McpLimits::input_wait_secs`](super::McpLimits::input_wait_secs); the
//! waiting call ends with an error), a live stream leaving the instance
//! ([`McpLimits::stream_retention_secs`](super::McpLimits::stream_retention_secs)),
//! and a 2025-era session going idle
//! ([`McpLimits::session_idle_secs`](super::McpLimits::session_idle_secs);
//! its streams end with it).
//!
//! Call order, for a host with one timer task:
//! 1. [`McpServer::set_timer_waker`] once, with a waker of that task;
//! 2. loop: [`McpServer::handle_timeout`] with the current time, then
//!    sleep until [`McpServer::poll_timeout`] (or until woken: a request
//!    added a deadline earlier than that), and never longer than
//!    [`TIMER_HORIZON_SECS`]: then the deadlines ordinary requests add
//!    (far later) wake nobody.
//!
//! Without a timer everything still expires, only later: when another
//! request happens to look (the behaviour of a host that never calls this).

use core::task::Waker;

/// The longest a host's timer task may sleep (seconds), whatever is timed.
/// Deadlines further away than this never wake it when a request adds
/// them (each call's stream retention, each session's idle end): the
/// task finds them on its next run. Only earlier deadlines (input
/// requests, short limits) cost a wakeup.
pub const TIMER_HORIZON_SECS: u64 = 30;

use super::server::McpServer;
use crate::time::UnixTime;

impl McpServer {
    /// The earliest moment [`McpServer::handle_timeout`] has work, or `None`
    /// when nothing is timed.
    ///
    /// The host sleeps to this, but never longer than
    /// [`TIMER_HORIZON_SECS`] after its last [`McpServer::handle_timeout`]:
    /// a deadline beyond that wakes nobody when a request adds it.
    pub fn poll_timeout(&self) -> Option<UnixTime> {
        let sessions = self.sessions.next_expiry();
        let earliest = match (self.streams.poll_timeout(), sessions) {
            (Some(a), Some(b)) => Some(UnixTime(a.secs().min(b.secs()))),
            (a, b) => a.or(b),
        };
        self.streams.timer_polled(earliest);
        earliest
    }

    /// Do the work due at `now`: refuse input requests past their deadline
    /// (their calls wake and end), drop expired streams (their readers end)
    /// and end idle sessions with their streams.
    pub fn handle_timeout(&self, now: UnixTime) {
        for ended in self.sessions.expire(now) {
            self.streams.end_session(&ended);
        }
        self.streams.handle_timeout(now);
    }

    /// Wake `waker` whenever a request adds a deadline (an input request,
    /// a stream, a session), so a host sleeping until
    /// [`McpServer::poll_timeout`] polls again. Replaces an earlier waker.
    pub fn set_timer_waker(&self, waker: Waker) {
        self.streams.set_timer_waker(waker);
    }

    /// A session was created at `now`: its idle deadline may be the
    /// earliest.
    pub(crate) fn session_created(&self, now: UnixTime) {
        let idle_end = now
            .secs()
            .saturating_add(self.config.limits.session_idle_secs);
        self.streams.wake_timer_for(UnixTime(idle_end));
    }
}
