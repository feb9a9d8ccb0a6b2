//! Logging setup: `tracing` to stderr (journald picks it up under systemd) as text or JSON
//! (`log.format`), level from `log.level` unless `RUST_LOG` is set. Colours only on a terminal.
//! Panics are logged as events too, so a JSON log stays machine-readable when one happens.
//! Also the [`RequestId`] every log line about a request carries.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// The id of the request being served: set by the request-id middleware, read by the access
/// log and the audit line.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Installs the global subscriber; later calls (tests building several apps) are no-ops.
pub fn init(log: &LogSettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match log.format {
        // The target tells access lines (`access`) from the rest.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
    if installed.is_ok() {
        log_panics();
    }
}

fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let thread = std::thread::current();
        tracing::error!(
            panic = message,
            location,
            thread = thread.name().unwrap_or("unnamed"),
            "panicked"
        );
    }));
}
