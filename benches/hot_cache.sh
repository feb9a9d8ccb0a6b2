#!/usr/bin/env bash
# Hot-cache throughput: imgserver answering one cached variant (a memory hit, through the whole
# request path: path resolution, parameter parsing, key, cache lookup, HTTP) against nginx
# serving the very same bytes as a static file (sendfile, the nginx_static configuration of the
# peer benchmark, written below), in the same run, with wrk on the same machine. Traffic goes to 127.0.0.1 only; every
# load is bounded by its duration; both servers are stopped by their recorded PID.
#
# Usage: benches/hot_cache.sh [-d SECONDS] [-c CONNECTIONS] [-r REPEATS] [-l LOG_LEVEL] [-p]
#   -p: pinned, the comparison issue 14 asks for: each server on CPU 1 with one worker (nginx
#       worker_processes 1, imgserver server.workers = 1), wrk on CPU 0 with one thread, so
#       neither server competes with the load generator and both have the same core.
#   needs: a release build (cargo build --release), wrk, nginx, curl
#   env:   PORT (9110), PORT_NGINX_STATIC (9105), WORK (/tmp/hot-cache-bench),
#          BIN (target/release/imgserver), SAMPLES (tests/fixtures/samples)
# Prints one line per measurement and a summary table (also appended to $WORK/results.md).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SAMPLES=${SAMPLES:-$ROOT/tests/fixtures/samples}
WORK=${WORK:-/tmp/hot-cache-bench}
PORT=${PORT:-9110}
BIN=${BIN:-$ROOT/target/release/imgserver}
DURATION=10 CONNS=64 REPEATS=1 LOG_LEVEL=warn PINNED=0
while getopts "d:c:r:l:p" o; do
  case $o in
    d) DURATION=$OPTARG ;; c) CONNS=$OPTARG ;; r) REPEATS=$OPTARG ;; l) LOG_LEVEL=$OPTARG ;;
    p) PINNED=1 ;;
    *) exit 2 ;;
  esac
done
SERVER_CPU=() WRK_CPU=() WORKERS=0 NGINX_WORKERS=auto WRK_THREADS=2
if [ "$PINNED" = 1 ]; then
  SERVER_CPU=(taskset -c 1) WRK_CPU=(taskset -c 0) WORKERS=1 NGINX_WORKERS=1 WRK_THREADS=1
fi
for tool in wrk nginx curl taskset; do
  command -v "$tool" > /dev/null || { echo "missing $tool (apt-get install -y wrk nginx curl)" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "missing $BIN: run cargo build --release" >&2; exit 1; }

RUN_DIR=$WORK/run PRERENDER_DIR=$WORK/static IMAGES_DIR=$WORK/images PORT_NGINX_STATIC=${PORT_NGINX_STATIC:-9105}
rm -rf "$WORK/cache" "$RUN_DIR" "$PRERENDER_DIR"
mkdir -p "$WORK" "$RUN_DIR" "$PRERENDER_DIR" "$IMAGES_DIR"
cp -n "$SAMPLES/kleiber-12mp.jpg" "$IMAGES_DIR/k12.jpg"

cat > "$WORK/ours.toml" <<EOF
[server]
bind = "127.0.0.1"
port = $PORT
workers = $WORKERS
[source]
dir = "$IMAGES_DIR"
[cache]
dir = "$WORK/cache"
[limits]
per_ip_per_second = 0
hit_per_ip_per_second = 0
[log]
level = "$LOG_LEVEL"
EOF

# nginx serving the pre-rendered variants: the ceiling for serving a cached file over HTTP.
cat > "$RUN_DIR/nginx.conf" <<EOF
daemon off;
worker_processes $NGINX_WORKERS;
pid $RUN_DIR/nginx.pid;
error_log $RUN_DIR/error.log warn;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  open_file_cache max=1000 inactive=60s;
  client_body_temp_path $RUN_DIR/tmp_body;
  proxy_temp_path $RUN_DIR/tmp_proxy;
  fastcgi_temp_path $RUN_DIR/tmp_fastcgi;
  uwsgi_temp_path $RUN_DIR/tmp_uwsgi;
  scgi_temp_path $RUN_DIR/tmp_scgi;
  server {
    listen 127.0.0.1:$PORT_NGINX_STATIC;
    location /static/ { alias $PRERENDER_DIR/; expires 1y; }
  }
}
EOF

OURS_PID="" NGINX_PID=""
stop() {  # pid
  if [ -n "$1" ] && kill -0 "$1" 2> /dev/null; then
    kill -TERM "$1"; wait "$1" 2> /dev/null || true
  fi
}
cleanup() {
  stop "$OURS_PID"
  stop "$NGINX_PID"
}
trap cleanup EXIT

setsid "${SERVER_CPU[@]}" "$BIN" --config "$WORK/ours.toml" > "$WORK/ours.log" 2>&1 < /dev/null &
OURS_PID=$!
for _ in $(seq 1 100); do
  curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  sleep 0.2
done

# Render and warm each variant, and give nginx the same bytes under the names it serves.
warm() {  # file w fmt ext
  local url="http://127.0.0.1:$PORT/img/$1?w=$2&fmt=$3" out="$PRERENDER_DIR/${1%.*}_$2.$4" i
  for i in $(seq 1 20); do curl -fs -o "$out" "$url"; done
  local x_cache
  x_cache=$(curl -fs -D - -o /dev/null "$url" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-cache"{print $2}')
  [ "$x_cache" = hit-memory ] || { echo "expected a memory hit for $url, got '$x_cache'" >&2; exit 1; }
}
warm k12.jpg 400 jpeg jpg
warm k12.jpg 400 webp webp
chmod 0755 "$PRERENDER_DIR"; chmod 0644 "$PRERENDER_DIR"/*
nginx -t -q -p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" -e "$RUN_DIR/error.log"
setsid "${SERVER_CPU[@]}" nginx -p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" -e "$RUN_DIR/error.log" > "$RUN_DIR/nginx.log" 2>&1 < /dev/null &
NGINX_PID=$!
for _ in $(seq 1 100); do
  curl -fs -o /dev/null "http://127.0.0.1:$PORT_NGINX_STATIC/static/k12_400.jpg" && break
  sleep 0.1
done

# CPU time (clock ticks) of a process and its children, threads included.
cpu_ticks() {  # pid
  local total=0 p
  for p in $1 $(ps -o pid= --ppid "$1"); do
    [ -r "/proc/$p/stat" ] && total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$total"
}
HZ=$(getconf CLK_TCK)

# wrk's requests/s, p99 in ms, and the server's CPU microseconds per request (a figure that
# depends less on what else the machine is doing than requests/s).
measure() {  # label url server_pid
  local out rps p99 before after requests cpu_us
  before=$(cpu_ticks "$3")
  out=$("${WRK_CPU[@]}" wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 30s --latency "$2")
  after=$(cpu_ticks "$3")
  requests=$(awk '/requests in/{print $1}' <<< "$out")
  cpu_us=$(awk -v t=$((after - before)) -v hz="$HZ" -v n="$requests" 'BEGIN{printf "%.1f", t / hz * 1e6 / n}')
  rps=$(awk '/^Requests\/sec:/{print $2}' <<< "$out")
  p99=$(awk '$1=="99%"{v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}' <<< "$out")
  if grep -q "Non-2xx\|Socket errors" <<< "$out"; then echo "$1: errors: $(grep -E 'Non-2xx|Socket errors' <<< "$out")" >&2; fi
  printf '%s %s %s %s\n' "$1" "$rps" "$p99" "$cpu_us"
}

results=()
for r in $(seq 1 "$REPEATS"); do
  for v in "jpg jpeg" "webp webp"; do
    set -- $v
    cmp -s <(curl -fs "http://127.0.0.1:$PORT/img/k12.jpg?w=400&fmt=$2") "$PRERENDER_DIR/k12_400.$1" \
      || { echo "nginx and imgserver do not serve the same bytes" >&2; exit 1; }
    n=$(measure "nginx_static/$1" "http://127.0.0.1:$PORT_NGINX_STATIC/static/k12_400.$1" "$NGINX_PID")
    o=$(measure "imgserver/$1" "http://127.0.0.1:$PORT/img/k12.jpg?w=400&fmt=$2" "$OURS_PID")
    echo "run $r  $n  (label req/s p99_ms cpu_us/req)"; echo "run $r  $o"
    results+=("$1 $(cut -d' ' -f2- <<< "$n") $(cut -d' ' -f2- <<< "$o") $(cut -d' ' -f1-3 < /proc/loadavg)")
  done
done

{
  echo
  pinning="unpinned"; [ "$PINNED" = 1 ] && pinning="pinned: servers on CPU 1 with 1 worker, wrk on CPU 0"
  echo "## $(date -u +%F\ %H:%M) — wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s, $pinning, log.level=$LOG_LEVEL, $(nproc) cores ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo))"
  echo "| variant | nginx req/s | p99 ms | CPU µs/req | imgserver req/s | p99 ms | CPU µs/req | req/s ratio | CPU/req ratio | load avg after |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for line in "${results[@]}"; do
    set -- $line
    printf '| k12 400 px %s | %.0f | %s | %s | %.0f | %s | %s | %.2f | %.2f | %s %s %s |\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" \
      "$(awk -v a="$5" -v b="$2" 'BEGIN{print a/b}')" "$(awk -v a="$7" -v b="$4" 'BEGIN{print a/b}')" "$8" "$9" "${10}"
  done
  # The median of the rounds' ratios per variant (alternating rounds: the noise of the machine
  # falls on both servers alike).
  median() { sort -g | awk '{v[NR]=$1} END{if (NR) printf "%.2f", v[int((NR+1)/2)]}'; }
  for ext in jpg webp; do
    rows=$(printf '%s\n' "${results[@]}" | awk -v ext="$ext" '$1==ext')
    [ -n "$rows" ] || continue
    printf 'median of %d rounds, %s: req/s ratio %s, CPU/req ratio %s\n' "$(wc -l <<< "$rows")" "$ext" \
      "$(awk '{print $5/$2}' <<< "$rows" | median)" "$(awk '{print $7/$4}' <<< "$rows" | median)"
  done
} | tee -a "$WORK/results.md"
