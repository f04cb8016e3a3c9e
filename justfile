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

# What the actor layer costs against the mock engine (engine calls per
# install, actor restart, 1000 actors, status reads during a stop), as a
# table; docs/performance.md explains it, with the real-Podman figures.
bench:
    cargo bench -p archy-actors --bench lifecycle
