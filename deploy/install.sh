#!/usr/bin/env bash
# Installs imgserver on a Debian host: binary, system user, systemd unit, configuration and
# secrets file. Safe to run again (upgrades the binary and unit, keeps the configuration and
# secrets). Run from a checkout after `cargo build --release --features turbo`:
#
#   sudo deploy/install.sh [--binary PATH] [--nginx] [--start]
#
#   --binary PATH   the imgserver binary (default: target/release/imgserver)
#   --nginx         also install deploy/nginx/imgserver.conf to /etc/nginx/conf.d/ (if absent)
#   --start         enable and (re)start the service (default: only enable it)
#   --root DIR      install below DIR instead of / (packaging, tests): no user, no systemctl
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
binary="$here/../target/release/imgserver"
root=""
with_nginx=0
start=0

while [[ $# -gt 0 ]]; do
    case "$1" in
        --binary) binary="$2"; shift 2 ;;
        --root) root="${2%/}"; shift 2 ;;
        --nginx) with_nginx=1; shift ;;
        --start) start=1; shift ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

say() { printf 'install.sh: %s\n' "$*"; }

if [[ ! -x "$binary" ]]; then
    echo "install.sh: no executable at $binary; build it first (cargo build --release --features turbo) or pass --binary" >&2
    exit 1
fi
if [[ -z "$root" && "$(id -u)" -ne 0 ]]; then
    echo "install.sh: run as root (sudo)" >&2
    exit 1
fi

"$binary" --version >/dev/null

install -D -m 0755 "$binary" "$root/usr/local/bin/imgserver"
say "binary: /usr/local/bin/imgserver ($("$root/usr/local/bin/imgserver" --version))"

if [[ -z "$root" ]]; then
    if ! getent passwd imgserver >/dev/null; then
        useradd --system --user-group --home-dir /var/lib/imgserver --no-create-home \
            --shell /usr/sbin/nologin --comment "imgserver" imgserver
        say "created system user imgserver"
    fi
    owner=(-o imgserver -g imgserver)
else
    owner=()
fi

install -D -m 0644 "$here/imgserver.service" "$root/etc/systemd/system/imgserver.service"
say "unit: /etc/systemd/system/imgserver.service"

install -d -m 0755 "$root/etc/imgserver"
config="$root/etc/imgserver/imgserver.toml"
if [[ -e "$config" ]]; then
    say "kept the existing /etc/imgserver/imgserver.toml (the shipped one: $here/imgserver.toml)"
else
    install -m 0644 "$here/imgserver.toml" "$config"
    say "config: /etc/imgserver/imgserver.toml"
fi

secrets="$root/etc/imgserver/imgserver.env"
if [[ ! -e "$secrets" ]]; then
    (
        umask 077
        cat >"$secrets" <<'SECRETS'
# imgserver secrets, read by systemd as root (EnvironmentFile=). Keep this file 0600.
# Uncomment and set what you use; generate values with: openssl rand -hex 32
#IMGSERVER__ADMIN__TOKEN=
#IMGSERVER__WEBHOOK__SECRET=
#IMGSERVER__SECURITY__SIGNING_KEY=
#IMGSERVER__SOURCE__GIT__TOKEN=
SECRETS
    )
    say "secrets: /etc/imgserver/imgserver.env (0600, all commented out)"
fi
chmod 0600 "$secrets"

# The served folder (source.dir); the unit's StateDirectory= and CacheDirectory= create their
# parents with the right owner at start, this only makes sure the images folder exists.
install -d -m 0750 "${owner[@]}" "$root/var/lib/imgserver" "$root/var/lib/imgserver/repo"

if [[ "$with_nginx" -eq 1 ]]; then
    site="$root/etc/nginx/conf.d/imgserver.conf"
    if [[ -e "$site" ]]; then
        say "kept the existing /etc/nginx/conf.d/imgserver.conf"
    else
        install -D -m 0644 "$here/nginx/imgserver.conf" "$site"
        say "nginx: /etc/nginx/conf.d/imgserver.conf (set server_name and TLS, then: nginx -t && systemctl reload nginx)"
    fi
fi

if [[ -z "$root" ]] && command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    systemctl daemon-reload
    systemctl enable imgserver.service >/dev/null
    if [[ "$start" -eq 1 ]]; then
        systemctl restart imgserver.service
        say "started: systemctl status imgserver; journalctl -u imgserver -f"
    else
        say "enabled; edit /etc/imgserver/imgserver.toml, then: systemctl start imgserver"
    fi
else
    say "systemd not running here: nothing enabled"
fi
