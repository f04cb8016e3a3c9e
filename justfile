# Archy task runner. `just --list` shows every recipe; the line right above
# each recipe is its summary.

state_dir := "./var"

# Prepare this machine: Podman + config, base image, `just` (idempotent).
setup:
    scripts/setup.sh

# The daemon on embedded defaults: state in ./var, demo catalog, engine discovered.
run *ARGS: setup
    cargo run --release -- serve --state-dir {{state_dir}} --catalog apps/demo {{ARGS}}

# After lint, unit, mock-actor, real-Podman and browser tests come the short
# proofs: gate ×2, each chaos scenario once, fuzzing. Their reports go to
# target/reports, never over the committed 20-iteration ones in docs/reports.
# Every test: what CI runs.
test:
    scripts/setup.sh --socket
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo test --workspace --all-targets
    just e2e
    just gate 2 target/reports
    just chaos 1 --report-dir target/reports
    just fuzz-smoke

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

# Every demo app through install, stop, start, restart, daemon restart,
# reinstall, uninstall and purge (docs/gate.md); reports in docs/reports/.
# The lifecycle gate: N iterations on rootful, then rootless Podman.
gate N="20" reports="docs/reports":
    #!/usr/bin/env bash
    set -euo pipefail
    scripts/setup.sh --socket >&2
    eval "$(scripts/rootless.sh)"
    cargo build --bin archy --example lifecycle-gate
    # The rootless user runs copies it can read; each run gets a fresh state dir.
    work=/tmp/archy-gate; rm -rf "$work"; mkdir -p "$work/bin" "$work/rootless" "{{reports}}"
    cp target/debug/archy target/debug/examples/lifecycle-gate "$work/bin/"
    chmod 0755 "$work" "$work/bin" "$work/bin/"*; chown "$GATE_USER:" "$work/rootless"
    common=(--archy "$work/bin/archy" --catalog "$PWD/apps/demo" --iterations {{N}})
    # The demo ports and app names are shared with other test runs on this
    # machine: hold the lock for the whole run (taken after any service start,
    # so no long-lived process inherits it).
    exec 9>/tmp/archy-demo-ports.lock; flock 9
    status=0
    ARCHY_ENGINE=/run/podman/podman.sock "$work/bin/lifecycle-gate" gate "${common[@]}" \
        --mode rootful --state-dir "$work/rootful-state" --report "{{reports}}/gate-rootful" || status=1
    setpriv --reuid="$GATE_UID" --regid="$(id -g "$GATE_USER")" --init-groups \
        env -i HOME="/home/$GATE_USER" PATH=/usr/local/bin:/usr/bin:/bin \
        XDG_RUNTIME_DIR="$XDG_RUNTIME_DIR" ARCHY_ENGINE="$ARCHY_ENGINE" RUST_LOG=info \
        "$work/bin/lifecycle-gate" gate "${common[@]}" --mode rootless \
        --state-dir "$work/rootless/state" --report "$work/rootless/gate-rootless" || status=1
    cp "$work/rootless/gate-rootless.md" "$work/rootless/gate-rootless.json" "{{reports}}/" || status=1
    exit $status

# The daemon installs, stops, starts, reports health for, and uninstalls
# demo-web with a clean log.
# A one-minute check of a fresh build.
smoke:
    #!/usr/bin/env bash
    set -euo pipefail
    scripts/setup.sh --socket >&2
    cargo build --bin archy --example lifecycle-gate
    state="$(mktemp -d)/state"
    exec 9>/tmp/archy-demo-ports.lock; flock 9
    ARCHY_ENGINE=/run/podman/podman.sock target/debug/examples/lifecycle-gate smoke \
        --archy target/debug/archy --catalog apps/demo --state-dir "$state"
