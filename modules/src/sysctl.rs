//! The `sysctl` module: manage a kernel parameter in a sysctl file and, optionally, in the running kernel.
//!
//! As Ansible's (`ansible.posix.sysctl`): the entry `NAME=VALUE` is set (or
//! removed) in `sysctl_file`, which is rewritten with every `key=value` line
//! normalized (no blanks around `=`, later duplicates of a key dropped).
//! Boolean-looking values become `1`/`0`. With `sysctl_set`, the running
//! value (`sysctl -e -n NAME`) is compared too and set with `sysctl -w`.
//! With `reload` (the default), a change runs `sysctl -p FILE`; the file
//! being right while the running value differs also counts as a change that
//! reloads. Values are compared word by word (tabs and spaces alike).
//!
//! Containers often cannot change kernel values (a read-only `/proc/sys`):
//! when the kernel refuses a value, the task fails with sysctl's message and
//! says how to manage only the file (`sysctl_set: false`, `reload: false`).
//! Values of a network namespace (`net.ipv4.ip_forward`...) belong to that
//! namespace; most others (`vm.*`, `kernel.*`) are global to the kernel, so
//! on tend's test lab (root in namespaces of the test machine) they would
//! change the test machine itself: its tests set only `net.*` values and
//! manage other keys in the file alone. `ignoreerrors` passes `-e` (unknown
//! keys are ignored). Everything runs in one script after the probe.
//!
//! # Examples
//!
//! ```yaml
//! - name: Forward IPv4 packets, now and at boot
//!   sysctl:
//!     name: net.ipv4.ip_forward
//!     value: "1"
//!     sysctl_set: true
//!
//! - name: Only record vm.swappiness for the next boot
//!   sysctl:
//!     name: vm.swappiness
//!     value: "10"
//!     sysctl_file: /etc/sysctl.d/60-swap.conf
//!     reload: false
//!
//! - name: Drop an old entry
//!   sysctl:
//!     name: kernel.panic
//!     state: absent
//! ```
//!
//! # Return values
//!
//! - `diff` (dict): with `--diff`, the sysctl file's content before and after (Ansible's module returns only `changed`).

use crate::args::{ArgsError, de, is_templated};
use crate::fileops::{self, Fetch, ModeSpec, Probe, StatOpts, WantAttrs};
use crate::host::{Exec, ExecOutput, Host};
use crate::lineinfile::{Edit, FileState, State, WRITE_FAILED, plan_edit};
use crate::module::{Context, Converge, MSG_PREFIX, ModuleError, Plan, TypedModule, converge};
use crate::outcome::{Action, Outcome};
use crate::sh::quote;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

fn yes() -> bool {
    true
}

fn present() -> State {
    State::Present
}

fn default_file() -> String {
    "/etc/sysctl.conf".into()
}

/// Arguments of `sysctl`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The dot-separated key (`net.ipv4.ip_forward`).
    #[serde(alias = "key", deserialize_with = "de::string")]
    pub name: String,
    /// The wanted value (required with `state=present`); booleans become `1`/`0`.
    #[serde(default, alias = "val", deserialize_with = "de::opt_string")]
    pub value: Option<String>,
    /// Whether the entry should be in the file (default `present`).
    #[serde(default = "present")]
    pub state: State,
    /// Pass `-e` to sysctl: ignore unknown keys.
    #[serde(default, deserialize_with = "de::bool")]
    pub ignoreerrors: bool,
    /// Run `sysctl -p FILE` after a change (default true).
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub reload: bool,
    /// The file holding the entry (default `/etc/sysctl.conf`).
    #[serde(default = "default_file", deserialize_with = "de::string")]
    pub sysctl_file: String,
    /// Also check the running value and set it with `sysctl -w`.
    #[serde(default, deserialize_with = "de::bool")]
    pub sysctl_set: bool,
    /// The file's permissions: octal or symbolic.
    #[serde(default)]
    pub mode: Option<ModeSpec>,
    /// The file's owner.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub owner: Option<String>,
    /// The file's group.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub group: Option<String>,
    /// Accepted for compatibility; the write is always atomic.
    #[serde(default, deserialize_with = "de::bool")]
    pub unsafe_writes: bool,
    /// Not supported yet.
    #[serde(default)]
    pub attributes: Option<Value>,
    /// Not supported yet.
    #[serde(default)]
    pub seuser: Option<Value>,
    /// Not supported yet.
    #[serde(default)]
    pub serole: Option<Value>,
    /// Not supported yet.
    #[serde(default)]
    pub setype: Option<Value>,
    /// Not supported yet.
    #[serde(default)]
    pub selevel: Option<Value>,
}

/// The `sysctl` module.
pub struct Sysctl;

/// Ansible's `_parse_value`: booleans as `1`/`0`, other values stripped.
pub fn parse_value(v: Option<&str>) -> String {
    let Some(v) = v else {
        return String::new();
    };
    match v.to_ascii_lowercase().as_str() {
        "y" | "yes" | "on" | "1" | "true" | "t" | "1.0" => "1".into(),
        "n" | "no" | "off" | "0" | "false" | "f" | "0.0" => "0".into(),
        _ => v.trim().to_string(),
    }
}

/// Values equal word by word (`"4096\t87380"` is `"4096 87380"`).
pub fn values_equal(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

fn is_entry(line: &str) -> bool {
    !(line.is_empty() || line.starts_with('#') || line.starts_with(';') || !line.contains('='))
}

fn split_entry(line: &str) -> (String, String) {
    let (k, v) = line.split_once('=').unwrap_or((line, ""));
    (k.trim().to_string(), v.trim().to_string())
}

/// The file's value for `name` (its last entry), and the rewritten file.
pub fn fix_file(content: &str, name: &str, value: Option<&str>) -> (Option<String>, String) {
    let lines: Vec<&str> = content.lines().map(str::trim).collect();
    let mut current = None;
    let mut seen: Vec<String> = Vec::new();
    let mut out = String::new();
    for line in &lines {
        if !is_entry(line) {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let (k, v) = split_entry(line);
        if k == name {
            current = Some(v.clone());
        }
        if seen.contains(&k) {
            continue;
        }
        if k == name {
            if let Some(val) = value {
                out.push_str(&format!("{k}={val}\n"));
            }
        } else {
            out.push_str(&format!("{k}={v}\n"));
        }
        seen.push(k);
    }
    if let Some(val) = value
        && !seen.iter().any(|k| k == name)
    {
        out.push_str(&format!("{name}={val}\n"));
    }
    (current, out)
}

/// What the probe found.
#[derive(Debug, Clone)]
pub struct Found {
    /// The sysctl file.
    pub file: FileState,
    /// The running value (`None` when `sysctl -e -n` failed).
    pub running: Option<String>,
    /// The target has a `sysctl` command.
    pub has_sysctl: bool,
}

const REFUSED_HINT: &str = " (the kernel refused the value; to manage only the file, set sysctl_set: false and reload: false)";

/// The sh lines that run `sysctl ARGS` and fail with `what: output`
/// (sysctl may exit 0 and still report a refused value).
fn sysctl_step(args: &str, what: &str) -> String {
    format!(
        "out=$(sysctl {args} 2>&1); rc=$?\n\
         if [ $rc -ne 0 ] || printf '%s\\n' \"$out\" | grep -Eq '^sysctl: setting key \"[^\"]+\": (Invalid argument|Read-only file system)$'; then\n\
         case $out in *'Read-only file system'*|*'ermission denied'*|*'Invalid argument'*) hint={hint} ;; *) hint= ;; esac\n\
         printf '%s\\n' \"{MSG_PREFIX}\"{what}\"$out$hint\" | tr '\\n' ' ' >&2; echo >&2; exit 1; fi\n",
        hint = quote(REFUSED_HINT),
        what = quote(what),
    )
}

impl Args {
    fn wanted(&self) -> String {
        parse_value(self.value.as_deref())
    }
}

#[async_trait]
impl TypedModule for Sysctl {
    type Args = Args;
    const NAME: &'static str = "sysctl";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        fileops::reject_unsupported(
            "sysctl",
            [&a.attributes, &a.selevel, &a.serole, &a.setype, &a.seuser],
        )?;
        fileops::reject_preserve(&a.mode)?;
        if a.name.trim().is_empty() {
            return Err(ArgsError::field("name", "name cannot be blank"));
        }
        if a.state == State::Present {
            match a.value.as_deref() {
                None => {
                    return Err(ArgsError::general(
                        "state is present but all of the following are missing: value",
                    ));
                }
                Some(v) if v.trim().is_empty() && !is_templated(v) => {
                    return Err(ArgsError::field("value", "value cannot be blank"));
                }
                _ => {}
            }
        }
        Ok(())
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

impl Converge for Sysctl {
    type Args = Args;
    type State = Found;
    const APPLY_FAILED: &'static str = WRITE_FAILED;

    fn probe(&self, a: &Args, _ctx: &Context) -> Exec {
        let opts = StatOpts {
            follow: true,
            fetch: Fetch::Whole,
            ..StatOpts::default()
        };
        Probe::new()
            .path("file", &a.sysctl_file, &opts)
            .ids(a.owner.as_deref(), a.group.as_deref())
            .raw(&format!(
                "printf '@sysctl\\0'\n\
                 if command -v sysctl >/dev/null 2>&1; then\n\
                 _v=$(sysctl -e -n {} 2>/dev/null) && printf 'value=%s\\0' \"$_v\"\n\
                 else printf 'missing=1\\0'; fi",
                quote(a.name.trim())
            ))
            .finish()
    }

    fn parse(&self, _a: &Args, out: &ExecOutput) -> Result<Found, ModuleError> {
        let file = FileState::parse(out)?;
        let rec = file.probe.record("sysctl")?;
        Ok(Found {
            running: rec.get("value"),
            has_sysctl: rec.get("missing").is_none(),
            file,
        })
    }

    fn plan(&self, a: &Args, st: &Found, ctx: &Context) -> Result<Plan, ModuleError> {
        if !st.has_sysctl {
            return Err(ModuleError::failed(
                "Failed to find required executable \"sysctl\" on the target (install procps)",
            ));
        }
        let name = a.name.trim();
        let path = a.sysctl_file.as_str();
        let present = a.state == State::Present;
        let value = a.wanted();
        let exists = st.file.editable(path)?;
        let content = String::from_utf8_lossy(st.file.content()).into_owned();
        let (file_value, fixed) = fix_file(
            if exists { &content } else { "" },
            name,
            present.then_some(value.as_str()),
        );
        let mut changed = false;
        let mut write_file = false;
        let mut set_proc = false;
        match (&file_value, present) {
            (None, true) => (changed, write_file) = (true, true),
            (None, false) => {}
            (Some(v), false) if !v.is_empty() => (changed, write_file) = (true, true),
            (Some(v), _) if *v != value => (changed, write_file) = (true, true),
            _ if a.reload
                && !st
                    .running
                    .as_deref()
                    .is_some_and(|r| values_equal(r, &value)) =>
            {
                changed = true;
            }
            _ => {}
        }
        if a.sysctl_set && present {
            match &st.running {
                None => changed = true,
                Some(r) if !values_equal(r, &value) => (changed, set_proc) = (true, true),
                _ => {}
            }
        }
        let e = if a.ignoreerrors { "-e " } else { "" };
        let mut plan = if !exists && !write_file {
            Plan::noop()
        } else {
            plan_edit(
                &st.file,
                Edit {
                    path,
                    after: if write_file {
                        fixed.into_bytes()
                    } else {
                        st.file.content().to_vec()
                    },
                    msg: if write_file {
                        "x".into()
                    } else {
                        String::new()
                    },
                    want: WantAttrs {
                        mode: a.mode.clone(),
                        owner: a.owner.clone(),
                        group: a.group.clone(),
                    },
                    backup: false,
                    validate: None,
                    header: path.to_string(),
                    attr_diff: true,
                    diff_list: false,
                    ctx,
                },
            )?
        };
        plan.msg = None;
        let attrs_changed = plan.action.changes();
        let mut pre = String::new();
        if set_proc {
            pre.push_str(&sysctl_step(
                &format!("{e}-w {}", quote(&format!("{name}={value}"))),
                &format!("setting {name} failed: "),
            ));
        }
        let mut post = String::new();
        if (changed || attrs_changed) && a.reload {
            post.push_str(&sysctl_step(
                &format!("{e}-p {}", quote(path)),
                "Failed to reload sysctl: ",
            ));
        }
        let mut apply = plan.apply.pop().unwrap_or_default();
        apply.script = format!("{pre}{}{post}", apply.script);
        if !apply.script.is_empty() {
            plan.apply = vec![apply];
        }
        if plan.action == Action::NoOp && (changed || !plan.apply.is_empty()) {
            plan.action = Action::Update;
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;
    use serde_json::json;

    fn a(v: Value) -> Args {
        let a: Args = args::parse(&v).unwrap();
        Sysctl::validate(&a).unwrap();
        a
    }

    fn probed(content: Option<&str>, running: Option<&str>) -> ExecOutput {
        let mut s = b"@env\0umask=0022\0id=uid=0(root) gid=0(root)\0@file\0path=/etc/sysctl.conf\0"
            .to_vec();
        match content {
            Some(c) => s.extend(
                format!(
                    "stat=81a4 0 0 {} 1 7 8 1 2 3 8 4096 0 0 root root\0content={}\0{c}\0",
                    c.len(),
                    c.len()
                )
                .bytes(),
            ),
            None => s.extend(b"type=absent\0"),
        }
        s.extend(b"@sysctl\0");
        if let Some(r) = running {
            s.extend(format!("value={r}\0").bytes());
        }
        ExecOutput {
            status: 0,
            stdout: s,
            stderr: vec![],
        }
    }

    fn plan(args: &Args, content: Option<&str>, running: Option<&str>) -> Plan {
        let found = Sysctl.parse(args, &probed(content, running)).unwrap();
        Sysctl.plan(args, &found, &Context::default()).unwrap()
    }

    #[test]
    fn the_file_is_normalized_and_the_entry_set_once() {
        let (cur, out) = fix_file("# c\n vm.a = 1\nnet.x=0\nvm.a=2\n\n", "net.x", Some("1"));
        assert_eq!(cur.as_deref(), Some("0"));
        assert_eq!(out, "# c\nvm.a=1\nnet.x=1\n\n");
        let (_, out) = fix_file("a=1\nb=2\n", "a", None);
        assert_eq!(out, "b=2\n");
        let (cur, out) = fix_file("", "a", Some("1"));
        assert_eq!((cur, out.as_str()), (None, "a=1\n"));
        assert_eq!(parse_value(Some("yes")), "1");
        assert_eq!(parse_value(Some(" 4096 8 ")), "4096 8");
        assert!(values_equal("4096\t87380\n", "4096 87380"));
    }

    #[test]
    fn writes_the_file_and_reloads_in_one_script() {
        let args = a(json!({"name": "net.ipv4.ip_forward", "value": true, "sysctl_set": true}));
        let p = plan(&args, Some("# x\n"), Some("0"));
        assert_eq!(p.action, Action::Update);
        assert_eq!(p.diff[0].after, "# x\nnet.ipv4.ip_forward=1\n");
        assert_eq!(p.apply.len(), 1);
        let s = &p.apply[0].script;
        let set = s.find("sysctl -w net.ipv4.ip_forward=1").unwrap();
        let write = s.find("mktemp").unwrap();
        let reload = s.find("sysctl -p /etc/sysctl.conf").unwrap();
        assert!(set < write && write < reload, "{s}");
        assert_eq!(p.apply[0].stdin, b"# x\nnet.ipv4.ip_forward=1\n");
        // Converged: file and kernel agree.
        let p = plan(&args, Some("net.ipv4.ip_forward=1\n"), Some("1"));
        assert_eq!(p.action, Action::NoOp);
        assert!(p.apply.is_empty());
    }

    #[test]
    fn file_only_never_touches_the_kernel() {
        let args = a(json!({"key": "kernel.panic", "val": "3", "reload": false}));
        let p = plan(&args, None, Some("0"));
        assert_eq!(p.action, Action::Create);
        assert!(
            !p.apply[0].script.contains("sysctl "),
            "{}",
            p.apply[0].script
        );
        let p = plan(&args, Some("kernel.panic=3\n"), Some("0"));
        assert_eq!(p.action, Action::NoOp);
    }

    #[test]
    fn a_right_file_with_a_wrong_kernel_value_reloads() {
        let args = a(json!({"name": "kernel.panic", "value": "3"}));
        let p = plan(&args, Some("kernel.panic = 3\n"), Some("0"));
        assert_eq!(p.action, Action::Update);
        assert!(p.diff.is_empty());
        assert!(
            p.apply[0]
                .script
                .starts_with("out=$(sysctl -p /etc/sysctl.conf")
        );
        assert!(
            p.apply[0]
                .script
                .contains("set sysctl_set: false and reload: false")
        );
        let ignore = a(json!({"name": "kernel.panic", "value": "3", "ignoreerrors": true}));
        let p = plan(&ignore, Some("kernel.panic = 3\n"), Some("0"));
        assert!(p.apply[0].script.contains("sysctl -e -p"));
    }

    #[test]
    fn absent_removes_the_entry() {
        let args = a(json!({"name": "kernel.panic", "state": "absent", "reload": false}));
        let p = plan(&args, Some("kernel.panic=3\nvm.x=1\n"), None);
        assert_eq!(p.diff[0].after, "vm.x=1\n");
        let p = plan(&args, Some("vm.x=1\n"), None);
        assert_eq!(p.action, Action::NoOp);
    }

    #[test]
    fn argument_rules() {
        let err = |v: Value| {
            let a: Args = args::parse(&v).unwrap();
            Sysctl::validate(&a).unwrap_err().message
        };
        assert!(err(json!({"name": "a"})).contains("missing: value"));
        assert_eq!(
            err(json!({"name": " ", "value": "1"})),
            "name cannot be blank"
        );
        assert!(
            err(json!({"name": "a", "value": "1", "seuser": "x"})).contains("not supported yet")
        );
        let missing = ExecOutput {
            status: 0,
            stdout: b"@env\0umask=0022\0@file\0path=/f\0type=absent\0@sysctl\0missing=1\0".to_vec(),
            stderr: vec![],
        };
        let args = a(json!({"name": "a", "value": "1"}));
        let found = Sysctl.parse(&args, &missing).unwrap();
        let e = Sysctl.plan(&args, &found, &Context::default()).unwrap_err();
        assert!(e.to_string().contains("\"sysctl\""));
    }
}
