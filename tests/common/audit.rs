//! The audit log of the in-process servers, captured for tests that check what it records.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

/// The audit lines (`target: "audit"`) every in-process server of this test binary writes, as
/// JSON objects; installed as the global subscriber on first use.
pub fn audit_lines() -> Vec<serde_json::Value> {
    static LINES: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    let buffer = LINES.get_or_init(|| {
        let buffer: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_env_filter(tracing_subscriber::EnvFilter::new("audit=info"))
            .with_writer(move || AuditWriter(buffer))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other subscriber");
        buffer
    });
    let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    text.lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

struct AuditWriter(&'static Mutex<Vec<u8>>);

impl Write for AuditWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
