# Archy task runner. `just --list` shows every recipe.

state_dir := "./var"

# Prepare this machine: Podman + config, base image, `just` (idempotent).
setup:
    scripts/setup.sh

# Run the daemon on its embedded defaults: state in ./var, the demo catalog,
# the engine socket discovered (or a Podman service started and owned by Archy).
run *ARGS: setup
    cargo run --release -- serve --state-dir {{state_dir}} --catalog apps/demo {{ARGS}}

# Every test: unit, actors against the mock, and real Podman. Needs the socket.
test:
    scripts/setup.sh --socket
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo test --workspace --all-targets

# Format and lint only.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# The dashboard's journey in headless Chromium against the real daemon and
# Podman (tests/e2e/journey.mjs), after the page logic's unit tests. Installs
# Chromium and the test's npm packages when missing; screenshots land in
# tests/e2e/artifacts/.
e2e:
    scripts/setup.sh --socket
    [ -x /usr/bin/chromium ] || { as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }; as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
    cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error
    cargo build --bin archy
    cd tests/e2e && node --test model.test.mjs && node journey.mjs

# Chaos: every scenario N times against a live daemon on real Podman, each
# followed by the invariant checks (docs/chaos.md). Holds the demo-ports lock
# for the whole run; the report lands in docs/reports/chaos-report.{md,json}.
chaos N="1" *ARGS:
    scripts/setup.sh --socket
    cargo build -p archy -p archy-chaos --bins
    flock /tmp/archy-demo-ports.lock target/debug/archy-chaos {{N}} {{ARGS}}
