//! The run's results, per scenario and iteration, as JSON and Markdown.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Outcome {
    pub scenario: &'static str,
    pub iteration: u32,
    pub passed: bool,
    /// From the fault to every invariant holding again.
    pub recovery_ms: Option<u64>,
    /// Why it failed.
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub started_at: String,
    pub iterations: u32,
    pub wall_secs: u64,
    pub setup_secs: u64,
    pub scenarios: Vec<ScenarioInfo>,
    pub outcomes: Vec<Outcome>,
}

#[derive(Debug, Serialize)]
pub struct ScenarioInfo {
    pub name: &'static str,
    pub checks: &'static str,
}

impl Report {
    pub fn failures(&self) -> usize {
        self.outcomes.iter().filter(|o| !o.passed).count()
    }

    pub fn write(&self, dir: &Path, stem: &str) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let json = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        let write = |ext: &str, text: String| {
            let path = dir.join(format!("{stem}.{ext}"));
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
        };
        write("json", json + "\n")?;
        write("md", self.markdown())
    }

    fn markdown(&self) -> String {
        let mut md = format!(
            "# Chaos run {}\n\n{} iteration(s) per scenario; fleet set-up {} s, whole run {} s; {} failure(s).\n\n",
            self.started_at,
            self.iterations,
            self.setup_secs,
            self.wall_secs,
            self.failures()
        );
        md.push_str("| scenario | passed | recovery min / median / max (ms) | checks |\n|---|---|---|---|\n");
        for info in &self.scenarios {
            let runs: Vec<&Outcome> = self
                .outcomes
                .iter()
                .filter(|o| o.scenario == info.name)
                .collect();
            let passed = runs.iter().filter(|o| o.passed).count();
            let mut times: Vec<u64> = runs.iter().filter_map(|o| o.recovery_ms).collect();
            times.sort_unstable();
            let spread = match (times.first(), times.get(times.len() / 2), times.last()) {
                (Some(min), Some(median), Some(max)) => format!("{min} / {median} / {max}"),
                _ => "—".into(),
            };
            let _ = writeln!(
                md,
                "| {} | {passed}/{} | {spread} | {} |",
                info.name,
                runs.len(),
                info.checks
            );
        }
        md.push_str("\n## Every iteration\n\n| scenario | # | result | recovery (ms) | reason |\n|---|---|---|---|---|\n");
        for o in &self.outcomes {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                o.scenario,
                o.iteration,
                if o.passed { "pass" } else { "FAIL" },
                o.recovery_ms.map_or("—".into(), |ms| ms.to_string()),
                o.reason
                    .as_deref()
                    .unwrap_or("")
                    .replace('|', "\\|")
                    .replace('\n', " ")
            );
        }
        md
    }
}
