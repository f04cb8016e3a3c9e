#!/usr/bin/env bash
# Idempotent machine set-up shared by `just run`, `just test` and .ci/run:
# Podman (runc + cgroupfs, no systemd needed), the local busybox base image
# the demo apps build FROM, and `just`. Safe to run again at any time.
#
#   scripts/setup.sh            packages, config, base image
#   scripts/setup.sh --socket   also start the rootful API socket for tests
set -euo pipefail

BASE_IMAGE=localhost/archy-base:latest
SOCKET=/run/podman/podman.sock

say() { printf 'setup: %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

need_pkgs=()
for p in podman runc busybox-static uidmap slirp4netns curl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  say "installing ${need_pkgs[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

# promtool (shipped in the prometheus package) checks Archy's /metrics in
# tests. No recommends (node-exporter), and no Prometheus server left running.
if ! dpkg-query -W -f='${Status}' prometheus 2>/dev/null | grep -q 'install ok installed'; then
  say "installing prometheus (for promtool)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  if [ -d /run/systemd/system ]; then as_root systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
fi

# Podman without systemd: runc, cgroupfs, a file event log, ulimits the
# sandbox allows. Written only when it differs, so the script stays idempotent.
conf=/etc/containers/containers.conf
want='[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"'
if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
  say "writing $conf"
  as_root mkdir -p /etc/containers
  printf '%s\n' "$want" | as_root tee "$conf" >/dev/null
fi

# The base image: static busybox on scratch. Builds offline in about a second.
if ! podman image exists "$BASE_IMAGE" 2>/dev/null; then
  say "building $BASE_IMAGE"
  ctx=$(mktemp -d)
  cp /bin/busybox "$ctx/busybox"
  printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox","--install","-s","/bin"]\n' > "$ctx/Containerfile"
  podman build -q -t "$BASE_IMAGE" -f "$ctx/Containerfile" "$ctx" >/dev/null
  rm -rf "$ctx"
fi

if ! command -v just >/dev/null 2>&1; then
  say "installing just (cargo install)"
  cargo install --locked --quiet just
fi

if [ "${1:-}" = "--socket" ]; then
  if ! curl -sf --unix-socket "$SOCKET" http://d/_ping >/dev/null 2>&1; then
    say "starting podman API service on $SOCKET"
    as_root mkdir -p "$(dirname "$SOCKET")"
    # --time=0: without it the service exits after 5 s idle and removes the socket.
    as_root setsid nohup podman system service --time=0 "unix://$SOCKET" >/tmp/archy-podman-service.log 2>&1 < /dev/null &
    for _ in $(seq 1 100); do
      curl -sf --unix-socket "$SOCKET" http://d/_ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    curl -sf --unix-socket "$SOCKET" http://d/_ping >/dev/null || { say "podman socket did not come up; see /tmp/archy-podman-service.log"; exit 1; }
  fi
fi
say "ready"
