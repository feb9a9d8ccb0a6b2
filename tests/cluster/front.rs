//! The real Nginx with `deploy/nginx/imgserver-cluster.conf`: only the instance addresses and
//! the listen address are templated (and, for the control run, the hash line removed). Its
//! access log records which instances each request went to.

use std::path::Path;
use std::time::{Duration, Instant};

pub use crate::common::nginx::nginx_binary;
use crate::common::nginx::{self, deployed, listen_on, template};
use crate::watchdog::Watchdog;

const SITE: &str = "deploy/nginx/imgserver-cluster.conf";
/// The instance addresses in the deployed file, in order.
pub const DEPLOYED_INSTANCES: [&str; 3] = ["10.0.0.11:8080", "10.0.0.12:8080", "10.0.0.13:8080"];
pub const HASH_LINE: &str = "hash $uri$is_args$args consistent;";
/// Which instances each request went to, and what they answered.
const LOG_FORMAT: &str = "$status \"$upstream_addr\" \"$upstream_status\" $request_uri";

/// One line of the access log: the instances tried, in order, and their statuses.
#[derive(Debug)]
pub struct Access {
    pub uri: String,
    pub status: u16,
    pub upstreams: Vec<String>,
    pub upstream_statuses: Vec<String>,
}

/// The shared Nginx harness, its process tracked by the watchdog.
pub struct Nginx {
    inner: nginx::Nginx,
    watchdog: Watchdog,
}

impl Nginx {
    /// Nginx in front of `instances` ("127.0.0.1:port", in the deployed file's order), with
    /// its files under `dir`.
    pub fn start(
        binary: &Path,
        dir: &Path,
        instances: &[String],
        hashing: bool,
        watchdog: &Watchdog,
    ) -> Nginx {
        let inner = nginx::Nginx::start(binary, Some(dir), Some(LOG_FORMAT), |port, _| {
            let mut site = deployed(SITE);
            for (deployed, actual) in DEPLOYED_INSTANCES.iter().zip(instances) {
                assert!(
                    site.matches(deployed).count() >= 2,
                    "the cluster file should name {deployed} in the upstreams"
                );
                site = site.replace(deployed, actual);
            }
            if !hashing {
                site = template(
                    SITE,
                    &site,
                    &[(HASH_LINE, "# round robin (control run)".to_string())],
                );
            }
            listen_on(SITE, &site, port)
        });
        watchdog.track(inner.pid());
        Nginx {
            inner,
            watchdog: watchdog.clone(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.inner.url(path)
    }

    /// Every request logged so far.
    pub fn accesses(&self) -> Vec<Access> {
        let text = self.inner.access_log();
        text.lines()
            .filter_map(|line| {
                let (status, rest) = line.split_once(' ')?;
                let mut quoted = rest.split('"');
                let _ = quoted.next()?;
                let upstreams = quoted.next()?;
                let _ = quoted.next()?;
                let statuses = quoted.next()?;
                let uri = quoted.next()?.trim();
                let list = |s: &str| -> Vec<String> {
                    s.split([',', ':'])
                        .map(str::trim)
                        .filter(|s| !s.is_empty() && *s != "-")
                        .map(String::from)
                        .collect()
                };
                Some(Access {
                    uri: uri.to_string(),
                    status: status.parse().ok()?,
                    upstreams: upstreams
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty() && s != "-")
                        .collect(),
                    upstream_statuses: list(statuses),
                })
            })
            .collect()
    }

    /// The `count` logged requests `matching` (Nginx logs a request just after its last byte
    /// is sent: wait a little for the last lines).
    pub fn wait_accesses(&self, count: usize, matching: impl Fn(&Access) -> bool) -> Vec<Access> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let found: Vec<Access> = self.accesses().into_iter().filter(&matching).collect();
            if found.len() >= count || Instant::now() > deadline {
                assert_eq!(found.len(), count, "Nginx logged every request");
                return found;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // The shared harness stops the process; the watchdog no longer needs to.
        self.watchdog.untrack(self.inner.pid());
    }
}
