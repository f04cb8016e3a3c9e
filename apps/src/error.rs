//! Errors that name the file, the field and what would be accepted.

use std::fmt;
use std::path::{Path, PathBuf};

/// One broken rule: where (`stack[1].volumes[0].host`) and why, including
/// what is allowed instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub problem: String,
}

impl Violation {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not YAML, or not the schema's shape (serde names the field path and line).
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    /// Well-formed, but breaks rules; every broken rule is listed.
    #[error("{}: {}", path.display(), list(violations))]
    Invalid {
        path: PathBuf,
        violations: Vec<Violation>,
    },
}

fn list(violations: &[Violation]) -> String {
    match violations {
        [one] => one.to_string(),
        many => many
            .iter()
            .map(|v| format!("\n  - {v}"))
            .collect::<String>(),
    }
}

impl ManifestError {
    /// The manifest file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::Read { path, .. } | Self::Parse { path, .. } | Self::Invalid { path, .. } => path,
        }
    }

    /// The broken rules (empty for read and parse errors).
    pub fn violations(&self) -> &[Violation] {
        match self {
            Self::Invalid { violations, .. } => violations,
            _ => &[],
        }
    }
}
