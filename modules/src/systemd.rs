//! The `systemd` module: control systemd units (also available as `systemd_service`).
//!
//! As Ansible's module: one probe reads `systemctl show UNIT` and
//! `systemctl is-enabled UNIT -l`; `daemon_reload` runs
//! `systemctl daemon-reload` first (not in check mode), `enabled` runs
//! `systemctl enable`/`disable` when it differs, and `state` starts a unit
//! that is not active, stops one that is active (or deactivating), restarts
//! or reloads an active one and starts an inactive one. The unit's
//! properties are returned as `status`. On a target where systemd does not
//! run (no `/run/systemd/system`) the task fails: use `service`, which
//! drives init scripts there. `masked`, `scope` other than `system`,
//! `daemon_reexec` and glob patterns in `name` are not supported yet.
//!
//! # Examples
//!
//! ```yaml
//! - name: A unit file changed
//!   systemd:
//!     name: myapp
//!     state: restarted
//!     daemon_reload: yes
//!
//! - name: Timer enabled and running
//!   systemd_service:
//!     name: backup.timer
//!     state: started
//!     enabled: true
//! ```
//!
//! # Return values
//!
//! - `name` (str): the unit's name.
//! - `state` (str): the state asked for (`started` for `restarted`/`reloaded`).
//! - `enabled` (bool): whether the unit is enabled, when `enabled` was given.
//! - `status` (dict): the unit's properties from `systemctl show`.

use crate::args::{ArgsError, de};
use crate::host::{Exec, Host};
use crate::module::{Context, ModuleError, TypedModule};
use crate::outcome::Outcome;
use crate::service::{Init, Probed, State, probe, state_action, systemctl_cmd};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

/// Arguments of `systemd`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The unit's name (`nginx`, `nginx.service`, `backup.timer`).
    #[serde(
        default,
        alias = "service",
        alias = "unit",
        deserialize_with = "de::opt_string"
    )]
    pub name: Option<String>,
    /// `started`, `stopped`, `restarted` or `reloaded`.
    #[serde(default)]
    pub state: Option<State>,
    /// Start the unit at boot.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub enabled: Option<bool>,
    /// Run `systemctl daemon-reload` first.
    #[serde(default, alias = "daemon-reload", deserialize_with = "de::bool")]
    pub daemon_reload: bool,
    /// Not supported yet.
    #[serde(default, alias = "daemon-reexec", deserialize_with = "de::bool")]
    pub daemon_reexec: bool,
    /// Not supported yet.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub masked: Option<bool>,
    /// Pass `--force` to systemctl.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub force: Option<bool>,
    /// Only `system` is supported.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub scope: Option<String>,
    /// Pass `--no-block` to systemctl.
    #[serde(default, deserialize_with = "de::bool")]
    pub no_block: bool,
}

/// The `systemd` module.
pub struct Systemd;

/// The same module as `systemd_service`.
pub struct SystemdService;

fn validate(a: &Args) -> Result<(), ArgsError> {
    if a.state.is_none()
        && a.enabled.is_none()
        && a.masked.is_none()
        && !a.daemon_reload
        && !a.daemon_reexec
    {
        return Err(ArgsError::general(
            "one of the following is required: state, enabled, masked, daemon_reload, daemon_reexec",
        ));
    }
    if a.name.is_none() && (a.state.is_some() || a.enabled.is_some() || a.masked.is_some()) {
        return Err(ArgsError::general(
            "missing parameter(s) required by 'state': name",
        ));
    }
    if a.masked.is_some() {
        return Err(ArgsError::field(
            "masked",
            "systemd: masked is not supported yet",
        ));
    }
    if a.daemon_reexec {
        return Err(ArgsError::field(
            "daemon_reexec",
            "systemd: daemon_reexec is not supported yet",
        ));
    }
    if a.scope.as_deref().is_some_and(|s| s != "system") {
        return Err(ArgsError::field(
            "scope",
            "systemd: scope other than `system` is not supported yet",
        ));
    }
    if let Some(n) = &a.name
        && !crate::args::is_templated(n)
        && let Some(g) = ['*', '?', '['].iter().find(|g| n.contains(**g))
    {
        return Err(ArgsError::field(
            "name",
            format!(
                "This module does not currently support using glob patterns, found '{g}' in service name: {n}"
            ),
        ));
    }
    Ok(())
}

/// The systemctl command line with `--no-block`/`--force`.
fn systemctl_flags(a: &Args) -> String {
    let mut s = String::new();
    if a.no_block {
        s.push_str(" --no-block");
    }
    if a.force == Some(true) {
        s.push_str(" --force");
    }
    s
}

async fn run(a: &Args, ctx: &Context, host: &dyn Host) -> Result<Outcome, ModuleError> {
    let name = a.name.clone().unwrap_or_default();
    let st = Probed::parse(&host.exec(probe(&name, false)).await?)?;
    if st.init != Init::Systemd {
        return Err(ModuleError::failed(
            "systemd: systemd is not running on the target (no /run/systemd/system); use the service module",
        ));
    }
    let (outcome, script) = plan(a, &st, ctx)?;
    let mut script = script;
    if a.daemon_reload && !ctx.check_mode {
        script = format!(
            "err=$(systemctl daemon-reload 2>&1) || {{ rc=$?; printf 'tend: failure %s during daemon-reload: %s\\n' \"$rc\" \"$err\" | tr '\\n' ' ' >&2; echo >&2; exit 1; }}\n{script}"
        );
    }
    if !script.is_empty() && !ctx.check_mode {
        let flags = systemctl_flags(a);
        let script = script.replace("systemctl ", &format!("systemctl{flags} "));
        let out = host.exec(Exec::script(script).lingering()).await?;
        if out.status != 0 {
            return Err(ModuleError::applying("systemd: the change failed", &out));
        }
    }
    Ok(outcome)
}

fn plan(a: &Args, st: &Probed, _ctx: &Context) -> Result<(Outcome, String), ModuleError> {
    let mut out = Outcome::ok();
    out.values.insert(
        "name".into(),
        a.name.clone().map_or(Value::Null, Value::from),
    );
    out.values.insert("status".into(), st.status());
    let Some(name) = a.name.as_deref() else {
        return Ok((out, String::new()));
    };
    let found = st.is_unit() || st.initd;
    let missing =
        || ModuleError::failed(format!("Could not find the requested service {name}: host"));
    if st.is_unit()
        && st.prop("LoadState") != Some("masked")
        && let Some(err) = st
            .prop("LoadError")
            .filter(|e| !e.is_empty() && !e.starts_with("org.freedesktop.systemd1.NoSuchUnit"))
    {
        return Err(ModuleError::failed(format!(
            "Error loading unit file '{name}': {err}"
        )));
    }
    let mut script = String::new();
    if let Some(want) = a.enabled {
        if !found {
            return Err(missing());
        }
        let enabled = st.systemd_enabled();
        if enabled != want {
            out.changed = true;
            script.push_str(&systemctl_cmd(
                name,
                if want { "enable" } else { "disable" },
            ));
        }
        out.values.insert("enabled".into(), Value::from(want));
    }
    if let Some(state) = a.state {
        if !found {
            return Err(missing());
        }
        let Some(active) = st.prop("ActiveState") else {
            return Err(ModuleError::Failed {
                msg: "Service is in unknown state".into(),
                values: [("status".to_string(), out.values["status"].clone())]
                    .into_iter()
                    .collect(),
            });
        };
        let running = matches!(active, "active" | "activating");
        if let Some(action) = state_action(state, running, active == "deactivating") {
            out.changed = true;
            script.push_str(&systemctl_cmd(name, action));
        }
        let shown = match state {
            State::Stopped => "stopped",
            State::Started => "started",
            _ => "started",
        };
        out.values.insert("state".into(), Value::from(shown));
    }
    Ok((out, script))
}

#[async_trait]
impl TypedModule for Systemd {
    type Args = Args;
    const NAME: &'static str = "systemd";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        validate(a)
    }

    async fn run(
        &self,
        args: Args,
        ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError> {
        run(&args, ctx, host).await
    }
}

#[async_trait]
impl TypedModule for SystemdService {
    type Args = Args;
    const NAME: &'static str = "systemd_service";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        validate(a)
    }

    async fn run(
        &self,
        args: Args,
        ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError> {
        run(&args, ctx, host).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;
    use crate::host::{Replay, out};
    use crate::module::Module;
    use serde_json::json;

    const INACTIVE: &str = "INIT|systemd\nSHOWOK|1\nSHOW|Id=tendd.service\nSHOW|LoadState=loaded\nSHOW|ActiveState=inactive\nENABLED|1|disabled\n";
    const ACTIVE: &str = "INIT|systemd\nSHOWOK|1\nSHOW|Id=tendd.service\nSHOW|LoadState=loaded\nSHOW|ActiveState=active\nENABLED|0|enabled\n";

    #[tokio::test]
    async fn starts_enables_and_reloads_the_daemon() {
        let host = Replay::outputs(vec![out(0, INACTIVE), out(0, "")]);
        let o = Module::run(
            &Systemd,
            &json!({"name": "tendd", "state": "started", "enabled": true, "daemon_reload": true}),
            &Context::default(),
            &host,
        )
        .await
        .unwrap();
        assert!(o.changed);
        assert_eq!(o.values["status"]["ActiveState"], json!("inactive"));
        assert_eq!(o.values["state"], json!("started"));
        assert_eq!(o.values["enabled"], json!(true));
        let s = &host.scripts()[1];
        let reload = s.find("systemctl daemon-reload").unwrap();
        let enable = s.find("systemctl enable tendd").unwrap();
        let start = s.find("systemctl start tendd").unwrap();
        assert!(reload < enable && enable < start, "{s}");
    }

    #[tokio::test]
    async fn unchanged_is_one_round_trip() {
        let host = Replay::outputs(vec![out(0, ACTIVE)]);
        let o = Module::run(
            &SystemdService,
            &json!({"name": "tendd", "state": "started", "enabled": true}),
            &Context::default(),
            &host,
        )
        .await
        .unwrap();
        assert!(!o.changed);
        assert_eq!(host.scripts().len(), 1);
    }

    #[tokio::test]
    async fn fails_without_systemd() {
        let host = Replay::outputs(vec![out(0, "INIT|sysv\nINITD|1\nSTATUS|0\n")]);
        let err = Module::run(
            &Systemd,
            &json!({"name": "tendd", "state": "started"}),
            &Context::default(),
            &host,
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("systemd is not running on the target")
        );
    }

    #[test]
    fn arguments() {
        let parse = |v: Value| validate(&args::parse::<Args>(&v).unwrap());
        assert!(parse(json!({"daemon_reload": true})).is_ok());
        assert_eq!(
            parse(json!({"name": "a*", "state": "started"}))
                .unwrap_err()
                .message,
            "This module does not currently support using glob patterns, found '*' in service name: a*"
        );
        assert!(
            parse(json!({"name": "x", "masked": true}))
                .unwrap_err()
                .message
                .contains("not supported yet")
        );
    }
}
