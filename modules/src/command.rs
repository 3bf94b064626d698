//! The `command`, `shell` and `raw` modules: run commands on the target.
//!
//! * `command`: execute a program on the target, without a shell. The command
//!   line is split like Python's `shlex.split` and every word is quoted, so
//!   `|`, `;`, `>`, `&&` and `$(...)` reach the program as plain text; `$VAR`,
//!   `${VAR}` and a leading `~` are still expanded on the target
//!   (`expand_argument_vars`).
//! * `shell`: execute shell text on the target. It runs with `/bin/sh -c`
//!   (or `executable -c`), so pipes, redirections, globs and variables work.
//! * `raw`: send text to the target as the script itself. It has no `chdir`,
//!   `creates` or `removes`, always reports changed and is skipped in check
//!   mode.
//!
//! `command` and `shell` report changed whenever they run the command. When
//! `creates` matches something, or `removes` matches nothing, they do not run it
//! and report ok. In check mode nothing runs: with `creates` or `removes` the
//! task predicts whether the command would run (changed) or not (ok), without
//! them it is skipped. A non-zero return code fails the task with "non-zero
//! return code". `chdir`, the `creates`/`removes` tests and the command go to the
//! target in one script, and `start`, `end` and `delta` are measured there.
//!
//! # Examples
//!
//! ```yaml
//! - name: Show the kernel release
//!   ansible.builtin.command: uname -r
//!   register: kernel
//!   changed_when: false
//!
//! - name: Initialise the data directory once
//!   ansible.builtin.command:
//!     cmd: /usr/local/bin/app-init --data /srv/app
//!     creates: /srv/app/.initialised
//!
//! - name: Pass words that must not be split
//!   ansible.builtin.command:
//!     argv:
//!       - /usr/bin/logger
//!       - -t
//!       - deploy
//!       - release 42 is live
//!     chdir: /tmp
//!
//! - name: Count the lines of a log through a pipe
//!   ansible.builtin.shell: grep -c error /var/log/app.log || true
//!   register: errors
//!   changed_when: false
//!
//! - name: Build in a directory with bash
//!   ansible.builtin.shell:
//!     cmd: ./configure && make
//!     chdir: /usr/src/app
//!     executable: /bin/bash
//!     creates: /usr/src/app/app
//!
//! - name: Run a command without any processing
//!   ansible.builtin.raw: uptime
//! ```
//!
//! # Return values
//!
//! - `rc` (int): The command's exit status (0 means success).
//! - `stdout` (str): The command's standard output (`command` and `shell` strip its trailing newlines unless `strip_empty_ends` is false).
//! - `stdout_lines` (list): `stdout` split into lines.
//! - `stderr` (str): The command's standard error.
//! - `stderr_lines` (list): `stderr` split into lines.
//! - `cmd` (list): `command` and `shell` only: the command that ran, as a list of words (`command`) or the text (`shell`).
//! - `start` (str): `command` and `shell` only: when the command started, `YYYY-MM-DD HH:MM:SS.ffffff` on the target's clock.
//! - `end` (str): `command` and `shell` only: when the command ended.
//! - `delta` (str): `command` and `shell` only: how long the command ran, `H:MM:SS.ffffff`.
//! - `msg` (str): `command` and `shell` only: empty when the command ran, else why it did not (`creates`/`removes`, check mode), or "non-zero return code".
//!
//! # Implementation
//!
//! The script frames the command's standard output with a start line (the
//! start time) and an end line (return code and end time), so `start`/`end`/
//! `delta` are measured on the target as Ansible does.

use crate::args::{ArgsError, de};
use crate::host::{Exec, ExecOutput, Host};
use crate::module::{Context, FreeForm, ModuleError, TypedModule};
use crate::outcome::Outcome;
use crate::sh::quote;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Arguments of `command`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The free-form command line (`command: ls -l /tmp`), split like `shlex.split`.
    #[serde(rename = "_raw_params", default, deserialize_with = "de::opt_string")]
    pub raw_params: Option<String>,
    /// The command line, as an option instead of the free form.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub cmd: Option<String>,
    /// The command as a list of words (no splitting at all).
    #[serde(default, deserialize_with = "opt_list")]
    pub argv: Option<Vec<String>>,
    /// Change into this directory before running the command.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub chdir: Option<String>,
    /// A path or glob: if anything matches, the command is not run.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub creates: Option<String>,
    /// A path or glob: if nothing matches, the command is not run.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub removes: Option<String>,
    /// Text fed to the command's standard input.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub stdin: Option<String>,
    /// Append a newline to `stdin`.
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub stdin_add_newline: bool,
    /// Strip trailing newlines from `stdout`/`stderr`.
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub strip_empty_ends: bool,
    /// Expand `$VAR`, `${VAR}` and a leading `~` in each word, on the target.
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub expand_argument_vars: bool,
    /// Not used: `command` runs no shell. Given, it is ignored with a warning, as Ansible does.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub executable: Option<String>,
}

/// Arguments of `shell`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShellArgs {
    /// The free-form shell text (`shell: ls | wc -l`).
    #[serde(rename = "_raw_params", default, deserialize_with = "de::opt_string")]
    pub raw_params: Option<String>,
    /// The shell text, as an option instead of the free form.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub cmd: Option<String>,
    /// Change into this directory before running the command.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub chdir: Option<String>,
    /// A path or glob: if anything matches, the command is not run.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub creates: Option<String>,
    /// A path or glob: if nothing matches, the command is not run.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub removes: Option<String>,
    /// The shell to run the text with (absolute path). Default: `/bin/sh`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub executable: Option<String>,
    /// Text fed to the command's standard input.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub stdin: Option<String>,
    /// Append a newline to `stdin`.
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub stdin_add_newline: bool,
    /// Strip trailing newlines from `stdout`/`stderr`.
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub strip_empty_ends: bool,
    /// Not accepted (it is `command`'s): the shell expands variables itself.
    /// Given, the task fails, as Ansible's.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub expand_argument_vars: Option<String>,
}

/// Arguments of `raw`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArgs {
    /// The text sent to the target as is.
    #[serde(rename = "_raw_params", default, deserialize_with = "de::opt_string")]
    pub raw_params: Option<String>,
    /// Run the text with this shell (`EXECUTABLE -c TEXT`) instead of sending it as the script.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub executable: Option<String>,
}

fn yes() -> bool {
    true
}

fn opt_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    de::list(d).map(Some)
}

/// The `command` module.
pub struct Command;

/// The `shell` module.
pub struct Shell;

/// The `raw` module.
pub struct Raw;

fn exclusive_command(
    raw: &Option<String>,
    cmd: &Option<String>,
    argv: Option<&Vec<String>>,
) -> Result<(), ArgsError> {
    let given: Vec<&str> = [
        ("_raw_params", raw.is_some()),
        ("cmd", cmd.is_some()),
        ("argv", argv.is_some()),
    ]
    .iter()
    .filter(|(_, g)| *g)
    .map(|(n, _)| *n)
    .collect();
    let names = if argv.is_some() || (raw.is_none() && cmd.is_none()) {
        "_raw_params, cmd, argv"
    } else {
        "_raw_params, cmd"
    };
    match given.len() {
        0 => Err(ArgsError::general(format!(
            "one of the following is required: {names}"
        ))),
        1 => Ok(()),
        _ => Err(ArgsError::general(format!(
            "parameters are mutually exclusive: {}",
            given.join("|")
        ))),
    }
}

#[async_trait]
impl TypedModule for Command {
    type Args = Args;
    const NAME: &'static str = "command";
    const FREE_FORM: FreeForm = FreeForm::RawParams;

    fn validate(args: &Args) -> Result<(), ArgsError> {
        exclusive_command(&args.raw_params, &args.cmd, args.argv.as_ref())
    }

    async fn run(
        &self,
        args: Args,
        ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError> {
        let words = match (&args.raw_params, &args.cmd, &args.argv) {
            (Some(line), _, _) | (None, Some(line), _) => {
                if line.trim().is_empty() {
                    return Err(no_command());
                }
                shlex_split(line).map_err(ModuleError::failed)?
            }
            (None, None, Some(argv)) => argv.clone(),
            (None, None, None) => return Err(no_command()),
        };
        if words.is_empty() {
            return Err(no_command());
        }
        let job = Job {
            program: Program::Argv {
                words,
                expand: args.expand_argument_vars,
            },
            chdir: args.chdir,
            creates: args.creates,
            removes: args.removes,
            stdin: args.stdin,
            stdin_add_newline: args.stdin_add_newline,
            strip: args.strip_empty_ends,
        };
        let mut outcome = job.run(ctx, host).await?;
        if let Some(exe) = &args.executable {
            outcome = outcome.with(
                "warnings",
                vec![format!(
                    "As of Ansible 2.4, the parameter 'executable' is no longer supported with the 'command' module. Not using '{exe}'."
                )],
            );
        }
        Ok(outcome)
    }
}

#[async_trait]
impl TypedModule for Shell {
    type Args = ShellArgs;
    const NAME: &'static str = "shell";
    const FREE_FORM: FreeForm = FreeForm::RawParams;

    fn validate(args: &ShellArgs) -> Result<(), ArgsError> {
        if args.expand_argument_vars.is_some() {
            return Err(ArgsError::field(
                "expand_argument_vars",
                "Unsupported parameters for (shell) module: expand_argument_vars",
            ));
        }
        exclusive_command(&args.raw_params, &args.cmd, None)
    }

    async fn run(
        &self,
        args: ShellArgs,
        ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError> {
        let text = match args.raw_params.or(args.cmd) {
            Some(text) if !text.trim().is_empty() => text,
            _ => return Err(no_command()),
        };
        let job = Job {
            program: Program::Shell {
                text,
                executable: args.executable,
            },
            chdir: args.chdir,
            creates: args.creates,
            removes: args.removes,
            stdin: args.stdin,
            stdin_add_newline: args.stdin_add_newline,
            strip: args.strip_empty_ends,
        };
        job.run(ctx, host).await
    }
}

#[async_trait]
impl TypedModule for Raw {
    type Args = RawArgs;
    const NAME: &'static str = "raw";
    const FREE_FORM: FreeForm = FreeForm::RawParams;

    fn validate(args: &RawArgs) -> Result<(), ArgsError> {
        match &args.raw_params {
            Some(_) => Ok(()),
            None => Err(ArgsError::field(
                "_raw_params",
                "missing required argument `free_form`",
            )),
        }
    }

    async fn run(
        &self,
        args: RawArgs,
        ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError> {
        let text = args.raw_params.unwrap_or_default();
        if ctx.check_mode {
            // Ansible's raw action always skips in check mode.
            return Ok(Outcome {
                skipped: true,
                ..Outcome::default()
            });
        }
        let script = raw_script(&text, args.executable.as_deref());
        let out = host.exec(Exec::script(script).lingering()).await?;
        let stdout = out.stdout_text();
        let stderr = out.stderr_text();
        let mut outcome = Outcome::changed()
            .with("rc", out.status)
            .with("stdout", stdout.clone())
            .with("stdout_lines", lines_value(&stdout))
            .with("stderr", stderr.clone())
            .with("stderr_lines", lines_value(&stderr));
        if out.status != 0 {
            outcome.failed = true;
            outcome.msg = Some("non-zero return code".into());
        }
        Ok(outcome)
    }
}

/// The script `raw` sends: the text itself, or `EXECUTABLE -c TEXT`.
pub fn raw_script(text: &str, executable: Option<&str>) -> String {
    match executable {
        Some(exe) if !exe.is_empty() => format!("exec {} -c {}", quote(exe), quote(text)),
        _ => text.to_string(),
    }
}

fn no_command() -> ModuleError {
    let mut values = Map::new();
    values.insert("rc".into(), 256.into());
    ModuleError::Failed {
        msg: "no command given".into(),
        values,
    }
}

/// Whether `exe` is a POSIX shell (one that runs `-c 'eval "$VAR"'` as sh does).
fn posix_shell(exe: &str) -> bool {
    let name = exe.rsplit('/').next().unwrap_or(exe);
    matches!(
        name,
        "sh" | "bash" | "dash" | "ash" | "ksh" | "mksh" | "zsh"
    )
}

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// A program and its arguments, run without a shell.
    Argv {
        /// The words (`argv[0]` first).
        words: Vec<String>,
        /// Expand `$VAR` and `~` in each word on the target.
        expand: bool,
    },
    /// Text run by `/bin/sh -c` (or `executable -c`).
    Shell {
        /// The shell text.
        text: String,
        /// The shell to use instead of `/bin/sh`.
        executable: Option<String>,
    },
}

/// One run of `command` or `shell`, with everything that goes into its script.
#[derive(Debug, Clone)]
pub struct Job {
    /// What to run.
    pub program: Program,
    /// Directory to change into first.
    pub chdir: Option<String>,
    /// Skip when this glob matches.
    pub creates: Option<String>,
    /// Skip when this glob matches nothing.
    pub removes: Option<String>,
    /// Standard input text.
    pub stdin: Option<String>,
    /// Append a newline to the standard input text.
    pub stdin_add_newline: bool,
    /// Strip trailing newlines of stdout/stderr.
    pub strip: bool,
}

const TAG: &str = "__tend_cmd";

impl Job {
    fn cmd_value(&self) -> Value {
        match &self.program {
            Program::Argv { words, .. } => Value::from(words.clone()),
            Program::Shell { text, .. } => Value::from(text.clone()),
        }
    }

    /// Whether the script prints the expanded argv (words with `$` or a leading `~`).
    fn prints_argv(&self) -> bool {
        match &self.program {
            Program::Argv { words, expand } => *expand && words.iter().any(|w| needs_expansion(w)),
            Program::Shell { .. } => false,
        }
    }

    /// The one script: chdir, creates/removes tests, and (unless `check_mode`) the command.
    pub fn script(&self, check_mode: bool) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "{TAG}_t() {{ LC_ALL=C date '+%s %N %Y-%m-%d %H:%M:%S'; }}\n"
        ));
        if let Some(dir) = &self.chdir {
            let dir_word = path_word(dir);
            s.push_str(&format!(
                "{TAG}_d={dir_word}\n\
                 case ${TAG}_d in /*) ;; *) {TAG}_d=./${TAG}_d ;; esac\n\
                 if ! cd -P -- \"${TAG}_d\" 2>/dev/null; then\n\
                 \x20 if [ ! -e \"${TAG}_d\" ]; then {TAG}_e=2; elif [ ! -d \"${TAG}_d\" ]; then {TAG}_e=20; else {TAG}_e=13; fi\n\
                 \x20 printf '{TAG}-chdir %s %s\\n' \"${TAG}_e\" \"${TAG}_d\"; exit 1\n\
                 fi\n"
            ));
        }
        if self.creates.is_some() || self.removes.is_some() {
            s.push_str(&format!(
                "{TAG}_glob() ( IFS=; set -- $1; for f do if [ -e \"$f\" ] || [ -L \"$f\" ]; then exit 0; fi; done; exit 1 )\n"
            ));
        }
        if let Some(creates) = &self.creates {
            s.push_str(&format!(
                "if {TAG}_glob {}; then printf '{TAG}-skip creates\\n'; exit 0; fi\n",
                path_word(creates)
            ));
        }
        if let Some(removes) = &self.removes {
            s.push_str(&format!(
                "if ! {TAG}_glob {}; then printf '{TAG}-skip removes\\n'; exit 0; fi\n",
                path_word(removes)
            ));
        }
        if check_mode {
            s.push_str(&format!("printf '{TAG}-check\\n'; exit 0\n"));
            return s;
        }
        match &self.program {
            Program::Argv { words, expand } => {
                let words: Vec<String> = words
                    .iter()
                    .map(|w| {
                        if *expand {
                            expand_word(w)
                        } else {
                            quote(w).into_owned()
                        }
                    })
                    .collect();
                s.push_str(&format!("set -- {}\n", words.join(" ")));
                if self.prints_argv() {
                    s.push_str(&format!(
                        "printf '{TAG}-argv %s\\n' \"$#\"; printf '%s\\0' \"$@\"\n"
                    ));
                }
                s.push_str(&format!(
                    "{TAG}_which() (\n\
                     \x20 case $1 in */*) [ -e \"$1\" ] || exit 2; [ -f \"$1\" ] && [ -x \"$1\" ] && exit 0; exit 13 ;; esac\n\
                     \x20 IFS=:; e=2; for d in ${{PATH-/bin:/usr/bin}}; do [ -z \"$d\" ] && d=.\n\
                     \x20   if [ -f \"$d/$1\" ]; then [ -x \"$d/$1\" ] && exit 0; e=13; fi\n\
                     \x20 done; exit $e )\n\
                     {TAG}_which \"$1\"; {TAG}_e=$?\n\
                     if [ \"${TAG}_e\" -ne 0 ]; then printf '{TAG}-noexec %s\\n' \"${TAG}_e\"; exit 1; fi\n\
                     {TAG}_run() {{ (exec \"$@\"); }}\n"
                ));
            }
            Program::Shell { text, executable } => {
                let exe = executable
                    .as_deref()
                    .filter(|e| !e.is_empty())
                    .unwrap_or("/bin/sh");
                if posix_shell(exe) {
                    // The text reaches the shell in its environment, not its
                    // arguments (where `ps` would show a secret in it).
                    s.push_str(&format!(
                        "{TAG}_run() {{ {TAG}_text={} {} -c 'eval \"unset {TAG}_text; ${TAG}_text\"'\n}}\n",
                        quote(text),
                        quote(exe),
                    ));
                } else {
                    s.push_str(&format!(
                        "{TAG}_run() {{ {} -c {}\n}}\n",
                        quote(exe),
                        quote(text)
                    ));
                }
            }
        }
        // The output goes through files, not straight to the connection: a
        // process the command leaves in the background keeps them open, and
        // the task ends when the command does, as Ansible's (which stops
        // reading once the command has exited). Each file is unlinked before
        // the command starts (it is read back through a second descriptor),
        // so nothing the command printed outlives the task, even if the
        // connection drops. They are made in a private directory (`mktemp
        // -d`, mode 0700), where no other user can put a file or FIFO of
        // theirs in the way.
        s.push_str(&format!(
            "printf '{TAG}-start %s\\n' \"$({TAG}_t)\"\n\
             {TAG}_o=\n\
             if {TAG}_o=$(LC_ALL=C mktemp -d 2>/dev/null) \
             && exec 7>\"${TAG}_o/o\" 8<\"${TAG}_o/o\" 5>\"${TAG}_o/e\" 6<\"${TAG}_o/e\"; then\n\
             \x20 LC_ALL=C rm -rf \"${TAG}_o\"\n\
             \x20 {TAG}_run \"$@\" >&7 2>&5 7>&- 8<&- 5>&- 6<&-; {TAG}_rc=$?; {TAG}_end=$({TAG}_t)\n\
             \x20 exec 7>&- 5>&-\n\
             \x20 if [ -s /dev/fd/8 ] || [ ! -e /dev/fd/8 ]; then LC_ALL=C cat <&8; fi\n\
             \x20 if [ -s /dev/fd/6 ] || [ ! -e /dev/fd/6 ]; then LC_ALL=C cat <&6 >&2; fi\n\
             \x20 exec 8<&- 6<&-\n\
             else\n\
             \x20 rm -rf ${{{TAG}_o:+\"${TAG}_o\"}}\n\
             \x20 {TAG}_run \"$@\"; {TAG}_rc=$?; {TAG}_end=$({TAG}_t)\n\
             fi\n\
             printf '\\n{TAG}-end %s %s\\n' \"${TAG}_rc\" \"${TAG}_end\"\nexit \"${TAG}_rc\"\n"
        ));
        s
    }

    /// The standard input bytes for the script.
    pub fn stdin_bytes(&self) -> Vec<u8> {
        match &self.stdin {
            Some(data) if !data.is_empty() => {
                let mut bytes = data.clone().into_bytes();
                if self.stdin_add_newline {
                    bytes.push(b'\n');
                }
                bytes
            }
            _ => Vec::new(),
        }
    }

    /// Runs the job: one round trip. Not [`Exec::lingering`]: the
    /// command's output goes through files of its own ([`Job::script`]), so
    /// a process it leaves running holds nothing of the connection's.
    pub async fn run(&self, ctx: &Context, host: &dyn Host) -> Result<Outcome, ModuleError> {
        let out = host
            .exec(Exec::with_stdin(
                self.script(ctx.check_mode),
                self.stdin_bytes(),
            ))
            .await?;
        self.outcome(&out, ctx.check_mode)
    }

    /// Reads the script's output into Ansible's result.
    pub fn outcome(&self, out: &ExecOutput, check_mode: bool) -> Result<Outcome, ModuleError> {
        let mut r = Map::new();
        r.insert("cmd".into(), self.cmd_value());
        r.insert("rc".into(), Value::Null);
        r.insert("stdout".into(), "".into());
        r.insert("stderr".into(), "".into());
        r.insert("start".into(), Value::Null);
        r.insert("end".into(), Value::Null);
        r.insert("delta".into(), Value::Null);
        let shoulda = if check_mode { "Would" } else { "Did" };
        let stdout = out.stdout.as_slice();
        let first_line = stdout.split(|b| *b == b'\n').next().unwrap_or_default();
        let first = String::from_utf8_lossy(first_line).into_owned();
        let skip = |r: &mut Map<String, Value>, msg: String, stdout: String| {
            r.insert("rc".into(), 0.into());
            r.insert("stdout".into(), stdout.clone().into());
            r.insert("stdout_lines".into(), lines_value(&stdout));
            r.insert("stderr_lines".into(), Value::Array(Vec::new()));
            Ok(Outcome {
                changed: false,
                msg: Some(msg),
                values: std::mem::take(r),
                ..Outcome::default()
            })
        };
        if first == format!("{TAG}-skip creates") {
            let creates = self.creates.clone().unwrap_or_default();
            let msg = format!("{shoulda} not run command since '{creates}' exists");
            return skip(&mut r, msg, format!("skipped, since {creates} exists"));
        }
        if first == format!("{TAG}-skip removes") {
            let removes = self.removes.clone().unwrap_or_default();
            let msg = format!("{shoulda} not run command since '{removes}' does not exist");
            return skip(
                &mut r,
                msg,
                format!("skipped, since {removes} does not exist"),
            );
        }
        if let Some(rest) = first.strip_prefix(&format!("{TAG}-chdir ")) {
            let (errno, dir) = rest.split_once(' ').unwrap_or((rest, ""));
            let dir = self
                .chdir
                .as_deref()
                .filter(|d| !needs_expansion(d))
                .unwrap_or(dir);
            let errno: i64 = errno.parse().unwrap_or(2);
            let msg = format!(
                "Unable to change directory before execution: [Errno {errno}] {}: {}",
                strerror(errno),
                py_bytes_repr(dir.as_bytes())
            );
            return Err(ModuleError::Failed { msg, values: r });
        }
        if first == format!("{TAG}-check") {
            r.insert("rc".into(), 0.into());
            r.insert("stdout_lines".into(), Value::Array(Vec::new()));
            r.insert("stderr_lines".into(), Value::Array(Vec::new()));
            let decided_by_files = self.creates.is_some() || self.removes.is_some();
            // The module's own result: it has `failed`, even when skipped.
            r.insert("failed".into(), false.into());
            return Ok(Outcome {
                changed: decided_by_files,
                skipped: !decided_by_files,
                msg: Some("Command would have run if not in check mode".into()),
                values: r,
                ..Outcome::default()
            });
        }
        // The run proper: optional argv, then the start line, output, end line.
        let mut rest = stdout;
        if let Some(line) = first.strip_prefix(&format!("{TAG}-argv ")) {
            let count: usize = line.parse().unwrap_or(0);
            rest = &rest[first_line.len() + 1..];
            let mut words = Vec::with_capacity(count);
            for _ in 0..count {
                let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
                words.push(String::from_utf8_lossy(&rest[..end]).into_owned());
                rest = rest.get(end + 1..).unwrap_or_default();
            }
            r.insert("cmd".into(), Value::from(words));
        }
        let next_line = rest.split(|b| *b == b'\n').next().unwrap_or_default();
        let next = String::from_utf8_lossy(next_line).into_owned();
        if let Some(errno) = next.strip_prefix(&format!("{TAG}-noexec ")) {
            let errno: i64 = errno.trim().parse().unwrap_or(2);
            let program = match r.get("cmd") {
                Some(Value::Array(words)) => words
                    .first()
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                _ => String::new(),
            };
            let words: Vec<String> = match r.get("cmd") {
                Some(Value::Array(words)) => words
                    .iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect(),
                _ => Vec::new(),
            };
            let mut values = Map::new();
            values.insert("rc".into(), errno.into());
            values.insert("stdout".into(), "".into());
            values.insert("stderr".into(), "".into());
            values.insert(
                "cmd".into(),
                words
                    .iter()
                    .map(|w| py_quote(w))
                    .collect::<Vec<_>>()
                    .join(" ")
                    .into(),
            );
            values.insert("stdout_lines".into(), Value::Array(Vec::new()));
            values.insert("stderr_lines".into(), Value::Array(Vec::new()));
            // Ansible 2.19's message; the OS error is its `exception`.
            values.insert(
                "exception".into(),
                format!(
                    "{}: [Errno {errno}] {}: {}",
                    match errno {
                        2 => "FileNotFoundError",
                        13 => "PermissionError",
                        _ => "OSError",
                    },
                    strerror(errno),
                    py_bytes_repr(program.as_bytes())
                )
                .into(),
            );
            let msg = "Error executing command.".to_string();
            return Err(ModuleError::Failed { msg, values });
        }
        let mut rc = out.status;
        let (mut cmd_out, mut start, mut end) = (rest, None, None);
        if let Some(stamp) = next.strip_prefix(&format!("{TAG}-start ")) {
            start = parse_stamp(stamp);
            cmd_out = &rest[next_line.len() + 1..];
            let trailer = format!("\n{TAG}-end ");
            if cmd_out.ends_with(b"\n")
                && let Some(pos) = rfind(&cmd_out[..cmd_out.len() - 1], trailer.as_bytes())
            {
                let line =
                    String::from_utf8_lossy(&cmd_out[pos + trailer.len()..cmd_out.len() - 1])
                        .into_owned();
                let (code, stamp) = line.split_once(' ').unwrap_or((&line, ""));
                rc = code.parse().unwrap_or(rc);
                end = parse_stamp(stamp);
                cmd_out = &cmd_out[..pos];
            }
        }
        let mut stdout = String::from_utf8_lossy(cmd_out).into_owned();
        let mut stderr = out.stderr_text();
        if self.strip {
            stdout.truncate(stdout.trim_end_matches(['\r', '\n']).len());
            stderr.truncate(stderr.trim_end_matches(['\r', '\n']).len());
        }
        if let (Some(s), Some(e)) = (&start, &end) {
            r.insert("start".into(), s.text.clone().into());
            r.insert("end".into(), e.text.clone().into());
            r.insert("delta".into(), format_delta(e.micros - s.micros).into());
        }
        r.insert("rc".into(), rc.into());
        r.insert("stdout_lines".into(), lines_value(&stdout));
        r.insert("stderr_lines".into(), lines_value(&stderr));
        r.insert("stdout".into(), stdout.into());
        r.insert("stderr".into(), stderr.into());
        let failed = rc != 0;
        Ok(Outcome {
            changed: true,
            failed,
            skipped: false,
            msg: Some(if failed {
                "non-zero return code".into()
            } else {
                String::new()
            }),
            diff: Vec::new(),
            values: r,
            subject: None,
        })
    }
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    (0..=hay.len() - needle.len())
        .rev()
        .find(|&i| &hay[i..i + needle.len()] == needle)
}

/// A time stamp read from `date '+%s %N %Y-%m-%d %H:%M:%S'`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    /// Microseconds since the epoch.
    micros: i64,
    /// Python's `str(datetime)`: `2024-01-01 12:00:00.123456` (no fraction when zero).
    text: String,
}

fn parse_stamp(s: &str) -> Option<Stamp> {
    let mut parts = s.trim().splitn(3, ' ');
    let secs: i64 = parts.next()?.parse().ok()?;
    let nanos = parts.next()?;
    let local = parts.next()?;
    // `date` without %N support prints `%N` or `N`: no fraction then.
    let micros_part: i64 = if nanos.len() == 9 && nanos.bytes().all(|b| b.is_ascii_digit()) {
        nanos[..6].parse().ok()?
    } else {
        0
    };
    let text = if micros_part == 0 {
        local.to_string()
    } else {
        format!("{local}.{micros_part:06}")
    };
    Some(Stamp {
        micros: secs * 1_000_000 + micros_part,
        text,
    })
}

/// Python's `str(timedelta(microseconds=micros))`: `0:00:00.002345`, `1 day, 2:03:04`.
pub fn format_delta(micros: i64) -> String {
    let day = 86_400_000_000i64;
    let days = micros.div_euclid(day);
    let rest = micros.rem_euclid(day);
    let (secs, us) = (rest / 1_000_000, rest % 1_000_000);
    let mut s = String::new();
    if days != 0 {
        let plural = if days.abs() != 1 { "s" } else { "" };
        s.push_str(&format!("{days} day{plural}, "));
    }
    s.push_str(&format!(
        "{}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    ));
    if us != 0 {
        s.push_str(&format!(".{us:06}"));
    }
    s
}

fn strerror(errno: i64) -> &'static str {
    match errno {
        2 => "No such file or directory",
        13 => "Permission denied",
        20 => "Not a directory",
        _ => "Error",
    }
}

/// Python's `repr(bytes)`: `b'/tmp/x'`.
fn py_bytes_repr(bytes: &[u8]) -> String {
    let quote_char = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut s = format!("b{quote_char}");
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            b'\'' if quote_char == '\'' => s.push_str("\\'"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push(quote_char);
    s
}

/// Python's `shlex.quote`.
pub fn py_quote(word: &str) -> String {
    if word.is_empty() {
        return "''".into();
    }
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\"'\"'"))
    }
}

/// Python's `str.splitlines()` as a JSON list (Ansible's `stdout_lines`).
pub fn lines_value(text: &str) -> Value {
    Value::from(splitlines(text))
}

/// Python's `str.splitlines()`: splits on `\n`, `\r`, `\r\n`, `\v`, `\f`,
/// `\x1c`-`\x1e`, `\x85`, `\u2028`, `\u2029`; no trailing empty line.
pub fn splitlines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                lines.push(std::mem::take(&mut current));
            }
            '\n' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}'
            | '\u{2029}' => {
                lines.push(std::mem::take(&mut current));
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// Python's `shlex.split(s)` (POSIX mode, no comments).
pub fn shlex_split(line: &str) -> Result<Vec<String>, String> {
    #[derive(PartialEq)]
    enum St {
        Space,
        Word,
        Single,
        Double,
    }
    let mut words = Vec::new();
    let mut word = String::new();
    let mut state = St::Space;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match state {
            St::Space | St::Word => match c {
                ' ' | '\t' | '\r' | '\n' => {
                    if state == St::Word {
                        words.push(std::mem::take(&mut word));
                        state = St::Space;
                    }
                }
                '\'' => state = St::Single,
                '"' => state = St::Double,
                '\\' => {
                    let next = chars.next().ok_or("No escaped character")?;
                    word.push(next);
                    state = St::Word;
                }
                c => {
                    word.push(c);
                    state = St::Word;
                }
            },
            St::Single => match c {
                '\'' => state = St::Word,
                c => word.push(c),
            },
            St::Double => match c {
                '"' => state = St::Word,
                '\\' => {
                    let next = chars.next().ok_or("No escaped character")?;
                    if next != '"' && next != '\\' {
                        word.push('\\');
                    }
                    word.push(next);
                }
                c => word.push(c),
            },
        }
    }
    match state {
        St::Single | St::Double => Err("No closing quotation".into()),
        St::Word => {
            words.push(word);
            Ok(words)
        }
        St::Space => Ok(words),
    }
}

/// Whether a word changes under `os.path.expanduser(os.path.expandvars(w))`.
pub fn needs_expansion(word: &str) -> bool {
    word.contains('$') || word.starts_with('~')
}

/// An sh word that evaluates, on the target, to Python's
/// `os.path.expanduser(os.path.expandvars(word))`: `$NAME` and `${NAME}` are
/// replaced when the variable is set and kept literally otherwise; a leading
/// `~` or `~user` becomes the home directory. Everything else is quoted.
pub fn expand_word(word: &str) -> String {
    let mut out = String::new();
    let mut rest = word;
    if let Some(after) = word.strip_prefix('~') {
        let end = after.find('/').unwrap_or(after.len());
        let user = &after[..end];
        if user.is_empty() {
            out.push_str("\"${HOME-~}\"");
            rest = &after[end..];
        } else if user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            && !user.starts_with('-')
        {
            // An unquoted `~user` prefix: sh expands it, or keeps it when unknown.
            out.push('~');
            out.push_str(user);
            rest = &after[end..];
        }
    }
    let mut literal = String::new();
    let flush = |out: &mut String, literal: &mut String| {
        if !literal.is_empty() {
            out.push_str(&quote(literal));
            literal.clear();
        }
    };
    let valid = |name: &str| {
        !name.is_empty()
            && !name.as_bytes()[0].is_ascii_digit()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    while let Some(pos) = rest.find('$') {
        literal.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(braced) = after.strip_prefix('{')
            && let Some(close) = braced.find('}')
        {
            let name = &braced[..close];
            if valid(name) {
                flush(&mut out, &mut literal);
                out.push_str(&format!("\"${{{name}-\\${{{name}\\}}}}\""));
            } else {
                literal.push_str(&rest[pos..pos + 2 + close + 1]);
            }
            rest = &braced[close + 1..];
            continue;
        }
        let len = after
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        let name = &after[..len];
        if valid(name) {
            flush(&mut out, &mut literal);
            out.push_str(&format!("\"${{{name}-\\${name}}}\""));
        } else {
            literal.push('$');
            literal.push_str(name);
        }
        rest = &after[len..];
    }
    literal.push_str(rest);
    flush(&mut out, &mut literal);
    if out.is_empty() { "''".into() } else { out }
}

/// An Ansible `path` value as an sh word: `$VAR` and `~` expanded on the target.
fn path_word(path: &str) -> String {
    expand_word(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<String> {
        shlex_split(s).unwrap()
    }

    #[test]
    fn shlex_matches_python() {
        assert_eq!(split("ls -l /tmp"), ["ls", "-l", "/tmp"]);
        assert_eq!(split("  a\t b\n"), ["a", "b"]);
        assert_eq!(split("echo 'a b' \"c d\""), ["echo", "a b", "c d"]);
        assert_eq!(split("a\"b c\"d"), ["ab cd"]);
        assert_eq!(split("echo '' x"), ["echo", "", "x"]);
        assert_eq!(split(r#"a\ b"#), ["a b"]);
        assert_eq!(split(r#""a\"b""#), ["a\"b"]);
        assert_eq!(split(r#""a\$b\\c""#), ["a\\$b\\c"]);
        assert_eq!(split(r#"'a\b'"#), ["a\\b"]);
        assert_eq!(
            split("echo $(id) `x` ;|&>"),
            ["echo", "$(id)", "`x`", ";|&>"]
        );
        assert_eq!(split("# not a comment"), ["#", "not", "a", "comment"]);
        assert_eq!(
            shlex_split("echo 'open").unwrap_err(),
            "No closing quotation"
        );
        assert_eq!(shlex_split("echo \\").unwrap_err(), "No escaped character");
        assert!(split("   ").is_empty());
    }

    #[test]
    fn python_quote() {
        assert_eq!(py_quote(""), "''");
        assert_eq!(py_quote("a/b-c.d"), "a/b-c.d");
        assert_eq!(py_quote("a b"), "'a b'");
        assert_eq!(py_quote("it's"), "'it'\"'\"'s'");
    }

    #[test]
    fn splitlines_is_pythons() {
        assert_eq!(splitlines("a\nb\r\nc\rd\x0be"), ["a", "b", "c", "d", "e"]);
        assert_eq!(splitlines("a\n\n"), ["a", ""]);
        assert!(splitlines("").is_empty());
        assert_eq!(splitlines("\n"), [""]);
    }

    #[test]
    fn deltas_and_stamps_are_pythons() {
        assert_eq!(format_delta(2345), "0:00:00.002345");
        assert_eq!(format_delta(1_000_000), "0:00:01");
        assert_eq!(format_delta(3_723_000_001), "1:02:03.000001");
        assert_eq!(format_delta(86_400_000_000 + 5), "1 day, 0:00:00.000005");
        assert_eq!(format_delta(2 * 86_400_000_000), "2 days, 0:00:00");
        assert_eq!(format_delta(-1000), "-1 day, 23:59:59.999000");
        let s = parse_stamp("1704110400 123456789 2024-01-01 12:00:00").unwrap();
        assert_eq!(s.text, "2024-01-01 12:00:00.123456");
        assert_eq!(s.micros, 1_704_110_400_123_456);
        let s = parse_stamp("1704110400 000000123 2024-01-01 12:00:00").unwrap();
        assert_eq!(s.text, "2024-01-01 12:00:00");
        let s = parse_stamp("1704110400 N 2024-01-01 12:00:00").unwrap();
        assert_eq!(s.text, "2024-01-01 12:00:00");
    }

    #[test]
    fn words_expand_like_expandvars() {
        assert_eq!(expand_word("plain"), "plain");
        assert_eq!(expand_word("a b"), "'a b'");
        assert_eq!(expand_word("$HOME/x"), "\"${HOME-\\$HOME}\"/x");
        assert_eq!(expand_word("${HOME}x"), "\"${HOME-\\${HOME\\}}\"x");
        assert_eq!(expand_word("$1 $"), "'$1 $'");
        assert_eq!(expand_word("${a b}"), "'${a b}'");
        assert_eq!(expand_word("~/x"), "\"${HOME-~}\"/x");
        assert_eq!(expand_word("~root/x"), "~root/x");
        assert_eq!(expand_word("~$x"), "'~'\"${x-\\$x}\"");
        assert_eq!(expand_word(""), "''");
    }

    #[test]
    fn raw_script_is_the_text() {
        assert_eq!(raw_script("echo hi | wc", None), "echo hi | wc");
        assert_eq!(
            raw_script("echo hi", Some("/bin/bash")),
            "exec /bin/bash -c 'echo hi'"
        );
    }

    #[test]
    fn command_words_are_quoted_into_the_script() {
        let job = Job {
            program: Program::Argv {
                words: split("rm -rf '$(x); y' >z"),
                expand: true,
            },
            chdir: None,
            creates: None,
            removes: None,
            stdin: None,
            stdin_add_newline: true,
            strip: true,
        };
        let script = job.script(false);
        assert!(
            script.contains("set -- rm -rf '$(x); y' '>z'\n"),
            "{script}"
        );
    }

    #[test]
    fn command_ignores_executable_with_a_warning() {
        let host = crate::host::Replay::new(&[b"__tend_cmd-start 1704110400 0 2024-01-01 12:00:00\n/dev/null\n\n__tend_cmd-end 0 1704110400 1000 2024-01-01 12:00:00\n"]);
        let o = host
            .run(
                &Command,
                serde_json::json!({"_raw_params": "ls /dev/null", "executable": "/bogus"}),
                false,
            )
            .unwrap();
        assert_eq!(o.values["stdout"], "/dev/null");
        let w = o.values["warnings"].as_array().unwrap();
        assert_eq!(w.len(), 1);
        assert!(w[0].as_str().unwrap().contains("no longer supported"));
        assert!(w[0].as_str().unwrap().contains("'/bogus'"));
        assert!(!host.scripts()[0].contains("/bogus"));
    }

    #[test]
    fn shell_refuses_expand_argument_vars() {
        let err = crate::module::Module::check(
            &Shell,
            &serde_json::json!({"_raw_params": "echo", "expand_argument_vars": false}),
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "Unsupported parameters for (shell) module: expand_argument_vars"
        );
    }
}
