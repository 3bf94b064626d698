//! Where vault passwords come from, as ansible-vault's `--vault-id
//! label@source` says: a file holding the password, an executable script
//! that prints it, or a prompt on the terminal.
//!
//! - A plain file: its content with surrounding whitespace stripped.
//! - An executable file: run with no arguments; its stripped standard output.
//!   A script whose name (without extension) ends in `-client` is a *client
//!   script*: it is run as `script --vault-id <label>` and exit code 2 means
//!   it has no secret for that vault id (Ansible's convention).
//! - `prompt` / `prompt_ask_vault_pass`: asked on the terminal, not echoed.
//!
//! Unlike Ansible, a file that starts with `#!` but is not executable is an
//! error (Ansible would take the script's text as the password).

use super::{DEFAULT_ID, Secret};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use thiserror::Error;
use zeroize::Zeroizing;

/// Why a vault password could not be had.
#[derive(Debug, Error)]
pub enum SourceError {
    /// The password file does not exist.
    #[error("the vault password file {} was not found", .0.display())]
    Missing(PathBuf),
    /// The password file cannot be read.
    #[error("cannot read the vault password file {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// A script without execute permission.
    #[error(
        "the vault password file {} is a script (it starts with `#!`) but is not executable: make it executable (chmod +x), or put the password itself in the file",
        .0.display()
    )]
    NotExecutable(PathBuf),
    /// The script could not be started.
    #[error("cannot run the vault password script {}: {error}", path.display())]
    Spawn {
        /// The script.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// The script exited non-zero.
    #[error("the vault password script {} returned non-zero ({code}): {stderr}", path.display())]
    Failed {
        /// The script.
        path: PathBuf,
        /// Its exit code (or the signal).
        code: String,
        /// Its standard error, trimmed.
        stderr: String,
    },
    /// A client script has no secret for the vault id (exit code 2).
    #[error("the vault password client script {} did not find a secret for vault-id={id}", path.display())]
    ClientUnknownId {
        /// The script.
        path: PathBuf,
        /// The vault id asked for.
        id: String,
    },
    /// The password is empty.
    #[error("invalid vault password was provided from {0}: it is empty")]
    Empty(String),
    /// The terminal prompt failed.
    #[error("cannot prompt for the vault password: {0}")]
    Prompt(std::io::Error),
    /// The two entries of a new password differ.
    #[error("passwords do not match")]
    Mismatch,
}

/// One `--vault-id`: a label and where the password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultId {
    /// The label (`default` when none is given).
    pub label: String,
    /// The password's source.
    pub source: Source,
}

/// Where a password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file, or an executable script.
    File(PathBuf),
    /// A terminal prompt (`prompt`, `prompt_ask_vault_pass`, `--ask-vault-pass`).
    Prompt {
        /// `--ask-vault-pass` / `prompt_ask_vault_pass`: the plain "Vault password" prompt.
        plain: bool,
    },
}

impl VaultId {
    /// Parses `label@source` or `source` (label `default`), as Ansible does.
    pub fn parse(spec: &str) -> VaultId {
        let (label, source) = match spec.split_once('@') {
            Some((l, s)) => (Some(l), s),
            None => (None, spec),
        };
        let label = label.filter(|l| !l.is_empty()).unwrap_or(DEFAULT_ID);
        let source = match source {
            "prompt" => Source::Prompt { plain: false },
            "prompt_ask_vault_pass" => Source::Prompt { plain: true },
            path => Source::File(PathBuf::from(path)),
        };
        VaultId {
            label: label.to_string(),
            source,
        }
    }

    /// A `--vault-password-file` (label `default`).
    pub fn file(path: &Path) -> VaultId {
        VaultId {
            label: DEFAULT_ID.to_string(),
            source: Source::File(path.to_path_buf()),
        }
    }

    /// `--ask-vault-pass`.
    pub fn ask() -> VaultId {
        VaultId {
            label: DEFAULT_ID.to_string(),
            source: Source::Prompt { plain: true },
        }
    }

    /// Reads the password. `new`: it is a new password (asked twice when prompted).
    pub fn load(&self, new: bool) -> Result<Secret, SourceError> {
        let (password, origin) = match &self.source {
            Source::File(path) => (read_file(path, &self.label)?, path.display().to_string()),
            Source::Prompt { plain } => (self.prompt(*plain, new)?, "prompt".to_string()),
        };
        if password.is_empty() {
            return Err(SourceError::Empty(origin));
        }
        Ok(Secret {
            id: self.label.clone(),
            password,
            origin,
        })
    }

    fn prompt(&self, plain: bool, new: bool) -> Result<Zeroizing<Vec<u8>>, SourceError> {
        let label = if plain || self.label == DEFAULT_ID {
            String::new()
        } else {
            format!(" ({})", self.label)
        };
        let ask = |text: String| {
            rpassword::prompt_password(text)
                .map(|p| Zeroizing::new(p.into_bytes()))
                .map_err(SourceError::Prompt)
        };
        if !new {
            return ask(format!("Vault password{label}: "));
        }
        let first = ask(format!("New Vault password{label}: "))?;
        let second = ask(format!("Confirm New Vault password{label}: "))?;
        if *first != *second {
            return Err(SourceError::Mismatch);
        }
        Ok(first)
    }
}

fn read_file(path: &Path, label: &str) -> Result<Zeroizing<Vec<u8>>, SourceError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SourceError::Missing(path.to_path_buf()));
        }
        Err(error) => {
            return Err(SourceError::Read {
                path: path.to_path_buf(),
                error,
            });
        }
    };
    if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
        return run_script(path, label);
    }
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|error| SourceError::Read {
        path: path.to_path_buf(),
        error,
    })?);
    if bytes.starts_with(b"#!") {
        return Err(SourceError::NotExecutable(path.to_path_buf()));
    }
    Ok(Zeroizing::new(bytes.trim_ascii().to_vec()))
}

/// A client script: its name without extension ends in `-client`.
fn is_client(path: &Path) -> bool {
    path.file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| s.ends_with("-client"))
}

fn run_script(path: &Path, label: &str) -> Result<Zeroizing<Vec<u8>>, SourceError> {
    let client = is_client(path);
    // A bare name is a file here, not a command to look up in $PATH.
    let mut cmd = Command::new(if path.is_relative() {
        Path::new(".").join(path)
    } else {
        path.to_path_buf()
    });
    if client {
        cmd.args(["--vault-id", label]);
    }
    let out = cmd
        .stdin(Stdio::inherit())
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .output()
        .map_err(|error| SourceError::Spawn {
            path: path.to_path_buf(),
            error,
        })?;
    let stdout = Zeroizing::new(out.stdout);
    if client && out.status.code() == Some(2) {
        return Err(SourceError::ClientUnknownId {
            path: path.to_path_buf(),
            id: label.to_string(),
        });
    }
    if !out.status.success() {
        let code = match out.status.code() {
            Some(c) => c.to_string(),
            None => "killed by a signal".to_string(),
        };
        return Err(SourceError::Failed {
            path: path.to_path_buf(),
            code,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(Zeroizing::new(stdout.trim_ascii().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vault_ids() {
        assert_eq!(
            VaultId::parse("prod@/x/pw"),
            VaultId {
                label: "prod".into(),
                source: Source::File("/x/pw".into())
            }
        );
        assert_eq!(VaultId::parse("/x/pw").label, "default");
        assert_eq!(
            VaultId::parse("dev@prompt").source,
            Source::Prompt { plain: false }
        );
    }

    #[test]
    fn files_and_scripts() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "  s3cret \n").unwrap();
        let s = VaultId::parse(&format!("a@{}", file.display()))
            .load(false)
            .unwrap();
        assert_eq!((s.id.as_str(), &s.password[..]), ("a", &b"s3cret"[..]));

        let script = dir.path().join("pw.sh");
        std::fs::write(&script, "#!/bin/sh\necho from-script\n").unwrap();
        let e = VaultId::file(&script).load(false).unwrap_err();
        assert!(matches!(e, SourceError::NotExecutable(_)), "{e}");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
        let s = VaultId::file(&script).load(false).unwrap();
        assert_eq!(&s.password[..], b"from-script");

        let client = dir.path().join("keys-client.sh");
        std::fs::write(
            &client,
            "#!/bin/sh\n[ \"$1 $2\" = '--vault-id prod' ] && echo p1 && exit 0\nexit 2\n",
        )
        .unwrap();
        std::fs::set_permissions(&client, std::fs::Permissions::from_mode(0o700)).unwrap();
        let spec = |l: &str| VaultId::parse(&format!("{l}@{}", client.display()));
        assert_eq!(&spec("prod").load(false).unwrap().password[..], b"p1");
        let e = spec("dev").load(false).unwrap_err();
        assert!(e.to_string().contains("vault-id=dev"), "{e}");

        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let e = VaultId::file(&empty).load(false).unwrap_err();
        assert!(e.to_string().contains("it is empty"), "{e}");
        let e = VaultId::file(&dir.path().join("nope"))
            .load(false)
            .unwrap_err();
        assert!(e.to_string().contains("was not found"), "{e}");
    }
}
