//! The fleet shape: the device is an MCP resource server whose tokens come
//! from a central mcpauth issuer. It validates RS256 access tokens offline
//! against the issuer's JWKS, provisioned at build time or first boot, with
//! its own canonical resource URL as the required audience.
//!
//! Every protocol decision is the core's router
//! ([`mcpauth_core::server::ResourceServer::with_remote_issuer`]): RFC 9728
//! metadata naming the issuer, the bearer guard and its 401/403 challenges,
//! 503 while the clock is unknown, `/healthz`, 404. This type holds the
//! provisioned pieces and keeps the JWKS current through a
//! [`JwksFetcher`] (see [`crate::jwks`]).

use alloc::string::String;
use alloc::vec;

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::mutex::Mutex;
use embassy_sync::rwlock::RwLock;
use embassy_time::{Instant, Timer};
use mcpauth_core::http::{Request, Response};
use mcpauth_core::jose::{
    JwksError, JwksRefreshSchedule, KeySet, RefreshReason, ValidationPolicy, token_kid,
};
use mcpauth_core::mcp::McpServer;
use mcpauth_core::oauth::{ResourceGuard, canonical_resource};
use mcpauth_core::server::{self, NoRevocations, ResourceServer};

use crate::jwks::{FetchError, JwksFetcher, MAX_DEVICE_JWKS_LEN, NoFetcher};
use crate::service::{DeviceEnv, Service};
use mcpauth_core::server::protected_resource_metadata_url as metadata_url;

/// What a fleet device is provisioned with.
#[derive(Debug, Clone, Copy)]
pub struct Provisioning<'a> {
    /// The central issuer's identifier (`iss` of its tokens), exactly.
    pub issuer: &'a str,
    /// This device's canonical resource URL (`aud` of tokens for it), e.g.
    /// `https://sensor-17.example/mcp`.
    pub resource: &'a str,
    /// The issuer's JWKS document (`{"keys":[…]}`), public keys only.
    pub jwks_json: &'a str,
    /// Scopes every MCP request needs (and advertised in the metadata).
    pub scopes: &'a [&'a str],
    /// How far the device's clock may be off the issuer's, seconds: a token
    /// is accepted until `exp` + this. A revoked token is refused at the
    /// latest this long after it expires (the issuer's per-resource
    /// `access_token_ttl` bounds the rest); `DEFAULT_LEEWAY_SECS` (60) suits
    /// an RTC without SNTP, a few seconds a device with SNTP.
    pub clock_leeway_secs: u64,
}

/// Why provisioning was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProvisioningError {
    /// The JWKS did not parse, had no usable key, or too many keys.
    Jwks(JwksError),
    /// The resource URL is not a canonical absolute http(s) URL (RFC 8707:
    /// lowercase scheme and host, no fragment, no trailing slash).
    ResourceUrl,
    /// The issuer is not an absolute http(s) URL.
    IssuerUrl,
}

impl core::fmt::Display for ProvisioningError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ProvisioningError::Jwks(e) => write!(f, "the issuer JWKS is unusable: {e:?}"),
            ProvisioningError::ResourceUrl => f.write_str("the resource URL is not canonical"),
            ProvisioningError::IssuerUrl => f.write_str("the issuer is not an http(s) URL"),
        }
    }
}

fn is_http_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && !url.contains('#')
        && !url.bytes().any(|b| b.is_ascii_control() || b == b' ')
}

/// What a key refresh did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshOutcome {
    /// Not due yet (rate limit or period); nothing fetched.
    NotDue,
    /// The fetched JWKS replaced the key set; it holds this many keys.
    Updated(usize),
    /// The fetch failed; the old keys stay in force.
    FetchFailed(FetchError),
    /// The fetched document is not a usable JWKS; the old keys stay.
    Unusable(JwksError),
}

/// The fetcher and when it last ran.
struct KeyRefresh<F> {
    fetcher: F,
    schedule: JwksRefreshSchedule,
}

/// Seconds on embassy-time's monotonic clock (never the wall clock: the
/// rate limit must hold while the wall clock is unknown or jumps).
fn monotonic_secs() -> u64 {
    Instant::now().as_secs()
}

/// The fleet resource server: the core's router for a remote issuer, the
/// issuer's key set, and the board's [`JwksFetcher`] that keeps it current.
pub struct FleetService<F = NoFetcher> {
    issuer: String,
    resource: String,
    metadata_url: String,
    /// Read-locked for the whole of each request (the router borrows the
    /// key set across the MCP handler's awaits), so concurrent requests
    /// never wait for each other; only a key update takes it exclusively.
    keys: RwLock<CriticalSectionRawMutex, KeySet>,
    /// Held for one fetch at a time: requests with an unknown `kid` that
    /// arrive during a fetch wait for it, then find it no longer due.
    refresh: Mutex<CriticalSectionRawMutex, KeyRefresh<F>>,
    router: ResourceServer<NoRevocations>,
}

impl<F> core::fmt::Debug for FleetService<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FleetService")
            .field("issuer", &self.issuer)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

impl FleetService {
    /// A resource server for `provisioning`, serving `mcp` (whose
    /// `endpoint_path` must be the path of the resource URL). Its keys
    /// change only by [`FleetService::update_jwks`] until
    /// [`FleetService::with_fetcher`] gives it a fetcher.
    pub fn new(provisioning: Provisioning<'_>, mcp: McpServer) -> Result<Self, ProvisioningError> {
        if !is_http_url(provisioning.issuer) {
            return Err(ProvisioningError::IssuerUrl);
        }
        // The audience tokens must carry is the canonical form (RFC 8707).
        let resource = canonical_resource(provisioning.resource)
            .filter(|r| r == provisioning.resource)
            .ok_or(ProvisioningError::ResourceUrl)?;
        let keys =
            KeySet::from_jwks_json(provisioning.jwks_json).map_err(ProvisioningError::Jwks)?;
        let metadata_url = metadata_url(&resource);
        let guard = ResourceGuard::remote(
            provisioning.issuer,
            &resource,
            metadata_url.clone(),
            provisioning.scopes,
        )
        .with_policy(
            ValidationPolicy::new(provisioning.issuer, resource.as_str())
                .with_leeway(provisioning.clock_leeway_secs),
        );
        let router =
            ResourceServer::with_remote_issuer(mcp, guard, provisioning.issuer, NoRevocations);
        Ok(FleetService {
            issuer: String::from(provisioning.issuer),
            resource,
            metadata_url,
            keys: RwLock::new(keys),
            refresh: Mutex::new(KeyRefresh {
                fetcher: NoFetcher,
                schedule: JwksRefreshSchedule::new().fetched_at(monotonic_secs()),
            }),
            router,
        })
    }

    /// Keep the key set current with `fetcher`, on `schedule` (its periods;
    /// the provisioned JWKS counts as fetched now).
    pub fn with_fetcher<G: JwksFetcher>(
        self,
        fetcher: G,
        schedule: JwksRefreshSchedule,
    ) -> FleetService<G> {
        FleetService {
            issuer: self.issuer,
            resource: self.resource,
            metadata_url: self.metadata_url,
            keys: self.keys,
            refresh: Mutex::new(KeyRefresh {
                fetcher,
                schedule: schedule.fetched_at(monotonic_secs()),
            }),
            router: self.router,
        }
    }
}

impl<F: JwksFetcher> FleetService<F> {
    /// Replace the issuer's keys (a JWKS pushed by the application). On
    /// error the old keys stay in force.
    pub async fn update_jwks(&self, jwks_json: &str) -> Result<(), ProvisioningError> {
        let keys = KeySet::from_jwks_json(jwks_json).map_err(ProvisioningError::Jwks)?;
        *self.keys.write().await = keys;
        Ok(())
    }

    /// Fetch the JWKS with the board's fetcher if the schedule says it is
    /// due for `reason`, and swap it in if it is usable. The document is
    /// read into a [`MAX_DEVICE_JWKS_LEN`] heap buffer, freed on return.
    pub async fn refresh_keys(&self, reason: RefreshReason) -> RefreshOutcome {
        let mut refresh = self.refresh.lock().await;
        if !refresh.schedule.is_due(monotonic_secs(), reason) {
            return RefreshOutcome::NotDue;
        }
        let mut buf = vec![0u8; MAX_DEVICE_JWKS_LEN];
        let fetched = refresh.fetcher.fetch(&mut buf).await;
        let outcome = match fetched {
            Err(e) => RefreshOutcome::FetchFailed(e),
            Ok(len) => {
                let parsed = core::str::from_utf8(&buf[..len.min(buf.len())])
                    .map_err(|_| JwksError::NotAKeySet)
                    .and_then(KeySet::from_jwks_json);
                drop(buf);
                match parsed {
                    Ok(keys) => {
                        let count = keys.verifying_keys().len();
                        *self.keys.write().await = keys;
                        RefreshOutcome::Updated(count)
                    }
                    Err(e) => RefreshOutcome::Unusable(e),
                }
            }
        };
        let succeeded = matches!(outcome, RefreshOutcome::Updated(_));
        refresh.schedule.record(monotonic_secs(), succeeded);
        outcome
    }

    /// The routine refresh: fetch whenever the schedule's period (or, after
    /// a failure, its retry wait) has passed. Never returns; run it in a
    /// task of its own (`async fn keys_task(s: &'static FleetService<F>) ->
    /// ! { s.run_key_refresh().await }`).
    pub async fn run_key_refresh(&self) -> ! {
        loop {
            let wait = self
                .refresh
                .lock()
                .await
                .schedule
                .periodic_due_in(monotonic_secs());
            Timer::after_secs(wait.max(1)).await;
            self.refresh_keys(RefreshReason::Periodic).await;
        }
    }

    /// The canonical resource URL.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The RFC 9728 metadata URL the challenges point at.
    pub fn metadata_url(&self) -> &str {
        &self.metadata_url
    }
}

impl<F: JwksFetcher> Service for FleetService<F> {
    async fn handle<'a>(&'a self, req: &'a Request, env: DeviceEnv<'a>) -> Response {
        if let Some(resp) = server::health(req) {
            return resp;
        }
        // A token signed by a key we do not hold: the issuer may have
        // rotated. Fetch its keys first (rate-limited), then verify.
        if let Some(kid) = req.bearer_token().and_then(token_kid) {
            let known = self.keys.read().await.find(&kid).is_some();
            if !known {
                self.refresh_keys(RefreshReason::UnknownKid).await;
            }
        }
        let keys = self.keys.read().await;
        match self.router.handle(req, env.now, env.rng, &keys).await {
            Some(resp) => resp,
            None => server::not_found(),
        }
    }
}
