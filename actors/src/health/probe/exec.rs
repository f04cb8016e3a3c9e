//! exec probe: run the command in the container; exit code 0 is healthy.

use archy_runtime::ContainerRuntime;

/// Output lines quoted in a failure reason.
const OUTPUT_LINES: usize = 3;

pub async fn run(
    runtime: &dyn ContainerRuntime,
    container: &str,
    cmd: &[String],
) -> Result<(), String> {
    let output = runtime
        .exec(container, cmd)
        .await
        .map_err(|e| e.to_string())?;
    if output.exit_code == 0 {
        return Ok(());
    }
    let lines: Vec<&str> = output.output.lines().collect();
    let tail = lines[lines.len().saturating_sub(OUTPUT_LINES)..].join(" / ");
    if tail.is_empty() {
        Err(format!("exit code {}", output.exit_code))
    } else {
        Err(format!("exit code {}: {tail}", output.exit_code))
    }
}
