//! The lab's state directory on a small tmpfs of its own, so the
//! fill-state-filesystem scenario can fill it without filling the machine.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Small enough to fill in a blink, large enough for the fleet's state.
const SIZE: &str = "64m";

/// A mounted tmpfs; unmounted when dropped.
pub struct StateFs {
    at: PathBuf,
}

impl StateFs {
    pub fn mount(at: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(at).map_err(|e| format!("{}: {e}", at.display()))?;
        let output = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={SIZE},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "cannot mount a {SIZE} tmpfs on {} (the suite runs as root): {}",
                at.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(StateFs {
            at: at.to_path_buf(),
        })
    }
}

impl Drop for StateFs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.at)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            eprintln!("chaos: clean-up: cannot unmount {}", self.at.display());
        }
    }
}
