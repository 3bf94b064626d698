//! A runner: one long-lived shell on an SSH channel that runs scripts one
//! after the other, so that a script costs one round trip and no new
//! channel, login shell, or `sudo`.
//!
//! The channel's command is the one-shot [`super::ssh::BOOTSTRAP`]; its
//! first frame is the runner's starter: [`START`] itself, or `sudo`/`su`
//! running [`START`] as the become user (for sudo with a password, the
//! password line follows the starter on the channel, read by the starter
//! and handed to sudo on a pipe: never in an argument, never in a file).
//! [`START`] replaces itself with a shell that reads the rest of the
//! channel as its script: [`prelude`], then one line of shell per request.
//! The requests follow at once, without waiting for an answer.
//!
//! A request is a call of the prelude's function, its arguments quoted:
//!
//! ```text
//! __tend_x <marker> <d|w> '<script>' '<stdin>' <''|r|b>
//! ```
//!
//! The shell parses it from its buffered input: no `dd`, no `cat`, no
//! process but the script's own subshell (a `read` loop would cost a
//! system call per byte, `dd` a process start per request; this is a
//! tenth of their cost). The script runs in a subshell with its
//! positional parameters and the runner's variables cleared; its stdin
//! is the request's bytes (`r`: as quoted; `b`: base64, for bytes a shell
//! word cannot hold, a NUL) or `/dev/null`. When it has exited the runner
//! writes `\n<marker> <status>\n` on stdout and `\n<marker>\n` on stderr.
//! The marker is 128 random bits, new for every request and out of the
//! script's sight, so no output can forge it. Everything before the
//! marker line (minus the newline put in front of it) is the script's
//! output, byte for byte.
//!
//! `w` ([`Exec::lingering`]: user commands, init scripts) sends the
//! script's stdout through a `cat` and answers when that ends: output that
//! a process the script left running still writes is waited for (as `ssh`
//! waits for a channel to close) and can never be taken for the next
//! request's. The engine's own scripts (`d`) leave nothing running, and
//! write straight to the channel.
//!
//! A runner whose channel ends without the marker (the connection died,
//! sudo refused) is discarded, and so is one whose request was abandoned
//! half-way (its future dropped): the runner is a pipeline with state.

use base64::Engine as _;
use std::borrow::Cow;
use std::os::fd::{AsRawFd, OwnedFd};
use tend_modules::{Exec, ExecOutput};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::unix::pipe::{Receiver, Sender};

/// The starter: a shell that reads its script from the channel. A shell
/// reading its script from a pipe parses it in blocks (dash, busybox ash)
/// or a byte at a time (bash, to leave the rest for its commands); the
/// requests' commands never read the channel, so both are right.
pub const START: &str = "exec /bin/sh -s";

/// The runner's definitions, sent once ahead of the first request: its
/// own ([`RUNNER_DEFINITIONS`]) and the file probes' shell functions
/// ([`tend_modules::fileops::probe_functions`]), so a probe is sent
/// without them ([`request_line`]).
pub fn prelude() -> &'static str {
    static TEXT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "{RUNNER_DEFINITIONS}{}",
            tend_modules::fileops::probe_functions()
        )
    });
    &TEXT
}

/// The runner's own definitions. fd 5 keeps the channel's stdout for `w`
/// requests; `__tend_id` and `__tend_umask` (not exported) hold `id`'s and
/// `umask`'s output for the scripts (file probes), which saves each of
/// them a process.
const RUNNER_DEFINITIONS: &str = r#"exec 5>&1
__tend_id=$(LC_ALL=C id)
__tend_umask=$(umask)
__tend_x() {
  if [ "$2" = w ]; then
    __tend_r=$( { { __tend_y "$3" "$4" "$5" 3>&- 5>&-; echo "$?" >&3; } | cat >&5 3>&-; } 3>&1 )
  else
    __tend_y "$3" "$4" "$5" 5>&-; __tend_r=$?
  fi
  printf '
%s %s
' "$1" "$__tend_r"
  printf '
%s
' "$1" >&2
}
__tend_y() {
  case $3 in
  r) printf %s "$2" | (eval "set --; unset __tend_r; $1") ;;
  b) printf %s "$2" | base64 -d | (eval "set --; unset __tend_r; $1") ;;
  *) (eval "set --; unset __tend_r; $1") </dev/null ;;
  esac
}
"#;

/// The most bytes of stdin a request carries inline (quoted in its line);
/// a larger request gets a channel of its own ([`Runner::finish`]).
pub const INLINE_STDIN_MAX: usize = 1 << 20;

/// `bytes` as one single-quoted shell word.
fn quote_word(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'\'');
    let mut parts = bytes.split(|&b| b == b'\'');
    if let Some(first) = parts.next() {
        out.extend_from_slice(first);
    }
    for part in parts {
        out.extend_from_slice(b"'\\''");
        out.extend_from_slice(part);
    }
    out.push(b'\'');
}

/// The request's line for [`prelude`]'s `__tend_x` (a file probe without
/// the functions the prelude defined).
fn request_line(marker: &str, request: &Exec) -> Vec<u8> {
    let mut line = Vec::with_capacity(request.script.len() + request.stdin.len() + 80);
    line.extend_from_slice(b"__tend_x ");
    line.extend_from_slice(marker.as_bytes());
    line.extend_from_slice(if request.lingering { b" w " } else { b" d " });
    let probe = tend_modules::fileops::without_probe_functions(&request.script);
    quote_word(
        &mut line,
        probe.as_deref().unwrap_or(&request.script).as_bytes(),
    );
    line.push(b' ');
    let kind: &[u8] = if request.stdin.is_empty() {
        quote_word(&mut line, b"");
        b""
    } else if request.stdin.contains(&0) {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&request.stdin);
        quote_word(&mut line, b64.as_bytes());
        b" b"
    } else {
        quote_word(&mut line, &request.stdin);
        b" r"
    };
    line.extend_from_slice(kind);
    line.push(b'\n');
    line
}

/// Why a request got no answer.
#[derive(Debug)]
pub enum RunnerFailure {
    /// Sending or reading failed.
    Io(std::io::Error),
    /// The channel ended before the answer: what it left on stderr (for a
    /// starter that failed, e.g. sudo refusing), and the runner's exit
    /// status when the master reported one.
    Ended {
        /// Standard error since the last answer.
        stderr: Vec<u8>,
        /// Exit status of the channel's command, if known.
        status: Option<i32>,
    },
}

/// One long-lived shell on one SSH channel.
pub struct Runner {
    session: Option<openssh_mux_client::EstablishedSession>,
    stdin: Sender,
    stdout: Receiver,
    stderr: Receiver,
    /// Bytes to send before the first request: the starter frame (and the
    /// become password line).
    preamble: Vec<u8>,
    /// Holds one of the host's channel slots while the runner lives.
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").finish_non_exhaustive()
    }
}

impl Runner {
    /// Opens a channel on the master behind `control` running `command`;
    /// `preamble` goes ahead of the first request (nothing is sent until
    /// then). [`Runner::framed`] gives both for a starter script.
    pub async fn open(
        control: &std::path::Path,
        command: &str,
        preamble: Vec<u8>,
        slot: tokio::sync::OwnedSemaphorePermit,
    ) -> Result<Runner, OpenFailure> {
        let (in_r, in_w) = std::io::pipe().map_err(OpenFailure::Local)?;
        let (out_r, out_w) = std::io::pipe().map_err(OpenFailure::Local)?;
        let (err_r, err_w) = std::io::pipe().map_err(OpenFailure::Local)?;
        let cmd = openssh_mux_client::NonZeroByteSlice::new(command.as_bytes())
            .ok_or_else(|| OpenFailure::Local(std::io::Error::other("empty command")))?;
        let session = openssh_mux_client::Session::builder()
            .cmd(Cow::Borrowed(cmd))
            .build();
        let fds = [in_r.as_raw_fd(), out_w.as_raw_fd(), err_w.as_raw_fd()];
        // sshd frees a finished session's slot a little after its exit
        // status reaches us, so under load an open can briefly exceed
        // MaxSessions: "Session open refused by peer" is retried.
        let mut attempt = 0u32;
        let established = loop {
            let conn = openssh_mux_client::Connection::connect(control)
                .await
                .map_err(|e| OpenFailure::Master(e.to_string()))?;
            match conn.open_new_session(&session, &fds).await {
                Ok(established) => break established,
                Err(e) if attempt < 40 && e.to_string().contains("refused") => {
                    attempt += 1;
                    let pause = 10 * u64::from(attempt.min(10));
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                }
                Err(e) => return Err(OpenFailure::Channel(e.to_string())),
            }
        };
        // The master has its own copies now; ours must close for EOF.
        drop((in_r, out_w, err_w));
        let local = |e: std::io::Error| OpenFailure::Local(e);
        let stdin = Sender::from_owned_fd(OwnedFd::from(in_w)).map_err(local)?;
        let stdout = Receiver::from_owned_fd(OwnedFd::from(out_r)).map_err(local)?;
        let stderr = Receiver::from_owned_fd(OwnedFd::from(err_r)).map_err(local)?;
        Ok(Runner {
            session: Some(established),
            stdin,
            stdout,
            stderr,
            preamble,
            _slot: slot,
        })
    }

    /// The channel command and preamble that start `starter` (a script
    /// that ends up running [`START`], with `starter_stdin` ahead of the
    /// requests: a become password) through [`super::ssh::BOOTSTRAP`].
    pub fn framed(starter: &str, starter_stdin: &[u8]) -> (&'static str, Vec<u8>) {
        (
            super::ssh::BOOTSTRAP,
            super::ssh::frame(starter, starter_stdin),
        )
    }

    /// Runs one request: one round trip (the first one also carries the
    /// starter). On an error the runner must be dropped.
    pub async fn call(&mut self, request: &Exec) -> Result<ExecOutput, RunnerFailure> {
        let mut answers = self.call_many(std::slice::from_ref(request)).await?;
        Ok(answers.swap_remove(0))
    }

    /// Runs `requests` in one round trip: their lines are sent together and
    /// the answers read in order. On an error the runner must be dropped.
    pub async fn call_many(&mut self, requests: &[Exec]) -> Result<Vec<ExecOutput>, RunnerFailure> {
        let preamble = std::mem::take(&mut self.preamble);
        let wire = Wire {
            stdin: &mut self.stdin,
            stdout: &mut self.stdout,
            stderr: &mut self.stderr,
        };
        match exchange_many(wire, preamble, requests).await? {
            Ok(out) => Ok(out),
            Err(stderr) => {
                let status = exit_status(self.session.take()).await;
                Err(RunnerFailure::Ended { stderr, status })
            }
        }
    }

    /// Runs the starter alone to its end, as a one-shot channel (a request
    /// too large to carry inline, [`INLINE_STDIN_MAX`]): its whole output
    /// and its exit status.
    pub async fn finish(mut self) -> Result<ExecOutput, RunnerFailure> {
        let preamble = std::mem::take(&mut self.preamble);
        let mut stdin = self.stdin;
        let send = async move {
            // A script that does not read all of its stdin closes the pipe
            // early; that is its business, not a failure.
            let _ = stdin.write_all(&preamble).await;
            drop(stdin);
        };
        let (_, out, err) = tokio::join!(
            send,
            read_to_end(&mut self.stdout),
            read_to_end(&mut self.stderr)
        );
        let stdout = out.map_err(RunnerFailure::Io)?;
        let stderr = err.map_err(RunnerFailure::Io)?;
        match exit_status(self.session.take()).await {
            Some(status) => Ok(ExecOutput {
                status,
                stdout,
                stderr,
            }),
            None => Err(RunnerFailure::Ended {
                stderr,
                status: None,
            }),
        }
    }
}

/// A channel's exit status, once it has ended (None when the master
/// reported none).
async fn exit_status(session: Option<openssh_mux_client::EstablishedSession>) -> Option<i32> {
    match session?.wait().await {
        Ok(openssh_mux_client::SessionStatus::Exited {
            exit_value: Some(v),
        }) => Some(v as i32),
        _ => None,
    }
}

async fn read_to_end(stream: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await?;
    Ok(buf)
}

/// The three streams of a runner.
struct Wire<'a, W, R, E> {
    stdin: &'a mut W,
    stdout: &'a mut R,
    stderr: &'a mut E,
}

/// Sends `preamble` and every request's line at once (one write: one round
/// trip for them all), then reads the answers in order: all the outputs,
/// or (`Err`) what stderr held when the streams ended first.
async fn exchange_many<W, R, E>(
    wire: Wire<'_, W, R, E>,
    mut frame: Vec<u8>,
    requests: &[Exec],
) -> Result<Result<Vec<ExecOutput>, Vec<u8>>, RunnerFailure>
where
    W: AsyncWrite + Unpin,
    R: AsyncRead + Unpin,
    E: AsyncRead + Unpin,
{
    let mut markers = Vec::with_capacity(requests.len());
    for request in requests {
        let marker = new_marker().map_err(RunnerFailure::Io)?;
        frame.extend_from_slice(&request_line(&marker, request));
        markers.push(marker);
    }
    let stdin = wire.stdin;
    let send = async move {
        stdin.write_all(&frame).await?;
        stdin.flush().await
    };
    let read_out = async {
        let mut reader = Carry::new(wire.stdout);
        let mut answers = Vec::with_capacity(markers.len());
        for marker in &markers {
            let (stdout, status) = reader
                .read_until(format!("\n{marker} ").as_bytes(), true)
                .await?;
            let Some(status) = status else { break };
            answers.push((stdout, status));
        }
        Ok::<_, std::io::Error>(answers)
    };
    let read_err = async {
        let mut reader = Carry::new(wire.stderr);
        let mut answers = Vec::with_capacity(markers.len());
        for marker in &markers {
            let (stderr, done) = reader
                .read_until(format!("\n{marker}\n").as_bytes(), false)
                .await?;
            if done.is_none() {
                return Ok((answers, Some(stderr)));
            }
            answers.push(stderr);
        }
        Ok::<_, std::io::Error>((answers, None))
    };
    let (sent, out, err) = tokio::join!(send, read_out, read_err);
    let outs = out.map_err(RunnerFailure::Io)?;
    let (errs, ended) = err.map_err(RunnerFailure::Io)?;
    if let Some(stderr) = ended {
        return Ok(Err(stderr));
    }
    if outs.len() < markers.len() {
        return Ok(Err(Vec::new()));
    }
    sent.map_err(RunnerFailure::Io)?;
    Ok(Ok(outs
        .into_iter()
        .zip(errs)
        .map(|((stdout, status), stderr)| ExecOutput {
            status,
            stdout,
            stderr,
        })
        .collect()))
}

/// Why a runner could not be opened.
#[derive(Debug)]
pub enum OpenFailure {
    /// The master's control socket does not answer: the master is gone.
    Master(String),
    /// The master refused the channel.
    Channel(String),
    /// A pipe could not be made here.
    Local(std::io::Error),
}

/// 128 random bits, hex.
fn new_marker() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut s = String::from("__tend_");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    Ok(s)
}

/// A stream and what was read from it past the last answer (the next
/// answers' bytes, when requests are pipelined).
struct Carry<'a, S> {
    stream: &'a mut S,
    buf: Vec<u8>,
}

impl<'a, S: AsyncRead + Unpin> Carry<'a, S> {
    fn new(stream: &'a mut S) -> Self {
        Carry {
            stream,
            buf: Vec::new(),
        }
    }

    /// Reads until `end` (and, with `status`, the rest of its line: the
    /// exit status). Returns what came before `end`, and the status (0
    /// without `status`), or `None` as the status when the stream ended
    /// first. What follows stays for the next call.
    async fn read_until(
        &mut self,
        end: &[u8],
        status: bool,
    ) -> std::io::Result<(Vec<u8>, Option<i32>)> {
        let mut searched = 0usize;
        loop {
            if let Some(at) = find(&self.buf[searched..], end).map(|i| i + searched) {
                let tail_start = at + end.len();
                if !status {
                    let rest = self.buf.split_off(tail_start);
                    let mut out = std::mem::replace(&mut self.buf, rest);
                    out.truncate(at);
                    return Ok((out, Some(0)));
                }
                if let Some(nl) = self.buf[tail_start..].iter().position(|&b| b == b'\n') {
                    let code = std::str::from_utf8(&self.buf[tail_start..tail_start + nl])
                        .ok()
                        .and_then(|s| s.trim().parse::<i32>().ok())
                        .ok_or_else(|| {
                            std::io::Error::other("the runner sent a bad status line")
                        })?;
                    let rest = self.buf.split_off(tail_start + nl + 1);
                    let mut out = std::mem::replace(&mut self.buf, rest);
                    out.truncate(at);
                    return Ok((out, Some(code)));
                }
            } else {
                searched = self.buf.len().saturating_sub(end.len());
            }
            // Straight into the buffer's spare room: no zeroed chunk per call.
            self.buf.reserve(64 * 1024);
            let n = self.stream.read_buf(&mut self.buf).await?;
            if n == 0 {
                return Ok((std::mem::take(&mut self.buf), None));
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The `dd`s a target may have, as `PATH` directories to put first: the
/// system's (`None`), busybox's (when present; its `head -c` reads ahead)
/// and one without `iflag=fullblock` (as on macOS).
#[cfg(test)]
pub(crate) fn dd_variants(
    tools: &std::path::Path,
) -> Vec<(&'static str, Option<std::path::PathBuf>)> {
    let mut variants: Vec<(&str, Option<std::path::PathBuf>)> = vec![("system dd", None)];
    let busybox = std::path::Path::new("/bin/busybox");
    if busybox.exists() {
        let dir = tools.join("busybox");
        std::fs::create_dir(&dir).unwrap();
        for tool in ["dd", "head", "cat"] {
            std::os::unix::fs::symlink(busybox, dir.join(tool)).unwrap();
        }
        variants.push(("busybox", Some(dir)));
    }
    let dir = tools.join("plain");
    std::fs::create_dir(&dir).unwrap();
    let fake = dir.join("dd");
    std::fs::write(
        &fake,
        "#!/bin/sh\ncase \"$*\" in *iflag=*) echo 'dd: unknown operand iflag' >&2; exit 1;; esac\n\
         exec /bin/dd \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    variants.push(("dd without iflag", Some(dir)));
    variants
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    /// A runner on a local `sh` (as sshd would start the bootstrap), with
    /// `path_dir` first in `PATH`.
    struct LocalRunner {
        child: tokio::process::Child,
        preamble: Vec<u8>,
    }

    impl LocalRunner {
        fn start(path_dir: Option<&std::path::Path>, starter: &str) -> LocalRunner {
            let mut cmd = tokio::process::Command::new("/bin/sh");
            cmd.arg("-c").arg(super::super::ssh::BOOTSTRAP);
            if let Some(dir) = path_dir {
                let path = std::env::var("PATH").unwrap_or_default();
                cmd.env("PATH", format!("{}:{path}", dir.display()));
            }
            let child = cmd
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("/bin/sh");
            let mut preamble = format!("{}\n", starter.len()).into_bytes();
            preamble.extend_from_slice(starter.as_bytes());
            LocalRunner { child, preamble }
        }

        /// A runner as [`super::super::ssh::Ssh`] starts one.
        fn runner(path_dir: Option<&std::path::Path>) -> LocalRunner {
            let mut r = LocalRunner::start(path_dir, START);
            r.preamble.extend_from_slice(prelude().as_bytes());
            r
        }

        async fn call(&mut self, script: &str, stdin: &[u8]) -> Result<ExecOutput, Vec<u8>> {
            self.call_exec(&Exec::with_stdin(script, stdin.to_vec()))
                .await
        }

        async fn call_exec(&mut self, request: &Exec) -> Result<ExecOutput, Vec<u8>> {
            let wire = Wire {
                stdin: self.child.stdin.as_mut().unwrap(),
                stdout: self.child.stdout.as_mut().unwrap(),
                stderr: self.child.stderr.as_mut().unwrap(),
            };
            exchange_many(
                wire,
                std::mem::take(&mut self.preamble),
                std::slice::from_ref(request),
            )
            .await
            .expect("no i/o error")
            .map(|mut answers| answers.swap_remove(0))
        }

        async fn call_many(&mut self, requests: &[Exec]) -> Vec<ExecOutput> {
            let wire = Wire {
                stdin: self.child.stdin.as_mut().unwrap(),
                stdout: self.child.stdout.as_mut().unwrap(),
                stderr: self.child.stderr.as_mut().unwrap(),
            };
            exchange_many(wire, std::mem::take(&mut self.preamble), requests)
                .await
                .expect("no i/o error")
                .expect("answers")
        }
    }

    fn bytes(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// Requests one after the other on one shell: output exact to the byte
    /// (no trailing newline added or lost, NULs kept), stdin exact (quotes,
    /// NULs, bytes that are not UTF-8) and closed after the request's
    /// bytes, unread stdin skipped, statuses (signals and syntax errors
    /// too), no state carried from one script to the next, and no way for a
    /// script to see its marker or the runner's variables; with every `dd`
    /// a target may have (the bootstrap reads the starter with it).
    #[test]
    fn requests_run_in_turn_with_exact_streams() {
        let tools = tempfile::tempdir().unwrap();
        for (name, dir) in dd_variants(tools.path()) {
            rt().block_on(async {
                let mut r = LocalRunner::runner(dir.as_deref());
                let out = r.call("printf 'a\\nb'", b"").await.unwrap();
                assert_eq!(
                    (out.status, out.stdout.as_slice()),
                    (0, &b"a\nb"[..]),
                    "{name}"
                );
                // Several requests in one write: each answer whole and in order,
                // however their output and the next one's arrive together.
                let many: Vec<Exec> = (0..5)
                    .map(|n| {
                        Exec::with_stdin(format!("cat; printf ' {n}'; exit {n}"), bytes(n * 3000))
                    })
                    .collect();
                let answers = r.call_many(&many).await;
                assert_eq!(answers.len(), 5, "{name}");
                for (n, out) in answers.iter().enumerate() {
                    let mut want = bytes(n * 3000);
                    want.extend_from_slice(format!(" {n}").as_bytes());
                    assert!(out.stdout == want, "{name}: request {n}");
                    assert_eq!(out.status, n as i32, "{name}");
                }
                for len in [1, 4096, 65_536, 200_000] {
                    let input = bytes(len);
                    let out = r.call("cat; echo err >&2; exit 3", &input).await.unwrap();
                    assert_eq!(out.status, 3, "{name}");
                    assert!(out.stdout == input, "{name}: {len} bytes");
                    assert_eq!(out.stderr, b"err\n", "{name}");
                }
                // A script that reads none of its stdin, then one that reads it all.
                let out = r.call("echo skipped", &bytes(100_000)).await.unwrap();
                assert_eq!(out.stdout, b"skipped\n", "{name}");
                let out = r.call("wc -c", b"").await.unwrap();
                assert_eq!(out.stdout_text().trim(), "0", "{name}");
                let out = r
                    .call(
                        "cd /; export TEND_X=1; umask 077; echo \"${__tend_r-unset} $#\"",
                        b"",
                    )
                    .await
                    .unwrap();
                assert_eq!(out.stdout, b"unset 0\n", "{name}");
                let text = b"it's \"quoted\" \\ $HOME `x` \xff\xfe\n\n'";
                let out = r.call("cat", text).await.unwrap();
                assert_eq!(out.stdout, text, "{name}");
                let out = r.call("if then; fi", b"").await.unwrap();
                assert_eq!(out.status, 2, "{name}: a syntax error is the script's");
                let out = r.call("echo \"$__tend_id\"", b"").await.unwrap();
                assert!(out.stdout_text().starts_with("uid="), "{name}");
                let out = r
                    .call("pwd; echo ${TEND_X-none}; umask", b"")
                    .await
                    .unwrap();
                let cwd = std::env::current_dir().unwrap();
                let umask = format!("{}\nnone\n", cwd.display());
                assert!(
                    out.stdout_text().starts_with(&umask),
                    "{name}: {}",
                    out.stdout_text()
                );
                assert_ne!(
                    out.stdout_text().trim_end().rsplit('\n').next(),
                    Some("0077")
                );
                // Output that looks like an answer is output.
                let fake = "printf '\\n__tend_0123 5\\n'";
                let out = r.call(fake, b"").await.unwrap();
                assert_eq!(
                    (out.status, out.stdout.as_slice()),
                    (0, &b"\n__tend_0123 5\n"[..])
                );
                // Output from a process a lingering script left running is
                // waited for.
                let request =
                    Exec::script("(sleep 0.2; echo late; echo late2 >&2) & echo early; exit 4")
                        .lingering();
                let out = r.call_exec(&request).await.unwrap();
                assert_eq!(out.stdout, b"early\nlate\n", "{name}");
                assert_eq!((out.status, out.stderr.as_slice()), (4, &b"late2\n"[..]));
                let out = r.call("sh -c 'kill -9 $$'", b"").await.unwrap();
                assert_eq!(out.status, 137, "{name}");
                let out = r.call("", b"x").await.unwrap();
                assert_eq!((out.status, out.stdout.len()), (0, 0), "{name}");
            });
        }
    }

    /// A starter that fails (sudo refusing) ends the channel: the caller
    /// gets its stderr, not an answer.
    /// A file probe reaches the runner without the functions its prelude
    /// defined, and answers as the whole probe does in a shell of its own.
    #[test]
    fn probes_use_the_functions_the_runner_defined() {
        use tend_modules::fileops::{Fetch, Probe, StatOpts};
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "a\\b 'c'\n").unwrap();
        let mut probe = Probe::new();
        let opts = StatOpts {
            checksum: Some("sha1"),
            fetch: Fetch::Whole,
            ..StatOpts::default()
        };
        probe.path("f", file.to_str().unwrap(), &opts);
        probe.path("missing", dir.path().join("no").to_str().unwrap(), &opts);
        let request = probe.finish();
        let line = request_line("m", &request);
        assert!(line.len() < request.script.len() / 2, "{}", line.len());
        assert!(!String::from_utf8_lossy(&line).contains("tend_rec()"));
        let alone = std::process::Command::new("/bin/sh")
            .args(["-c", &request.script])
            .env("__tend_umask", "0022")
            .env("__tend_id", "uid=0(root) gid=0(root) groups=0(root)")
            .output()
            .unwrap();
        rt().block_on(async {
            let mut r = LocalRunner::runner(None);
            let out = r.call_exec(&request).await.unwrap();
            assert_eq!(out.status, 0);
            let parse = |stdout: Vec<u8>| {
                let out = ExecOutput {
                    status: 0,
                    stdout,
                    stderr: Vec::new(),
                };
                let p = tend_modules::fileops::ProbeOutput::parse(&out).unwrap();
                let (f, missing) = (p.path("f").unwrap(), p.path("missing").unwrap());
                (
                    (
                        f.kind(),
                        f.mode,
                        f.size,
                        f.inode,
                        f.owner,
                        f.checksum,
                        f.content,
                    ),
                    missing.kind(),
                )
            };
            let through_runner = parse(out.stdout);
            assert_eq!(through_runner, parse(alone.stdout));
            assert_eq!(through_runner.0.6.as_deref(), Some(&b"a\\b 'c'\n"[..]));
        });
    }

    #[test]
    fn a_failed_starter_is_not_an_answer() {
        rt().block_on(async {
            let starter = "echo 'tend-become-failed: Incorrect sudo password' >&2; exit 126";
            let mut r = LocalRunner::start(None, starter);
            let stderr = r.call("echo never", b"").await.unwrap_err();
            assert_eq!(stderr, b"tend-become-failed: Incorrect sudo password\n");
            assert_eq!(r.child.wait().await.unwrap().code(), Some(126));
        });
    }
}
