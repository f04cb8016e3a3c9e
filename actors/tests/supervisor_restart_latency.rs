//! Micro-measure: time from a child's failure to its replacement running,
//! printed as p50/p99 (`cargo test -p archy-actors --release --test
//! supervisor_restart_latency -- --nocapture`). Real time, so it asserts only
//! that every failure was followed by a restart.

mod supervisor_probe;

use std::time::Duration;

use supervisor_probe::*;

const ROUNDS: usize = 2_000;

async fn measure(fail: fn() -> ProbeMsg) -> (Duration, Duration) {
    let mut samples = restart_latencies(fail, ROUNDS).await;
    samples.sort();
    (samples[ROUNDS / 2], samples[ROUNDS * 99 / 100])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_after_a_failure_latency() {
    // The default hook writes every panic to stderr; that is not the
    // supervisor's cost, so it is left out of the measure.
    std::panic::set_hook(Box::new(|_| {}));
    let (panic_p50, panic_p99) = measure(|| ProbeMsg::Panic).await;
    let (error_p50, error_p99) = measure(|| ProbeMsg::Fail).await;
    let _ = std::panic::take_hook();
    println!("restart after panic: p50 {panic_p50:?}, p99 {panic_p99:?} ({ROUNDS} rounds)");
    println!("restart after error: p50 {error_p50:?}, p99 {error_p99:?} ({ROUNDS} rounds)");
}
