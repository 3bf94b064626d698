//! The inventory stage's error type.

use std::path::PathBuf;

/// Everything that can go wrong while loading or querying an inventory.
///
/// Every variant that comes from a file names the file and, where the format
/// has lines, the line (and column for YAML/JSON), followed by what was
/// expected.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// A syntax or structure error at a known line of an inventory or vars file.
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was expected and what was found.
        message: String,
    },
    /// A YAML or JSON error at a known line and column.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based column number.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// An error about a whole file (no single line to blame).
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A file or directory could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An inventory source that is neither an existing path nor a host list.
    #[error(
        "{}: inventory source not found (expected a file, a directory, or a comma-separated host list such as 'host1,host2,')",
        path.display()
    )]
    NotFound {
        /// The source as given.
        path: PathBuf,
    },
    /// A dynamic inventory script failed or printed something unusable.
    #[error("{}: {message}", path.display())]
    Script {
        /// The script.
        path: PathBuf,
        /// What went wrong (exit status, stderr, JSON error).
        message: String,
    },
    /// A malformed host pattern (bad regex, subscript out of range, missing @file).
    #[error("invalid host pattern '{pattern}': {message}")]
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// What was expected.
        message: String,
    },
    /// A run-time change (`add_host`, `group_by`) that the inventory refuses.
    #[error("{0}")]
    Invalid(String),
    /// `graph` was given a name that is not a group.
    #[error("'{0}' is not a group in the inventory (--graph expects a group name)")]
    UnknownGroup(String),
    /// `host_json` was given a pattern that does not match exactly one host.
    #[error("'{pattern}' matches {count} hosts; expected exactly one host")]
    NotOneHost {
        /// The pattern as given.
        pattern: String,
        /// How many hosts it matched.
        count: usize,
    },
}

impl InventoryError {
    pub(crate) fn parse(path: &std::path::Path, line: usize, message: impl Into<String>) -> Self {
        InventoryError::Parse {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    pub(crate) fn file(path: &std::path::Path, message: impl Into<String>) -> Self {
        InventoryError::File {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        InventoryError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn pattern(pattern: &str, message: impl Into<String>) -> Self {
        InventoryError::Pattern {
            pattern: pattern.to_owned(),
            message: message.into(),
        }
    }
}
