//! The `group` module: add, change the GID of, or remove a local group.
//!
//! As Ansible's module on Linux: the group is looked up by name (`getent
//! group`); a missing group is created with `groupadd` (`-g GID`, `-o` with
//! `non_unique`, `-r` for `system`, `-K GID_MIN=`/`GID_MAX=`), an existing one
//! whose GID differs from `gid` is changed with `groupmod -g`, and
//! `state: absent` removes it with `groupdel` (`-f` with `force`). `system`
//! only matters when the group is created. A failing tool's message is the
//! task's `msg`. With `--diff` the changed attributes are shown before and after.
//!
//! With `local: true` the group is looked up in the local `/etc/group` only
//! (not through the name service) and managed with libuser's `lgroupadd`,
//! `lgroupmod` and `lgroupdel`, which must be installed; a `gid` that another
//! group already has is refused before anything runs. `local` cannot be
//! combined with `force`, `gid_min` or `gid_max`.
//!
//! # Examples
//!
//! ```yaml
//! - name: A group for the web team
//!   group:
//!     name: webteam
//!     gid: 2200
//!
//! - name: A system group for a daemon
//!   group:
//!     name: exporter
//!     system: true
//!
//! - name: No more legacy group
//!   group:
//!     name: oldteam
//!     state: absent
//! ```
//!
//! # Return values
//!
//! - `name` (string): the group's name.
//! - `state` (string): `present` or `absent`, as asked.
//! - `gid` (integer): the group's GID, when the group exists afterwards.
//! - `system` (boolean): the `system` argument, when the group exists afterwards.

use crate::account::{self, Entry};
use crate::args::{ArgsError, de};
use crate::choice;
use crate::host::{Exec, ExecOutput, Host};
use crate::module::{Context, Converge, ModuleError, Plan, TypedModule, converge};
use crate::outcome::{Action, Diff, Outcome};
use crate::sh::quote;
use async_trait::async_trait;
use serde::Deserialize;

choice! {
    /// `state` of `group` and `user`.
    pub enum State {
        /// The account exists.
        Present = ["present"],
        /// The account does not exist.
        Absent = ["absent"],
    }
}

/// The default `state`.
pub fn present() -> State {
    State::Present
}

/// Arguments of `group`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The group's name.
    #[serde(deserialize_with = "de::string")]
    pub name: String,
    /// Whether the group should exist (`present`) or not (`absent`).
    #[serde(default = "present")]
    pub state: State,
    /// The GID the group should have.
    #[serde(default, deserialize_with = "de::opt_int")]
    pub gid: Option<i64>,
    /// Create it as a system group (a GID from the system range); only when created.
    #[serde(default, deserialize_with = "de::bool")]
    pub system: bool,
    /// Allow a `gid` another group already has (`-o`); needs `gid`.
    #[serde(default, deserialize_with = "de::bool")]
    pub non_unique: bool,
    /// Remove the group even when it is some user's primary group (`groupdel -f`).
    #[serde(default, deserialize_with = "de::bool")]
    pub force: bool,
    /// Lowest GID to pick from when creating (`-K GID_MIN=`).
    #[serde(default, deserialize_with = "de::opt_int")]
    pub gid_min: Option<i64>,
    /// Highest GID to pick from when creating (`-K GID_MAX=`).
    #[serde(default, deserialize_with = "de::opt_int")]
    pub gid_max: Option<i64>,
    /// Manage the group in the local `/etc/group` with libuser's
    /// `lgroupadd`/`lgroupmod`/`lgroupdel` (for hosts bound to a directory).
    #[serde(default, deserialize_with = "de::bool")]
    pub local: bool,
}

/// The `group` module.
pub struct Group;

#[async_trait]
impl TypedModule for Group {
    type Args = Args;
    const NAME: &'static str = "group";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        if a.local {
            if a.force {
                return Err(ArgsError::general(
                    "force is not a valid option for local, force=True and local=True are mutually exclusive",
                ));
            }
            for (name, v) in [("gid_min", a.gid_min), ("gid_max", a.gid_max)] {
                if v.is_some() {
                    return Err(ArgsError::field(
                        name,
                        format!("'{name}' can not be used with 'local'"),
                    ));
                }
            }
        }
        if a.non_unique && a.gid.is_none() {
            return Err(ArgsError::general(
                "non_unique is True but all of the following are missing: gid",
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
        converge(self, &args, ctx, host).await
    }
}

/// What the probe found: the group's `/etc/group` entry, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupState {
    /// `name:x:gid:members`.
    pub entry: Option<Entry>,
    /// With `local`: another group that already has the wanted `gid`.
    pub gid_owner: Option<String>,
}

fn report(a: &Args) -> String {
    let lookup = if a.local {
        // The local file only, its last line for the name (as Ansible reads it).
        "g=$(awk -F: -v n=\"$n\" '$1==n{l=$0}END{print l}' /etc/group 2>/dev/null)\n".to_string()
    } else {
        account::lookup("group", "\"$n\"", "g")
    };
    let mut s = format!(
        "LC_ALL=C; export LC_ALL\nn={}\n{lookup}printf 'group=%s\\n' \"$g\"\n",
        quote(&a.name),
    );
    if a.local
        && let Some(gid) = a.gid.filter(|g| *g != 0)
    {
        s.push_str(&format!(
            "printf 'gidowner=%s\\n' \"$(getent group 2>/dev/null | awk -F: -v n=\"$n\" '$3=={gid} && $1!=n{{print $1; exit}}')\"\n"
        ));
    }
    s
}

fn parse_report(text: &str) -> Option<Entry> {
    account::field(&account::fields(text), "group").and_then(Entry::parse)
}

impl Converge for Group {
    type Args = Args;
    type State = GroupState;

    fn probe(&self, a: &Args, _ctx: &Context) -> Exec {
        Exec::script(report(a))
    }

    fn parse(&self, _a: &Args, out: &ExecOutput) -> Result<GroupState, ModuleError> {
        if out.status != 0 {
            return Err(ModuleError::script(
                "reading the target's groups failed",
                out,
            ));
        }
        let text = out.stdout_text();
        Ok(GroupState {
            entry: parse_report(&text),
            gid_owner: account::field(&account::fields(&text), "gidowner")
                .filter(|o| !o.is_empty())
                .map(str::to_string),
        })
    }

    fn plan(&self, a: &Args, st: &GroupState, ctx: &Context) -> Result<Plan, ModuleError> {
        let cur_gid = st.entry.as_ref().and_then(|e| e.num(2));
        let tool = |name: &str| {
            if a.local {
                format!("l{name}")
            } else {
                name.to_string()
            }
        };
        let creates_or_sets_gid =
            a.state == State::Present && (st.entry.is_none() || gid_differs(a, cur_gid));
        if let (true, Some(owner), Some(gid)) = (creates_or_sets_gid, &st.gid_owner, a.gid) {
            return Err(ModuleError::failed(format!(
                "GID '{gid}' already exists with group '{owner}'"
            )));
        }
        let mut words: Vec<String> = Vec::new();
        let (action, before, after) = match (a.state, &st.entry) {
            (State::Absent, None) | (State::Present, Some(_)) if !gid_differs(a, cur_gid) => {
                (Action::NoOp, vec![], vec![])
            }
            (State::Absent, Some(_)) => {
                words.push(tool("groupdel"));
                if a.force {
                    words.push("-f".into());
                }
                (
                    Action::Delete,
                    vec![("state", "present".to_string())],
                    vec![("state", "absent".to_string())],
                )
            }
            (State::Present, None) => {
                words.push(tool("groupadd"));
                push_gid(&mut words, a);
                if a.system {
                    words.push("-r".into());
                }
                for (key, v) in [("GID_MIN", a.gid_min), ("GID_MAX", a.gid_max)] {
                    if let Some(v) = v {
                        words.extend(["-K".to_string(), format!("{key}={v}")]);
                    }
                }
                let mut after = vec![("state", "present".to_string())];
                if let Some(g) = a.gid {
                    after.push(("gid", g.to_string()));
                }
                (Action::Create, vec![("state", "absent".to_string())], after)
            }
            (State::Present, Some(_)) | (State::Absent, None) => {
                words.push(tool("groupmod"));
                push_gid(&mut words, a);
                let show = |g: Option<i64>| g.map(|g| g.to_string()).unwrap_or_default();
                (
                    Action::Update,
                    vec![("gid", show(cur_gid))],
                    vec![("gid", show(a.gid))],
                )
            }
        };
        let mut plan = if action == Action::NoOp {
            Plan::noop()
        } else {
            words.push(a.name.clone());
            let mut script = format!(
                "LC_ALL=C; export LC_ALL\n{}",
                account::step(&account::command(&words))
            );
            if a.state == State::Present {
                script.push_str(&report(a));
            }
            Plan::change(action, vec![Exec::script(script)])
                .with_diff(Diff::attributes(&a.name, &before, &after))
        };
        plan = plan
            .with("name", a.name.as_str())
            .with("state", a.state.as_str());
        if a.state == State::Present {
            plan = plan.with("system", a.system);
            if let Some(g) = a.gid.or(cur_gid) {
                plan = plan.with("gid", g);
            }
        }
        account::check_mode_exit(&mut plan, ctx.check_mode);
        Ok(plan)
    }

    fn applied(&self, a: &Args, out: &ExecOutput, plan: &mut Plan) -> Result<(), ModuleError> {
        account::applied(out, &a.name, false, &mut plan.values)?;
        if a.state == State::Present
            && let Some(gid) = parse_report(&out.stdout_text()).and_then(|e| e.num(2))
        {
            plan.values.insert("gid".into(), gid.into());
        }
        Ok(())
    }
}

fn gid_differs(a: &Args, cur: Option<i64>) -> bool {
    a.state == State::Present && cur.is_some() && a.gid.is_some_and(|g| Some(g) != cur)
}

fn push_gid(words: &mut Vec<String>, a: &Args) {
    if let Some(g) = a.gid {
        words.extend(["-g".to_string(), g.to_string()]);
        if a.non_unique {
            words.push("-o".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;
    use crate::module::Module;
    use serde_json::json;

    fn args(v: serde_json::Value) -> Args {
        args::parse(&v).unwrap()
    }

    fn state(line: &str) -> GroupState {
        GroupState {
            entry: Entry::parse(line),
            gid_owner: None,
        }
    }

    fn plan(a: serde_json::Value, line: &str) -> Plan {
        Group
            .plan(&args(a), &state(line), &Context::default())
            .unwrap()
    }

    #[test]
    fn parses_the_probe() {
        let out = ExecOutput {
            status: 0,
            stdout: b"group=web:x:2200:alice,bob\n".to_vec(),
            stderr: vec![],
        };
        let st = Group.parse(&args(json!({"name": "web"})), &out).unwrap();
        assert_eq!(st.entry.as_ref().unwrap().num(2), Some(2200));
        let out = ExecOutput {
            stdout: b"group=\n".to_vec(),
            ..out
        };
        assert_eq!(
            Group.parse(&args(json!({"name": "web"})), &out).unwrap(),
            GroupState::default()
        );
    }

    #[test]
    fn check_mode_creation_or_removal_returns_changed_alone_as_ansible() {
        let check = Context {
            check_mode: true,
            ..Context::default()
        };
        let p = Group
            .plan(
                &args(json!({"name": "web", "gid": 2200})),
                &state(""),
                &check,
            )
            .unwrap();
        assert_eq!(p.action, Action::Create);
        assert!(p.values.is_empty(), "{:?}", p.values);
        let p = Group
            .plan(
                &args(json!({"name": "web", "state": "absent"})),
                &state("web:x:2200:"),
                &check,
            )
            .unwrap();
        assert_eq!(p.action, Action::Delete);
        assert!(p.values.is_empty());
        // A change of gid reports the group, as Ansible's groupmod path.
        let p = Group
            .plan(
                &args(json!({"name": "web", "gid": 2300})),
                &state("web:x:2200:"),
                &check,
            )
            .unwrap();
        assert_eq!(p.action, Action::Update);
        assert_eq!(p.values["gid"], 2300);
    }

    #[test]
    fn creates_with_gid_and_system() {
        let p = plan(
            json!({"name": "web", "gid": "2200", "system": "yes", "non_unique": true}),
            "",
        );
        assert_eq!(p.action, Action::Create);
        assert!(
            p.apply[0]
                .script
                .contains("groupadd -g 2200 -o -r web >/dev/null"),
            "{}",
            p.apply[0].script
        );
        assert!(p.apply[0].script.contains("printf 'group=%s\\n'"));
        assert_eq!(p.values["gid"], 2200);
        assert_eq!(p.values["system"], true);
        assert_eq!(
            p.diff[0].after,
            "{\n    \"gid\": \"2200\",\n    \"state\": \"present\"\n}\n"
        );
    }

    #[test]
    fn changes_only_a_different_gid() {
        let p = plan(json!({"name": "web", "gid": 2201}), "web:x:2200:");
        assert_eq!(p.action, Action::Update);
        assert!(p.apply[0].script.contains("groupmod -g 2201 web"));
        assert_eq!(p.diff[0].before, "{\n    \"gid\": \"2200\"\n}\n");
        let p = plan(json!({"name": "web", "gid": 2200}), "web:x:2200:");
        assert_eq!(p.action, Action::NoOp);
        assert!(p.apply.is_empty());
        assert_eq!(p.values["gid"], 2200);
        let p = plan(json!({"name": "web", "system": true}), "web:x:2200:");
        assert_eq!(p.action, Action::NoOp);
    }

    #[test]
    fn removes() {
        let p = plan(
            json!({"name": "web", "state": "absent", "force": true}),
            "web:x:2200:",
        );
        assert_eq!(p.action, Action::Delete);
        assert!(p.apply[0].script.contains("groupdel -f web"));
        assert!(!p.values.contains_key("gid"));
        let p = plan(json!({"name": "web", "state": "absent"}), "");
        assert_eq!(p.action, Action::NoOp);
        assert_eq!(p.values["state"], "absent");
    }

    #[test]
    fn rejects_unsupported_and_incomplete() {
        let e = Group
            .check(&json!({"name": "g", "local": true, "gid_min": 1000}))
            .unwrap_err();
        assert_eq!(e.message, "'gid_min' can not be used with 'local'");
        let e = Group
            .check(&json!({"name": "g", "local": true, "force": true}))
            .unwrap_err();
        assert!(e.message.contains("mutually exclusive"));
        let e = Group
            .check(&json!({"name": "g", "non_unique": true}))
            .unwrap_err();
        assert!(e.message.contains("missing: gid"));
        assert!(Group.check(&json!({"name": "g", "state": "gone"})).is_err());
    }

    #[test]
    fn reads_the_gid_after_creating() {
        let a = args(json!({"name": "web"}));
        let mut p = plan(json!({"name": "web"}), "");
        assert!(!p.values.contains_key("gid"));
        let out = ExecOutput {
            status: 0,
            stdout: b"group=web:x:999:\n".to_vec(),
            stderr: vec![],
        };
        Group.applied(&a, &out, &mut p).unwrap();
        assert_eq!(p.values["gid"], 999);
    }

    #[test]
    fn local_groups_use_the_local_file_and_libuser() {
        let a = json!({"name": "web", "gid": 1337, "local": true});
        let probe = Group.probe(&args(a.clone()), &Context::default()).script;
        assert!(probe.contains("/etc/group"), "{probe}");
        assert!(!probe.contains("getent group -- "), "{probe}");
        assert!(probe.contains("$3==1337 && $1!=n"), "{probe}");
        let p = plan(a.clone(), "");
        assert!(
            p.apply[0]
                .script
                .contains("lgroupadd -g 1337 web >/dev/null")
        );
        let p = plan(a.clone(), "web:x:1000:");
        assert!(p.apply[0].script.contains("lgroupmod -g 1337 web"));
        let p = plan(
            json!({"name": "web", "local": true, "state": "absent"}),
            "web:x:1000:",
        );
        assert!(p.apply[0].script.contains("lgroupdel web"));
        let out = ExecOutput {
            status: 0,
            stdout: b"group=\ngidowner=other\n".to_vec(),
            stderr: vec![],
        };
        let st = Group.parse(&args(a.clone()), &out).unwrap();
        let err = Group
            .plan(&args(a.clone()), &st, &Context::default())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "GID '1337' already exists with group 'other'"
        );
        // The group that has the GID already is no conflict.
        let st = GroupState {
            entry: Entry::parse("web:x:1337:"),
            gid_owner: None,
        };
        let p = Group.plan(&args(a), &st, &Context::default()).unwrap();
        assert_eq!(p.action, Action::NoOp);
    }
}
