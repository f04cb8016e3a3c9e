# Archy task runner. `just --list` shows every recipe; the line right above
# each recipe is its summary.

state_dir := "./var"

# Prepare this machine: Podman + config, base image, `just` (idempotent).
setup:
    scripts/setup.sh

# The daemon on embedded defaults: state in ./var, demo catalog, engine discovered.
run *ARGS: setup
    cargo run --release -- serve --state-dir {{state_dir}} --catalog apps/demo {{ARGS}}

# Every test: lint, unit, mock actors, real Podman, the dashboard in a browser.
test:
    scripts/setup.sh --socket
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo test --workspace --all-targets
    just e2e

# Format and lint only.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Installs Chromium and the test's npm packages when missing; screenshots
# land in tests/e2e/artifacts/.
# The dashboard's journey in headless Chromium against the real daemon.
e2e:
    scripts/setup.sh --socket
    [ -x /usr/bin/chromium ] || { as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }; as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
    cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error
    cargo build --bin archy
    cd tests/e2e && node --test model.test.mjs && node journey.mjs

# docs/performance.md explains the figures, beside the real-Podman ones.
# Actor-layer costs against the mock engine, as a table.
bench:
    cargo bench -p archy-actors --bench lifecycle

# Stable Rust only here: RUSTC_BOOTSTRAP lets cargo-fuzz pass its -Z flags, and
# `-s none` skips AddressSanitizer (no `unsafe` in apps/ or rpc/: a panic is the bug).
# Fuzz each target for SECONDS (default 5 min each); see docs/fuzzing.md.
fuzz seconds="300":
    cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
    for target in manifest jsonrpc; do \
        mkdir -p fuzz/corpus/$target && \
        RUSTC_BOOTSTRAP=1 cargo fuzz run -s none --debug-assertions $target \
            fuzz/corpus/$target fuzz/seeds/$target -- \
            -max_total_time={{seconds}} -timeout=10 -print_final_stats=1 || exit 1; \
    done

# A short fuzz run of every target (~30 s each), for CI.
fuzz-smoke: (fuzz "30")

# Each scenario is followed by the invariant checks (docs/chaos.md); holds the
# demo-ports lock; the report lands in docs/reports/chaos-report.{md,json}.
# Chaos: every scenario N times against a live daemon on real Podman.
chaos N="1" *ARGS:
    scripts/setup.sh --socket
    cargo build -p archy -p archy-chaos --bins
    flock /tmp/archy-demo-ports.lock target/debug/archy-chaos {{N}} {{ARGS}}

# Takes the shared engine lock; several minutes; needs docker-compose (apt).
# Daemon figures on real Podman: RPC load, start, RSS, reconcile, vs compose.
bench-daemon:
    scripts/setup.sh --socket
    [ -x /usr/bin/docker-compose ] || { as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }; as_root apt-get install -y -qq docker-compose; }
    cargo bench --bench daemon --no-run
    flock /tmp/archy-demo-ports.lock cargo bench --bench daemon

# Installs docker-compose (Debian 1.29) when missing; about a minute.
# docker-compose alone on the same services (the daemon bench runs it too).
bench-compose:
    scripts/setup.sh --socket
    [ -x /usr/bin/docker-compose ] || { as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }; as_root apt-get install -y -qq docker-compose; }
    cargo bench --bench daemon --no-run
    flock /tmp/archy-demo-ports.lock cargo bench --bench daemon -- compose
