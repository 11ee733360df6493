//! 2025-era sessions: the [`SessionStore`] trait and the bounded
//! [`MemorySessionStore`].
//!
//! The trait is async and object-safe (boxed futures) so a host can share
//! sessions between instances later (e.g. in PostgreSQL); in-flight request
//! cancellation flags are inherently per-instance and live in memory.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::future::ready;
use core::hash::BuildHasher;

use hashbrown::HashTable;

use super::ProtocolVersion;
use super::context::LogLevel;
use super::jsonrpc::RequestId;
use super::registry::BoxFuture;
use crate::sync::{Arc, AtomicBool, Mutex, Ordering};
use crate::time::UnixTime;

/// What the server remembers about a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionInfo {
    /// The version negotiated by `initialize`.
    pub version: ProtocolVersion,
    /// Whether `notifications/initialized` arrived.
    pub initialized: bool,
    /// The level set by `logging/setLevel`, if any.
    pub log_level: Option<LogLevel>,
    /// Who opened the session ([`session_owner`]): requests of anyone else
    /// are answered as if the session did not exist (session hijacking).
    pub owner: Option<[u8; 32]>,
    /// The input capabilities the client declared at `initialize`.
    pub client_inputs: ClientInputs,
}

/// The client capabilities a server-to-client request needs, as declared
/// at `initialize` (kept per session so a live tool call may ask only for
/// what the client can answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientInputs {
    /// `capabilities.sampling` (`sampling/createMessage`).
    pub sampling: bool,
    /// `capabilities.elicitation` (`elicitation/create`).
    pub elicitation: bool,
    /// `capabilities.roots` (`roots/list`).
    pub roots: bool,
}

impl ClientInputs {
    /// What `capabilities` (the `initialize` member) declares.
    pub fn declared(capabilities: Option<&serde_json::Value>) -> ClientInputs {
        let has = |k: &str| {
            capabilities
                .and_then(|c| c.get(k))
                .is_some_and(|v| v.is_object())
        };
        ClientInputs {
            sampling: has("sampling"),
            elicitation: has("elicitation"),
            roots: has("roots"),
        }
    }

    /// Whether nothing was declared.
    pub fn is_empty(&self) -> bool {
        !(self.sampling || self.elicitation || self.roots)
    }

    /// The declaration as a capabilities object (`{"sampling": {}, …}`).
    pub(crate) fn to_json(self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for (on, k) in [
            (self.sampling, "sampling"),
            (self.elicitation, "elicitation"),
            (self.roots, "roots"),
        ] {
            if on {
                m.insert(k.into(), serde_json::Value::Object(serde_json::Map::new()));
            }
        }
        serde_json::Value::Object(m)
    }
}

/// The owner fingerprint of a session: SHA-256 over the principal's subject
/// and client id (`None` without authentication).
/// Computed once per principal ([`crate::principal::Derived`]).
pub fn session_owner(principal: Option<&crate::principal::Principal>) -> Option<[u8; 32]> {
    use sha2::{Digest, Sha256};
    let p = principal?;
    Some(*p.derived.session_owner.call_once(|| {
        let mut h = Sha256::new();
        h.update((p.subject.len() as u64).to_be_bytes());
        h.update(p.subject.as_bytes());
        h.update(p.client_id.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(&h.finalize());
        out
    }))
}

/// The key of a principal's subject (SHA-256 of `sub`, whatever the
/// client): what [`super::McpLimits::sessions_per_subject`] counts.
pub fn session_subject(principal: Option<&crate::principal::Principal>) -> Option<[u8; 32]> {
    use sha2::{Digest, Sha256};
    let p = principal?;
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(p.subject.as_bytes()));
    Some(out)
}

/// Why a session operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionError {
    /// The table is full of live sessions (or, for
    /// [`SessionStore::subscribe`], the session's subscription table).
    Full,
    /// No such session (never existed, ended, or expired).
    Unknown,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionError::Full => "too many active sessions",
            SessionError::Unknown => "unknown session",
        })
    }
}

/// Storage of 2025-era sessions. Implementations must bound what they hold.
pub trait SessionStore: Send + Sync {
    /// Create a session `id` (fresh random, visible ASCII) for `owner`, a
    /// principal of `subject` ([`session_subject`]). A bounded store may end
    /// another session to make room; it returns that session's id so the
    /// server ends its streams too.
    fn create<'a>(
        &'a self,
        id: &'a str,
        version: ProtocolVersion,
        owner: Option<[u8; 32]>,
        subject: Option<[u8; 32]>,
        now: UnixTime,
    ) -> BoxFuture<'a, Result<Option<String>, SessionError>>;
    /// Look a session up and refresh its idle timer; `None` when unknown,
    /// ended or expired.
    fn get<'a>(&'a self, id: &'a str, now: UnixTime) -> BoxFuture<'a, Option<SessionInfo>>;
    /// [`SessionStore::get`] without a future, for a store that answers at
    /// once (in memory): `Some(answer)`, or `None` to be asked through
    /// `get`. Provided: always `None`.
    fn get_now(&self, id: &str, now: UnixTime) -> Option<Option<SessionInfo>> {
        let _ = (id, now);
        None
    }
    /// Record `notifications/initialized`.
    fn set_initialized<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), SessionError>>;
    /// Record `logging/setLevel`.
    fn set_log_level<'a>(
        &'a self,
        id: &'a str,
        level: LogLevel,
    ) -> BoxFuture<'a, Result<(), SessionError>>;
    /// Record the input capabilities the client declared at `initialize`
    /// (a store that cannot keep them leaves the session without any, so
    /// live tool calls ask the client nothing).
    fn set_client_inputs<'a>(
        &'a self,
        id: &'a str,
        inputs: ClientInputs,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        let _ = (id, inputs);
        Box::pin(ready(Err(SessionError::Unknown)))
    }
    /// Record `resources/subscribe` of `uri`: idempotent; [`SessionError::Full`]
    /// when the session already holds `max` other subscriptions.
    fn subscribe<'a>(
        &'a self,
        id: &'a str,
        uri: &'a str,
        max: usize,
    ) -> BoxFuture<'a, Result<(), SessionError>>;
    /// Record `resources/unsubscribe` of `uri` (idempotent).
    fn unsubscribe<'a>(
        &'a self,
        id: &'a str,
        uri: &'a str,
    ) -> BoxFuture<'a, Result<(), SessionError>>;
    /// The URIs session `id` subscribed to (empty when unknown).
    fn subscriptions<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Vec<String>>;
    /// Up to `max` sessions subscribed to `uri` (the live standalone
    /// streams they get `notifications/resources/updated` on). A store
    /// that cannot tell returns none: only the session whose request made
    /// the change is told.
    fn subscribers<'a>(&'a self, uri: &'a str, max: usize) -> BoxFuture<'a, Vec<String>> {
        let _ = (uri, max);
        Box::pin(ready(Vec::new()))
    }
    /// End a session (DELETE). Returns whether it existed.
    fn remove<'a>(&'a self, id: &'a str) -> BoxFuture<'a, bool>;
    /// When the next session goes idle, for the server's timer
    /// ([`super::McpServer::poll_timeout`]). `None` (the default): nothing
    /// held, or the store expires sessions by itself.
    fn next_expiry(&self) -> Option<UnixTime> {
        None
    }
    /// How many sessions the store holds now (the host's metrics).
    /// `None` (the default): the store cannot tell cheaply.
    fn held(&self) -> Option<usize> {
        None
    }
    /// End every session idle at `now` and return their ids (the server
    /// ends their streams). The default ends none.
    fn expire(&self, now: UnixTime) -> Vec<String> {
        let _ = now;
        Vec::new()
    }
    /// Track an in-flight request so `notifications/cancelled` can reach it.
    /// Returns false when the table of in-flight requests is full (the
    /// request then runs without cancellation).
    fn track_request(&self, id: &str, request: &RequestId, flag: Arc<AtomicBool>) -> bool;
    /// The request finished.
    fn untrack_request(&self, id: &str, request: &RequestId);
    /// `notifications/cancelled` for `request` of session `id`.
    fn cancel_request(&self, id: &str, request: &RequestId);
}

/// A request of a session that `notifications/cancelled` can reach: it is
/// tracked in the store from its first wait ([`CancelTracking::waiting`])
/// until it is dropped. A request that ends at its first poll (most) never
/// waits, so a cancellation could not reach it anyway; tracking it would
/// take the store's lock twice, a lock every worker shares.
pub(crate) struct CancelTracking<'a> {
    sessions: &'a dyn SessionStore,
    id: &'a RequestId,
    /// The session and the request's flag, until tracking is tried.
    untried: Option<(&'a str, Arc<AtomicBool>)>,
    /// The session the request is tracked in.
    tracked: Option<&'a str>,
}

impl<'a> CancelTracking<'a> {
    /// Request `id` of a session, cancelled through a flag
    /// ([`super::Context::cancellation`]); `None`: nothing to track.
    pub(crate) fn new(
        sessions: &'a dyn SessionStore,
        session_and_flag: Option<(&'a str, Arc<AtomicBool>)>,
        id: &'a RequestId,
    ) -> Self {
        CancelTracking {
            sessions,
            id,
            untried: session_and_flag,
            tracked: None,
        }
    }

    /// The request waits: track it, once (a full table is not retried).
    pub(crate) fn waiting(&mut self) {
        if let Some((sid, flag)) = self.untried.take()
            && self.sessions.track_request(sid, self.id, flag)
        {
            self.tracked = Some(sid);
        }
    }
}

impl Drop for CancelTracking<'_> {
    fn drop(&mut self) {
        if let Some(sid) = self.tracked {
            self.sessions.untrack_request(sid, self.id);
        }
    }
}

/// A store that holds nothing: for [`super::McpConfig::stateless`]
/// deployments. Every `create` fails with [`SessionError::Full`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSessionStore;

impl SessionStore for NoSessionStore {
    fn create<'a>(
        &'a self,
        _id: &'a str,
        _version: ProtocolVersion,
        _owner: Option<[u8; 32]>,
        _subject: Option<[u8; 32]>,
        _now: UnixTime,
    ) -> BoxFuture<'a, Result<Option<String>, SessionError>> {
        Box::pin(ready(Err(SessionError::Full)))
    }
    fn get<'a>(&'a self, _id: &'a str, _now: UnixTime) -> BoxFuture<'a, Option<SessionInfo>> {
        Box::pin(ready(None))
    }
    fn set_initialized<'a>(&'a self, _id: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(ready(Err(SessionError::Unknown)))
    }
    fn set_log_level<'a>(
        &'a self,
        _id: &'a str,
        _level: LogLevel,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(ready(Err(SessionError::Unknown)))
    }
    fn subscribe<'a>(
        &'a self,
        _id: &'a str,
        _uri: &'a str,
        _max: usize,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(ready(Err(SessionError::Unknown)))
    }
    fn unsubscribe<'a>(
        &'a self,
        _id: &'a str,
        _uri: &'a str,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(ready(Err(SessionError::Unknown)))
    }
    fn subscriptions<'a>(&'a self, _id: &'a str) -> BoxFuture<'a, Vec<String>> {
        Box::pin(ready(Vec::new()))
    }
    fn remove<'a>(&'a self, _id: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(ready(false))
    }
    fn track_request(&self, _id: &str, _request: &RequestId, _flag: Arc<AtomicBool>) -> bool {
        false
    }
    fn untrack_request(&self, _id: &str, _request: &RequestId) {}
    fn cancel_request(&self, _id: &str, _request: &RequestId) {}
}

#[derive(Debug)]
struct Entry {
    id: String,
    info: SessionInfo,
    /// [`session_subject`] of the creator.
    subject: Option<[u8; 32]>,
    last_seen: UnixTime,
    /// When the session was last used, as a count of uses of the table:
    /// orders sessions by idleness even within one second.
    touched: u64,
    /// Subscribed resource URIs (bounded by the caller's `max`).
    subscriptions: Vec<String>,
}

impl Entry {
    /// When the session ends unless it is used again (Unix seconds).
    fn idle_deadline(&self, idle_secs: u64) -> u64 {
        self.last_seen.secs().saturating_add(idle_secs)
    }
}

#[derive(Debug)]
struct Table {
    /// Sessions by id, hashed with [`SessionHasher`]: a lookup costs the
    /// same with one session or a full table. Every request looks its
    /// session up under the table's lock, so a scan of all of them (up to
    /// 1024 constant-time compares) would hold every worker up.
    entries: HashTable<Entry>,
    hasher: SessionHasher,
    inflight: Vec<(String, RequestId, Arc<AtomicBool>)>,
    capacity: usize,
    /// Most sessions of one subject.
    per_subject: usize,
    idle_secs: u64,
    /// Uses of the table so far (the source of [`Entry::touched`]).
    uses: u64,
}

/// The table's hash of a session id. Only ids the server minted (32
/// random bytes) are ever inserted, so a peer cannot crowd a bucket, and
/// the hash needs no secret key: the most the timing of a lookup with a
/// guessed id could reveal is a few bits of the hash of some session's
/// id, which narrows none of its 256 random bits. Candidates in a bucket
/// are still compared in constant time: a guess is never compared with a
/// real id byte by byte.
type SessionHasher = foldhash::fast::FixedState;

impl Table {
    fn hash(&self, id: &str) -> u64 {
        self.hasher.hash_one(id.as_bytes())
    }

    fn find_mut(&mut self, id: &str) -> Option<&mut Entry> {
        let hash = self.hash(id);
        self.entries.find_mut(hash, |e| same_id(e, id))
    }

    fn contains(&self, id: &str) -> bool {
        self.entries
            .find(self.hash(id), |e| same_id(e, id))
            .is_some()
    }

    fn insert(&mut self, entry: Entry) {
        let hash = self.hash(&entry.id);
        let hasher = &self.hasher;
        self.entries
            .insert_unique(hash, entry, |e| hasher.hash_one(e.id.as_bytes()));
    }

    fn touch(&mut self) -> u64 {
        self.uses = self.uses.wrapping_add(1);
        self.uses
    }

    /// End session `id`: its in-flight requests see a cancellation.
    fn remove(&mut self, id: &str) -> Option<Entry> {
        let hash = self.hash(id);
        let (gone, _) = self
            .entries
            .find_entry(hash, |e| same_id(e, id))
            .ok()?
            .remove();
        self.cancel_inflight(&gone.id);
        Some(gone)
    }

    /// Cancel and forget the in-flight requests of an ended session.
    fn cancel_inflight(&mut self, id: &str) {
        self.inflight.retain(|(s, _, flag)| {
            let keep = s != id;
            if !keep {
                flag.store(true, Ordering::Relaxed);
            }
            keep
        });
    }

    /// End every session idle at `now`; returns their ids.
    fn remove_expired(&mut self, now: UnixTime) -> Vec<String> {
        let idle = self.idle_secs;
        let ended: Vec<String> = self
            .entries
            .extract_if(|e| now.secs() >= e.idle_deadline(idle))
            .map(|e| e.id)
            .collect();
        for id in &ended {
            self.cancel_inflight(id);
        }
        ended
    }

    /// End the least recently used session among those `which` selects;
    /// returns its id.
    fn evict_idlest(&mut self, which: impl Fn(&Entry) -> bool) -> Option<String> {
        let id = self
            .entries
            .iter()
            .filter(|e| which(e))
            .min_by_key(|e| e.touched)?
            .id
            .clone();
        Some(self.remove(&id)?.id)
    }

    /// Make room for one more session of `subject`: expired sessions go
    /// first; then, when `subject` holds its cap, its idlest session; when
    /// the table is still full, the idlest of all. Returns the id of a live
    /// session that was ended, if any.
    fn make_room(&mut self, subject: Option<[u8; 32]>, now: UnixTime) -> Option<String> {
        let held_by_subject = |t: &Table| {
            subject.map_or(0, |s| {
                t.entries.iter().filter(|e| e.subject == Some(s)).count()
            })
        };
        if self.entries.len() >= self.capacity || held_by_subject(self) >= self.per_subject {
            self.remove_expired(now);
        }
        if subject.is_some() && held_by_subject(self) >= self.per_subject {
            return self.evict_idlest(|e| e.subject == subject);
        }
        if self.entries.len() >= self.capacity {
            return self.evict_idlest(|_| true);
        }
        None
    }
}

/// Constant-time comparison: session ids are bearer handles.
fn same_id(e: &Entry, id: &str) -> bool {
    constant_time_eq::constant_time_eq(e.id.as_bytes(), id.as_bytes())
}

/// A bounded in-memory session table: at most `capacity` sessions, at most
/// [`McpLimits::sessions_per_subject`](super::McpLimits::sessions_per_subject)
/// of them for one subject, each ending after `idle_secs` without a
/// request. Creating a session first drops expired ones; then, when the
/// subject already holds its cap, its least recently used session ends,
/// and when the whole table is full, the least recently used of all: one
/// user cannot hold every slot, and a new client always gets a session.
#[derive(Debug)]
pub struct MemorySessionStore {
    table: Mutex<Table>,
}

impl MemorySessionStore {
    /// Look session `id` up and refresh its idle timer (an expired one
    /// goes).
    fn look_up(&self, id: &str, now: UnixTime) -> Option<SessionInfo> {
        let mut t = self.table.lock();
        let idle = t.idle_secs;
        let hash = t.hash(id);
        let Table { entries, uses, .. } = &mut *t;
        match entries.find_mut(hash, |e| same_id(e, id)) {
            Some(e) if now.secs() < e.idle_deadline(idle) => {
                // A session used again within the second, and used last of
                // all, changes neither its idle deadline nor the idleness
                // order: nothing is written, so the cache lines of the
                // entry and of the table stay shared by the cores instead
                // of moving to whichever served the last request.
                if e.last_seen != now || e.touched != *uses {
                    *uses = uses.wrapping_add(1);
                    e.last_seen = now;
                    e.touched = *uses;
                }
                Some(e.info)
            }
            Some(_) => {
                t.remove(id);
                None
            }
            None => None,
        }
    }

    /// A table of `capacity` sessions with `idle_secs` idle expiry and the
    /// default per-subject cap
    /// ([`McpLimits::sessions_per_subject`](super::McpLimits::sessions_per_subject)).
    pub fn new(capacity: usize, idle_secs: u64) -> MemorySessionStore {
        let per_subject = super::McpLimits::default().sessions_per_subject;
        MemorySessionStore {
            table: Mutex::new(Table {
                entries: HashTable::new(),
                hasher: SessionHasher::with_seed(0),
                inflight: Vec::new(),
                capacity,
                per_subject: per_subject.clamp(1, capacity.max(1)),
                idle_secs,
                uses: 0,
            }),
        }
    }

    /// The table `limits` describe (`sessions`, `sessions_per_subject`,
    /// `session_idle_secs`).
    pub fn for_limits(limits: &super::McpLimits) -> MemorySessionStore {
        let store = MemorySessionStore::new(limits.sessions, limits.session_idle_secs);
        store.table.lock().per_subject =
            limits.sessions_per_subject.clamp(1, limits.sessions.max(1));
        store
    }

    /// Number of sessions held (live or not yet evicted).
    pub fn len(&self) -> usize {
        self.table.lock().entries.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut SessionInfo)) -> Result<(), SessionError> {
        self.update_entry(id, |e| {
            f(&mut e.info);
            Ok(())
        })
    }

    fn update_entry<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut Entry) -> Result<T, SessionError>,
    ) -> Result<T, SessionError> {
        f(self
            .table
            .lock()
            .find_mut(id)
            .ok_or(SessionError::Unknown)?)
    }
}

impl SessionStore for MemorySessionStore {
    fn create<'a>(
        &'a self,
        id: &'a str,
        version: ProtocolVersion,
        owner: Option<[u8; 32]>,
        subject: Option<[u8; 32]>,
        now: UnixTime,
    ) -> BoxFuture<'a, Result<Option<String>, SessionError>> {
        let mut t = self.table.lock();
        let result = if t.contains(id) || t.capacity == 0 {
            // A duplicate id (only possible with a broken RNG) is refused
            // like a full table rather than sharing a session.
            Err(SessionError::Full)
        } else {
            let evicted = t.make_room(subject, now);
            let touched = t.touch();
            t.insert(Entry {
                id: id.into(),
                info: SessionInfo {
                    version,
                    initialized: false,
                    log_level: None,
                    owner,
                    client_inputs: ClientInputs::default(),
                },
                subject,
                last_seen: now,
                touched,
                subscriptions: Vec::new(),
            });
            Ok(evicted)
        };
        drop(t);
        Box::pin(ready(result))
    }

    fn get<'a>(&'a self, id: &'a str, now: UnixTime) -> BoxFuture<'a, Option<SessionInfo>> {
        Box::pin(ready(self.look_up(id, now)))
    }

    fn get_now(&self, id: &str, now: UnixTime) -> Option<Option<SessionInfo>> {
        Some(self.look_up(id, now))
    }

    fn set_initialized<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(ready(self.update(id, |i| i.initialized = true)))
    }

    fn set_log_level<'a>(
        &'a self,
        id: &'a str,
        level: LogLevel,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(ready(self.update(id, |i| i.log_level = Some(level))))
    }

    fn set_client_inputs<'a>(
        &'a self,
        id: &'a str,
        inputs: ClientInputs,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(ready(self.update(id, |i| i.client_inputs = inputs)))
    }

    fn subscribe<'a>(
        &'a self,
        id: &'a str,
        uri: &'a str,
        max: usize,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        let r = self.update_entry(id, |e| {
            if e.subscriptions.iter().any(|u| u == uri) {
                return Ok(());
            }
            if e.subscriptions.len() >= max {
                return Err(SessionError::Full);
            }
            e.subscriptions.push(uri.into());
            Ok(())
        });
        Box::pin(ready(r))
    }

    fn unsubscribe<'a>(
        &'a self,
        id: &'a str,
        uri: &'a str,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        let r = self.update_entry(id, |e| {
            e.subscriptions.retain(|u| u != uri);
            Ok(())
        });
        Box::pin(ready(r))
    }

    fn subscriptions<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Vec<String>> {
        let subs = self
            .update_entry(id, |e| Ok(e.subscriptions.clone()))
            .unwrap_or_default();
        Box::pin(ready(subs))
    }

    fn subscribers<'a>(&'a self, uri: &'a str, max: usize) -> BoxFuture<'a, Vec<String>> {
        let t = self.table.lock();
        let ids = t
            .entries
            .iter()
            .filter(|e| e.subscriptions.iter().any(|u| u == uri))
            .take(max)
            .map(|e| e.id.clone())
            .collect();
        drop(t);
        Box::pin(ready(ids))
    }

    fn remove<'a>(&'a self, id: &'a str) -> BoxFuture<'a, bool> {
        let existed = self.table.lock().remove(id).is_some();
        Box::pin(ready(existed))
    }

    fn held(&self) -> Option<usize> {
        Some(self.len())
    }

    fn next_expiry(&self) -> Option<UnixTime> {
        let t = self.table.lock();
        t.entries
            .iter()
            .map(|e| e.idle_deadline(t.idle_secs))
            .min()
            .map(UnixTime)
    }

    fn expire(&self, now: UnixTime) -> Vec<String> {
        self.table.lock().remove_expired(now)
    }

    fn track_request(&self, id: &str, request: &RequestId, flag: Arc<AtomicBool>) -> bool {
        let mut t = self.table.lock();
        // At most 16 in-flight requests per session slot on average.
        if t.inflight.len() >= t.capacity.saturating_mul(16).max(16) {
            return false;
        }
        t.inflight.push((id.into(), request.clone(), flag));
        true
    }

    fn untrack_request(&self, id: &str, request: &RequestId) {
        let mut t = self.table.lock();
        if let Some(i) = t
            .inflight
            .iter()
            .position(|(s, r, _)| s == id && r == request)
        {
            t.inflight.swap_remove(i);
        }
    }

    fn cancel_request(&self, id: &str, request: &RequestId) {
        let t = self.table.lock();
        for (s, r, flag) in t.inflight.iter() {
            if s == id && r == request {
                flag.store(true, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answer of a store future that is ready at once.
    fn now<T>(mut fut: BoxFuture<'_, T>) -> T {
        let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
        match fut.as_mut().poll(&mut cx) {
            core::task::Poll::Ready(out) => out,
            core::task::Poll::Pending => panic!("the memory store answers at once"),
        }
    }

    fn create(store: &MemorySessionStore, id: &str, at: UnixTime) -> Option<String> {
        now(store.create(id, ProtocolVersion::V2025_06_18, None, None, at)).expect("created")
    }

    fn live(store: &MemorySessionStore, id: &str, at: UnixTime) -> bool {
        store.get_now(id, at).expect("answers at once").is_some()
    }

    /// A look-up that skips its write (the session was used last of all,
    /// within the same second) must leave the idleness order exact: once
    /// another session was used in between, the next use counts again.
    #[test]
    fn repeated_use_within_a_second_keeps_the_idleness_order() {
        let t = UnixTime(1_000);
        let store = MemorySessionStore::new(2, 60);
        create(&store, "a", t);
        create(&store, "b", t);
        assert!(live(&store, "a", t));
        assert!(live(&store, "a", t), "used last of all: nothing to write");
        assert!(live(&store, "b", t));
        assert!(live(&store, "a", t), "b came between: a is touched again");
        assert_eq!(
            create(&store, "c", t).as_deref(),
            Some("b"),
            "b is the idlest"
        );
        assert!(live(&store, "a", t) && live(&store, "c", t));
    }

    fn alice() -> crate::principal::Principal {
        crate::principal::Principal {
            subject: "alice".into(),
            client_id: "client".into(),
            scopes: Vec::new(),
            audience: "https://x/mcp".into(),
            token_id: "j".into(),
            expires_at: 2_000_000_000,
            derived: Default::default(),
        }
    }

    /// The fingerprint is kept after its first use, and a principal built
    /// from a clone of another derives its own.
    #[test]
    fn the_owner_fingerprint_is_derived_once_per_principal() {
        let a = alice();
        let first = session_owner(Some(&a)).expect("owner");
        assert_eq!(session_owner(Some(&a)), Some(first), "kept");
        assert_eq!(session_owner(Some(&alice())), Some(first), "same fields");
        let bob = crate::principal::Principal {
            subject: "bob".into(),
            ..a.clone()
        };
        assert_ne!(session_owner(Some(&bob)), Some(first));
        let other_client = crate::principal::Principal {
            client_id: "other".into(),
            ..a.clone()
        };
        assert_ne!(session_owner(Some(&other_client)), Some(first));
        // Length-prefixed: the subject/client split is part of the owner.
        let shifted = crate::principal::Principal {
            subject: "alicec".into(),
            client_id: "lient".into(),
            ..a.clone()
        };
        assert_ne!(session_owner(Some(&shifted)), Some(first));
        assert_eq!(session_owner(None), None);
    }

    /// A use in a later second moves the idle deadline even when the
    /// session was the last one used.
    #[test]
    fn a_use_in_a_later_second_extends_the_idle_deadline() {
        let store = MemorySessionStore::new(4, 60);
        create(&store, "a", UnixTime(1_000));
        assert!(live(&store, "a", UnixTime(1_050)));
        assert!(live(&store, "a", UnixTime(1_100)), "deadline moved to 1160");
        assert!(!live(&store, "a", UnixTime(1_160)), "idle for 60 s");
    }
}
