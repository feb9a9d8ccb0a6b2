//! Whether the cache folder accepts new files, as `/readyz` reports it. Finding out writes (and
//! removes) a file, so the answer is kept for [`PROBE_INTERVAL`]: a load balancer polling
//! readiness every few hundred milliseconds must not turn into a stream of writes.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const PROBE_INTERVAL: Duration = Duration::from_secs(10);

pub struct WritableProbe {
    dir: PathBuf,
    last: Mutex<Option<(Instant, bool)>>,
}

impl WritableProbe {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            last: Mutex::new(None),
        }
    }

    /// The last answer if it is recent, else a new probe (blocking I/O).
    pub fn writable(&self) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, answer)) = *last {
            if at.elapsed() < PROBE_INTERVAL {
                return answer;
            }
        }
        let answer = dir_is_writable(&self.dir);
        *last = Some((Instant::now(), answer));
        answer
    }
}

/// Whether a file can be created in `dir` (creating the folder if needed).
fn dir_is_writable(dir: &Path) -> bool {
    if std::fs::create_dir_all(dir).is_err() {
        return false;
    }
    let probe = dir.join(format!(".probe-{:016x}", rand::random::<u64>()));
    let ok = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_at_most_once_per_interval() {
        let dir = tempfile::tempdir().unwrap();
        let probe = WritableProbe::new(dir.path());
        assert!(probe.writable());
        // The folder becomes a file: the cached answer stands until the interval passes.
        std::fs::remove_dir_all(dir.path()).unwrap();
        std::fs::write(dir.path(), b"not a folder").unwrap();
        assert!(probe.writable());
        *probe.last.lock().unwrap() = Some((Instant::now() - PROBE_INTERVAL, true));
        assert!(!probe.writable());
        std::fs::remove_file(dir.path()).unwrap();
    }
}
