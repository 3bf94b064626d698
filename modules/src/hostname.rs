//! The `hostname` module: set the host's name, for now and for the next boot.
//!
//! The strategy follows `use`, or is detected: when systemd runs
//! (`/run/systemd/system` exists) and `hostnamectl` is installed, the static
//! and pretty names are set with `hostnamectl --pretty --static
//! set-hostname` and the running one with `hostnamectl --transient
//! set-hostname` (`use: systemd`, and `use: debian`, which Ansible also maps
//! to systemd). Otherwise (the `file` strategy, and `use: alpine`)
//! `/etc/hostname` gets `NAME` and a newline (written in place, as it is often
//! a bind mount) and the running name is set with `hostname NAME` (alpine:
//! `hostname -F /etc/hostname`). The task changes something when either the
//! running or the permanent name differs; unlike Ansible's Debian strategy,
//! which only writes `/etc/hostname`, the running name is set too. Other
//! `use` values are not supported yet. `/etc/hosts` is not modified.
//!
//! # Examples
//!
//! ```yaml
//! - name: Name the host after its inventory entry
//!   hostname:
//!     name: "{{ inventory_hostname }}"
//!
//! - name: Force hostnamectl
//!   hostname:
//!     name: web01.example.com
//!     use: systemd
//! ```
//!
//! # Return values
//!
//! - `name` (str): the name that was set.
//! - `ansible_facts` (dict): `ansible_hostname` (the first label), `ansible_nodename`, `ansible_fqdn` (from the target's `getent hosts`), `ansible_domain`.

use crate::args::{ArgsError, de};
use crate::choice;
use crate::host::{Exec, ExecOutput, Host};
use crate::module::{Context, Converge, MSG_PREFIX, ModuleError, Plan, TypedModule, converge};
use crate::outcome::{Action, Diff, Outcome};
use crate::sh::quote;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

choice! {
    /// `use` of `hostname`: how the name is set.
    pub enum Use {
        /// `/etc/hostname` and `hostname -F`.
        Alpine = ["alpine"],
        /// hostnamectl (as Ansible maps it).
        Debian = ["debian"],
        /// Not supported yet.
        Freebsd = ["freebsd"],
        /// Not supported yet.
        Generic = ["generic"],
        /// Not supported yet.
        Macos = ["macos"],
        /// Not supported yet.
        Macosx = ["macosx"],
        /// Not supported yet.
        Darwin = ["darwin"],
        /// Not supported yet.
        Openbsd = ["openbsd"],
        /// Not supported yet.
        Openrc = ["openrc"],
        /// Not supported yet.
        Redhat = ["redhat"],
        /// Not supported yet.
        Sles = ["sles"],
        /// Not supported yet.
        Solaris = ["solaris"],
        /// hostnamectl.
        Systemd = ["systemd"],
    }
}

/// Arguments of `hostname`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The host's new name.
    #[serde(deserialize_with = "de::string")]
    pub name: String,
    /// The strategy: `systemd`/`debian` (hostnamectl) or `alpine`; detected when unset.
    #[serde(default, rename = "use")]
    pub use_: Option<Use>,
}

/// The `hostname` module.
pub struct Hostname;

/// How the name is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// hostnamectl.
    Systemd,
    /// `/etc/hostname` + `hostname NAME`.
    File,
    /// `/etc/hostname` + `hostname -F /etc/hostname`.
    Alpine,
}

/// What the probe found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// systemd runs and hostnamectl is installed.
    pub systemd: bool,
    /// hostnamectl is installed.
    pub hostnamectl: bool,
    /// The running name (`hostname`).
    pub current: String,
    /// `/etc/hostname`, stripped (empty when missing).
    pub file: String,
    /// `hostnamectl --static`.
    pub static_name: Option<String>,
    /// `hostnamectl --transient`.
    pub transient: Option<String>,
    /// `getent hosts NAME`'s first line.
    pub hosts: String,
}

fn field(text: &str, key: &str) -> Option<String> {
    text.split('\0')
        .find_map(|f| f.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .map(str::to_string)
}

/// Python's `socket.getfqdn()` from a `getent hosts` line: the first name
/// with a dot, else the canonical name, else `name`.
pub fn fqdn(hosts_line: &str, name: &str) -> String {
    let names: Vec<&str> = hosts_line.split_whitespace().skip(1).collect();
    names
        .iter()
        .find(|n| n.contains('.'))
        .or(names.first())
        .map_or_else(|| name.to_string(), |n| n.to_string())
}

#[async_trait]
impl TypedModule for Hostname {
    type Args = Args;
    const NAME: &'static str = "hostname";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        match a.use_ {
            None | Some(Use::Systemd | Use::Debian | Use::Alpine) => Ok(()),
            Some(u) => Err(ArgsError::field(
                "use",
                format!(
                    "hostname: use={} is not supported yet (supported: systemd, debian, alpine, or unset to detect)",
                    u.as_str()
                ),
            )),
        }
    }

    async fn run(
        &self,
        args: Args,
        ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError> {
        converge(self, &args, ctx, host).await
    }
}

impl Converge for Hostname {
    type Args = Args;
    type State = Found;

    fn probe(&self, a: &Args, _ctx: &Context) -> Exec {
        Exec::script(format!(
            "LC_ALL=C; export LC_ALL\n\
             if command -v hostnamectl >/dev/null 2>&1; then printf 'hostnamectl=1\\0'\n\
               if [ -d /run/systemd/system ]; then printf 'systemd=1\\0'\n\
                 _s=$(hostnamectl --static 2>/dev/null) && printf 'static=%s\\0' \"$_s\"\n\
                 _t=$(hostnamectl --transient 2>/dev/null) && printf 'transient=%s\\0' \"$_t\"\n\
               fi\n\
             fi\n\
             _c=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname 2>/dev/null || uname -n)\n\
             printf 'current=%s\\0' \"$_c\"\n\
             [ -f /etc/hostname ] && printf 'file=%s\\0' \"$(cat /etc/hostname)\"\n\
             printf 'hosts=%s\\0' \"$(getent hosts {} 2>/dev/null | head -n 1)\"\n\
             exit 0\n",
            quote(&a.name)
        ))
    }

    fn parse(&self, _a: &Args, out: &ExecOutput) -> Result<Found, ModuleError> {
        if out.status != 0 {
            return Err(ModuleError::script("reading the hostname failed", out));
        }
        let t = out.stdout_text();
        Ok(Found {
            systemd: field(&t, "systemd").is_some(),
            hostnamectl: field(&t, "hostnamectl").is_some(),
            current: field(&t, "current").unwrap_or_default().trim().to_string(),
            file: field(&t, "file").unwrap_or_default().trim().to_string(),
            static_name: field(&t, "static").map(|s| s.trim().to_string()),
            transient: field(&t, "transient").map(|s| s.trim().to_string()),
            hosts: field(&t, "hosts").unwrap_or_default(),
        })
    }

    fn plan(&self, a: &Args, st: &Found, ctx: &Context) -> Result<Plan, ModuleError> {
        let name = a.name.as_str();
        let strategy = match a.use_ {
            Some(Use::Alpine) => Strategy::Alpine,
            Some(_) => Strategy::Systemd,
            None if st.systemd => Strategy::Systemd,
            None => Strategy::File,
        };
        let q = quote(name);
        let fail = |what: &str| {
            format!(
                "{{ echo {} >&2; exit 1; }}",
                quote(&format!("{MSG_PREFIX}{what}"))
            )
        };
        let (current, permanent, mut script) = match strategy {
            Strategy::Systemd => {
                if !st.hostnamectl {
                    return Err(ModuleError::failed(
                        "Failed to find required executable \"hostnamectl\" on the target",
                    ));
                }
                if name.len() > 64 {
                    return Err(ModuleError::failed(
                        "name cannot be longer than 64 characters on systemd servers, try a shorter name",
                    ));
                }
                let current = st.transient.clone().unwrap_or_else(|| st.current.clone());
                let permanent = st.static_name.clone().unwrap_or_default();
                let mut s = String::new();
                if permanent != name {
                    s.push_str(&format!(
                        "hostnamectl --pretty --static set-hostname {q} || {}\n",
                        fail("setting the static hostname with hostnamectl failed")
                    ));
                }
                if current != name {
                    s.push_str(&format!(
                        "hostnamectl --transient set-hostname {q} || {}\n",
                        fail("setting the transient hostname with hostnamectl failed")
                    ));
                }
                (current, permanent, s)
            }
            Strategy::File | Strategy::Alpine => {
                let mut s = String::new();
                if st.file != name {
                    s.push_str(&format!(
                        "printf '%s\\n' {q} > /etc/hostname || {}\n",
                        fail("failed to update hostname: cannot write /etc/hostname")
                    ));
                }
                if st.current != name || (strategy == Strategy::Alpine && st.file != name) {
                    let cmd = if strategy == Strategy::Alpine {
                        "hostname -F /etc/hostname".to_string()
                    } else {
                        format!("hostname {q}")
                    };
                    s.push_str(&format!(
                        "{cmd} || {}\n",
                        fail(&format!("setting the running hostname failed ({cmd})"))
                    ));
                }
                (st.current.clone(), st.file.clone(), s)
            }
        };
        let fq = fqdn(&st.hosts, name);
        let domain = fq.split_once('.').map(|(_, d)| d).unwrap_or_default();
        let facts = json!({
            "ansible_hostname": name.split('.').next().unwrap_or_default(),
            "ansible_nodename": name,
            "ansible_fqdn": fq,
            "ansible_domain": domain,
        });
        let mut plan = Plan::noop().with("name", name).with("ansible_facts", facts);
        if !script.is_empty() {
            script.insert_str(0, "LC_ALL=C; export LC_ALL\n");
            let before = if name != current { current } else { permanent };
            plan.action = Action::Update;
            plan.apply.push(Exec::script(script));
            let diff = Diff {
                before_header: None,
                after_header: None,
                before: format!("hostname = {before}\n"),
                after: format!("hostname = {name}\n"),
                prepared: None,
                dicts: None,
            };
            if !ctx.diff {
                // Ansible's module returns its diff with or without --diff.
                plan.values.insert("diff".into(), diff.to_value());
            }
            plan.diff.push(diff);
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;

    fn found(stdout: &str) -> Found {
        Hostname
            .parse(
                &a("x"),
                &ExecOutput {
                    status: 0,
                    stdout: stdout.as_bytes().to_vec(),
                    stderr: vec![],
                },
            )
            .unwrap()
    }

    fn a(name: &str) -> Args {
        args::parse(&json!({ "name": name })).unwrap()
    }

    #[test]
    fn file_strategy_writes_etc_hostname_and_sets_the_running_name() {
        let st = found("current=host1\0file=host1\n\0hosts=127.0.1.1     host1\0");
        assert_eq!(st.file, "host1");
        let p = Hostname.plan(&a("web1"), &st, &Context::default()).unwrap();
        assert_eq!(p.action, Action::Update);
        let s = &p.apply[0].script;
        assert!(s.contains("printf '%s\\n' web1 > /etc/hostname"), "{s}");
        assert!(s.contains("hostname web1 ||"), "{s}");
        assert_eq!(p.diff[0].before, "hostname = host1\n");
        assert_eq!(p.diff[0].after, "hostname = web1\n");
        assert_eq!(p.values["name"], "web1");
        assert_eq!(p.values["ansible_facts"]["ansible_hostname"], "web1");
        // Only the running name differs.
        let st = found("current=other\0file=web1\0hosts=\0");
        let p = Hostname.plan(&a("web1"), &st, &Context::default()).unwrap();
        assert!(!p.apply[0].script.contains("/etc/hostname"));
        let st = found("current=web1\0file=web1\0hosts=\0");
        let p = Hostname.plan(&a("web1"), &st, &Context::default()).unwrap();
        assert_eq!(p.action, Action::NoOp);
        assert!(p.diff.is_empty());
        assert!(!p.values.contains_key("diff"));
    }

    #[test]
    fn a_change_returns_its_diff_without_diff_mode_as_ansible() {
        let st = found("current=host1\0file=host1\n\0hosts=\0");
        let p = Hostname.plan(&a("web1"), &st, &Context::default()).unwrap();
        assert_eq!(
            p.values["diff"],
            json!({"before": "hostname = host1\n", "after": "hostname = web1\n"})
        );
        // With --diff the result's diff comes from the plan's (the same).
        let diff = Context {
            check_mode: false,
            diff: true,
        };
        let p = Hostname.plan(&a("web1"), &st, &diff).unwrap();
        assert!(!p.values.contains_key("diff"));
        assert_eq!(p.diff[0].to_value()["before"], "hostname = host1\n");
    }

    #[test]
    fn systemd_sets_static_then_transient() {
        let st = found(
            "hostnamectl=1\0systemd=1\0static=old\0transient=old\0current=old\0file=old\0hosts=10.0.0.1 web1.example.com web1\0",
        );
        let p = Hostname
            .plan(&a("web1.example.com"), &st, &Context::default())
            .unwrap();
        let s = &p.apply[0].script;
        let st_at = s
            .find("--pretty --static set-hostname web1.example.com")
            .unwrap();
        let tr_at = s.find("--transient set-hostname web1.example.com").unwrap();
        assert!(st_at < tr_at);
        let f = &p.values["ansible_facts"];
        assert_eq!(f["ansible_hostname"], "web1");
        assert_eq!(f["ansible_fqdn"], "web1.example.com");
        assert_eq!(f["ansible_domain"], "example.com");
        let long = "a".repeat(65);
        assert!(Hostname.plan(&a(&long), &st, &Context::default()).is_err());
        let no_ctl = found("current=a\0file=a\0hosts=\0");
        let forced: Args = args::parse(&json!({"name": "b", "use": "systemd"})).unwrap();
        let e = Hostname
            .plan(&forced, &no_ctl, &Context::default())
            .unwrap_err();
        assert!(e.to_string().contains("hostnamectl"));
    }

    #[test]
    fn alpine_and_unsupported_strategies() {
        let alp: Args = args::parse(&json!({"name": "b", "use": "alpine"})).unwrap();
        let st = found("current=a\0file=a\0hosts=\0");
        let p = Hostname.plan(&alp, &st, &Context::default()).unwrap();
        assert!(p.apply[0].script.contains("hostname -F /etc/hostname"));
        let red: Args = args::parse(&json!({"name": "b", "use": "redhat"})).unwrap();
        assert!(
            Hostname::validate(&red)
                .unwrap_err()
                .message
                .contains("not supported yet")
        );
        assert!(args::parse::<Args>(&json!({"name": "b", "use": "windows"})).is_err());
        assert_eq!(fqdn("", "x"), "x");
        assert_eq!(fqdn("127.0.1.1 host1", "host1"), "host1");
    }
}
