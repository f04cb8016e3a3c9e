//! Injected faults, keyed by image or container name.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::{ExecOutput, RuntimeError};

#[derive(Debug, Default)]
pub(super) struct Faults {
    /// Every call fails with [`RuntimeError::Unavailable`].
    pub unavailable: bool,
    /// Faults of pulls and builds, by image reference.
    pub images: BTreeMap<String, ImageFault>,
    /// Faults of starts, by container name.
    pub starts: BTreeMap<String, StartFault>,
    /// Containers whose main process ignores SIGTERM.
    pub ignore_sigterm: BTreeSet<String>,
    /// What exec answers, by container name (default: exit 0, no output).
    pub exec: BTreeMap<String, ExecOutput>,
}

impl Faults {
    /// Forget every fault on this image or container name.
    pub fn clear_key(&mut self, key: &str) {
        self.images.remove(key);
        self.starts.remove(key);
        self.ignore_sigterm.remove(key);
        self.exec.remove(key);
    }
}

#[derive(Debug, Default, Clone)]
pub(super) struct ImageFault {
    pub failures: Failures,
    /// How long the pull or build takes before it settles.
    pub delay: Duration,
    /// The call succeeds but the image is not stored.
    pub vanishes: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failures {
    #[default]
    Never,
    Times(usize),
    Always,
}

impl Failures {
    /// Whether this attempt fails; counts a limited failure down.
    pub fn take(&mut self) -> bool {
        match self {
            Failures::Never => false,
            Failures::Always => true,
            Failures::Times(0) => false,
            Failures::Times(left) => {
                *left -= 1;
                true
            }
        }
    }
}

#[derive(Debug, Clone)]
pub(super) enum StartFault {
    /// The start call returns this error; the container does not run.
    Fail(RuntimeError),
    /// The start succeeds, then the main process exits with `code`.
    Exit { code: i64, after: Duration },
}
