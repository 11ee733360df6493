//! The tokio side of the MCP core's timer contract
//! (`McpServer::poll_timeout` / `handle_timeout`): one task per server that
//! sleeps until the next deadline, or until a request adds one.

use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::Duration;

use mcpauth_core::mcp::McpServer;
use mcpauth_core::sync::{Arc as CoreArc, Weak};
use tokio::sync::Notify;

/// Longest the task sleeps: the core's horizon (deadlines later than it
/// wake nobody when a request adds them, so the task must look by then).
const IDLE_WAIT: Duration = Duration::from_secs(mcpauth_core::mcp::TIMER_HORIZON_SECS);

struct Wakeup(Notify);

impl Wake for Wakeup {
    fn wake(self: Arc<Self>) {
        self.0.notify_one();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.notify_one();
    }
}

/// Drive `mcp`'s timers on the current tokio runtime until the server is
/// dropped. Call once per server.
pub fn spawn(mcp: &CoreArc<McpServer>) -> tokio::task::JoinHandle<()> {
    let wakeup = Arc::new(Wakeup(Notify::new()));
    mcp.set_timer_waker(Waker::from(wakeup.clone()));
    tokio::spawn(run(CoreArc::downgrade(mcp), wakeup))
}

async fn run(mcp: Weak<McpServer>, wakeup: Arc<Wakeup>) {
    loop {
        let wait = {
            let Some(mcp) = mcp.upgrade() else { return };
            match crate::env::now() {
                Some(now) => {
                    mcp.handle_timeout(now);
                    // Whole seconds: the core's clock has no finer grain,
                    // and a deadline equal to `now` was just handled.
                    mcp.poll_timeout().map_or(IDLE_WAIT, |at| {
                        Duration::from_secs(at.secs().saturating_sub(now.secs()).max(1))
                    })
                }
                None => Duration::from_secs(1),
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait.min(IDLE_WAIT)) => {}
            () = wakeup.0.notified() => {}
        }
    }
}
