//! What the connection loop calls for each request: a [`Service`].
//!
//! The adapter only frames HTTP; a `Service` is a configuration of the
//! core's router ([`crate::FleetService`], [`crate::StandaloneService`]) and
//! answers.

use core::future::Future;

use mcpauth_core::http::{Request, Response};
use mcpauth_core::rand::SecureRandom;
use mcpauth_core::time::UnixTime;

/// The per-request environment the adapter supplies.
pub struct DeviceEnv<'a> {
    /// Wall-clock time, `None` until provisioned or learnt (fail closed).
    pub now: Option<UnixTime>,
    /// The board's RNG (through a [`crate::SharedRng`] handle).
    pub rng: &'a mut (dyn SecureRandom + Send),
}

impl core::fmt::Debug for DeviceEnv<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DeviceEnv")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// Answers one request. Every protocol decision is made here (by the core),
/// none by the connection loop.
pub trait Service {
    /// The complete response to `req`.
    fn handle<'a>(
        &'a self,
        req: Request,
        env: DeviceEnv<'a>,
    ) -> impl Future<Output = Response> + 'a;
}
