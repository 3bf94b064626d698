//! The `service` module: start, stop, restart or reload a service, and
//! enable or disable it at boot.
//!
//! One probe finds the init system and the service's state: when systemd
//! runs (`/run/systemd/system` exists) it reads `systemctl show` and
//! `systemctl is-enabled`, and the service is driven with `systemctl`;
//! otherwise it runs `/etc/init.d/NAME status` (exit status 0 means running,
//! or, with `pattern`, a process whose command line contains the pattern),
//! reads the `/etc/rc?.d/S??NAME` links for `enabled`, and drives the init
//! script and `update-rc.d`. As Ansible: `started` starts a stopped
//! service, `stopped` stops a running one, `restarted` always restarts
//! (stop, `sleep` seconds, start when `sleep` is set), `reloaded` reloads a
//! running service and starts a stopped one; `enabled` is applied first. The
//! init script's output goes through temporary files removed right after,
//! so a daemon that keeps them open cannot hold the connection. In check
//! mode a state change is reported as Ansible's `service state changed`.
//! `runlevel` other than `default` (OpenRC) is not supported yet.
//!
//! # Examples
//!
//! ```yaml
//! - name: Web server running and enabled at boot
//!   service:
//!     name: nginx
//!     state: started
//!     enabled: yes
//!
//! - name: Restart the app, pausing between stop and start
//!   service:
//!     name: myapp
//!     state: restarted
//!     sleep: 2
//!
//! - name: A daemon without a working status action
//!   service:
//!     name: legacyd
//!     pattern: /usr/sbin/legacyd
//!     state: started
//! ```
//!
//! # Return values
//!
//! - `name` (str): the service's name.
//! - `state` (str): `started` or `stopped`, when `state` was given.
//! - `enabled` (bool): whether the service starts at boot, when `enabled` was given.
//! - `status` (dict): under systemd, the unit's properties from `systemctl show`.

use crate::args::{ArgsError, de};
use crate::choice;
use crate::host::{Exec, ExecOutput, Host};
use crate::module::{Context, ModuleError, TypedModule};
use crate::outcome::Outcome;
use crate::sh;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Map;

choice! {
    /// `state` of `service` and `systemd`.
    pub enum State {
        /// Running.
        Started = ["started"],
        /// Not running.
        Stopped = ["stopped"],
        /// Restarted on every run.
        Restarted = ["restarted"],
        /// Reloaded on every run (started if it was stopped).
        Reloaded = ["reloaded"],
    }
}

fn default_runlevel() -> String {
    "default".into()
}

/// Arguments of `service`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The service's name (its init script or systemd unit).
    #[serde(deserialize_with = "de::string")]
    pub name: String,
    /// `started`, `stopped`, `restarted` or `reloaded`.
    #[serde(default)]
    pub state: Option<State>,
    /// Start the service at boot.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub enabled: Option<bool>,
    /// Seconds to wait between stop and start when restarting.
    #[serde(default, deserialize_with = "de::opt_int")]
    pub sleep: Option<i64>,
    /// Without systemd: the service runs when a process's command line
    /// contains this text (instead of asking the init script's `status`).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub pattern: Option<String>,
    /// OpenRC's runlevel; only `default` is supported.
    #[serde(default = "default_runlevel", deserialize_with = "de::string")]
    pub runlevel: String,
    /// Extra arguments for the init script's command line.
    #[serde(default, alias = "args", deserialize_with = "de::string")]
    pub arguments: String,
    /// Accepted for compatibility: the init system is detected on the target.
    #[serde(default, rename = "use", deserialize_with = "de::opt_string")]
    pub use_: Option<String>,
}

/// The `service` module.
pub struct Service;

#[async_trait]
impl TypedModule for Service {
    type Args = Args;
    const NAME: &'static str = "service";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        if a.state.is_none() && a.enabled.is_none() {
            return Err(ArgsError::general(
                "one of the following is required: state, enabled",
            ));
        }
        if a.runlevel != "default" {
            return Err(ArgsError::field(
                "runlevel",
                "service: runlevel is not supported yet (OpenRC only)",
            ));
        }
        Ok(())
    }

    async fn run(
        &self,
        args: Args,
        ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError> {
        let out = host.exec(probe(&args.name, args.pattern.is_some())).await?;
        let st = Probed::parse(&out)?;
        let (mut outcome, script) = plan_service(&args, &st, ctx)?;
        if let Some(script) = script
            && !ctx.check_mode
        {
            let out = host.exec(Exec::script(script).lingering()).await?;
            if out.status != 0 {
                return Err(ModuleError::applying("service: the change failed", &out));
            }
        }
        if ctx.check_mode && outcome.msg.is_some() {
            // Ansible stops right there with only `changed` and `msg`.
            outcome.values = Map::new();
        }
        Ok(outcome)
    }
}

/// The init system the target runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Init {
    /// systemd is PID 1.
    Systemd,
    /// Init scripts in `/etc/init.d`.
    #[default]
    Sysv,
}

/// What the probe found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probed {
    /// The init system.
    pub init: Init,
    /// `/etc/init.d/NAME` exists.
    pub initd: bool,
    /// Exit status of `/etc/init.d/NAME status` (sysv, without `pattern`).
    pub status_rc: Option<i32>,
    /// `/etc/rc?.d/S??NAME` links exist.
    pub s_links: bool,
    /// `/etc/rc?.d/K??NAME` links exist.
    pub k_links: bool,
    /// `update-rc.d` is installed.
    pub update_rc_d: bool,
    /// Process command lines (with `pattern`).
    pub ps: Vec<String>,
    /// `systemctl show NAME`, key → value.
    pub show: Vec<(String, String)>,
    /// `systemctl show` succeeded.
    pub show_ok: bool,
    /// `systemctl is-enabled NAME -l`: exit status and output.
    pub is_enabled: (i32, String),
}

/// Marks the probe's own processes, so `pattern` never matches them.
const SELF_MARK: &str = "tend-service-probe";

/// The read-only probe of service `name`.
pub fn probe(name: &str, with_ps: bool) -> Exec {
    let q = sh::quote(name);
    let mut s = format!(
        "# {SELF_MARK}\n\
         n={q}\n\
         if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then\n\
         \x20 echo 'INIT|systemd'\n\
         \x20 out=$(systemctl show \"$n\" 2>/dev/null) && echo 'SHOWOK|1'\n\
         \x20 printf '%s\\n' \"$out\" | sed 's/^/SHOW|/'\n\
         \x20 e=$(systemctl is-enabled \"$n\" -l 2>/dev/null); rc=$?\n\
         \x20 printf 'ENABLED|%s|%s\\n' \"$rc\" \"$e\"\n\
         else\n\
         \x20 echo 'INIT|sysv'\n\
         fi\n\
         if [ -f \"/etc/init.d/$n\" ]; then\n\
         \x20 echo 'INITD|1'\n"
    );
    if !with_ps {
        s.push_str(
            "  if [ ! -d /run/systemd/system ]; then\n\
             \x20   \"/etc/init.d/$n\" status </dev/null >/dev/null 2>&1; printf 'STATUS|%s\\n' \"$?\"\n\
             \x20 fi\n",
        );
    }
    s.push_str(
        "fi\n\
         for l in /etc/rc?.d/S??\"$n\"; do [ -e \"$l\" ] && { echo 'SLINK|1'; break; }; done\n\
         for l in /etc/rc?.d/K??\"$n\"; do [ -e \"$l\" ] && { echo 'KLINK|1'; break; }; done\n\
         command -v update-rc.d >/dev/null 2>&1 && echo 'UPDATERCD|1'\n",
    );
    if with_ps {
        s.push_str("ps -eo args= 2>/dev/null | sed 's/^/PS|/'\n");
    }
    s.push_str("exit 0\n");
    Exec::script(s)
}

impl Probed {
    /// Reads the probe's output.
    pub fn parse(out: &ExecOutput) -> Result<Probed, ModuleError> {
        if out.status != 0 {
            return Err(ModuleError::script(
                "service: probing the service failed",
                out,
            ));
        }
        let mut st = Probed::default();
        for line in out.stdout_text().lines() {
            let Some((tag, rest)) = line.split_once('|') else {
                continue;
            };
            match tag {
                "INIT" => {
                    st.init = if rest == "systemd" {
                        Init::Systemd
                    } else {
                        Init::Sysv
                    }
                }
                "INITD" => st.initd = true,
                "STATUS" => st.status_rc = rest.trim().parse().ok(),
                "SLINK" => st.s_links = true,
                "KLINK" => st.k_links = true,
                "UPDATERCD" => st.update_rc_d = true,
                "PS" if !rest.contains(SELF_MARK) => st.ps.push(rest.to_string()),
                "SHOWOK" => st.show_ok = true,
                "SHOW" => {
                    if let Some((k, v)) = rest.split_once('=') {
                        st.show.push((k.to_string(), v.to_string()));
                    }
                }
                "ENABLED" => {
                    let (rc, text) = rest.split_once('|').unwrap_or((rest, ""));
                    st.is_enabled = (rc.trim().parse().unwrap_or(1), text.trim().to_string());
                }
                _ => {}
            }
        }
        Ok(st)
    }

    /// A `systemctl show` property.
    pub fn prop(&self, key: &str) -> Option<&str> {
        self.show
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `systemctl show` as a dictionary (Ansible's `status`).
    pub fn status(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.show
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
                .collect(),
        )
    }

    /// systemd knows the unit.
    pub fn is_unit(&self) -> bool {
        self.show_ok && self.prop("LoadState").is_some_and(|s| s != "not-found")
    }

    /// Whether the service runs (`None`: cannot tell, the service is unknown).
    pub fn running(&self, pattern: Option<&str>) -> Option<bool> {
        if let Some(p) = pattern {
            return Some(self.ps.iter().any(|l| l.contains(p)));
        }
        match self.init {
            Init::Systemd => self
                .prop("ActiveState")
                .map(|s| matches!(s, "active" | "activating")),
            Init::Sysv => self.initd.then(|| self.status_rc == Some(0)),
        }
    }

    /// Whether the service starts at boot, as Ansible's systemd module tells.
    pub fn systemd_enabled(&self) -> bool {
        let (rc, out) = &self.is_enabled;
        match rc {
            0 => !matches!(out.as_str(), "enabled-runtime" | "indirect" | "alias"),
            1 => self.initd && !out.ends_with("disabled") && self.s_links,
            _ => false,
        }
    }
}

/// Runs `/etc/init.d/NAME ACTION ARGS` with its output in temporary files (a
/// daemon keeping a pipe open would hold the connection), failing with its
/// stderr, else its stdout, as Ansible's message.
fn initd_cmd(name: &str, action: &str, arguments: &str) -> String {
    let args = if arguments.trim().is_empty() {
        String::new()
    } else {
        format!(" {arguments}")
    };
    format!(
        "t=$(mktemp) && e=$(mktemp) || exit 1\n\
         {script} {action}{args} </dev/null >\"$t\" 2>\"$e\"; rc=$?\n\
         out=$(cat \"$t\"); err=$(cat \"$e\"); rm -f \"$t\" \"$e\"\n\
         if [ \"$rc\" -ne 0 ]; then\n\
         \x20 if [ -n \"$err\" ]; then m=$err; else m=$out; fi\n\
         \x20 printf 'tend: %s\\n' \"$m\" | tr '\\n' ' ' >&2; echo >&2; exit 1\n\
         fi\n",
        script = sh::quote(&format!("/etc/init.d/{name}")),
    )
}

/// `systemctl ACTION NAME`, failing with Ansible's message.
pub fn systemctl_cmd(name: &str, action: &str) -> String {
    format!(
        "if ! err=$(systemctl {action} {q} 2>&1 >/dev/null </dev/null); then\n\
         \x20 printf 'tend: Unable to {action} service %s: %s\\n' {q} \"$err\" | tr '\\n' ' ' >&2; echo >&2; exit 1\n\
         fi\n",
        q = sh::quote(name),
    )
}

/// The action for `state`, given whether the service runs (Ansible's rules).
pub fn state_action(state: State, running: bool, deactivating: bool) -> Option<&'static str> {
    match state {
        State::Started => (!running).then_some("start"),
        State::Stopped => (running || deactivating).then_some("stop"),
        State::Reloaded if !running => Some("start"),
        State::Restarted if !running => Some("start"),
        State::Reloaded => Some("reload"),
        State::Restarted => Some("restart"),
    }
}

fn plan_service(
    a: &Args,
    st: &Probed,
    ctx: &Context,
) -> Result<(Outcome, Option<String>), ModuleError> {
    let mut script = String::new();
    let mut changed = false;
    let mut out = Outcome::ok().with("name", a.name.clone());
    if st.init == Init::Systemd {
        // Under systemd Ansible runs the systemd module, which returns the unit's properties.
        out.values.insert("status".into(), st.status());
    }
    let found = st.initd || st.is_unit();

    if let Some(want) = a.enabled {
        let enabled = match st.init {
            Init::Systemd => st.systemd_enabled(),
            Init::Sysv => st.s_links,
        };
        if enabled != want {
            if !found {
                return Err(ModuleError::failed(format!(
                    "Could not find the requested service {}: host",
                    a.name
                )));
            }
            changed = true;
            let action = if want { "enable" } else { "disable" };
            match st.init {
                Init::Systemd => script.push_str(&systemctl_cmd(&a.name, action)),
                Init::Sysv => {
                    if !st.update_rc_d {
                        return Err(ModuleError::failed(format!(
                            "cannot detect command to enable service {}, typo or init system potentially unknown",
                            a.name
                        )));
                    }
                    let q = sh::quote(&a.name);
                    if want && !st.k_links {
                        script.push_str(&format!(
                            "update-rc.d {q} defaults >/dev/null 2>&1 || {{ echo 'tend: update-rc.d {q} defaults failed' >&2; exit 1; }}\n"
                        ));
                    }
                    script.push_str(&format!(
                        "if ! err=$(update-rc.d {q} {action} 2>&1); then printf 'tend: %s\\n' \"$err\" | tr '\\n' ' ' >&2; echo >&2; exit 1; fi\n"
                    ));
                }
            }
        }
        out = out.with("enabled", want);
    }

    if let Some(state) = a.state {
        let running = st.running(a.pattern.as_deref()).ok_or_else(|| {
            ModuleError::failed("failed determining service state, possible typo of service name?")
        })?;
        let deactivating =
            st.init == Init::Systemd && st.prop("ActiveState") == Some("deactivating");
        let action = state_action(state, running, deactivating);
        if let Some(action) = action {
            if ctx.check_mode {
                return Ok((Outcome::changed().with_msg("service state changed"), None));
            }
            changed = true;
            let sleep = a.sleep.filter(|s| *s > 0);
            let steps: Vec<&str> = match (action, sleep) {
                ("restart", Some(_)) => vec!["stop", "start"],
                _ => vec![action],
            };
            for (i, step) in steps.iter().enumerate() {
                if i > 0 {
                    script.push_str(&format!("sleep {}\n", sleep.unwrap_or(0)));
                }
                match st.init {
                    Init::Systemd => script.push_str(&systemctl_cmd(&a.name, step)),
                    Init::Sysv => script.push_str(&initd_cmd(&a.name, step, &a.arguments)),
                }
            }
        }
        let shown = if state == State::Stopped {
            "stopped"
        } else {
            "started"
        };
        out = out.with("state", shown);
    }
    out.changed = changed;
    Ok((out, (!script.is_empty()).then_some(script)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;
    use crate::host::{Replay, out};
    use crate::module::Module;
    use serde_json::{Value, json};

    fn args(v: Value) -> Args {
        let a: Args = args::parse(&v).unwrap();
        Service::validate(&a).unwrap();
        a
    }

    const STOPPED: &str = "INIT|sysv\nINITD|1\nSTATUS|3\nUPDATERCD|1\n";
    const RUNNING_ENABLED: &str = "INIT|sysv\nINITD|1\nSTATUS|0\nSLINK|1\nKLINK|1\nUPDATERCD|1\n";

    fn probed(text: &str) -> Probed {
        Probed::parse(&out(0, text)).unwrap()
    }

    #[test]
    fn state_rules_as_ansible() {
        assert_eq!(state_action(State::Started, true, false), None);
        assert_eq!(state_action(State::Started, false, false), Some("start"));
        assert_eq!(state_action(State::Stopped, false, false), None);
        assert_eq!(state_action(State::Stopped, false, true), Some("stop"));
        assert_eq!(state_action(State::Reloaded, false, false), Some("start"));
        assert_eq!(state_action(State::Reloaded, true, false), Some("reload"));
        assert_eq!(state_action(State::Restarted, true, false), Some("restart"));
    }

    #[test]
    fn starts_and_enables_through_init_scripts() {
        let a = args(
            json!({"name": "tendd", "state": "started", "enabled": true, "arguments": "--fast"}),
        );
        let (o, script) = plan_service(&a, &probed(STOPPED), &Context::default()).unwrap();
        assert!(o.changed);
        assert_eq!(o.values["state"], json!("started"));
        assert_eq!(o.values["enabled"], json!(true));
        let script = script.unwrap();
        let defaults = script.find("update-rc.d tendd defaults").unwrap();
        let enable = script.find("update-rc.d tendd enable").unwrap();
        let start = script.find("/etc/init.d/tendd start --fast").unwrap();
        assert!(defaults < enable && enable < start, "{script}");

        let (o, script) = plan_service(&a, &probed(RUNNING_ENABLED), &Context::default()).unwrap();
        assert!(!o.changed);
        assert!(script.is_none());
    }

    #[test]
    fn restart_with_sleep_is_stop_sleep_start() {
        let a = args(json!({"name": "tendd", "state": "restarted", "sleep": 2}));
        let (_, script) = plan_service(&a, &probed(RUNNING_ENABLED), &Context::default()).unwrap();
        let s = script.unwrap();
        let stop = s.find("/etc/init.d/tendd stop").unwrap();
        let sleep = s.find("sleep 2").unwrap();
        let start = s.find("/etc/init.d/tendd start").unwrap();
        assert!(stop < sleep && sleep < start);
    }

    #[test]
    fn pattern_ignores_the_probe_itself() {
        let text = format!("{STOPPED}PS|/bin/sh -c # {SELF_MARK} mydaemon\nPS|sleep 5\n");
        let st = probed(&text);
        assert_eq!(st.running(Some("mydaemon")), Some(false));
        let st = probed(&format!("{text}PS|/usr/sbin/mydaemon -f\n"));
        assert_eq!(st.running(Some("mydaemon")), Some(true));
    }

    #[test]
    fn systemd_is_used_when_it_runs() {
        let text = "INIT|systemd\nSHOWOK|1\nSHOW|LoadState=loaded\nSHOW|ActiveState=inactive\nENABLED|1|disabled\n";
        let a = args(json!({"name": "nginx", "state": "started", "enabled": true}));
        let (o, script) = plan_service(&a, &probed(text), &Context::default()).unwrap();
        let s = script.unwrap();
        assert!(s.contains("systemctl enable nginx"));
        assert!(s.contains("systemctl start nginx"));
        assert_eq!(o.values["status"]["ActiveState"], json!("inactive"));
        assert!(!s.contains("init.d"));
    }

    #[test]
    fn unknown_services_fail() {
        let a = args(json!({"name": "nope", "state": "started"}));
        let err = plan_service(&a, &probed("INIT|sysv\n"), &Context::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed determining service state, possible typo of service name?"
        );
        let a: Args = args::parse(&json!({"name": "x"})).unwrap();
        assert!(Service::validate(&a).is_err());
    }

    #[tokio::test]
    async fn check_mode_reports_and_runs_nothing() {
        let host = Replay::outputs(vec![out(0, STOPPED)]);
        let o = Module::run(
            &Service,
            &json!({"name": "tendd", "state": "started"}),
            &Context {
                check_mode: true,
                diff: false,
            },
            &host,
        )
        .await
        .unwrap();
        assert!(o.changed);
        assert_eq!(o.msg.as_deref(), Some("service state changed"));
        assert_eq!(host.scripts().len(), 1);
        // Unchanged: one round trip.
        let host = Replay::outputs(vec![out(0, RUNNING_ENABLED)]);
        let o = Module::run(
            &Service,
            &json!({"name": "tendd", "state": "started", "enabled": "yes"}),
            &Context::default(),
            &host,
        )
        .await
        .unwrap();
        assert!(!o.changed);
        assert_eq!(host.scripts().len(), 1);
    }
}
