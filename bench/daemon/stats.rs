//! Percentiles over measured samples, and the table rows the bench prints.

use std::time::Duration;

/// Samples of one measure; percentiles by nearest rank.
#[derive(Debug, Default, Clone)]
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn push(&mut self, sample: Duration) {
        self.0.push(sample);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.0.clone();
        sorted.sort();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }

    /// "p50 X, p99 Y (n=..)"
    pub fn summary(&self) -> String {
        format!(
            "p50 {}, p99 {}, max {} (n={})",
            ms(self.percentile(50.0)),
            ms(self.percentile(99.0)),
            ms(self.percentile(100.0)),
            self.len()
        )
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// One `FIGURE` line: grep-able, and pasted into docs/performance.md.
pub fn figure(measure: &str, goal: &str, result: &str) {
    println!("FIGURE | {measure} | {goal} | {result} |");
}
