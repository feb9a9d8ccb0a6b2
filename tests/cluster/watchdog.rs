//! The bound on a cluster test's running time: if the test has not finished in time (a hung
//! request, a wait that never ends), every process it started is killed by its PID, its temp
//! folders are removed, and the test binary exits with a failure. Nothing is left behind either
//! way.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct Watchdog {
    pids: Arc<Mutex<Vec<u32>>>,
    dirs: Arc<Mutex<Vec<PathBuf>>>,
    done: Arc<AtomicBool>,
}

impl Watchdog {
    pub fn start(limit: Duration) -> Watchdog {
        let watchdog = Watchdog {
            pids: Arc::default(),
            dirs: Arc::default(),
            done: Arc::default(),
        };
        let (pids, dirs, done) = (
            watchdog.pids.clone(),
            watchdog.dirs.clone(),
            watchdog.done.clone(),
        );
        std::thread::spawn(move || {
            let deadline = Instant::now() + limit;
            while Instant::now() < deadline {
                if done.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            let pids = pids.lock().unwrap().clone();
            eprintln!("cluster test still running after {limit:?}: killing {pids:?} and failing");
            for pid in pids {
                let _ = Command::new("kill")
                    .arg("-KILL")
                    .arg(pid.to_string())
                    .status();
            }
            for dir in dirs.lock().unwrap().iter() {
                let _ = std::fs::remove_dir_all(dir);
            }
            std::process::exit(101);
        });
        watchdog
    }

    pub fn track(&self, pid: u32) {
        self.pids.lock().unwrap().push(pid);
    }

    /// A temp folder to remove if the test is stopped (otherwise its `TempDir` does).
    pub fn track_dir(&self, dir: PathBuf) {
        self.dirs.lock().unwrap().push(dir);
    }

    pub fn untrack(&self, pid: u32) {
        self.pids.lock().unwrap().retain(|p| *p != pid);
    }

    /// The test ended (passed or panicked): its processes are stopped by their owners.
    pub fn finish(&self) {
        self.done.store(true, Ordering::SeqCst);
    }
}
