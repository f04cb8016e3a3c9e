#!/usr/bin/env bash
# Idempotent, run as root: a rootless Podman for the lifecycle gate, the way
# owners' nodes run it. Creates the user `archy-gate` (subuid/subgid ranges),
# its XDG_RUNTIME_DIR, its busybox base image, and starts its API service on
# $XDG_RUNTIME_DIR/podman/podman.sock. Prints `export` lines for the gate.
#
#   scripts/rootless.sh          set up (again) and start the service
set -euo pipefail

GATE_USER=${GATE_USER:-archy-gate}
BASE_IMAGE=localhost/archy-base:latest

say() { printf 'rootless: %s\n' "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { say "run as root"; exit 1; }

need_pkgs=()
for p in podman uidmap slirp4netns busybox-static curl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  say "installing ${need_pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

if ! id "$GATE_USER" >/dev/null 2>&1; then
  say "creating user $GATE_USER"
  useradd --create-home --shell /usr/sbin/nologin "$GATE_USER"
fi
uid=$(id -u "$GATE_USER")
# useradd adds ranges on most systems; add one when it did not. 65536 ids
# above the highest range already handed out, so ranges never overlap.
for f in /etc/subuid /etc/subgid; do
  touch "$f"
  if ! grep -q "^$GATE_USER:" "$f"; then
    start=$(awk -F: 'BEGIN{m=100000} {e=$2+$3; if (e>m) m=e} END{print m}' "$f")
    echo "$GATE_USER:$start:65536" >> "$f"
    say "added $GATE_USER:$start:65536 to $f"
  fi
done

# slirp4netns opens /dev/net/tun as the user.
[ -c /dev/net/tun ] || { mkdir -p /dev/net; mknod /dev/net/tun c 10 200; }
chmod 666 /dev/net/tun

runtime_dir=/run/user/$uid
install -d -m 0700 -o "$GATE_USER" -g "$GATE_USER" "$runtime_dir"

as_user() {
  # `cd /` : the user cannot read root's working directory.
  (cd / && setpriv --reuid="$uid" --regid="$(id -g "$GATE_USER")" --init-groups \
    env -i HOME="$(getent passwd "$GATE_USER" | cut -d: -f6)" USER="$GATE_USER" \
    PATH=/usr/local/bin:/usr/bin:/bin XDG_RUNTIME_DIR="$runtime_dir" "$@")
}

# The base image, same recipe as scripts/setup.sh, in the user's storage.
if ! as_user podman image exists "$BASE_IMAGE" 2>/dev/null; then
  say "building $BASE_IMAGE for $GATE_USER"
  ctx=$(mktemp -d)
  cp /bin/busybox "$ctx/busybox"
  printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox","--install","-s","/bin"]\n' > "$ctx/Containerfile"
  chmod -R a+rX "$ctx"
  as_user podman build -q -t "$BASE_IMAGE" -f "$ctx/Containerfile" "$ctx" >/dev/null
  rm -rf "$ctx"
fi

socket=$runtime_dir/podman/podman.sock
if ! as_user curl -sf --unix-socket "$socket" http://d/_ping >/dev/null 2>&1; then
  say "starting $GATE_USER's podman API service on $socket"
  as_user mkdir -p "$runtime_dir/podman"
  # --time=0: without it the service exits after 5 s idle and removes the socket.
  as_user setsid nohup podman system service --time=0 "unix://$socket" \
    >/tmp/archy-gate-podman-service.log 2>&1 </dev/null &
  for _ in $(seq 1 100); do
    as_user curl -sf --unix-socket "$socket" http://d/_ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  as_user curl -sf --unix-socket "$socket" http://d/_ping >/dev/null \
    || { say "the socket did not come up; see /tmp/archy-gate-podman-service.log"; exit 1; }
fi
say "ready: $GATE_USER (uid $uid), engine $socket"
echo "export GATE_USER=$GATE_USER GATE_UID=$uid XDG_RUNTIME_DIR=$runtime_dir ARCHY_ENGINE=$socket"
