//! The OAuth requests in flight at once, and giving a slot back while a
//! request waits on the internet.
//!
//! Every request to the authorization server holds a slot while it runs
//! (see [`OAUTH_CONCURRENCY`](crate::app) in the app). A request that must
//! fetch a client ID metadata document would hold its slot for as long as
//! a stranger's server takes to answer, so a few requests naming a slow
//! host could take every slot and stall discovery, sign-in and refresh for
//! everyone. [`released`] gives the slot back for the duration of such a
//! wait and takes one again afterwards; the fetch itself is bounded by the
//! fetcher's own budgets ([`crate::cimd`]).

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Longest wait for a slot before the request is answered 503 with
/// `Retry-After` (a queue that never moves is worse than a clear refusal).
pub const SLOT_WAIT: Duration = Duration::from_secs(10);

/// A bounded set of slots.
#[derive(Debug, Clone)]
pub struct OAuthSlots {
    slots: Arc<Semaphore>,
}

/// One slot, held until dropped or handed to [`Slot::scope`].
#[derive(Debug)]
pub struct Slot {
    permit: OwnedSemaphorePermit,
    slots: Arc<Semaphore>,
}

tokio::task_local! {
    /// The slot of the request running in this task, if any.
    static HELD: RefCell<Option<Slot>>;
}

impl OAuthSlots {
    /// `n` slots.
    pub fn new(n: usize) -> OAuthSlots {
        OAuthSlots {
            slots: Arc::new(Semaphore::new(n)),
        }
    }

    /// A slot, waiting at most [`SLOT_WAIT`]; `None` when none freed up.
    pub async fn acquire(&self) -> Option<Slot> {
        let permit = tokio::time::timeout(SLOT_WAIT, self.slots.clone().acquire_owned())
            .await
            .ok()?
            .ok()?;
        Some(Slot {
            permit,
            slots: self.slots.clone(),
        })
    }

    /// Slots free right now.
    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }
}

impl Slot {
    /// Run `fut` holding this slot, so that [`released`] inside it can give
    /// the slot back while it waits.
    pub async fn scope<F: Future>(self, fut: F) -> F::Output {
        HELD.scope(RefCell::new(Some(self)), fut).await
    }
}

/// Run `fut` without the current task's slot (if it holds one), then take
/// a slot again before returning.
pub async fn released<F: Future>(fut: F) -> F::Output {
    let slots = HELD
        .try_with(|held| held.borrow_mut().take())
        .ok()
        .flatten()
        .map(|slot| {
            let Slot { permit, slots } = slot;
            drop(permit);
            slots
        });
    let out = fut.await;
    if let Some(slots) = slots
        && let Ok(permit) = slots.clone().acquire_owned().await
    {
        let _ = HELD.try_with(|held| *held.borrow_mut() = Some(Slot { permit, slots }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slot_is_given_back_while_waiting_and_taken_again() {
        let slots = OAuthSlots::new(1);
        let slot = slots.acquire().await.expect("slot");
        let probe = slots.clone();
        slot.scope(async move {
            assert_eq!(probe.available(), 0);
            released(async {
                assert_eq!(probe.available(), 1, "free during the wait");
            })
            .await;
            assert_eq!(probe.available(), 0, "held again afterwards");
        })
        .await;
        assert_eq!(slots.available(), 1);
        // Outside a scope it is a plain await.
        assert_eq!(released(async { 7 }).await, 7);
    }
}
