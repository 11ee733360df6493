//! Resource-server mode (`serve --issuer URL`): the I/O half of trusting an
//! authorization server elsewhere. The core decides what to fetch and what
//! to believe ([`mcpauth_core::oauth::remote_issuer`]) and when
//! ([`JwksRefreshSchedule`]); this module fetches, through the same SSRF
//! fence as client metadata documents ([`crate::cimd::fenced_get`]), and
//! swaps the key set the router verifies with ([`RemoteKeys`], a
//! [`KeySource`]).
//!
//! - Discovery: the issuer's RFC 8414 metadata (OpenID location as a
//!   fallback) names `jwks_uri`; the metadata must name the configured
//!   issuer exactly. The `jwks_uri` is remembered until a JWKS fetch fails.
//! - Refresh: periodically (the JWKS's `max-age`, at most
//!   `--issuer-jwks-refresh`; a failure is retried after a minute), and at
//!   once when a token names a `kid` the keys lack, at most once per
//!   `--issuer-jwks-min-interval` (tokens with made-up `kid`s must not make
//!   the server fetch in a loop). A failed or unusable fetch keeps the old
//!   keys.
//! - Fence: https to public addresses only; `--issuer-allow-private`
//!   allows loopback and private (RFC 1918, unique-local) addresses, and
//!   plain http to them (a test or LAN issuer). Link-local (cloud metadata)
//!   stays refused.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use mcpauth_core::http::{Request, Response};
use mcpauth_core::jose::{JwksRefreshSchedule, KeySet, RefreshReason};
use mcpauth_core::oauth::remote_issuer::{
    self, MAX_ISSUER_METADATA_LEN, MAX_REMOTE_JWKS_LEN, RemoteIssuerError,
};
use mcpauth_core::oauth::{Env, KeySource};
use mcpauth_core::principal::Principal;
use mcpauth_core::server::{Issuer, NoRevocations};
use mcpauth_core::store::StoreError;
use mcpauth_core::time::UnixTime;
use tokio_rustls::TlsConnector;

use crate::cimd::{FETCH_TIMEOUT, Fence, fenced_get};

/// Default least time between two fetches prompted by unknown `kid`s.
pub const DEFAULT_MIN_INTERVAL: Duration = Duration::from_secs(30);
/// Default longest time a fetched key set is used before it is fetched
/// again (a JWKS `max-age` may shorten it, to no less than a minute).
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(3600);
/// Shortest routine period, whatever the JWKS's `max-age` says.
const MIN_PERIOD: Duration = Duration::from_secs(60);

/// How `serve --issuer` reaches its issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteIssuerSettings {
    /// The issuer identifier, exactly as tokens carry it in `iss`.
    pub issuer: String,
    /// Loopback and private addresses (and plain http to them) allowed.
    pub allow_private: bool,
    /// Least time between fetches prompted by unknown `kid`s.
    pub min_interval: Duration,
    /// Longest time a key set is used before it is fetched again.
    pub refresh: Duration,
    /// RFC 7662 introspection of every token at the issuer (`None`: tokens
    /// are validated offline only).
    pub introspection: Option<IntrospectionSettings>,
}

/// How a resource server introspects tokens at its issuer.
#[derive(Clone, PartialEq, Eq)]
pub struct IntrospectionSettings {
    /// The client id the resource server authenticates as.
    pub client_id: String,
    /// Its secret (`client_secret_basic`); never printed.
    pub client_secret: Arc<zeroize::Zeroizing<String>>,
    /// How long an answer is reused for the same token.
    pub cache: Duration,
}

impl std::fmt::Debug for IntrospectionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionSettings")
            .field("client_id", &self.client_id)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl RemoteIssuerSettings {
    /// Settings for `issuer` with the defaults; the identifier is checked.
    pub fn new(issuer: &str, allow_private: bool) -> Result<Self, RemoteIssuerError> {
        remote_issuer::check_issuer(issuer, allow_private)?;
        Ok(RemoteIssuerSettings {
            issuer: issuer.to_owned(),
            allow_private,
            min_interval: DEFAULT_MIN_INTERVAL,
            refresh: DEFAULT_REFRESH,
            introspection: None,
        })
    }
}

/// What a key refresh did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// Not due (rate limit or period); nothing fetched.
    NotDue,
    /// The key set was replaced; it holds this many keys.
    Updated(usize),
    /// The fetch failed or its answer was unusable; the old keys stay.
    Failed(String),
}

struct RefreshState {
    schedule: JwksRefreshSchedule,
    /// From the issuer's metadata; forgotten when a JWKS fetch fails.
    jwks_uri: Option<String>,
}

struct Inner {
    settings: RemoteIssuerSettings,
    tls: TlsConnector,
    keys: RwLock<Arc<KeySet>>,
    /// Bumped on every key swap: a request that waited for another's fetch
    /// sees the keys changed without fetching again.
    generation: AtomicU64,
    state: tokio::sync::Mutex<RefreshState>,
    /// The issuer's introspection endpoint, once its metadata was read.
    introspection_endpoint: std::sync::Mutex<Option<String>>,
    /// Origin of the monotonic seconds the schedule runs on.
    epoch: Instant,
    /// Unix time of the last successful key fetch (0: none yet).
    fetched_at: AtomicU64,
}

/// The issuer's keys, kept current: the resource-server router's
/// [`KeySource`]. Cloning shares them (the periodic task holds a clone).
#[derive(Clone)]
pub struct RemoteKeys(Arc<Inner>);

impl std::fmt::Debug for RemoteKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteKeys")
            .field("issuer", &self.0.settings.issuer)
            .finish_non_exhaustive()
    }
}

fn fetch_error(what: &str, e: mcpauth_core::oauth::MetadataFetchError) -> String {
    format!("{what}: {e:?}")
}

impl RemoteKeys {
    /// No keys yet (every token is refused until the first fetch); trust
    /// the system's root certificates.
    pub fn new(settings: RemoteIssuerSettings) -> Result<RemoteKeys, String> {
        let (tls, _roots) = crate::privy::https_client(&[])?;
        let mut schedule = JwksRefreshSchedule::new();
        schedule.unknown_kid_spacing_secs = settings.min_interval.as_secs();
        schedule.period_secs = settings.refresh.as_secs().max(1);
        Ok(RemoteKeys(Arc::new(Inner {
            settings,
            tls,
            keys: RwLock::new(Arc::new(KeySet::empty())),
            generation: AtomicU64::new(0),
            state: tokio::sync::Mutex::new(RefreshState {
                schedule,
                jwks_uri: None,
            }),
            introspection_endpoint: std::sync::Mutex::new(None),
            epoch: Instant::now(),
            fetched_at: AtomicU64::new(0),
        })))
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.0.settings.issuer
    }

    /// The keys in force now.
    pub fn current(&self) -> Arc<KeySet> {
        self.0
            .keys
            .read()
            .map(|k| k.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    fn mono(&self) -> u64 {
        self.0.epoch.elapsed().as_secs()
    }

    fn fence(&self) -> Fence {
        let private = self.0.settings.allow_private;
        Fence {
            allow_loopback: private,
            allow_private: private,
            allow_http: private,
        }
    }

    async fn get(&self, url: &str, max: usize) -> Result<(Vec<u8>, Duration), String> {
        tokio::time::timeout(
            FETCH_TIMEOUT,
            fenced_get(&self.0.tls, url, self.fence(), max),
        )
        .await
        .unwrap_or(Err(mcpauth_core::oauth::MetadataFetchError::Unreachable))
        .map_err(|e| fetch_error(url, e))
    }

    /// The issuer's `jwks_uri`, from its metadata.
    async fn discover(&self) -> Result<String, String> {
        let issuer = &self.0.settings.issuer;
        let mut last = String::from("no metadata location");
        for url in remote_issuer::metadata_urls(issuer) {
            match self.get(&url, MAX_ISSUER_METADATA_LEN).await {
                Ok((body, _)) => {
                    let meta = remote_issuer::parse_metadata(issuer, &body)
                        .map_err(|e| format!("{url}: {e}"))?;
                    if let Ok(mut endpoint) = self.0.introspection_endpoint.lock() {
                        endpoint.clone_from(&meta.introspection_endpoint);
                    }
                    return Ok(meta.jwks_uri);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Discover (if needed) and fetch the key set, with its reuse time.
    async fn fetch(&self, state: &mut RefreshState) -> Result<(KeySet, Duration), String> {
        let jwks_uri = match &state.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let uri = self.discover().await?;
                state.jwks_uri = Some(uri.clone());
                uri
            }
        };
        let (body, ttl) = match self.get(&jwks_uri, MAX_REMOTE_JWKS_LEN).await {
            Ok(fetched) => fetched,
            Err(e) => {
                // The issuer may have moved its keys: ask its metadata again.
                state.jwks_uri = None;
                return Err(e);
            }
        };
        let text = std::str::from_utf8(&body).map_err(|_| format!("{jwks_uri}: not UTF-8"))?;
        let keys = KeySet::from_jwks_json(text).map_err(|e| format!("{jwks_uri}: {e}"))?;
        #[cfg(feature = "aws-lc")]
        let keys = keys.with_provider(&crate::aws_lc::AWS_LC_RSA);
        Ok((keys, ttl))
    }

    /// The issuer's RFC 7662 endpoint (its metadata is read if it was not).
    pub async fn introspection_endpoint(&self) -> Result<String, String> {
        let known = self
            .0
            .introspection_endpoint
            .lock()
            .ok()
            .and_then(|e| e.clone());
        if let Some(endpoint) = known {
            return Ok(endpoint);
        }
        self.discover().await?;
        self.0
            .introspection_endpoint
            .lock()
            .ok()
            .and_then(|e| e.clone())
            .ok_or_else(|| "the issuer's metadata has no introspection_endpoint".to_owned())
    }

    /// Unix time of the last successful key fetch, if any.
    pub fn fetched_at(&self) -> Option<u64> {
        Some(self.0.fetched_at.load(Ordering::Acquire)).filter(|t| *t != 0)
    }

    /// Fetch the keys if the schedule says a fetch for `reason` is due, and
    /// swap them in if usable.
    pub async fn refresh_keys(&self, reason: RefreshReason) -> RefreshOutcome {
        let mut state = self.0.state.lock().await;
        if !state.schedule.is_due(self.mono(), reason) {
            return RefreshOutcome::NotDue;
        }
        self.refresh_locked(&mut state, reason).await
    }

    /// The operator's `keys reload`: read the issuer's metadata and fetch
    /// its keys now, whatever the schedule says; how many keys it holds.
    /// A failure keeps the previous keys.
    pub async fn reload_now(&self) -> Result<usize, String> {
        let mut state = self.0.state.lock().await;
        // The issuer may have moved its keys: ask its metadata again.
        state.jwks_uri = None;
        match self
            .refresh_locked(&mut state, RefreshReason::Periodic)
            .await
        {
            RefreshOutcome::Updated(count) => Ok(count),
            RefreshOutcome::Failed(e) => Err(e),
            RefreshOutcome::NotDue => Err("not due".to_owned()),
        }
    }

    async fn refresh_locked(
        &self,
        state: &mut RefreshState,
        reason: RefreshReason,
    ) -> RefreshOutcome {
        let outcome = match self.fetch(state).await {
            Ok((keys, ttl)) => {
                let count = keys.verifying_keys().len();
                let period = ttl.clamp(MIN_PERIOD, self.0.settings.refresh.max(MIN_PERIOD));
                state.schedule.period_secs = period.as_secs();
                match self.0.keys.write() {
                    Ok(mut k) => *k = Arc::new(keys),
                    Err(p) => *p.into_inner() = Arc::new(keys),
                }
                self.0.generation.fetch_add(1, Ordering::AcqRel);
                if let Some(now) = crate::env::now() {
                    self.0.fetched_at.store(now.secs(), Ordering::Release);
                }
                tracing::info!(
                    issuer = %self.0.settings.issuer,
                    keys = count,
                    ?reason,
                    "issuer keys fetched"
                );
                RefreshOutcome::Updated(count)
            }
            Err(e) => {
                tracing::warn!(
                    issuer = %self.0.settings.issuer,
                    error = %e,
                    ?reason,
                    "cannot fetch the issuer's keys; the previous ones stay in force"
                );
                RefreshOutcome::Failed(e)
            }
        };
        let succeeded = matches!(outcome, RefreshOutcome::Updated(_));
        state.schedule.record(self.mono(), succeeded);
        outcome
    }

    /// Run the routine refresh for ever (a task of its own).
    pub async fn run_periodic(self) {
        loop {
            let wait = self
                .0
                .state
                .lock()
                .await
                .schedule
                .periodic_due_in(self.mono());
            tokio::time::sleep(Duration::from_secs(wait.max(1))).await;
            self.refresh_keys(RefreshReason::Periodic).await;
        }
    }
}

impl KeySource for RemoteKeys {
    type Keys<'a> = Arc<KeySet>;

    fn keys(&self) -> impl Future<Output = Arc<KeySet>> {
        std::future::ready(self.current())
    }

    /// A token signed by a key we do not hold: the issuer may have rotated.
    async fn refresh(&self) -> bool {
        let before = self.0.generation.load(Ordering::Acquire);
        match self.refresh_keys(RefreshReason::UnknownKid).await {
            RefreshOutcome::Updated(_) => true,
            // Another request's fetch may have brought the key meanwhile.
            _ => self.0.generation.load(Ordering::Acquire) != before,
        }
    }
}

/// Most introspection answers remembered.
pub const MAX_INTROSPECTION_CACHE: usize = 10_000;

/// RFC 7662 introspection at the issuer, answers reused for a short time.
pub struct Introspector {
    keys: RemoteKeys,
    settings: IntrospectionSettings,
    /// SHA-256 of (resource, token) → (active, until).
    cache: std::sync::Mutex<std::collections::HashMap<[u8; 32], (bool, Instant)>>,
}

impl std::fmt::Debug for Introspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspector")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Introspector {
    /// Introspect at the issuer of `keys` with `settings`.
    pub fn new(keys: RemoteKeys, settings: IntrospectionSettings) -> Introspector {
        Introspector {
            keys,
            settings,
            cache: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Whether the issuer says `token` is active for `resource`.
    pub async fn active(&self, token: &str, resource: &str) -> Result<bool, String> {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(resource.as_bytes());
        hasher.update([0u8]);
        hasher.update(token.as_bytes());
        let key: [u8; 32] = hasher.finalize().into();
        let now = Instant::now();
        if let Some(&(active, until)) = self.cache.lock().ok().as_ref().and_then(|c| c.get(&key))
            && until > now
        {
            return Ok(active);
        }
        let endpoint = self.keys.introspection_endpoint().await?;
        let form = crate::cimd::FormPost {
            body: remote_issuer::introspection_request(token),
            authorization: Some(remote_issuer::client_basic_auth(
                &self.settings.client_id,
                &self.settings.client_secret,
            )),
        };
        let body = tokio::time::timeout(
            FETCH_TIMEOUT,
            crate::cimd::fenced_post_form(
                &self.keys.0.tls,
                &endpoint,
                self.keys.fence(),
                form,
                MAX_ISSUER_METADATA_LEN,
            ),
        )
        .await
        .unwrap_or(Err(mcpauth_core::oauth::MetadataFetchError::Unreachable))
        .map_err(|e| fetch_error(&endpoint, e))?;
        let active = remote_issuer::introspection_active(&body, self.keys.issuer(), resource)
            .map_err(|e| format!("{endpoint}: {e}"))?;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_INTROSPECTION_CACHE {
                cache.retain(|_, (_, until)| *until > now);
                if cache.len() >= MAX_INTROSPECTION_CACHE {
                    cache.clear();
                }
            }
            cache.insert(key, (active, now + self.settings.cache));
        }
        Ok(active)
    }
}

/// The issuer as a resource server's router sees it: elsewhere (no OAuth
/// endpoint here, no local revocation list), optionally asked about each
/// token (RFC 7662).
#[derive(Debug, Default)]
pub struct RemoteIssuer {
    introspector: Option<Introspector>,
}

impl RemoteIssuer {
    /// Introspect with `introspector` (`None`: offline validation only).
    pub fn new(introspector: Option<Introspector>) -> RemoteIssuer {
        RemoteIssuer { introspector }
    }
}

impl Issuer for RemoteIssuer {
    type Revocations = NoRevocations;

    fn revocations(&self) -> &NoRevocations {
        &NoRevocations
    }

    fn handle(&self, _req: Request, _env: Env<'_>) -> impl Future<Output = Option<Response>> {
        std::future::ready(None)
    }

    async fn token_active(
        &self,
        token: &str,
        principal: &Principal,
        _now: UnixTime,
    ) -> Result<bool, StoreError> {
        let Some(introspector) = &self.introspector else {
            return Ok(true);
        };
        introspector
            .active(token, &principal.audience)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "token introspection at the issuer failed");
                StoreError::Unavailable
            })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;

    use bytes::Bytes;
    use http_body_util::Full;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use mcpauth_core::jose::testing::{rfc7515_a2_key, seeded_key};

    use super::*;

    /// A stand-in issuer: its metadata (naming `named`) and a JWKS the test
    /// swaps; counts the JWKS fetches.
    struct FakeIssuer {
        named: Mutex<String>,
        jwks: Mutex<String>,
        jwks_fetches: AtomicUsize,
        requests: AtomicUsize,
    }

    async fn fake_issuer(jwks: String) -> (String, Arc<FakeIssuer>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(FakeIssuer {
            named: Mutex::new(url.clone()),
            jwks: Mutex::new(jwks),
            jwks_fetches: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
        });
        let shared = state.clone();
        let base = url.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let state = shared.clone();
                let base = base.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let state = state.clone();
                        let base = base.clone();
                        async move {
                            state.requests.fetch_add(1, Ordering::SeqCst);
                            let (status, body) = match req.uri().path() {
                                "/.well-known/oauth-authorization-server" => {
                                    let named = state.named.lock().expect("lock").clone();
                                    let doc = serde_json::json!({
                                        "issuer": named,
                                        "jwks_uri": format!("{base}/keys"),
                                    });
                                    (200, doc.to_string())
                                }
                                "/keys" => {
                                    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
                                    (200, state.jwks.lock().expect("lock").clone())
                                }
                                _ => (404, "{}".to_owned()),
                            };
                            hyper::Response::builder()
                                .status(status)
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from(body)))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        (url, state)
    }

    fn settings(issuer: &str, min_interval: u64) -> RemoteIssuerSettings {
        let mut s = RemoteIssuerSettings::new(issuer, true).expect("valid issuer");
        s.min_interval = Duration::from_secs(min_interval);
        s
    }

    fn kids(keys: &RemoteKeys) -> Vec<String> {
        keys.current()
            .verifying_keys()
            .iter()
            .map(|k| k.kid().to_owned())
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keys_follow_the_issuer_and_unknown_kids_are_rate_limited() {
        let a = KeySet::new(rfc7515_a2_key());
        let (issuer, fake) = fake_issuer(a.to_jwks_json()).await;
        let keys = RemoteKeys::new(settings(&issuer, 3600)).expect("keys");
        assert!(kids(&keys).is_empty(), "nothing before the first fetch");
        assert_eq!(
            keys.refresh_keys(RefreshReason::Periodic).await,
            RefreshOutcome::Updated(1)
        );
        assert_eq!(kids(&keys), [a.signing_key().expect("key").kid()]);
        assert_eq!(fake.jwks_fetches.load(Ordering::SeqCst), 1);

        // The issuer rotates; tokens with unknown kids arrive in a burst:
        // within the spacing nothing is fetched.
        let b = KeySet::new(seeded_key(7));
        *fake.jwks.lock().expect("lock") = b.to_jwks_json();
        for _ in 0..20 {
            assert!(!keys.refresh().await);
        }
        assert_eq!(fake.jwks_fetches.load(Ordering::SeqCst), 1);
        assert_eq!(
            keys.refresh_keys(RefreshReason::Periodic).await,
            RefreshOutcome::NotDue
        );

        // With no spacing, an unknown kid fetches the new set at once.
        let keys = RemoteKeys::new(settings(&issuer, 0)).expect("keys");
        assert!(keys.refresh().await);
        assert_eq!(kids(&keys), [b.signing_key().expect("key").kid()]);

        // An unusable JWKS keeps the keys in force.
        *fake.jwks.lock().expect("lock") = r#"{"keys":[]}"#.to_owned();
        assert!(matches!(
            keys.refresh_keys(RefreshReason::UnknownKid).await,
            RefreshOutcome::Failed(_)
        ));
        assert_eq!(kids(&keys), [b.signing_key().expect("key").kid()]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn metadata_naming_another_issuer_is_not_used() {
        let a = KeySet::new(rfc7515_a2_key());
        let (issuer, fake) = fake_issuer(a.to_jwks_json()).await;
        *fake.named.lock().expect("lock") = "http://evil.example".to_owned();
        let keys = RemoteKeys::new(settings(&issuer, 0)).expect("keys");
        let outcome = keys.refresh_keys(RefreshReason::Periodic).await;
        assert!(
            matches!(&outcome, RefreshOutcome::Failed(e) if e.contains("another issuer")),
            "{outcome:?}"
        );
        assert_eq!(fake.jwks_fetches.load(Ordering::SeqCst), 0);
        assert!(kids(&keys).is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_loopback_issuer_needs_the_opt_in() {
        let a = KeySet::new(rfc7515_a2_key());
        let (issuer, fake) = fake_issuer(a.to_jwks_json()).await;
        // Past the settings check (which already refuses http), the fence
        // itself refuses loopback without the opt-in.
        let mut strict = settings(&issuer, 0);
        strict.allow_private = false;
        let keys = RemoteKeys::new(strict).expect("keys");
        let outcome = keys.refresh_keys(RefreshReason::Periodic).await;
        assert!(matches!(outcome, RefreshOutcome::Failed(_)), "{outcome:?}");
        assert_eq!(fake.requests.load(Ordering::SeqCst), 0, "nothing was sent");
        assert!(RemoteIssuerSettings::new(&issuer, false).is_err());
    }
}
