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

# Fuzz each target for SECONDS (default 5 min each); see docs/fuzzing.md.
# Stable Rust only here: RUSTC_BOOTSTRAP lets cargo-fuzz pass its -Z flags, and
# `-s none` skips AddressSanitizer (no `unsafe` in apps/ or rpc/: a panic is the bug).
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
