//! Editing plaintext with `$EDITOR` (`tend vault create` / `edit`).
//!
//! The plaintext is written to a file of mode 0600 inside a fresh private
//! directory (0700); the editor runs on it; the result is read back. The
//! file is overwritten with zeros and the directory removed on every path:
//! success, an error, the editor failing, and SIGTERM/SIGHUP (the editor is
//! then stopped). SIGINT goes to the editor (it is in the terminal's
//! foreground group): tend waits for it, and an editor that fails or is
//! killed leaves the vault file unchanged.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use thiserror::Error;
use zeroize::Zeroizing;

/// Why editing failed; the vault file is unchanged in every case.
#[derive(Debug, Error)]
pub enum EditError {
    /// The temporary file or directory could not be made, written or read.
    #[error("temporary file {}: {error}", path.display())]
    Temp {
        /// The path.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// `$EDITOR` is not a command line.
    #[error("cannot parse $EDITOR `{0}`")]
    BadEditor(String),
    /// The editor could not be started.
    #[error("cannot run the editor `{editor}`: {error}")]
    Spawn {
        /// The editor command.
        editor: String,
        /// The OS error.
        error: std::io::Error,
    },
    /// The editor exited non-zero or was killed.
    #[error("the editor `{editor}` failed ({status}); nothing was changed")]
    Failed {
        /// The editor command.
        editor: String,
        /// Its exit status.
        status: String,
    },
    /// tend itself got a terminating signal.
    #[error("interrupted by {name}; nothing was changed")]
    Signal {
        /// SIGTERM / SIGHUP.
        name: &'static str,
        /// The exit code to use (128 + signal number).
        code: i32,
    },
}

/// Removes the plaintext (zeros first) and the private directory on drop.
struct Scratch {
    dir: Option<tempfile::TempDir>,
    file: PathBuf,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Ok(meta) = std::fs::metadata(&self.file)
            && let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&self.file)
        {
            let zeros = vec![0u8; usize::try_from(meta.len()).unwrap_or(0).min(1 << 26)];
            let _ = f.write_all(&zeros).and_then(|()| f.sync_all());
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }
}

fn temp(path: &Path) -> impl FnOnce(std::io::Error) -> EditError + '_ {
    move |error| EditError::Temp {
        path: path.to_path_buf(),
        error,
    }
}

/// Lets the user edit `plain` (named like `original`, for the editor's
/// syntax highlighting); returns the edited bytes.
pub fn edit_plaintext(original: &Path, plain: &[u8]) -> Result<Zeroizing<Vec<u8>>, EditError> {
    let editor = std::env::var("EDITOR").unwrap_or_else(|_| "vi".to_string());
    let words = shlex::split(&editor)
        .filter(|w| !w.is_empty())
        .ok_or_else(|| EditError::BadEditor(editor.clone()))?;
    let dir = tempfile::Builder::new()
        .prefix("tend-vault-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .map_err(temp(&std::env::temp_dir()))?;
    let name = original
        .file_name()
        .map_or_else(|| "vault".into(), |n| n.to_string_lossy().into_owned());
    let scratch = Scratch {
        file: dir.path().join(name),
        dir: Some(dir),
    };
    let file = &scratch.file;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .and_then(|mut f| f.write_all(plain))
        .map_err(temp(file))?;
    run_editor(&editor, &words, file)?;
    let edited = Zeroizing::new(std::fs::read(file).map_err(temp(file))?);
    drop(scratch);
    Ok(edited)
}

fn run_editor(editor: &str, words: &[String], file: &Path) -> Result<(), EditError> {
    use tokio::signal::unix::{SignalKind, signal};
    let spawn_error = |error| EditError::Spawn {
        editor: editor.to_string(),
        error,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(spawn_error)?;
    runtime.block_on(async {
        // Installed before the editor starts: from here on, these signals
        // no longer kill tend before it has cleaned up.
        let mut term = signal(SignalKind::terminate()).map_err(spawn_error)?;
        let mut hup = signal(SignalKind::hangup()).map_err(spawn_error)?;
        let mut int = signal(SignalKind::interrupt()).map_err(spawn_error)?;
        let (prog, args) = words
            .split_first()
            .ok_or_else(|| EditError::BadEditor(editor.to_string()))?;
        let mut child = tokio::process::Command::new(prog)
            .args(args)
            .arg(file)
            .kill_on_drop(true)
            .spawn()
            .map_err(spawn_error)?;
        let mut stop: Option<(&'static str, i32)> = None;
        let status = loop {
            tokio::select! {
                status = child.wait() => break status.map_err(spawn_error)?,
                _ = term.recv() => {
                    stop = Some(("SIGTERM", 143));
                    let _ = child.start_kill();
                }
                _ = hup.recv() => {
                    stop = Some(("SIGHUP", 129));
                    let _ = child.start_kill();
                }
                // The editor got it too; its exit status decides.
                _ = int.recv() => {}
            }
        };
        if let Some((name, code)) = stop {
            return Err(EditError::Signal { name, code });
        }
        if !status.success() {
            return Err(EditError::Failed {
                editor: editor.to_string(),
                status: status.to_string(),
            });
        }
        Ok(())
    })
}
