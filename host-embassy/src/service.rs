//! What the connection loop calls for each request: a [`Service`].
//!
//! The adapter only frames HTTP; a `Service` composes the core's pieces and
//! answers. [`crate::FleetService`] is the fleet service; an application
//! may write its own (e.g. the core's router once it composes the
//! authorization server for the standalone shape).

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
        req: &'a Request,
        env: DeviceEnv<'a>,
    ) -> impl Future<Output = Response> + 'a;
}
