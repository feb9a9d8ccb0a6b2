#!/usr/bin/env bash
# Workload C of the peer benchmark (90 % popular variants, 10 % distinct; wrk -t2 -c16 -d20s with
# benches/mixed.lua), run against imgserver's release binary, for the side-by-side figures with
# thumbor and ipx in benches/README.md. The server's CPU time and peak RSS are read from /proc.
#
# Usage: cargo build --release && bash benches/load_mixed_wrk.sh
# Env: LIMITS=off|renders|default: "off" (the default; the peers have no limits): every distinct
#      request renders; "renders": only the per-client render limit (10/s, burst 50), so most of
#      the distinct requests of wrk's single address get 429 and hits are unlimited; "default":
#      all default limits, so wrk's single address is also held to 1000 requests/s.
#      CONNS (16), SECS (20), PORT (9110), BIN (target/release/imgserver),
#      SAMPLES (tests/fixtures/samples), OUT (a temp dir).
# Traffic goes to 127.0.0.1 only; wrk stops after SECS (hard timeout SECS + 90 s); the server is
# started here and stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."

LIMITS=${LIMITS:-off}
CONNS=${CONNS:-16}
SECS=${SECS:-20}
PORT=${PORT:-9110}
BIN=${BIN:-target/release/imgserver}
SAMPLES=${SAMPLES:-tests/fixtures/samples}
OUT=${OUT:-$(mktemp -d /tmp/load_mixed_wrk.XXXXXX)}
[ "$SECS" -le 300 ] && [ "$CONNS" -le 512 ] || { echo "SECS <= 300 and CONNS <= 512" >&2; exit 2; }
command -v wrk > /dev/null || { echo "wrk is needed (apt-get install -y wrk)" >&2; exit 2; }
[ -x "$BIN" ] || { echo "$BIN missing: cargo build --release" >&2; exit 2; }

mkdir -p "$OUT/images" "$OUT/cache"
cp "$SAMPLES/kleiber-12mp.jpg" "$OUT/images/k12.jpg"
cp "$SAMPLES/storm.jpg" "$OUT/images/storm.jpg"
cp "$SAMPLES/elephants-12mp-progressive.jpg" "$OUT/images/prog12.jpg"
cp "$SAMPLES/focal.png" "$OUT/images/focal.png"
{
  printf '[server]\nbind = "127.0.0.1"\nport = %s\n\n' "$PORT"
  printf '[source]\ndir = "%s"\n\n[cache]\ndir = "%s"\n\n' "$OUT/images" "$OUT/cache"
  printf '[log]\nlevel = "warn"\n\n[limits]\n'
  case "$LIMITS" in
    off) printf 'per_ip_per_second = 0\nhit_per_ip_per_second = 0\n' ;;
    renders) printf 'hit_per_ip_per_second = 0\n' ;;
    default) ;;
    *) echo "LIMITS must be off, renders or default" >&2; exit 2 ;;
  esac
} > "$OUT/imgserver.toml"

"$BIN" --config "$OUT/imgserver.toml" > "$OUT/server.log" 2>&1 &
server=$!
trap 'kill -TERM $server 2> /dev/null; wait $server 2> /dev/null || true' EXIT
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  sleep 0.1
done

template="/img/{file}?w={w}&fmt={fmt}"
for file in k12.jpg storm.jpg prog12.jpg focal.png; do
  for v in 320:webp 640:webp 960:webp 480:jpeg 1280:jpeg; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -m 60 \
      "http://127.0.0.1:$PORT/img/$file?w=${v%%:*}&fmt=${v##*:}")
    [ "$code" = 200 ] || { echo "warming $file $v: $code" >&2; exit 1; }
  done
done
sleep 1

cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
cpu_before=$(cpu_ticks)
env WRK_JSON="$OUT/wrk.json" WRK_THREADS=2 PATH_TEMPLATE="$template" \
  SEED=$((RANDOM * 32768 + RANDOM)) MISS_RATE=0.10 \
  timeout $((SECS + 90)) wrk -t2 -c"$CONNS" -d"${SECS}s" --timeout 30s \
  -s benches/mixed.lua "http://127.0.0.1:$PORT" > "$OUT/wrk.txt" 2>&1
cpu_s=$(awk -v t=$(( $(cpu_ticks) - cpu_before )) -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f", t / hz}')
# VmHWM: the process's peak resident set since it started.
peak_rss_kib=$(awk '/^VmHWM:/{print $2}' "/proc/$server/status")
printf '{"server_cpu_s": %s, "peak_rss_mib": %.1f}\n' "$cpu_s" "$(awk -v k="$peak_rss_kib" 'BEGIN{print k / 1024}')" > "$OUT/proc.json"

echo "limits: $LIMITS, $CONNS connections, $SECS s, results in $OUT"
cat "$OUT/wrk.json"
cat "$OUT/proc.json"
echo
