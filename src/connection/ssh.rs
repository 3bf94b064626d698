//! The SSH connection: scripts run on a remote host through one OpenSSH
//! ControlMaster per host.
//!
//! * The master (`ssh -M -N`) is started by the `openssh` crate the first time
//!   the host runs a script, in a short private control directory
//!   (`/tmp/tend-XXXXXX/`, well under the ~108-byte socket path limit), and is
//!   shut down when the connection is dropped (at the end of the play).
//! * Scripts run on [`Runner`]s: long-lived shells, each on one session
//!   channel of that master (opened through the master's mux socket,
//!   `openssh-mux-client`: no `ssh` process per channel), fed framed
//!   requests one after the other. A script is one request and one round
//!   trip; a host's tasks normally share one runner per user: one for the
//!   login user and one per `become` user, escalated once (`sudo`/`su`
//!   runs the shell, not each script). See [`super::runner`].
//! * The channel's command is a fixed bootstrap; no script ever appears in
//!   any argv. The bootstrap reads a length-prefixed frame from stdin
//!   (`<len>\n<script>`), then runs it (the runner's starter) with the rest
//!   of the channel as its stdin:
//!
//!   ```text
//!   /bin/sh -c 'IFS= read -r n; s=$(dd bs="$n" count=1 iflag=fullblock); (eval "$s"); exit $?'
//!   ```
//!
//!   A script killed by a signal reports 128 + the signal number, as with
//!   the local connection; a runner whose channel ends without an answer
//!   means the connection (or the remote sshd) died: `Unreachable`.
//! * At most [`MAX_CHANNELS`] channels (runners) are open per host at once,
//!   under sshd's default `MaxSessions=10`; more concurrent requests wait
//!   for a runner to come back.
//!
//! Connection settings come from the host's inventory variables (see
//! [`SshOptions::from_vars`]); `~/.ssh/config` and `/etc/ssh/ssh_config`
//! apply as with plain `ssh`.

use async_trait::async_trait;
use openssh::{KnownHosts, Session, SessionBuilder};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tend_modules::{Exec, ExecOutput, Host, HostError};
use tokio::sync::{Mutex, Semaphore};

use super::runner::{self, OpenFailure, Runner, RunnerFailure};
use super::{BecomeSpec, Connection, refused_escalation};

use crate::vars::Vars;

/// Channels open at once per host (sshd's default `MaxSessions` is 10).
pub const MAX_CHANNELS: usize = 8;

/// Ansible's default `timeout` (seconds) for connecting.
pub const DEFAULT_TIMEOUT: u64 = 10;

/// The fixed remote command: reads `<len>\n<script>` from stdin and runs the
/// script (a runner's starter) with the rest of stdin. Quoted for any login shell (sh, bash, csh,
/// fish): one single-quoted word, no newline.
///
/// The script must be read exactly, leaving the request's stdin in the pipe
/// for the script: `head -c` may not (busybox's and the BSDs' read ahead
/// through stdio and swallow the stdin), while `dd` never asks for more than
/// a block and `iflag=fullblock` (GNU, busybox) makes it one exact block.
/// Without that flag the operand is refused before any read, and a byte at
/// a time (exact, slow: about 1.5 µs a byte) is the fallback.
pub const BOOTSTRAP: &str = "/bin/sh -c 'IFS= read -r __tend_n || exit 125; \
__tend_s=$(dd bs=\"$__tend_n\" count=1 iflag=fullblock 2>/dev/null) || \
__tend_s=$(dd bs=1 count=\"$__tend_n\" 2>/dev/null) || exit 125; \
(eval \"unset __tend_n __tend_s; $__tend_s\"); exit $?'";

/// What [`BOOTSTRAP`] reads on its stdin: `<len>\n<script>`, then the
/// script's own stdin.
pub fn frame(script: &str, stdin: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(script.len() + stdin.len() + 16);
    frame.extend_from_slice(format!("{}\n", script.len()).as_bytes());
    frame.extend_from_slice(script.as_bytes());
    frame.extend_from_slice(stdin);
    frame
}

/// Every channel opened by this process (all hosts), for measurements.
static CHANNELS_OPENED: AtomicU64 = AtomicU64::new(0);

/// How many SSH channels (remote commands) this process has opened so far.
pub fn channels_opened() -> u64 {
    CHANNELS_OPENED.load(Ordering::Relaxed)
}

/// Host key verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostKeyChecking {
    /// `StrictHostKeyChecking=yes`: the key must be in known_hosts (default).
    #[default]
    Strict,
    /// `StrictHostKeyChecking=accept-new`: unknown keys are added, changed
    /// keys refused.
    AcceptNew,
    /// `StrictHostKeyChecking=no` (Ansible's `host_key_checking = False`).
    Off,
}

impl HostKeyChecking {
    /// Reads a setting: booleans as Ansible (`False`, `no`, `0` = off) plus
    /// `accept-new`, `strict`/`yes`, `off`.
    pub fn parse(v: &Value) -> Result<Self, String> {
        match v {
            Value::Bool(true) => Ok(Self::Strict),
            Value::Bool(false) => Ok(Self::Off),
            Value::Number(n) => Ok(if n.as_i64() == Some(0) {
                Self::Off
            } else {
                Self::Strict
            }),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" | "strict" | "y" | "t" => Ok(Self::Strict),
                "false" | "no" | "off" | "0" | "n" | "f" => Ok(Self::Off),
                "accept-new" | "accept_new" => Ok(Self::AcceptNew),
                other => Err(format!(
                    "host key checking: `{other}` is not one of true, false, accept-new"
                )),
            },
            other => Err(format!("host key checking: unexpected value {other}")),
        }
    }

    fn known_hosts(self) -> KnownHosts {
        match self {
            Self::Strict => KnownHosts::Strict,
            Self::AcceptNew => KnownHosts::Add,
            Self::Off => KnownHosts::Accept,
        }
    }
}

/// How to reach one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshOptions {
    /// The inventory name, for messages.
    pub name: String,
    /// Where to connect (`ansible_host`, else the inventory name; `~/.ssh/config`
    /// may map it further).
    pub address: String,
    /// `ansible_port`.
    pub port: Option<u16>,
    /// `ansible_user`.
    pub user: Option<String>,
    /// `ansible_ssh_private_key_file`.
    pub private_key: Option<PathBuf>,
    /// `ssh_config` lines from `ansible_ssh_common_args` and
    /// `ansible_ssh_extra_args`, in order (first value wins, as in ssh).
    pub config_lines: Vec<String>,
    /// `ansible_timeout` (connect timeout).
    pub timeout: Duration,
    /// Host key verification.
    pub host_key_checking: HostKeyChecking,
}

fn var_str<'a>(vars: &'a Vars, names: &[&str]) -> Option<Cow<'a, str>> {
    names.iter().find_map(|n| match vars.get(*n)? {
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Number(x) => Some(Cow::Owned(x.to_string())),
        Value::Bool(b) => Some(Cow::Owned(b.to_string())),
        _ => None,
    })
}

fn expand_tilde(p: &str) -> PathBuf {
    if let Some(rest) = p.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    PathBuf::from(p)
}

impl SshOptions {
    /// The settings for host `name` from its variables: `ansible_host`,
    /// `ansible_port`, `ansible_user`, `ansible_ssh_private_key_file`,
    /// `ansible_ssh_common_args`, `ansible_ssh_extra_args`, `ansible_timeout`,
    /// `ansible_host_key_checking` (`ANSIBLE_HOST_KEY_CHECKING` and
    /// `ansible.cfg` arrive as low-precedence variables from
    /// [`crate::config`]). The older `ansible_ssh_host`,
    /// `ansible_ssh_port`, `ansible_ssh_user` names are read too.
    pub fn from_vars(name: &str, vars: &Vars) -> Result<Self, String> {
        let address = var_str(vars, &["ansible_host", "ansible_ssh_host"])
            .map(|s| s.into_owned())
            .unwrap_or_else(|| name.to_string());
        if address.is_empty() || address.starts_with('-') {
            return Err(format!("ansible_host `{address}` is not a host name"));
        }
        let port = match var_str(vars, &["ansible_port", "ansible_ssh_port"]) {
            None => None,
            Some(p) => Some(
                p.trim()
                    .parse::<u16>()
                    .map_err(|_| format!("ansible_port `{p}` is not a port number"))?,
            ),
        };
        let user = var_str(
            vars,
            &["ansible_user", "ansible_ssh_user", "ansible_remote_user"],
        )
        .map(|s| s.into_owned())
        .filter(|s| !s.is_empty());
        let private_key = var_str(
            vars,
            &["ansible_ssh_private_key_file", "ansible_private_key_file"],
        )
        .map(|s| expand_tilde(&s));
        let mut config_lines = Vec::new();
        for var in [
            "ansible_ssh_common_args",
            "ansible_ssh_extra_args",
            "ansible_ssh_args",
        ] {
            if let Some(args) = var_str(vars, &[var]) {
                let lines = ssh_args_to_config(&args).map_err(|e| format!("{var}: {e}"))?;
                // tend runs its own ControlMaster: `ssh_args` of ansible.cfg
                // usually carries Ansible's (`-o ControlMaster=auto ...`).
                config_lines.extend(lines.into_iter().filter(|l| {
                    var != "ansible_ssh_args" || !l.to_ascii_lowercase().starts_with("control")
                }));
            }
        }
        let timeout = match var_str(vars, &["ansible_timeout", "ansible_ssh_timeout"]) {
            None => DEFAULT_TIMEOUT,
            Some(t) => t
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("ansible_timeout `{t}` is not a number of seconds"))?,
        };
        let host_key_checking = if let Some(v) = vars
            .get("ansible_host_key_checking")
            .or_else(|| vars.get("ansible_ssh_host_key_checking"))
        {
            HostKeyChecking::parse(v).map_err(|e| format!("ansible_host_key_checking: {e}"))?
        } else {
            HostKeyChecking::Strict
        };
        for bad in [
            "ansible_password",
            "ansible_ssh_pass",
            "ansible_ssh_password",
        ] {
            if vars.contains_key(bad) {
                return Err(format!(
                    "{bad}: SSH password authentication is not supported yet; use a key (ansible_ssh_private_key_file or ssh-agent)"
                ));
            }
        }
        Ok(SshOptions {
            name: name.to_string(),
            address,
            port,
            user,
            private_key,
            config_lines,
            timeout: Duration::from_secs(timeout.max(1)),
            host_key_checking,
        })
    }
}

/// Translates `ssh` command-line options (as in `ansible_ssh_common_args`)
/// into `ssh_config` lines. `-o Key=Value` / `-oKey=Value` / `-o 'Key Value'`
/// and the flags with a config equivalent are accepted; others are an error.
pub fn ssh_args_to_config(args: &str) -> Result<Vec<String>, String> {
    let words = shlex::split(args).ok_or_else(|| format!("cannot split `{args}` into words"))?;
    let mut out = Vec::new();
    let mut it = words.into_iter();
    while let Some(w) = it.next() {
        let Some(flag) = w.strip_prefix('-') else {
            return Err(format!("unexpected argument `{w}`"));
        };
        let mut chars = flag.chars();
        let Some(c) = chars.next() else {
            return Err("unexpected argument `-`".into());
        };
        let attached: String = chars.collect();
        let mut value = |name: char| -> Result<String, String> {
            if !attached.is_empty() {
                Ok(attached.clone())
            } else {
                it.next().ok_or_else(|| format!("-{name} needs a value"))
            }
        };
        let line = match c {
            'o' => {
                let v = value('o')?;
                let (k, rest) = v
                    .split_once(['=', ' ', '\t'])
                    .ok_or_else(|| format!("-o `{v}`: expected Key=Value"))?;
                format!("{} {}", k.trim(), config_value(rest.trim()))
            }
            'i' => format!("IdentityFile {}", config_value(&value('i')?)),
            'p' => format!("Port {}", value('p')?),
            'l' => format!("User {}", config_value(&value('l')?)),
            'J' => format!("ProxyJump {}", value('J')?),
            'F' => format!("Include {}", config_value(&value('F')?)),
            'c' => format!("Ciphers {}", value('c')?),
            'm' => format!("MACs {}", value('m')?),
            'C' if attached.is_empty() => "Compression yes".into(),
            'A' if attached.is_empty() => "ForwardAgent yes".into(),
            'a' if attached.is_empty() => "ForwardAgent no".into(),
            '4' if attached.is_empty() => "AddressFamily inet".into(),
            '6' if attached.is_empty() => "AddressFamily inet6".into(),
            'q' if attached.chars().all(|c| c == 'q') => "LogLevel QUIET".into(),
            'v' if attached.chars().all(|c| c == 'v') => "LogLevel VERBOSE".into(),
            // No tty is ever requested; harmless.
            'T' | 'n' if attached.is_empty() => continue,
            _ => return Err(format!("ssh option `{w}` is not supported yet")),
        };
        out.push(line);
    }
    Ok(out)
}

/// Quotes a value for ssh_config when it has spaces.
fn config_value(v: &str) -> String {
    if v.contains([' ', '\t']) && !v.starts_with('"') {
        format!("\"{}\"", v.replace('"', "\\\""))
    } else {
        v.to_string()
    }
}

/// A live master: the control socket and what must outlive it.
struct Master {
    /// Dropped first: asks the master to exit and removes its socket dir.
    session: Session,
    /// The per-host control directory, removed after the master.
    _dir: tempfile::TempDir,
}

/// What a runner runs as: the login user (`None`) or a become user.
type RunnerKey = Option<BecomeSpec>;

/// A host reached over SSH.
pub struct Ssh {
    /// Runners waiting for a request (dropped before the master).
    idle: std::sync::Mutex<Vec<(RunnerKey, Runner)>>,
    opts: SshOptions,
    master: Mutex<Option<Arc<Master>>>,
    /// One slot per open channel.
    channels: Arc<Semaphore>,
    /// Signalled when a runner goes back to `idle`.
    returned: tokio::sync::Notify,
    opened: AtomicU64,
    /// Writes of requests answered (one or several requests each).
    round_trips: AtomicU64,
    /// Answers of probes sent ahead ([`super::speculation`]).
    prefetched: std::sync::Mutex<super::speculation::Prefetched>,
}

impl std::fmt::Debug for Ssh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ssh").field("opts", &self.opts).finish()
    }
}

impl Ssh {
    /// A connection that will connect on first use.
    pub fn new(opts: SshOptions) -> Self {
        Ssh {
            idle: std::sync::Mutex::new(Vec::new()),
            opts,
            master: Mutex::new(None),
            channels: Arc::new(Semaphore::new(MAX_CHANNELS)),
            returned: tokio::sync::Notify::new(),
            opened: AtomicU64::new(0),
            round_trips: AtomicU64::new(0),
            prefetched: std::sync::Mutex::new(Default::default()),
        }
    }

    /// The settings.
    pub fn options(&self) -> &SshOptions {
        &self.opts
    }

    /// Channels this connection has opened.
    pub fn channels_opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// Round trips so far: requests sent and answered, a batch of probes
    /// sent ahead counting once.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    fn unreachable(&self, what: &str) -> HostError {
        let dest = match (&self.opts.user, self.opts.port) {
            (Some(u), Some(p)) => format!("{u}@{}:{p}", self.opts.address),
            (Some(u), None) => format!("{u}@{}", self.opts.address),
            (None, Some(p)) => format!("{}:{p}", self.opts.address),
            (None, None) => self.opts.address.clone(),
        };
        HostError::Unreachable(format!(
            "Failed to connect to the host via ssh ({} as {dest}): {what}",
            self.opts.name
        ))
    }

    /// Starts the master if it is not running (or has died).
    async fn master(&self) -> Result<Arc<Master>, HostError> {
        let mut slot = self.master.lock().await;
        if let Some(m) = slot.as_ref() {
            return Ok(m.clone());
        }
        let started = super::record::start();
        let connected = self.connect().await;
        if started.is_some() {
            super::record::connected(started, &self.describe(), &connected);
        }
        let m = Arc::new(connected?);
        *slot = Some(m.clone());
        Ok(m)
    }

    /// The connection as `-vvv` shows it: ssh's destination and options.
    fn describe(&self) -> String {
        let mut text = format!("ssh {}", self.opts.address);
        if let Some(u) = &self.opts.user {
            text.push_str(&format!(" -l {u}"));
        }
        if let Some(p) = self.opts.port {
            text.push_str(&format!(" -p {p}"));
        }
        if let Some(k) = &self.opts.private_key {
            text.push_str(&format!(" -i {}", k.display()));
        }
        for l in &self.opts.config_lines {
            text.push_str(&format!(" -o '{l}'"));
        }
        text
    }

    async fn connect(&self) -> Result<Master, HostError> {
        let dir = tempfile::Builder::new()
            .prefix("tend-")
            .tempdir_in("/tmp")
            .map_err(|e| self.unreachable(&format!("cannot create a control directory: {e}")))?;
        let mut b = SessionBuilder::default();
        b.known_hosts_check(self.opts.host_key_checking.known_hosts())
            .connect_timeout(self.opts.timeout)
            .server_alive_interval(Duration::from_secs(15))
            .control_directory(dir.path());
        if let Some(p) = self.opts.port {
            b.port(p);
        }
        if let Some(u) = &self.opts.user {
            b.user(u.clone());
        }
        if let Some(k) = &self.opts.private_key {
            b.keyfile(k);
        }
        if !self.opts.config_lines.is_empty() {
            // `-F` replaces the user and system configuration: include them
            // after the inventory's options (the first value wins in ssh).
            let mut conf = String::new();
            for l in &self.opts.config_lines {
                let _ = writeln!(conf, "{l}");
            }
            if let Some(home) = std::env::var_os("HOME") {
                let user_conf = Path::new(&home).join(".ssh/config");
                let _ = writeln!(conf, "Include \"{}\"", user_conf.display());
            }
            conf.push_str("Include /etc/ssh/ssh_config\n");
            let path = dir.path().join("config");
            std::fs::write(&path, conf)
                .map_err(|e| self.unreachable(&format!("cannot write ssh config: {e}")))?;
            b.config_file(&path);
        }
        // The master must not outlive us if the connect hangs past ssh's own
        // ConnectTimeout (which covers TCP and the banner exchange).
        let deadline = self.opts.timeout * 3 + Duration::from_secs(5);
        let session = match tokio::time::timeout(deadline, b.connect_mux(&self.opts.address)).await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(self.unreachable(&describe_connect_error(&e))),
            Err(_) => {
                return Err(self.unreachable(&format!("no answer within {} s", deadline.as_secs())));
            }
        };
        Ok(Master { session, _dir: dir })
    }

    /// Runs one request on a runner for `key`: an idle one, or a new one
    /// (whose starter travels with the request: still one round trip).
    async fn run(&self, request: &Exec, key: Option<&BecomeSpec>) -> Result<ExecOutput, HostError> {
        let master = self.master().await?;
        if request.stdin.len() > runner::INLINE_STDIN_MAX {
            return self.run_alone(&master, request, key).await;
        }
        let mut runner = self.runner(&master, key).await?;
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        match runner.call(request).await {
            Ok(out) => {
                self.idle_runners().push((key.cloned(), runner));
                self.returned.notify_waiters();
                Ok(out)
            }
            Err(RunnerFailure::Io(e)) => Err(self.unreachable(&format!("connection lost: {e}"))),
            Err(RunnerFailure::Ended { stderr, status }) => {
                let out = ExecOutput {
                    status: status.unwrap_or(-1),
                    stdout: Vec::new(),
                    stderr,
                };
                match (key, status) {
                    (_, None) => {
                        Err(self.unreachable("the connection closed before the command finished"))
                    }
                    (Some(spec), Some(_)) => {
                        Err(refused_escalation(spec, &out).unwrap_or_else(|| {
                            HostError::Become(format!(
                                "{} as {} failed (exit status {}): {}",
                                spec.method,
                                spec.user,
                                out.status,
                                out.stderr_text().trim()
                            ))
                        }))
                    }
                    (None, Some(s)) => Err(HostError::Io(format!(
                        "the remote shell ended (exit status {s}) before the script finished: {}",
                        out.stderr_text().trim()
                    ))),
                }
            }
        }
    }

    fn prefetched(&self) -> std::sync::MutexGuard<'_, super::speculation::Prefetched> {
        self.prefetched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn idle_runners(&self) -> std::sync::MutexGuard<'_, Vec<(RunnerKey, Runner)>> {
        // A panic elsewhere cannot leave the list half-updated: take it as is.
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn take_idle(&self, key: Option<&BecomeSpec>) -> Option<Runner> {
        let mut idle = self.idle_runners();
        let at = idle.iter().position(|(k, _)| k.as_ref() == key)?;
        Some(idle.swap_remove(at).1)
    }

    /// A runner for `key`: an idle one, else a new one in a free channel
    /// slot (closing an idle runner of another user when every slot is
    /// taken), else the first one to come back.
    async fn runner(&self, master: &Master, key: Option<&BecomeSpec>) -> Result<Runner, HostError> {
        match self.idle_or_slot(Some(key)).await? {
            Ok(runner) => Ok(runner),
            Err(slot) => self.open_runner(master, key, slot).await,
        }
    }

    /// An idle runner for `reuse`'s key (none with `reuse` None), else a
    /// free channel slot, closing idle runners (of other keys, or any when
    /// not reusing) to free one, else whatever comes back first.
    async fn idle_or_slot(
        &self,
        reuse: Option<Option<&BecomeSpec>>,
    ) -> Result<Result<Runner, tokio::sync::OwnedSemaphorePermit>, HostError> {
        loop {
            let returned = self.returned.notified();
            tokio::pin!(returned);
            returned.as_mut().enable();
            if let Some(key) = reuse
                && let Some(r) = self.take_idle(key)
            {
                return Ok(Ok(r));
            }
            match self.channels.clone().try_acquire_owned() {
                Ok(slot) => return Ok(Err(slot)),
                Err(tokio::sync::TryAcquireError::Closed) => {
                    return Err(HostError::Io("connection closed".into()));
                }
                Err(tokio::sync::TryAcquireError::NoPermits) => {
                    let evicted = self.idle_runners().pop();
                    if evicted.is_none() {
                        tokio::select! {
                            () = returned => {}
                            slot = self.channels.clone().acquire_owned() => {
                                let slot = slot
                                    .map_err(|_| HostError::Io("connection closed".into()))?;
                                return Ok(Err(slot));
                            }
                        }
                    }
                }
            }
        }
    }

    /// Runs a request too large to carry inline on a channel of its own:
    /// the script (escalated for `key`) reads its stdin from the channel,
    /// as [`BOOTSTRAP`] frames it.
    async fn run_alone(
        &self,
        master: &Master,
        request: &Exec,
        key: Option<&BecomeSpec>,
    ) -> Result<ExecOutput, HostError> {
        let request = match key {
            None => request.clone(),
            Some(spec) => {
                let mut e = super::escalate(spec, request.clone())?;
                e.stdin = super::password_first(spec, std::mem::take(&mut e.stdin))?;
                e
            }
        };
        let slot = match self.idle_or_slot(None).await? {
            Err(slot) => slot,
            Ok(_) => return Err(HostError::Io("no channel slot".into())),
        };
        let (command, preamble) = Runner::framed(&request.script, &request.stdin);
        let runner = Runner::open(master.session.control_socket(), command, preamble, slot)
            .await
            .map_err(|e| self.open_failure(e))?;
        self.opened.fetch_add(1, Ordering::Relaxed);
        CHANNELS_OPENED.fetch_add(1, Ordering::Relaxed);
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        match runner.finish().await {
            Ok(out) => match key.and_then(|spec| refused_escalation(spec, &out)) {
                Some(refused) => Err(refused),
                None => Ok(out),
            },
            Err(RunnerFailure::Io(e)) => Err(self.unreachable(&format!("connection lost: {e}"))),
            Err(RunnerFailure::Ended { .. }) => {
                Err(self.unreachable("the connection closed before the command finished"))
            }
        }
    }

    fn open_failure(&self, e: OpenFailure) -> HostError {
        match e {
            OpenFailure::Master(e) => self.unreachable(&format!("the ssh master is gone: {e}")),
            OpenFailure::Channel(e) => self.unreachable(&format!("cannot open a channel: {e}")),
            OpenFailure::Local(e) => HostError::Io(format!("pipe: {e}")),
        }
    }

    /// A new runner for `key` in `slot`.
    async fn open_runner(
        &self,
        master: &Master,
        key: Option<&BecomeSpec>,
        slot: tokio::sync::OwnedSemaphorePermit,
    ) -> Result<Runner, HostError> {
        // The runner's shell starts straight from the channel command when
        // no script is needed to escalate (three processes fewer on the
        // target), else through the bootstrap frame.
        let prelude = || runner::prelude().as_bytes().to_vec();
        let (command, preamble) = match key {
            None => (runner::START.to_string(), prelude()),
            Some(spec) => match super::direct_runner(spec) {
                Some(command) => (command, prelude()),
                None => {
                    let start =
                        super::escalate(spec, Exec::with_stdin(runner::START, runner::prelude()))?;
                    let stdin = super::password_first(spec, start.stdin)?;
                    let (c, p) = Runner::framed(&start.script, &stdin);
                    (c.to_string(), p)
                }
            },
        };
        let runner = Runner::open(master.session.control_socket(), &command, preamble, slot)
            .await
            .map_err(|e| self.open_failure(e))?;
        self.opened.fetch_add(1, Ordering::Relaxed);
        CHANNELS_OPENED.fetch_add(1, Ordering::Relaxed);
        Ok(runner)
    }

    /// Runs `request` and forgets a master that turned out dead (and its
    /// runners), so its socket directory goes away now.
    async fn exec_on(
        &self,
        request: &Exec,
        key: Option<&BecomeSpec>,
    ) -> Result<ExecOutput, HostError> {
        if let Some(out) = self.prefetched().take(request, key) {
            return Ok(out);
        }
        let result = self.run(request, key).await;
        if matches!(result, Err(HostError::Unreachable(_))) {
            self.idle_runners().clear();
            *self.master.lock().await = None;
        }
        result
    }

    /// Shuts the master down now (it is also shut down on drop).
    pub async fn close(&self) {
        self.prefetched().clear();
        self.idle_runners().clear();
        let m = self.master.lock().await.take();
        if let Some(m) = m
            && let Ok(m) = Arc::try_unwrap(m)
        {
            let Master { session, _dir } = m;
            let _ = session.close().await;
        }
    }
}

/// The useful part of ssh's own error output: every line, minus the banner
/// of `@`s, so a changed host key names the known_hosts line.
fn describe_connect_error(e: &openssh::Error) -> String {
    let text = match e {
        openssh::Error::Connect(io) => io.to_string(),
        other => {
            let mut s = other.to_string();
            let mut src = std::error::Error::source(other);
            while let Some(inner) = src {
                let _ = write!(s, ": {inner}");
                src = inner.source();
            }
            s
        }
    };
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.trim().trim_matches('@').trim())
        .filter(|l| !l.is_empty())
        .collect();
    if lines
        .iter()
        .any(|l| l.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"))
    {
        // Keep the verdict and the known_hosts line, drop the lecture.
        let keep: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| {
                l.contains("IDENTIFICATION HAS CHANGED")
                    || l.starts_with("Offending")
                    || l.contains("known_hosts")
                    || l.contains("fingerprint")
                    || l.starts_with("SHA256:")
                    || l.starts_with("Host key for")
                    || l.contains("verification failed")
            })
            .collect();
        return keep.join(" / ");
    }
    lines.join(" / ")
}

#[async_trait]
impl Host for Ssh {
    async fn reset(&self) {
        self.close().await;
    }

    async fn exec(&self, request: Exec) -> Result<ExecOutput, HostError> {
        self.exec_on(&request, None).await
    }
}

#[async_trait]
impl Connection for Ssh {
    async fn exec_as(
        &self,
        request: Exec,
        escalation: &BecomeSpec,
    ) -> Result<ExecOutput, HostError> {
        self.exec_on(&request, Some(escalation)).await
    }

    fn traffic(&self) -> Option<super::Traffic> {
        Some(super::Traffic {
            round_trips: self.round_trips(),
            channels: self.channels_opened(),
        })
    }

    /// Sends the leading probes that run as the same user in one write on
    /// one runner, and keeps their answers. A failure keeps nothing: each
    /// probe then runs, and meets the failure, when it is asked for.
    async fn prefetch(&self, probes: Vec<(Exec, Option<BecomeSpec>)>) {
        self.prefetched().clear();
        let Some(key) = probes.first().map(|(_, k)| k.clone()) else {
            return;
        };
        let batch: Vec<Exec> = probes
            .into_iter()
            .take_while(|(e, k)| {
                *k == key && e.read_only && e.stdin.len() <= runner::INLINE_STDIN_MAX
            })
            .map(|(e, _)| e)
            .collect();
        if batch.len() < 2 {
            return;
        }
        let Ok(master) = self.master().await else {
            return;
        };
        let Ok(mut runner) = self.runner(&master, key.as_ref()).await else {
            return;
        };
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        if let Ok(answers) = runner.call_many(&batch).await {
            self.idle_runners().push((key.clone(), runner));
            self.returned.notify_waiters();
            self.prefetched().keep(
                batch
                    .into_iter()
                    .zip(answers)
                    .map(|(e, out)| (e, key.clone(), out))
                    .collect(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: Value) -> Vars {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn options_from_host_vars() {
        let o = SshOptions::from_vars(
            "web1",
            &vars(json!({
                "ansible_host": "10.1.2.3", "ansible_port": "2222", "ansible_user": "deploy",
                "ansible_ssh_private_key_file": "/k/id", "ansible_timeout": 7,
                "ansible_ssh_common_args": "-o UserKnownHostsFile=/lab/known_hosts -J bastion",
                "ansible_ssh_extra_args": "-oServerAliveCountMax=9 -C",
                "ansible_host_key_checking": false,
            })),
        )
        .unwrap();
        assert_eq!(o.address, "10.1.2.3");
        assert_eq!(o.port, Some(2222));
        assert_eq!(o.user.as_deref(), Some("deploy"));
        assert_eq!(o.private_key, Some(PathBuf::from("/k/id")));
        assert_eq!(o.timeout, Duration::from_secs(7));
        assert_eq!(o.host_key_checking, HostKeyChecking::Off);
        assert_eq!(
            o.config_lines,
            [
                "UserKnownHostsFile /lab/known_hosts",
                "ProxyJump bastion",
                "ServerAliveCountMax 9",
                "Compression yes"
            ]
        );
        let d = SshOptions::from_vars("h", &Vars::new()).unwrap();
        assert_eq!(d.address, "h");
        assert_eq!(d.timeout, Duration::from_secs(DEFAULT_TIMEOUT));
    }

    #[test]
    fn rejects_bad_settings() {
        assert!(SshOptions::from_vars("h", &vars(json!({"ansible_port": "x"}))).is_err());
        assert!(
            SshOptions::from_vars("h", &vars(json!({"ansible_ssh_common_args": "-X"}))).is_err()
        );
        assert!(SshOptions::from_vars("h", &vars(json!({"ansible_ssh_pass": "pw"}))).is_err());
        assert_eq!(
            HostKeyChecking::parse(&json!("accept-new")).unwrap(),
            HostKeyChecking::AcceptNew
        );
        assert_eq!(
            HostKeyChecking::parse(&json!("False")).unwrap(),
            HostKeyChecking::Off
        );
    }

    /// Runs [`BOOTSTRAP`] as sshd would (through a shell), with `path_dir`
    /// first in `PATH`, feeding the frame in pieces so that reads come up
    /// short; returns (status, stdout).
    fn run_bootstrap(path_dir: Option<&Path>, script: &str, stdin: &[u8]) -> (i32, Vec<u8>) {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(BOOTSTRAP);
        if let Some(dir) = path_dir {
            let path = std::env::var("PATH").unwrap_or_default();
            cmd.env("PATH", format!("{}:{path}", dir.display()));
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("/bin/sh");
        let mut frame = format!("{}\n", script.len()).into_bytes();
        frame.extend_from_slice(script.as_bytes());
        frame.extend_from_slice(stdin);
        let mut w = child.stdin.take().unwrap();
        let feeder = std::thread::spawn(move || {
            // The header and part of the script, then the rest later.
            let first = frame.len().min(script_split(&frame));
            let _ = w.write_all(&frame[..first]);
            let _ = w.flush();
            std::thread::sleep(Duration::from_millis(30));
            let _ = w.write_all(&frame[first..]);
        });
        let out = child.wait_with_output().expect("wait");
        feeder.join().unwrap();
        (out.status.code().unwrap_or(-1), out.stdout)
    }

    /// Where to cut the frame: inside the script when it has a few bytes.
    fn script_split(frame: &[u8]) -> usize {
        let header = frame.iter().position(|&b| b == b'\n').unwrap() + 1;
        header + 3
    }

    fn bytes(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    /// The bootstrap reads exactly the script and leaves every byte of the
    /// request's stdin to the script, with the system's tools, busybox's
    /// (when present; its `head -c` reads ahead) and a dd without
    /// `iflag=fullblock` (as on macOS), whose fallback reads a byte at a time.
    #[test]
    fn bootstrap_reads_the_script_exactly_and_leaves_stdin_intact() {
        let tools = tempfile::tempdir().unwrap();
        let variants = super::super::runner::dd_variants(tools.path());
        let big_script = format!("# {}\ncat; exit 3", "x".repeat(150_000));
        for (name, dir) in &variants {
            for (script, status) in [("cat", 0), ("cat\n\n", 0), (big_script.as_str(), 3)] {
                if name == &"dd without iflag" && script.len() > 1000 {
                    continue; // a byte at a time: correct, but slow
                }
                for len in [0, 1, 5, 4096, 70_000, 300_000] {
                    let input = bytes(len);
                    let (code, out) = run_bootstrap(dir.as_deref(), script, &input);
                    assert_eq!(code, status, "{name}: script of {} bytes", script.len());
                    assert!(
                        out == input,
                        "{name}: script of {} bytes, {len} bytes of stdin: {} arrived",
                        script.len(),
                        out.len()
                    );
                }
            }
            // An empty script runs (and ignores its stdin).
            assert_eq!(run_bootstrap(dir.as_deref(), "", b"x").0, 0, "{name}");
        }
    }

    #[test]
    fn changed_key_message_keeps_the_known_hosts_line() {
        let log = "@@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@@@@@@@@\nIT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\nThe fingerprint for the ED25519 key sent by the remote host is\nSHA256:abc.\nPlease contact your system administrator.\nAdd correct host key in /lab/known_hosts to get rid of this message.\nOffending ED25519 key in /lab/known_hosts:3\nHost key for [127.0.1.3]:22 has changed and you have requested strict checking.\nHost key verification failed.\n";
        let e = openssh::Error::Connect(std::io::Error::other(log));
        let msg = describe_connect_error(&e);
        assert!(
            msg.contains("Offending ED25519 key in /lab/known_hosts:3"),
            "{msg}"
        );
        assert!(msg.contains("Host key verification failed"), "{msg}");
        assert!(!msg.contains("NASTY"), "{msg}");
    }
}
