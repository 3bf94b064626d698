//! The `script` module: runs a controller-side script on the target.
//!
//! The first word of the command line names the script, found like `copy`'s
//! `src` (the role's or playbook's `files/`, then the playbook's directory);
//! the rest is passed to it as shell text, as Ansible does. The engine
//! reads the script; it is sent over standard input into a private
//! temporary directory, run (with `executable`, if given, else by its
//! shebang) and removed, in one round trip that also evaluates `creates`,
//! `removes` and `chdir`. In check mode the script runs only when decided by
//! `creates`/`removes` (it is then reported as a change without running);
//! otherwise the task is skipped, as in Ansible.
//!
//! # Examples
//!
//! ```yaml
//! - name: Initialize the database once
//!   script: scripts/init-db.sh --owner app
//!   args:
//!     creates: /var/lib/app/.initialized
//!
//! - name: Run a Python report with the target's interpreter
//!   script:
//!     cmd: report.py --daily
//!     executable: /usr/bin/python3
//!     chdir: /var/lib/app
//! ```
//!
//! # Return values
//!
//! - `rc` (int): the script's exit status.
//! - `stdout` (string): its standard output.
//! - `stdout_lines` (list): `stdout` split into lines.
//! - `stderr` (string): its standard error.
//! - `stderr_lines` (list): `stderr` split into lines.

use crate::args::{ArgsError, de};
use crate::command::{lines_value, shlex_split};
use crate::fileops::basename;
use crate::host::{Exec, ExecOutput, Host};
use crate::module::{Context, FreeForm, MSG_PREFIX, ModuleError, TypedModule};
use crate::outcome::Outcome;
use crate::sh::quote;
use async_trait::async_trait;
use base64::Engine;
use serde::Deserialize;

fn yes() -> bool {
    true
}

/// Arguments of `script`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The free-form command line: the script's path, then its arguments (shell text).
    #[serde(rename = "_raw_params", default, deserialize_with = "de::opt_string")]
    pub raw_params: Option<String>,
    /// The command line, as an option instead of the free form.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub cmd: Option<String>,
    /// Change into this directory (absolute) before running the script.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub chdir: Option<String>,
    /// If this path exists on the target, the script is not run.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub creates: Option<String>,
    /// If this path does not exist on the target, the script is not run.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub removes: Option<String>,
    /// The program that runs the script (`/usr/bin/python3`), instead of its shebang.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub executable: Option<String>,
    /// Run a vault-encrypted script decrypted (the engine reads it); `false` sends it as it is.
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub decrypt: bool,
    /// Internal, set by the engine: the script's bytes, base64-encoded.
    #[serde(default, rename = "_content_b64", deserialize_with = "de::opt_string")]
    pub content_b64: Option<String>,
}

/// The `script` module.
pub struct Script;

const TAG: &str = "__tend_script";

impl Args {
    fn line(&self) -> &str {
        self.raw_params
            .as_deref()
            .or(self.cmd.as_deref())
            .unwrap_or("")
            .trim()
    }
}

/// The script's name and the rest of the command line (shell text).
fn split_line(line: &str) -> Result<(String, String), ModuleError> {
    let words = shlex_split(line).map_err(ModuleError::failed)?;
    let first = words
        .first()
        .cloned()
        .ok_or_else(|| ModuleError::failed("script: no script given"))?;
    let rest = match line.strip_prefix(first.as_str()) {
        Some(r) => r.trim().to_string(),
        None => words[1..]
            .iter()
            .map(|w| quote(w).into_owned())
            .collect::<Vec<_>>()
            .join(" "),
    };
    Ok((first, rest))
}

/// The one script: creates/removes, chdir, the upload and the run.
fn build(a: &Args, check_mode: bool) -> Result<String, ModuleError> {
    let (name, rest) = split_line(a.line())?;
    let mut s = String::new();
    if let Some(c) = &a.creates {
        s.push_str(&format!(
            "if [ -e {} ]; then cat >/dev/null; echo {TAG}_skip_creates; exit 0; fi\n",
            quote(c)
        ));
    }
    if let Some(r) = &a.removes {
        s.push_str(&format!(
            "if [ ! -e {} ]; then cat >/dev/null; echo {TAG}_skip_removes; exit 0; fi\n",
            quote(r)
        ));
    }
    if check_mode {
        s.push_str(&format!("cat >/dev/null; echo {TAG}_check\nexit 0\n"));
        return Ok(s);
    }
    let file = format!("\"$tmpd\"/{}", quote(basename(&name)));
    s.push_str(&format!(
        "tmpd=$(mktemp -d) || {{ echo '{MSG_PREFIX}cannot create a temporary directory' >&2; exit 1; }}\n\
         trap 'rm -rf -- \"$tmpd\"' EXIT\ntrap 'exit 129' HUP\ntrap 'exit 130' INT\ntrap 'exit 143' TERM\n\
         cat > {file} || exit 1\nchmod 700 {file} || exit 1\n"
    ));
    if let Some(dir) = &a.chdir {
        s.push_str(&format!(
            "cd -P -- {} || {{ echo '{MSG_PREFIX}cannot change into {}' >&2; exit 1; }}\n",
            quote(dir),
            dir.replace('\'', "")
        ));
    }
    s.push_str(&format!("echo {TAG}_start\n"));
    let exe = match &a.executable {
        Some(e) if !e.is_empty() => format!("{e} "),
        _ => String::new(),
    };
    s.push_str(&format!(
        "{exe}{file} {rest} </dev/null\n{TAG}_rc=$?\nexit ${TAG}_rc\n"
    ));
    Ok(s)
}

#[async_trait]
impl TypedModule for Script {
    type Args = Args;
    const NAME: &'static str = "script";
    const FREE_FORM: FreeForm = FreeForm::RawParams;

    fn validate(a: &Args) -> Result<(), ArgsError> {
        match (&a.raw_params, &a.cmd) {
            (Some(_), Some(_)) => {
                return Err(ArgsError::general(
                    "parameters are mutually exclusive: _raw_params|cmd",
                ));
            }
            (None, None) => {
                return Err(ArgsError::general(
                    "one of the following is required: _raw_params, cmd",
                ));
            }
            _ => {}
        }
        if let Some(d) = &a.chdir
            && !crate::args::is_templated(d)
            && !d.starts_with('/')
        {
            return Err(ArgsError::field(
                "chdir",
                format!("chdir {d} must be an absolute path for a Unix-aware remote node"),
            ));
        }
        Ok(())
    }

    async fn run(&self, a: Args, ctx: &Context, host: &dyn Host) -> Result<Outcome, ModuleError> {
        let (name, _) = split_line(a.line())?;
        let bytes = match &a.content_b64 {
            Some(b) => base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .map_err(|e| ModuleError::failed(format!("script: invalid `_content_b64`: {e}")))?,
            None => {
                return Err(ModuleError::failed(format!(
                    "script: the content of the controller-side script {name} was not provided (`_content_b64`)"
                )));
            }
        };
        let stdin = if ctx.check_mode { Vec::new() } else { bytes };
        let out = host
            .exec(Exec::with_stdin(build(&a, ctx.check_mode)?, stdin).lingering())
            .await?;
        outcome(&a, &out)
    }
}

fn outcome(a: &Args, out: &ExecOutput) -> Result<Outcome, ModuleError> {
    let stdout = out.stdout_text();
    let first = stdout.lines().next().unwrap_or("");
    let skip = |msg: String| Outcome {
        skipped: true,
        msg: Some(msg),
        ..Outcome::default()
    };
    if first == format!("{TAG}_skip_creates") {
        let c = a.creates.clone().unwrap_or_default();
        return Ok(skip(format!("{c} exists, matching creates option")));
    }
    if first == format!("{TAG}_skip_removes") {
        let r = a.removes.clone().unwrap_or_default();
        return Ok(skip(format!("{r} does not exist, matching removes option")));
    }
    if first == format!("{TAG}_check") {
        if a.creates.is_some() || a.removes.is_some() {
            return Ok(Outcome::changed());
        }
        return Ok(skip("Check mode is not supported for this task.".into()));
    }
    let Some(body) = stdout.strip_prefix(&format!("{TAG}_start\n")) else {
        return Err(ModuleError::applying(
            "script: running the script failed",
            out,
        ));
    };
    let stderr = out.stderr_text();
    let mut o = Outcome::changed()
        .with("rc", out.status)
        .with("stdout", body)
        .with("stdout_lines", lines_value(body))
        .with("stderr", stderr.clone())
        .with("stderr_lines", lines_value(&stderr));
    if out.status != 0 {
        o.failed = true;
        o.msg = Some("non-zero return code".into());
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;
    use serde_json::json;

    fn parsed(v: serde_json::Value) -> Args {
        let a: Args = args::parse(&v).unwrap();
        Script::validate(&a).unwrap();
        a
    }

    fn out(stdout: &str, status: i32) -> ExecOutput {
        ExecOutput {
            status,
            stdout: stdout.as_bytes().to_vec(),
            stderr: b"warn\n".to_vec(),
        }
    }

    #[test]
    fn builds_one_script() {
        let a = parsed(
            json!({"_raw_params": "files/run.sh 'a b' $HOME", "chdir": "/srv", "creates": "/done"}),
        );
        let s = build(&a, false).unwrap();
        assert!(s.starts_with("if [ -e /done ]; then"), "{s}");
        assert!(s.contains("cat > \"$tmpd\"/run.sh"), "{s}");
        assert!(s.contains("cd -P -- /srv ||"), "{s}");
        assert!(s.contains("\"$tmpd\"/run.sh 'a b' $HOME </dev/null"), "{s}");
        let a = parsed(json!({"cmd": "r.py x", "executable": "/usr/bin/python3"}));
        assert!(
            build(&a, false)
                .unwrap()
                .contains("/usr/bin/python3 \"$tmpd\"/r.py x")
        );
        let bad: Args = args::parse(&json!({"cmd": "x", "chdir": "rel"})).unwrap();
        assert!(Script::validate(&bad).is_err());
    }

    #[test]
    fn results_like_ansible() {
        let a = parsed(json!({"cmd": "s.sh", "creates": "/x"}));
        let o = outcome(&a, &out("__tend_script_skip_creates\n", 0)).unwrap();
        assert!(o.skipped);
        assert_eq!(o.msg.as_deref(), Some("/x exists, matching creates option"));
        let o = outcome(&a, &out("__tend_script_check\n", 0)).unwrap();
        assert!(o.changed && !o.skipped);
        let a = parsed(json!({"cmd": "s.sh"}));
        let o = outcome(&a, &out("__tend_script_check\n", 0)).unwrap();
        assert!(o.skipped);
        let o = outcome(&a, &out("__tend_script_start\nhi\n", 3)).unwrap();
        assert!(o.failed && o.changed);
        assert_eq!(o.values["rc"], 3);
        assert_eq!(o.values["stdout"], "hi\n");
        assert_eq!(o.values["stderr_lines"], json!(["warn"]));
    }
}
