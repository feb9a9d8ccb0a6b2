#!/usr/bin/env bash
# Checks of the deployment files with the real tools, for CI (.ci/run) and for operators:
#   - the systemd unit passes `systemd-analyze verify`, and its exposure stays <= 2.0
#     (`systemd-analyze security --offline`), where systemd-analyze exists;
#   - install.sh is shellcheck-clean (where shellcheck exists), installs everything into a temp
#     root, and a second run keeps the configuration and fixes the secrets file's mode;
#   - deploy/imgserver.toml passes `imgserver check-config` with the UI off;
#   - deploy/Dockerfile's inputs and command lines are valid (it is not built: no Docker engine).
# Usage: deploy/check.sh [path/to/imgserver]   (default: builds and uses target/debug/imgserver)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $# -ge 1 ]]; then
    bin="$(realpath "$1")"
else
    cargo build --quiet --bin imgserver
    bin="$PWD/target/debug/imgserver"
fi

passed=0
failed=0
ok() { printf 'ok    %s\n' "$*"; passed=$((passed + 1)); }
bad() { printf 'FAIL  %s\n' "$*"; failed=$((failed + 1)); }
skip() { printf 'skip  %s\n' "$*"; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The unit names /usr/local/bin/imgserver, which verify wants to exist: point it at the build.
unit="$work/imgserver.service"
sed "s#/usr/local/bin/imgserver#$bin#g" deploy/imgserver.service >"$unit"
if command -v systemd-analyze >/dev/null; then
    if out="$(systemd-analyze verify "$unit" 2>&1)" && [[ -z "$out" ]]; then
        ok "systemd-analyze verify deploy/imgserver.service"
    else
        bad "systemd-analyze verify deploy/imgserver.service: $out"
    fi
    if exposure="$(systemd-analyze security --offline=true --threshold=20 "$unit" 2>&1 | tail -1)"; then
        ok "systemd-analyze security: ${exposure#→ }"
    else
        bad "systemd-analyze security above 2.0: $exposure"
    fi
else
    skip "systemd-analyze is not installed"
fi

if command -v shellcheck >/dev/null; then
    if shellcheck deploy/install.sh deploy/check.sh; then
        ok "shellcheck deploy/*.sh"
    else
        bad "shellcheck deploy/*.sh"
    fi
else
    skip "shellcheck is not installed"
fi

root="$work/root"
if deploy/install.sh --binary "$bin" --root "$root" --nginx >"$work/install1.log" 2>&1; then
    missing=""
    for f in usr/local/bin/imgserver etc/systemd/system/imgserver.service \
        etc/imgserver/imgserver.toml etc/imgserver/imgserver.env \
        etc/nginx/conf.d/imgserver.conf var/lib/imgserver/repo; do
        [[ -e "$root/$f" ]] || missing="$missing $f"
    done
    if [[ -z "$missing" && "$(stat -c %a "$root/etc/imgserver/imgserver.env")" == 600 ]]; then
        ok "install.sh installs binary, unit, config, secrets (0600), nginx site, images folder"
    else
        bad "install.sh: missing:${missing:- none}; secrets mode $(stat -c %a "$root/etc/imgserver/imgserver.env")"
    fi
    echo "# edited by the operator" >>"$root/etc/imgserver/imgserver.toml"
    chmod 0644 "$root/etc/imgserver/imgserver.env"
    if deploy/install.sh --binary "$bin" --root "$root" >"$work/install2.log" 2>&1 \
        && grep -q "edited by the operator" "$root/etc/imgserver/imgserver.toml" \
        && [[ "$(stat -c %a "$root/etc/imgserver/imgserver.env")" == 600 ]]; then
        ok "install.sh again: configuration kept, secrets mode restored"
    else
        bad "install.sh is not idempotent: $(cat "$work/install2.log")"
    fi
else
    bad "install.sh failed: $(cat "$work/install1.log")"
fi

# source.dir (/var/lib/imgserver/repo) does not exist here: point it at the fixtures.
if effective="$(env -u RUST_LOG "$bin" check-config --config deploy/imgserver.toml \
    --imagesdir tests/fixtures 2>&1)" \
    && grep -A2 '^\[ui\]' <<<"$effective" | grep -q 'enabled = false' \
    && grep -A2 '^\[log\]' <<<"$effective" | grep -q 'format = "json"'; then
    ok "deploy/imgserver.toml: valid, UI off, JSON logs"
else
    bad "deploy/imgserver.toml: $effective"
fi

# deploy/Dockerfile cannot be built here (no Docker engine): check what can be checked without
# one. Its COPY sources exist, the build context leaves out build output, --locked has a lock
# file, and the image's command lines (server, HEALTHCHECK) are ones this binary accepts.
docker_problems=""
while read -r src; do
    [[ -e "$src" ]] || docker_problems="$docker_problems COPY source $src missing;"
done < <(grep -E '^COPY ' deploy/Dockerfile | grep -v -- '--from=' | awk '{print $2}')
for pattern in 'target/' 'node_modules/'; do
    grep -qF "$pattern" .dockerignore 2>/dev/null \
        || docker_problems="$docker_problems .dockerignore does not exclude $pattern;"
done
[[ -f Cargo.lock ]] || docker_problems="$docker_problems no Cargo.lock for --locked;"
grep -q 'CMD \["imgserver", "healthcheck", "--config", "/etc/imgserver/imgserver.toml"\]' deploy/Dockerfile \
    && "$bin" healthcheck --help >/dev/null 2>&1 \
    || docker_problems="$docker_problems HEALTHCHECK command not accepted;"
if ! effective="$(env -u RUST_LOG IMGSERVER__SERVER__BIND=0.0.0.0 "$bin" check-config \
    --config deploy/imgserver.toml --imagesdir tests/fixtures 2>&1)" \
    || ! grep -A2 '^\[server\]' <<<"$effective" | grep -q 'bind = "0.0.0.0"'; then
    docker_problems="$docker_problems the image's configuration is refused: $effective;"
fi
if [[ -z "$docker_problems" ]]; then
    ok "deploy/Dockerfile: COPY sources, .dockerignore, lock file, server and HEALTHCHECK command lines"
else
    bad "deploy/Dockerfile:$docker_problems"
fi

echo "deploy: $passed passed, $failed failed"
[[ "$failed" -eq 0 ]]
