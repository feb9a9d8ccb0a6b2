#!/usr/bin/env bash
# The cluster check (CI runs it from .ci/run; operators can run it before changing
# deploy/nginx/imgserver-cluster.conf): 3 imgserver instances with deploy/cluster/instance.toml
# and the real Nginx with deploy/nginx/imgserver-cluster.conf, on 127.0.0.1 only. It checks that
#   - 200 distinct variants requested twice each through Nginx are rendered exactly once in total
#     (sum of imgserver_renders_total over the instances), and that round robin would fail that;
#   - a webhook (and an admin pull) sent to Nginx brings all 3 instances to the new commit within
#     10 s, each verifying the signature itself;
#   - SIGKILL of one instance mid-load fails no request; a push made while it is down reaches it
#     by polling once it is back;
#   - each instance's peak RSS and cache folder stay within their budgets.
# The logic is tests/cluster/main.rs; its "cluster:" lines are the numbers quoted in README.md.
# Every process it starts is stopped by PID (a watchdog does it if the test overruns 4 minutes);
# its temp folders are removed.
#
# Needs nginx (Debian: apt-get install -y nginx-light). Usage: deploy/cluster/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

# A missing nginx fails the run instead of skipping it.
export IMGSERVER_REQUIRE_NGINX=1
cargo test --test cluster -- --ignored --nocapture --test-threads=1
