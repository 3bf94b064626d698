//! The `slurp` module: read a file on the target and return its content, base64-encoded.
//!
//! One round trip: the file is read with `cat` and its bytes come back as
//! they are (binary files too); the encoding happens on the controller. It
//! never changes anything, so it runs the same in check mode. Use the `b64decode`
//! filter to get the text back.
//!
//! # Examples
//!
//! ```yaml
//! - name: Read the SSH daemon's PID
//!   slurp:
//!     src: /var/run/sshd.pid
//!   register: sshd_pid
//!
//! - name: Show it
//!   debug:
//!     msg: "{{ sshd_pid.content | b64decode }}"
//! ```
//!
//! # Return values
//!
//! - `content` (str): the file's bytes, base64-encoded.
//! - `encoding` (str): always `base64`.
//! - `source` (str): the path that was read.

use crate::args::de;
use crate::host::{Exec, ExecOutput, Host};
use crate::module::{Context, ModuleError, TypedModule};
use crate::outcome::Outcome;
use crate::sh::quote;
use async_trait::async_trait;
use base64::Engine;
use serde::Deserialize;

/// Arguments of `slurp`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The file to read.
    #[serde(alias = "path", deserialize_with = "de::string")]
    pub src: String,
}

/// The `slurp` module.
pub struct Slurp;

impl Slurp {
    /// The one script: a status word, a NUL, then the file's bytes.
    pub fn script(src: &str) -> Exec {
        let p = quote(src);
        Exec::script(format!(
            "if [ -d {p} ]; then printf 'isdir\\0'\n\
             elif [ ! -e {p} ]; then printf 'missing\\0'\n\
             elif [ ! -r {p} ]; then printf 'unreadable\\0'\n\
             else printf 'ok\\0'; cat < {p} || exit 1; fi\n"
        ))
    }

    /// The outcome for the script's output.
    pub fn outcome(src: &str, out: &ExecOutput) -> Result<Outcome, ModuleError> {
        let nul = out.stdout.iter().position(|&b| b == 0);
        let (word, body) = match nul {
            Some(i) if out.status == 0 => (&out.stdout[..i], &out.stdout[i + 1..]),
            _ => {
                return Err(
                    ModuleError::script(format!("Unable to slurp file: {src}"), out)
                        .with("source", src),
                );
            }
        };
        let msg = match word {
            b"ok" => {
                return Ok(Outcome::ok()
                    .with(
                        "content",
                        base64::engine::general_purpose::STANDARD.encode(body),
                    )
                    .with("source", src)
                    .with("encoding", "base64"));
            }
            b"missing" => format!("File not found: {src}"),
            b"unreadable" => format!("File is not readable: {src}"),
            b"isdir" => format!("Source is a directory and must be a file: {src}"),
            _ => format!("Unable to slurp file: {src}"),
        };
        Err(ModuleError::failed(msg))
    }
}

#[async_trait]
impl TypedModule for Slurp {
    type Args = Args;
    const NAME: &'static str = "slurp";

    async fn run(
        &self,
        args: Args,
        _ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError> {
        let out = host.exec(Slurp::script(&args.src).read_only()).await?;
        Slurp::outcome(&args.src, &out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(stdout: &[u8]) -> ExecOutput {
        ExecOutput {
            status: 0,
            stdout: stdout.to_vec(),
            stderr: vec![],
        }
    }

    #[test]
    fn encodes_the_bytes_and_names_failures() {
        assert!(Slurp::script("/a b").script.contains("cat < '/a b'"));
        let o = Slurp::outcome("/p", &out(b"ok\x002179\n\x00\xff")).unwrap();
        assert_eq!(o.values["content"], "MjE3OQoA/w==");
        assert_eq!(o.values["encoding"], "base64");
        assert_eq!(o.values["source"], "/p");
        assert!(!o.changed);
        let err = Slurp::outcome("/p", &out(b"missing\0")).unwrap_err();
        assert_eq!(err.to_string(), "File not found: /p");
        let err = Slurp::outcome("/d", &out(b"isdir\0")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Source is a directory and must be a file: /d"
        );
        let err = Slurp::outcome("/u", &out(b"unreadable\0")).unwrap_err();
        assert_eq!(err.to_string(), "File is not readable: /u");
    }
}
