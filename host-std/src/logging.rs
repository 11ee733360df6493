//! Logging setup. Log lines carry method, path (never the query string),
//! status and latency; they never carry tokens, codes, client secrets or
//! passwords, because request headers and bodies are never logged.
//!
//! Security events go to the audit log (`serve --audit-log stderr|FILE`):
//! events of the tracing target [`AUDIT_TARGET`] (see [`crate::observe`]),
//! one JSON object per line, and never into the ordinary log.

use std::path::PathBuf;

use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// The tracing target of audit events.
pub const AUDIT_TARGET: &str = "mcpauth::audit";

/// Output format of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// Where the audit log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditLog {
    /// Standard error, beside the ordinary log.
    Stderr,
    /// A file, appended to (created 0600).
    File(PathBuf),
}

impl AuditLog {
    /// `stderr` or a path.
    pub fn parse(value: &str) -> AuditLog {
        match value {
            "stderr" | "-" => AuditLog::Stderr,
            path => AuditLog::File(PathBuf::from(path)),
        }
    }

    fn writer(&self) -> Result<BoxMakeWriter, String> {
        match self {
            AuditLog::Stderr => Ok(BoxMakeWriter::new(std::io::stderr)),
            AuditLog::File(path) => {
                use std::os::unix::fs::OpenOptionsExt;
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(|e| format!("--audit-log {}: {e}", path.display()))?;
                Ok(BoxMakeWriter::new(std::sync::Mutex::new(file)))
            }
        }
    }
}

/// Install the global subscriber. `filter` uses `RUST_LOG` syntax
/// (`info`, `mcpauth=debug`); the `RUST_LOG` environment variable, if set,
/// wins. With `audit`, security events are written there as JSON lines.
/// Calling twice is harmless (the second call is ignored).
pub fn init(format: LogFormat, filter: &str, audit: Option<&AuditLog>) -> Result<(), String> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Audit events never go to the ordinary log (whatever the filter says).
    let ordinary = match format!("{AUDIT_TARGET}=off").parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    let base = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let main = match format {
        LogFormat::Human => base.with_filter(ordinary).boxed(),
        LogFormat::Json => base
            .json()
            .flatten_event(true)
            .with_filter(ordinary)
            .boxed(),
    };
    let audit = match audit {
        Some(target) => Some(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .with_ansi(false)
                .with_writer(target.writer()?)
                .with_filter(Targets::new().with_target(AUDIT_TARGET, LevelFilter::INFO))
                .boxed(),
        ),
        None => None,
    };
    let _ = tracing_subscriber::registry()
        .with(main)
        .with(audit)
        .try_init();
    Ok(())
}
