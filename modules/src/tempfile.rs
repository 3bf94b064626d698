//! The `tempfile` module: create a temporary file or directory on the target.
//!
//! The name is `PREFIX` + random characters + `SUFFIX`, made with `mktemp` in
//! `path` (by default the target's temporary directory: `$TMPDIR`, `$TEMP`,
//! `$TMP`, else `/tmp`). A file is created with mode `0600` and a directory
//! with `0700`: only its owner can use it (use `file` to change that). Every
//! run creates a new one, so the task always reports changed. Like Ansible's,
//! the module does not support check mode: there it is skipped.
//!
//! # Examples
//!
//! ```yaml
//! - name: Create a temporary build directory
//!   ansible.builtin.tempfile:
//!     state: directory
//!     suffix: build
//!   register: build_dir
//!
//! - name: Create a temporary file next to the application
//!   ansible.builtin.tempfile:
//!     path: /srv/app/tmp
//!     prefix: upload.
//!   register: upload
//!
//! - name: Remove it again
//!   ansible.builtin.file:
//!     path: "{{ upload.path }}"
//!     state: absent
//! ```
//!
//! # Return values
//!
//! - `path` (str): The absolute path of the created file or directory.

use crate::args::{ArgsError, de};
use crate::command::expand_word;
use crate::host::{Exec, ExecOutput, Host};
use crate::module::{Context, ModuleError, TypedModule};
use crate::outcome::Outcome;
use crate::sh::quote;
use async_trait::async_trait;
use serde::Deserialize;

/// What to create.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// A regular file (mode `0600`).
    #[default]
    File,
    /// A directory (mode `0700`).
    Directory,
}

/// Arguments of `tempfile`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Whether to create a file or a directory.
    #[serde(default)]
    pub state: State,
    /// The directory to create it in (`~` and `$VAR` are expanded on the
    /// target). Default: the target's temporary directory.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub path: Option<String>,
    /// The start of the name.
    #[serde(default = "default_prefix", deserialize_with = "de::string")]
    pub prefix: String,
    /// The end of the name.
    #[serde(default, deserialize_with = "de::string")]
    pub suffix: String,
}

fn default_prefix() -> String {
    "ansible.".into()
}

/// The `tempfile` module.
pub struct TempFile;

impl TempFile {
    /// The one script: prints the created path, or fails with mktemp's error.
    pub fn script(args: &Args) -> Exec {
        let dir = match args.path.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => expand_word(p),
            None => "\"${TMPDIR:-${TEMP:-${TMP:-/tmp}}}\"".into(),
        };
        let dir_flag = if args.state == State::Directory {
            " -d"
        } else {
            ""
        };
        // GNU mktemp wants the random part (X's) at the end of the template;
        // the suffix goes in `--suffix`. Python's names use 8 random characters.
        Exec::script(format!(
            "d={dir}\n\
             case $d in /*) ;; *) d=$(pwd)/$d ;; esac\n\
             if [ ! -d \"$d\" ]; then printf 'tend: [Errno 2] No such file or directory: %s\\n' \"$d\" >&2; exit 1; fi\n\
             mktemp{dir_flag} --suffix={} -p \"$d\" {}XXXXXXXX\n",
            quote(&args.suffix),
            quote(&args.prefix),
        ))
    }

    /// The outcome for the script's output.
    pub fn outcome(out: &ExecOutput) -> Result<Outcome, ModuleError> {
        if out.status != 0 {
            return Err(ModuleError::applying(
                "could not create the temporary file",
                out,
            ));
        }
        let path = out.stdout_text().trim_end_matches('\n').to_string();
        Ok(Outcome::changed().with("path", path))
    }
}

#[async_trait]
impl TypedModule for TempFile {
    type Args = Args;
    const NAME: &'static str = "tempfile";

    fn validate(args: &Args) -> Result<(), ArgsError> {
        if args.prefix.contains('\0') || args.suffix.contains('\0') {
            return Err(ArgsError::general("prefix and suffix cannot contain NUL"));
        }
        Ok(())
    }

    async fn run(
        &self,
        args: Args,
        ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError> {
        if ctx.check_mode {
            return Ok(Outcome::no_check_mode(Self::NAME));
        }
        let out = host.exec(TempFile::script(&args)).await?;
        TempFile::outcome(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Replay, out};
    use serde_json::json;

    #[test]
    fn creates_a_file_or_directory_with_mktemp() {
        let host = Replay::new(&[b"/tmp/ansible.k3j4h5g6\n"]);
        let o = host.run(&TempFile, json!({}), false).unwrap();
        assert!(o.changed);
        assert_eq!(o.values["path"], "/tmp/ansible.k3j4h5g6");
        let s = &host.scripts()[0];
        assert!(s.contains("d=\"${TMPDIR:-${TEMP:-${TMP:-/tmp}}}\""), "{s}");
        assert!(
            s.contains("mktemp --suffix='' -p \"$d\" ansible.XXXXXXXX"),
            "{s}"
        );

        let host = Replay::new(&[b"/srv/x/pre.abcdefghbuild\n"]);
        let o = host
            .run(
                &TempFile,
                json!({"state": "directory", "path": "~/x y", "prefix": "pre.", "suffix": "build"}),
                false,
            )
            .unwrap();
        assert_eq!(o.values["path"], "/srv/x/pre.abcdefghbuild");
        let s = &host.scripts()[0];
        assert!(s.contains("d=\"${HOME-~}\"'/x y'"), "{s}");
        assert!(
            s.contains("mktemp -d --suffix=build -p \"$d\" pre.XXXXXXXX"),
            "{s}"
        );
    }

    #[test]
    fn fails_with_the_reason_and_skips_in_check_mode() {
        let mut failed = out(1, "");
        failed.stderr = b"tend: [Errno 2] No such file or directory: /nope\n".to_vec();
        let host = Replay::outputs(vec![failed]);
        let err = host
            .run(&TempFile, json!({"path": "/nope"}), false)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "[Errno 2] No such file or directory: /nope"
        );

        let host = Replay::new(&[]);
        let o = host.run(&TempFile, json!({}), true).unwrap();
        assert!(o.skipped && !o.changed);
        assert!(host.scripts().is_empty());
        assert!(host.run(&TempFile, json!({"state": "link"}), true).is_err());
    }
}
