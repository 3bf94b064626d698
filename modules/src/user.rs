//! The `user` module: create, change or remove a local user account, its
//! password, group memberships, home directory and SSH key.
//!
//! As Ansible's module on Linux, with the shadow tools: one read-only probe
//! reads the account (`getent passwd`/`shadow`/`group`), then a missing user
//! is created with `useradd`, an existing one changed with `usermod` (only
//! the attributes that differ: `uid`, `group`, `groups` (with `append`, only
//! adding), `comment`, `home` (moved with `move_home`), `shell`, `expires`,
//! the password lock) and removed with `userdel` (`-r` with `remove`, `-f`
//! with `force`). `password` is an already crypted hash; it is set with
//! `chpasswd -e` through standard input, never on a command line, when it
//! differs (`update_password: always`) or only for a new user (`on_create`).
//! A missing home directory is created from the skeleton when `create_home`.
//! `generate_ssh_key` runs `ssh-keygen` unless the key file exists (or
//! always with `force`); a passphrase reaches it through an askpass helper
//! that reads it from the environment, never from a command line.
//! `expires` is seconds since the epoch (compared by day); a negative value
//! removes the expiry. `home`, `shell` and `ssh_key_file` are paths: a
//! leading `~` and `$VAR` are expanded on the target first, as Ansible's
//! `path` arguments are. With `--diff` the changed attributes are shown
//! before and after (the password as `(hidden)`).
//!
//! With `local: true` (hosts whose accounts also come from a directory), the
//! account is looked up in `/etc/passwd` itself and managed with libuser's
//! `luseradd`, `lusermod` and `luserdel`: the expiry is set with `lchage -E`
//! and memberships with `lgroupmod -M`/`-m`, as Ansible does. A missing tool
//! fails the task with Ansible's "Failed to find required executable"
//! message; `umask`, `uid_min` and `uid_max` cannot be combined with it.
//!
//! # Examples
//!
//! ```yaml
//! - name: A deploy account in the web groups
//!   user:
//!     name: alice
//!     comment: Alice Example
//!     uid: 2001
//!     groups: [www-data, adm]
//!     append: true
//!     shell: /bin/bash
//!
//! - name: A locked service account with an SSH key
//!   user:
//!     name: backup
//!     system: true
//!     password_lock: true
//!     generate_ssh_key: true
//!     ssh_key_type: ed25519
//!
//! - name: Set a password (a hash, e.g. from password_hash)
//!   user:
//!     name: alice
//!     password: "{{ vault_alice_password | password_hash('sha512') }}"
//!     update_password: on_create
//!
//! - name: Remove a former employee and their home
//!   user:
//!     name: bob
//!     state: absent
//!     remove: true
//! ```
//!
//! # Return values
//!
//! - `name` (string): the user's name.
//! - `state` (string): `present` or `absent`, as asked.
//! - `uid` (integer): the user's UID, when the user exists afterwards.
//! - `group` (integer): the GID of the user's primary group, when the user exists afterwards.
//! - `groups` (string): the `groups` argument joined with commas, when given.
//! - `comment` (string): the user's GECOS field, when the user exists afterwards.
//! - `home` (string): the user's home directory, when the user exists afterwards.
//! - `shell` (string): the user's login shell, when the user exists afterwards.
//! - `password` (string): `NOT_LOGGING_PASSWORD` when `password` was given.
//! - `system` (boolean): the `system` argument, when the user was created.
//! - `create_home` (boolean): the `create_home` argument, when the user was created.
//! - `append` (boolean): the `append` argument, when an existing user was checked.
//! - `move_home` (boolean): the `move_home` argument, when an existing user was checked.
//! - `force` (boolean): the `force` argument, when the user was removed.
//! - `remove` (boolean): the `remove` argument, when the user was removed.
//! - `ssh_key_file` (string): the private key's path, with `generate_ssh_key`.
//! - `ssh_public_key` (string): the public key, with `generate_ssh_key`.
//! - `ssh_fingerprint` (string): `ssh-keygen -l` of the key, with `generate_ssh_key`.

use crate::account::{self, Entry};
use crate::args::{ArgsError, de};
use crate::choice;
use crate::command::{expand_word, needs_expansion};
use crate::fileops::{dirname, unsupported};
use crate::group::{State, present};
use crate::host::{Exec, ExecOutput, Host};
use crate::module::{Context, Converge, ModuleError, Plan, TypedModule, converge};
use crate::outcome::{Action, Diff, Outcome};
use crate::sh::quote;
use async_trait::async_trait;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

mod local;

choice! {
    /// `update_password` of `user`.
    pub enum UpdatePassword {
        /// Set the password whenever it differs.
        Always = ["always"],
        /// Set the password only when the user is created.
        OnCreate = ["on_create"],
    }
}

fn always() -> UpdatePassword {
    UpdatePassword::Always
}

fn yes() -> bool {
    true
}

fn rsa() -> String {
    "rsa".into()
}

/// An optional list that tells "not given" from "empty" (`groups: ''`).
fn opt_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    de::list(d).map(Some)
}

/// An optional float, also from a numeric string.
fn opt_float<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    use serde::de::Error;
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(n.as_f64()),
        Value::String(s) if crate::args::placeholders_active() && crate::args::is_templated(&s) => {
            Ok(Some(0.0))
        }
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("expected a number, found `{s}`"))),
        other => Err(D::Error::custom(format!(
            "expected a number, found {}",
            de::kind(&other)
        ))),
    }
}

/// Arguments of `user`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The user's name.
    #[serde(alias = "user", deserialize_with = "de::string")]
    pub name: String,
    /// Whether the account should exist (`present`) or not (`absent`).
    #[serde(default = "present")]
    pub state: State,
    /// The UID the user should have.
    #[serde(default, deserialize_with = "de::opt_int")]
    pub uid: Option<i64>,
    /// Allow a `uid` another user already has (`-o`).
    #[serde(default, deserialize_with = "de::bool")]
    pub non_unique: bool,
    /// The primary group (name or GID); it must exist.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub group: Option<String>,
    /// Supplementary groups (a list or comma-separated); an empty value removes all (unless `append`).
    #[serde(default, deserialize_with = "opt_list")]
    pub groups: Option<Vec<String>>,
    /// Only add the user to `groups`, never remove them from others.
    #[serde(default, deserialize_with = "de::bool")]
    pub append: bool,
    /// The GECOS field (full name).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub comment: Option<String>,
    /// The home directory.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub home: Option<String>,
    /// Move the old home directory's content when `home` changes (`usermod -m`).
    #[serde(default, deserialize_with = "de::bool")]
    pub move_home: bool,
    /// Create the home directory when the user is created or when it is missing.
    #[serde(default = "yes", alias = "createhome", deserialize_with = "de::bool")]
    pub create_home: bool,
    /// The skeleton directory a new home is copied from (default `/etc/skel`).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub skeleton: Option<String>,
    /// The login shell.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub shell: Option<String>,
    /// Create a system account (a UID from the system range); only when created.
    #[serde(default, deserialize_with = "de::bool")]
    pub system: bool,
    /// The crypted password hash (never a clear-text password).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub password: Option<String>,
    /// `always` sets `password` whenever it differs; `on_create` only for a new user.
    #[serde(default = "always")]
    pub update_password: UpdatePassword,
    /// Lock (`true`) or unlock (`false`) the password (`usermod -L`/`-U`).
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub password_lock: Option<bool>,
    /// Account expiry in seconds since the epoch (compared by day); negative removes it.
    #[serde(default, deserialize_with = "opt_float")]
    pub expires: Option<f64>,
    /// Minimum days between password changes (`chage -m`).
    #[serde(default, deserialize_with = "de::opt_int")]
    pub password_expire_min: Option<i64>,
    /// Maximum days a password is valid (`chage -M`).
    #[serde(default, deserialize_with = "de::opt_int")]
    pub password_expire_max: Option<i64>,
    /// Days of warning before the password expires (`chage -W`).
    #[serde(default, deserialize_with = "de::opt_int")]
    pub password_expire_warn: Option<i64>,
    /// With `state: absent`, remove the home directory and mail spool (`userdel -r`).
    #[serde(default, deserialize_with = "de::bool")]
    pub remove: bool,
    /// With `state: absent`, remove even when logged in (`userdel -f`); with
    /// `generate_ssh_key`, overwrite an existing key.
    #[serde(default, deserialize_with = "de::bool")]
    pub force: bool,
    /// The umask of a created home directory (`useradd -K UMASK=`).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub umask: Option<String>,
    /// Lowest UID to pick from when creating (`-K UID_MIN=`).
    #[serde(default, deserialize_with = "de::opt_int")]
    pub uid_min: Option<i64>,
    /// Highest UID to pick from when creating (`-K UID_MAX=`).
    #[serde(default, deserialize_with = "de::opt_int")]
    pub uid_max: Option<i64>,
    /// Generate an SSH key pair for the user (kept when it exists, unless `force`).
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub generate_ssh_key: Option<bool>,
    /// Key size in bits (0: `ssh-keygen`'s default for the type).
    #[serde(default, deserialize_with = "de::int")]
    pub ssh_key_bits: i64,
    /// Key type (`rsa`, `ed25519`, `ecdsa`...).
    #[serde(default = "rsa", deserialize_with = "de::string")]
    pub ssh_key_type: String,
    /// The private key's path; relative to the home directory (default `.ssh/id_TYPE`).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub ssh_key_file: Option<String>,
    /// The key's comment (default `ansible-generated on HOSTNAME`).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub ssh_key_comment: Option<String>,
    /// A passphrase for the private key (never on a command line).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub ssh_key_passphrase: Option<String>,
    /// Use the libuser tools (`luseradd`, `lusermod`, `luserdel`, `lchage`,
    /// `lgroupmod`) and look the account up in `/etc/passwd` itself.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub local: Option<bool>,
    /// Not supported yet (BSD login class).
    #[serde(default)]
    pub login_class: Option<Value>,
    /// Not supported yet (macOS).
    #[serde(default)]
    pub hidden: Option<Value>,
    /// Not supported yet (SELinux user).
    #[serde(default)]
    pub seuser: Option<Value>,
    /// Not supported yet (Solaris/illumos).
    #[serde(default)]
    pub profile: Option<Value>,
    /// Not supported yet (Solaris/illumos).
    #[serde(default)]
    pub authorization: Option<Value>,
    /// Not supported yet (Solaris/illumos).
    #[serde(default)]
    pub role: Option<Value>,
    /// Days after the password expires until the account is disabled
    /// (the shadow `inactive` field, set with `chage -I`; -1 removes it).
    #[serde(default, deserialize_with = "de::opt_int")]
    pub password_expire_account_disable: Option<i64>,
}

/// The `user` module.
pub struct User;

#[async_trait]
impl TypedModule for User {
    type Args = Args;
    const NAME: &'static str = "user";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        if let Some(msg) = local::conflicts(a) {
            return Err(ArgsError::general(msg));
        }
        for (name, given) in [
            ("login_class", &a.login_class),
            ("hidden", &a.hidden),
            ("seuser", &a.seuser),
            ("profile", &a.profile),
            ("authorization", &a.authorization),
            ("role", &a.role),
        ] {
            if given.is_some() {
                return Err(unsupported("user", name));
            }
        }
        Ok(())
    }

    async fn run(
        &self,
        mut args: Args,
        ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError> {
        expand_paths(&mut args, host).await?;
        converge(self, &args, ctx, host).await
    }
}

/// `home`, `shell` and `ssh_key_file` are Ansible `path` arguments: `$VAR`
/// and a leading `~` are expanded on the target (with the environment of
/// the user the task runs as) before anything is compared or run, as
/// Ansible's argument parsing does. One read-only round trip, only when a
/// value needs it.
async fn expand_paths(a: &mut Args, host: &dyn Host) -> Result<(), ModuleError> {
    let mut fields: Vec<&mut String> = [&mut a.home, &mut a.shell, &mut a.ssh_key_file]
        .into_iter()
        .flatten()
        .filter(|v| needs_expansion(v))
        .collect();
    if fields.is_empty() {
        return Ok(());
    }
    let words: Vec<String> = fields.iter().map(|v| expand_word(v)).collect();
    let script = format!("printf '%s\\0' {}\n", words.join(" "));
    let out = host.exec(Exec::script(script).read_only()).await?;
    let values: Vec<&[u8]> = out.stdout.split(|b| *b == 0).collect();
    if out.status != 0 || values.len() != fields.len() + 1 {
        return Err(ModuleError::failed(format!(
            "expanding the path arguments failed (exit status {}): {}",
            out.status,
            out.stderr_text().trim()
        )));
    }
    for (field, value) in fields.iter_mut().zip(values) {
        **field = String::from_utf8_lossy(value).into_owned();
    }
    Ok(())
}

/// What the probe found about the SSH key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyState {
    /// The private key's path.
    pub path: String,
    /// The private key exists.
    pub exists: bool,
    /// The public key exists.
    pub pub_exists: bool,
    /// The public key's content (stripped).
    pub public: Option<String>,
    /// `ssh-keygen -l -f` of the private key.
    pub fingerprint: String,
    /// The key's directory exists.
    pub dir_exists: bool,
}

/// What the probe found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserState {
    /// The user's passwd entry.
    pub passwd: Option<Entry>,
    /// The user's shadow entry (when readable).
    pub shadow: Option<Entry>,
    /// Groups that list the user as a member.
    pub members: Vec<String>,
    /// The `group` argument's group entry (`None`: given but missing).
    pub group: Option<Entry>,
    /// Each `groups` entry's group (`None`: missing).
    pub groups: Vec<Option<Entry>>,
    /// A group named like the user exists.
    pub own_group: bool,
    /// The home directory the user ends up with.
    pub home: String,
    /// It exists.
    pub home_exists: bool,
    /// The target's host name (for the default key comment).
    pub hostname: String,
    /// The SSH key, when `generate_ssh_key`.
    pub key: KeyState,
    /// With `local: true`: `/etc/passwd` and the libuser tools.
    pub local: local::LocalState,
}

fn key_file(a: &Args) -> String {
    a.ssh_key_file
        .clone()
        .unwrap_or_else(|| format!(".ssh/id_{}", a.ssh_key_type))
}

fn wants_key(a: &Args) -> bool {
    a.generate_ssh_key == Some(true)
}

/// sh text reporting the passwd entry and the key as `key=value` lines.
fn report_script(a: &Args, key_path: bool) -> String {
    let mut s = account::lookup("passwd", "\"$n\"", "pw");
    s.push_str("printf 'passwd=%s\\n' \"$pw\"\n");
    if key_path {
        s.push_str(&format!(
            "h={}\n[ -n \"$h\" ] || {{ h=${{pw#*:*:*:*:*:}}; h=${{h%%:*}}; }}\n\
             [ -n \"$h\" ] || {{ h=$(useradd -D 2>/dev/null | sed -n 's/^HOME=//p'); h=${{h:-/home}}/$n; }}\n\
             printf 'home=%s\\n' \"$h\"\n[ -e \"$h\" ] && printf 'home_exists=1\\n'\n",
            quote(a.home.as_deref().unwrap_or(""))
        ));
        if wants_key(a) {
            s.push_str(&format!(
                "kf={}\ncase $kf in /*) k=$kf ;; *) k=$h/$kf ;; esac\nprintf 'key=%s\\n' \"$k\"\n\
                 [ -d \"$(dirname -- \"$k\")\" ] && printf 'key_dir=1\\n'\n\
                 [ -e \"$k\" ] && {{ printf 'key_exists=1\\n'; printf 'fp=%s\\n' \"$(ssh-keygen -l -f \"$k\" 2>&1 | head -n 1)\"; }}\n\
                 [ -e \"$k.pub\" ] && {{ printf 'pub_exists=1\\n'; printf 'pub=%s\\n' \"$(tr '\\n' ' ' < \"$k.pub\")\"; }}\n",
                quote(&key_file(a))
            ));
        }
    }
    s
}

impl Converge for User {
    type Args = Args;
    type State = UserState;

    fn probe(&self, a: &Args, _ctx: &Context) -> Exec {
        let mut s = format!("LC_ALL=C; export LC_ALL\nn={}\n", quote(&a.name));
        if local::wanted(a) {
            s.push_str(&local::probe_script());
        }
        s.push_str(&report_script(a, a.state == State::Present));
        if a.state == State::Present {
            s.push_str(&account::lookup("shadow", "\"$n\"", "sp"));
            s.push_str("printf 'shadow=%s\\n' \"$sp\"\n");
            s.push_str(&account::lookup("group", "\"$n\"", "ug"));
            s.push_str("[ -n \"$ug\" ] && printf 'own_group=1\\n'\n");
            s.push_str(
                "{ getent group 2>/dev/null || cat /etc/group; } | awk -F: -v n=\"$n\" \
                 '{c=split($4,m,\",\"); for(i=1;i<=c;i++) if(m[i]==n){print \"member=\" $1; break}}'\n",
            );
            let specs = a.group.iter().chain(a.groups.iter().flatten());
            for (i, spec) in specs.enumerate() {
                s.push_str(&format!(
                    "s={}\ngl=$(getent group -- \"$s\" 2>/dev/null)\n\
                     [ -n \"$gl\" ] || gl=$(awk -F: -v n=\"$s\" '$1==n||$3==n{{print;exit}}' /etc/group 2>/dev/null)\n\
                     printf 'g{i}=%s\\n' \"$gl\"\n",
                    quote(spec)
                ));
            }
            // The kernel's node name, without a process where /proc has it.
            s.push_str(
                "{ read -r hn </proc/sys/kernel/hostname; } 2>/dev/null || hn=$(uname -n)\n\
                 printf 'hostname=%s\\n' \"$hn\"\n",
            );
        }
        s.push_str("exit 0\n");
        Exec::script(s)
    }

    fn parse(&self, a: &Args, out: &ExecOutput) -> Result<UserState, ModuleError> {
        if out.status != 0 {
            // stdout may hold a password hash: never returned.
            return Err(ModuleError::failed(format!(
                "reading the target's accounts failed (exit status {}): {}",
                out.status,
                out.stderr_text().trim()
            )));
        }
        let text = out.stdout_text();
        let f = account::fields(&text);
        let get = |k: &str| account::field(&f, k).unwrap_or("");
        let flag = |k: &str| account::field(&f, k) == Some("1");
        let entry = |k: &str| Entry::parse(get(k));
        let n_group = usize::from(a.group.is_some());
        let n_groups = a.groups.as_ref().map_or(0, Vec::len);
        let group = if a.group.is_some() { entry("g0") } else { None };
        let local = if local::wanted(a) {
            local::parse(&f)
        } else {
            local::LocalState::default()
        };
        let passwd = if local::wanted(a) {
            local::entry(&local, entry("passwd"))
        } else {
            entry("passwd")
        };
        Ok(UserState {
            passwd,
            local,
            shadow: entry("shadow"),
            members: f
                .iter()
                .filter(|(k, _)| *k == "member")
                .map(|(_, v)| v.to_string())
                .collect(),
            group,
            groups: (0..n_groups)
                .map(|i| entry(&format!("g{}", i + n_group)))
                .collect(),
            own_group: flag("own_group"),
            home: get("home").to_string(),
            home_exists: flag("home_exists"),
            hostname: get("hostname").to_string(),
            key: KeyState {
                path: get("key").to_string(),
                exists: flag("key_exists"),
                pub_exists: flag("pub_exists"),
                public: account::field(&f, "pub").map(|p| p.trim().to_string()),
                fingerprint: get("fp").trim().to_string(),
                dir_exists: flag("key_dir"),
            },
        })
    }

    fn plan(&self, a: &Args, st: &UserState, ctx: &Context) -> Result<Plan, ModuleError> {
        let mut values = Map::new();
        values.insert("name".into(), a.name.clone().into());
        values.insert("state".into(), a.state.as_str().into());
        if local::wanted(a) {
            local::require_passwd_file(st)?;
        }
        let plan = match (a.state, &st.passwd) {
            (State::Absent, None) => Plan::noop(),
            (State::Absent, Some(_)) => plan_remove(a, st, &mut values)?,
            (State::Present, None) => plan_create(a, st, ctx.check_mode, &mut values)?,
            (State::Present, Some(pw)) => plan_modify(a, st, pw, ctx.check_mode, &mut values)?,
        };
        if a.state == State::Present && a.password.is_some() {
            values.insert("password".into(), "NOT_LOGGING_PASSWORD".into());
        }
        if let Some(groups) = &a.groups {
            values.insert("groups".into(), groups.join(",").into());
        }
        let warnings = warnings(a, st);
        if !warnings.is_empty() {
            values.insert("warnings".into(), warnings.into());
        }
        let mut plan = Plan {
            values: values.into_iter().chain(plan.values).collect(),
            ..plan
        };
        account::check_mode_exit(&mut plan, ctx.check_mode);
        Ok(plan)
    }

    fn applied(&self, a: &Args, out: &ExecOutput, plan: &mut Plan) -> Result<(), ModuleError> {
        account::applied(out, &a.name, true, &mut plan.values)?;
        if a.state == State::Present {
            let text = out.stdout_text();
            let f = account::fields(&text);
            if let Some(pw) = account::field(&f, "passwd").and_then(Entry::parse) {
                passwd_values(&pw, &mut plan.values);
            }
            if wants_key(a) {
                key_values(
                    account::field(&f, "fp").unwrap_or("").trim(),
                    account::field(&f, "pub").map(str::trim),
                    &mut plan.values,
                );
            }
        }
        Ok(())
    }
}

/// Whether a `password` looks crypted, as Ansible's `check_password_encrypted`.
fn looks_crypted(p: &str) -> bool {
    if ["*", "!", "*************"].contains(&p) {
        return true;
    }
    if p.contains([':', '*', '!']) || !p.contains('$') {
        return false;
    }
    let fields: Vec<&str> = p.split('$').collect();
    let Some(last) = fields.last().filter(|_| fields.len() >= 3) else {
        return false;
    };
    let len_ok = match fields[1] {
        "1" => last.len() == 22,
        "5" | "y" => last.len() == 43,
        "6" => last.len() == 86,
        _ => true,
    };
    len_ok
        && last
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '='))
}

/// Ansible's warnings for these arguments and this state.
fn warnings(a: &Args, st: &UserState) -> Vec<String> {
    let mut w = Vec::new();
    if a.password
        .as_deref()
        .is_some_and(|p| !p.is_empty() && !looks_crypted(p))
    {
        w.push(
            "The input password appears not to have been hashed. The 'password' argument \
             must be encrypted for this module to work properly."
                .to_string(),
        );
    }
    if a.append && a.groups.is_none() {
        w.push(
            "'append' is set, but no 'groups' are specified. Use 'groups' for appending new \
             groups.This will change to an error in Ansible 2.14."
                .to_string(),
        );
    }
    if a.state == State::Present && wants_key(a) {
        let k = &st.key;
        let verb = if a.force { "Overwriting" } else { "Found" };
        let tail = if a.force {
            ""
        } else {
            ", no force, so skipping ssh-keygen generation"
        };
        if k.exists {
            w.push(format!(
                "{verb} existing ssh key private file \"{}\"{tail}",
                k.path
            ));
        }
        if k.pub_exists && (a.force || !k.exists) {
            w.push(format!(
                "{verb} existing ssh key public file \"{}.pub\"{tail}",
                k.path
            ));
        }
    }
    w
}

fn passwd_values(pw: &Entry, values: &mut Map<String, Value>) {
    if let Some(uid) = pw.num(2) {
        values.insert("uid".into(), uid.into());
    }
    if let Some(gid) = pw.num(3) {
        values.insert("group".into(), gid.into());
    }
    for (key, i) in [("comment", 4), ("home", 5), ("shell", 6)] {
        values.insert(key.into(), pw.field(i).into());
    }
}

fn key_values(fp: &str, public: Option<&str>, values: &mut Map<String, Value>) {
    values.insert("ssh_fingerprint".into(), fp.into());
    values.insert(
        "ssh_public_key".into(),
        public.map_or(Value::Null, |p| p.into()),
    );
}

fn plan_remove(
    a: &Args,
    st: &UserState,
    values: &mut Map<String, Value>,
) -> Result<Plan, ModuleError> {
    let lib = local::wanted(a);
    if lib {
        local::require(st, &["luserdel"])?;
    }
    let mut words = vec![if lib { "luserdel" } else { "userdel" }.to_string()];
    if a.force && !lib {
        words.push("-f".into());
    }
    if a.remove {
        words.push("-r".into());
    }
    words.push(a.name.clone());
    values.insert("force".into(), a.force.into());
    values.insert("remove".into(), a.remove.into());
    let script = format!(
        "LC_ALL=C; export LC_ALL\n{}",
        account::step(&account::command(&words))
    );
    Ok(
        Plan::change(Action::Delete, vec![Exec::script(script)]).with_diff(Diff::attributes(
            &a.name,
            &[("state", "present".into())],
            &[("state", "absent".into())],
        )),
    )
}

/// Days since the epoch of `expires` (as Python's `time.gmtime`), `None` when negative.
fn expire_day(expires: f64) -> Option<i64> {
    (expires >= 0.0).then(|| (expires / 86400.0).floor() as i64)
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01).
fn ymd(days: i64) -> String {
    let (y, m, d) = crate::date::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

fn missing_group(spec: &str) -> ModuleError {
    ModuleError::failed(format!("Group {spec} does not exist"))
}

/// The apply script being built, and the bytes for its stdin.
struct Script {
    text: String,
    stdin: Vec<u8>,
}

impl Script {
    fn new(a: &Args) -> Self {
        Script {
            text: format!("LC_ALL=C; export LC_ALL\nn={}\n", quote(&a.name)),
            stdin: Vec::new(),
        }
    }

    fn step(&mut self, words: &[String]) {
        self.text.push_str(&account::step(&account::command(words)));
    }

    /// Sets the crypted password through `chpasswd -e` (hash on stdin).
    fn password(&mut self, a: &Args, hash: &str) {
        self.stdin
            .extend_from_slice(format!("{}:{hash}\n", a.name).as_bytes());
        self.text.push_str("IFS= read -r _pw || exit 1\n");
        self.text
            .push_str(&account::step("printf '%s\\n' \"$_pw\" | chpasswd -e"));
        self.text.push_str("unset _pw\n");
    }

    fn finish(mut self, a: &Args) -> Exec {
        self.text.push_str(&report_script(a, true));
        self.text.push_str("exit 0\n");
        Exec::with_stdin(self.text, self.stdin)
    }
}

fn chage_words(
    a: &Args,
    shadow: Option<&Entry>,
) -> (Vec<String>, Vec<(&'static str, String, String)>) {
    let mut words = Vec::new();
    let mut diff = Vec::new();
    for (flag, key, want, i) in [
        ("-m", "password_expire_min", a.password_expire_min, 3),
        ("-M", "password_expire_max", a.password_expire_max, 4),
        ("-W", "password_expire_warn", a.password_expire_warn, 5),
        (
            "-I",
            "password_expire_account_disable",
            a.password_expire_account_disable,
            6,
        ),
    ] {
        let Some(want) = want else { continue };
        let cur = shadow.map(|s| s.field(i).to_string());
        // An empty field reads as -1, as Python's spwd does.
        let cur_n = cur.as_deref().map(|c| c.parse::<i64>().unwrap_or(-1));
        if shadow.is_some() && cur_n == Some(want) {
            continue;
        }
        words.extend([flag.to_string(), want.to_string()]);
        diff.push((key, cur.unwrap_or_default(), want.to_string()));
    }
    (words, diff)
}

/// The hash to store: `!`-prefixed when locking.
fn stored_hash(a: &Args, password: &str) -> String {
    if a.password_lock == Some(true) {
        format!("!{password}")
    } else {
        password.to_string()
    }
}

/// A new user. In check mode, as Ansible, missing groups are not an error
/// (they may be created by an earlier task).
fn plan_create(
    a: &Args,
    st: &UserState,
    check_mode: bool,
    values: &mut Map<String, Value>,
) -> Result<Plan, ModuleError> {
    let lib = local::wanted(a);
    if lib && !check_mode {
        // Ansible looks these up before it runs `luseradd`.
        local::require(st, &["lgroupmod", "lchage", "luseradd"])?;
    }
    let mut w: Vec<String> = vec![if lib { "luseradd" } else { "useradd" }.into()];
    if let Some(uid) = a.uid {
        w.extend(["-u".into(), uid.to_string()]);
        if a.non_unique {
            w.push("-o".into());
        }
    }
    if let Some(g) = &a.group {
        if st.group.is_none() && !check_mode {
            return Err(missing_group(g));
        }
        w.extend(["-g".into(), g.clone()]);
    } else if st.own_group {
        // luseradd's "no user group" is `-n`.
        w.push(if lib { "-n" } else { "-N" }.into());
    }
    if !check_mode {
        check_groups(a, st)?;
    }
    let new_groups = a
        .groups
        .as_ref()
        .map(|g| dedup(g))
        .filter(|g| !g.is_empty());
    if let Some(groups) = new_groups.as_ref().filter(|_| !lib) {
        w.extend(["-G".into(), groups.join(",")]);
    }
    if let Some(c) = &a.comment {
        w.extend(["-c".into(), c.clone()]);
    }
    let mut s = Script::new(a);
    if let Some(h) = &a.home {
        if a.create_home {
            let parent = dirname(h);
            if !parent.is_empty() {
                s.text.push_str(&format!(
                    "[ -d {p} ] || mkdir -p -- {p} || exit 1\n",
                    p = quote(&parent)
                ));
            }
        }
        w.extend(["-d".into(), h.clone()]);
    }
    if let Some(sh) = &a.shell {
        w.extend(["-s".into(), sh.clone()]);
    }
    if let Some(e) = a.expires.filter(|_| !lib) {
        w.extend(["-e".into(), expire_day(e).map(ymd).unwrap_or_default()]);
    }
    if a.create_home {
        if !lib {
            w.push("-m".into());
        }
        if let Some(k) = &a.skeleton {
            w.extend(["-k".into(), k.clone()]);
        }
        if let Some(u) = &a.umask {
            w.extend(["-K".into(), format!("UMASK={u}")]);
        }
    } else {
        w.push("-M".into());
    }
    if a.system {
        w.push("-r".into());
    }
    for (key, v) in [("UID_MIN", a.uid_min), ("UID_MAX", a.uid_max)] {
        if let Some(v) = v {
            w.extend(["-K".into(), format!("{key}={v}")]);
        }
    }
    w.push(a.name.clone());
    s.step(&w);
    if lib {
        // luseradd takes neither the expiry nor the groups.
        if let Some(e) = a.expires {
            s.step(&local::lchage_expire(a, expire_day(e)));
        }
        for words in local::lgroupmod(a, new_groups.as_deref().unwrap_or_default(), true) {
            s.step(&words);
        }
    }
    if let Some(p) = &a.password {
        s.password(a, &stored_hash(a, p));
    }
    if lib && a.create_home {
        // As Ansible, a home the tool did not make is made afterwards.
        s.text.push_str(&format!(
            "h=$(awk -F: -v n=\"$n\" '$1==n{{print $6; exit}}' {})\n\
             if [ -n \"$h\" ] && [ ! -e \"$h\" ]; then\n{}fi\n",
            local::PASSWD_FILE,
            make_home_script("\"$h\"", a.skeleton.as_deref())
        ));
    }
    let (chage, _) = chage_words(a, None);
    if !chage.is_empty() {
        let mut words = vec!["chage".to_string()];
        words.extend(chage);
        words.push(a.name.clone());
        s.step(&words);
    }
    let mut after: Vec<(&str, String)> = vec![("state", "present".into())];
    for (key, v) in [
        ("uid", a.uid.map(|u| u.to_string())),
        ("group", a.group.clone()),
        ("groups", a.groups.as_ref().map(|g| g.join(","))),
        ("comment", a.comment.clone()),
        ("home", a.home.clone()),
        ("shell", a.shell.clone()),
        (
            "password",
            a.password.as_ref().map(|_| "(hidden)".to_string()),
        ),
    ] {
        if let Some(v) = v {
            after.push((key, v));
        }
    }
    if wants_key(a) {
        key_step(a, st, &mut s);
        after.push(("ssh_key_file", st.key.path.clone()));
        values.insert("ssh_key_file".into(), st.key.path.clone().into());
        key_values("", None, values);
    }
    values.insert("system".into(), a.system.into());
    values.insert("create_home".into(), a.create_home.into());
    if let Some(uid) = a.uid {
        values.insert("uid".into(), uid.into());
    }
    Ok(
        Plan::change(Action::Create, vec![s.finish(a)]).with_diff(Diff::attributes(
            &a.name,
            &[("state", "absent".into())],
            &after,
        )),
    )
}

fn check_groups(a: &Args, st: &UserState) -> Result<(), ModuleError> {
    let specs = a.groups.iter().flatten();
    match specs.zip(&st.groups).find(|(_, e)| e.is_none()) {
        Some((spec, _)) => Err(missing_group(spec)),
        None => Ok(()),
    }
}

fn dedup(items: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in items {
        let i = i.trim().to_string();
        if !i.is_empty() && !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// Adds the key generation to the script, when needed; whether it is.
fn key_step(a: &Args, st: &UserState, s: &mut Script) -> bool {
    let k = &st.key;
    // An existing private or public key is kept unless `force`.
    let generate = a.force || (!k.exists && !k.pub_exists);
    if !generate {
        return false;
    }
    let comment = a
        .ssh_key_comment
        .clone()
        .unwrap_or_else(|| format!("ansible-generated on {}", st.hostname));
    if !key_file(a).starts_with('/') {
        // As Ansible: a key under the home needs the home.
        let msg = format!("User {} home directory does not exist", a.name);
        s.text.push_str(&account::step(&format!(
            "test -d {} || {{ printf '%s' {} >&2; false; }}",
            quote(&st.home),
            quote(&msg)
        )));
    }
    s.text.push_str(&format!(
        "k={}\nu=$(id -u -- \"$n\") && g=$(id -g -- \"$n\") || exit 1\n\
         d=$(dirname -- \"$k\")\n",
        quote(&k.path)
    ));
    s.text.push_str(&account::step(
        "{ [ -d \"$d\" ] || { mkdir -m 700 -- \"$d\" && chown -- \"$u:$g\" \"$d\"; }; }",
    ));
    let mut w: Vec<String> = vec![
        "ssh-keygen".into(),
        "-q".into(),
        "-t".into(),
        a.ssh_key_type.clone(),
    ];
    if a.ssh_key_bits > 0 {
        w.extend(["-b".into(), a.ssh_key_bits.to_string()]);
    }
    w.extend(["-C".into(), comment, "-f".into(), k.path.clone()]);
    s.text.push_str("rm -f -- \"$k\" \"$k.pub\"\n");
    match &a.ssh_key_passphrase {
        None => {
            w.extend(["-N".into(), String::new()]);
            s.step(&w);
        }
        Some(p) => {
            s.stdin.extend_from_slice(p.as_bytes());
            s.stdin.push(b'\n');
            // An askpass helper prints the passphrase from the environment.
            s.text.push_str(
                "IFS= read -r TEND_PASSPHRASE || exit 1\nexport TEND_PASSPHRASE\n\
                 ap=$(mktemp) || exit 1\ntrap 'rm -f -- \"$ap\"' EXIT\n\
                 printf '#!/bin/sh\\nprintf \"%%s\\\\n\" \"$TEND_PASSPHRASE\"\\n' > \"$ap\" && chmod 700 \"$ap\" || exit 1\n",
            );
            let mut words = vec![
                "env".to_string(),
                "SSH_ASKPASS_REQUIRE=force".into(),
                "DISPLAY=:0".into(),
            ];
            words.extend(w);
            let cmd = format!(
                "SSH_ASKPASS=\"$ap\" {} </dev/null",
                account::command(&words)
            );
            s.text.push_str(&account::step(&cmd));
            s.text
                .push_str("unset TEND_PASSPHRASE\nrm -f -- \"$ap\"\ntrap - EXIT\n");
        }
    }
    s.text
        .push_str("chown -- \"$u:$g\" \"$k\" \"$k.pub\" || exit 1\n");
    true
}

fn plan_modify(
    a: &Args,
    st: &UserState,
    pw: &Entry,
    check_mode: bool,
    values: &mut Map<String, Value>,
) -> Result<Plan, ModuleError> {
    let lib = local::wanted(a);
    if lib {
        // Ansible looks these up whenever it checks an existing account.
        local::require(st, &["lgroupmod", "lchage", "lusermod"])?;
    }
    let mut lib_steps: Vec<Vec<String>> = Vec::new();
    let mut w: Vec<String> = Vec::new();
    let mut before: Vec<(&str, String)> = Vec::new();
    let mut after: Vec<(&str, String)> = Vec::new();
    let mut change = |key: &'static str, old: String, new: String| {
        before.push((key, old));
        after.push((key, new));
    };
    if let Some(uid) = a.uid
        && pw.num(2) != Some(uid)
    {
        w.extend(["-u".into(), uid.to_string()]);
        if a.non_unique {
            w.push("-o".into());
        }
        change("uid", pw.field(2).into(), uid.to_string());
    }
    if let Some(g) = &a.group {
        let entry = st.group.as_ref().ok_or_else(|| missing_group(g))?;
        if entry.num(2) != pw.num(3) {
            w.extend(["-g".into(), entry.field(2).into()]);
            change("group", pw.field(3).into(), entry.field(2).into());
        }
    }
    if let Some(groups) = &a.groups {
        check_groups(a, st)?;
        let current: Vec<String> = st.members.clone();
        let wanted: Vec<String> = dedup(
            &st.groups
                .iter()
                .flatten()
                .map(|e| e.field(0).to_string())
                .collect::<Vec<_>>(),
        );
        let mut need = false;
        if groups.iter().all(|g| g.trim().is_empty()) {
            need = !current.is_empty() && !a.append;
        } else {
            let missing = wanted.iter().any(|g| !current.contains(g));
            let extra = current.iter().any(|g| !wanted.contains(g));
            if a.append {
                if missing {
                    if !lib {
                        w.push("-a".into());
                    }
                    need = true;
                }
            } else {
                need = missing || extra;
            }
        }
        if need {
            if lib {
                // lusermod has no `-G`: each membership through lgroupmod.
                let (add, del) = local::membership_changes(&current, &wanted, a.append);
                lib_steps.extend(local::lgroupmod(a, &add, true));
                lib_steps.extend(local::lgroupmod(a, &del, false));
            } else {
                w.extend(["-G".into(), wanted.join(",")]);
            }
            let mut sorted = current.clone();
            sorted.sort();
            let mut result = if a.append {
                current.iter().chain(&wanted).cloned().collect::<Vec<_>>()
            } else {
                wanted.clone()
            };
            result.sort();
            result.dedup();
            change("groups", sorted.join(","), result.join(","));
        }
    }
    if let Some(c) = &a.comment
        && pw.field(4) != c
    {
        w.extend(["-c".into(), c.clone()]);
        change("comment", pw.field(4).into(), c.clone());
    }
    if let Some(h) = &a.home
        && pw.field(5) != h
    {
        w.extend(["-d".into(), h.clone()]);
        if a.move_home {
            w.push("-m".into());
        }
        change("home", pw.field(5).into(), h.clone());
    }
    if let Some(sh) = &a.shell
        && pw.field(6) != sh
    {
        w.extend(["-s".into(), sh.clone()]);
        change("shell", pw.field(6).into(), sh.clone());
    }
    let shadow = st.shadow.as_ref();
    if let Some(e) = a.expires {
        // An empty field reads as -1, as Python's spwd does; no shadow
        // entry at all as 0, as Ansible's `user_password()[1] or '0'`.
        let cur = match shadow {
            None => 0,
            Some(s) => s.field(7).parse::<i64>().unwrap_or(-1),
        };
        let show = |d: i64| if d < 0 { String::new() } else { ymd(d) };
        let day = expire_day(e);
        let differs = match day {
            None => cur >= 0,
            Some(day) => cur < 0 || cur != day,
        };
        if differs {
            let new = day.map(ymd).unwrap_or_default();
            if lib {
                // Before the memberships, as Ansible runs them.
                lib_steps.insert(0, local::lchage_expire(a, day));
            } else {
                w.extend(["-e".into(), new.clone()]);
            }
            change("expires", show(cur), new);
        }
    }
    let hash = shadow.map(|s| s.field(1)).unwrap_or(pw.field(1));
    let locked = hash.starts_with('!');
    let mut lock_flag = None;
    if a.password_lock == Some(true) && !locked {
        lock_flag = Some("-L");
    } else if a.password_lock == Some(false) && locked {
        lock_flag = Some("-U");
    }
    let new_password = match (&a.password, a.update_password) {
        (Some(p), UpdatePassword::Always)
            if hash.trim_start_matches('!') != p.trim_start_matches('!') =>
        {
            Some(stored_hash(a, p))
        }
        _ => None,
    };
    if let Some(flag) = lock_flag {
        change(
            "password_lock",
            locked.to_string(),
            (flag == "-L").to_string(),
        );
        if new_password.is_none() {
            w.push(flag.into());
        }
    }
    if new_password.is_some() {
        change("password", "(hidden)".into(), "(hidden, changed)".into());
    }
    let (chage, chage_diff) = chage_words(a, shadow);
    for (key, old, new) in chage_diff {
        change(key, old, new);
    }
    let home = st.home.clone();
    // A home moved by `usermod -m` is not made again.
    let moved = a.move_home && a.home.as_deref().is_some_and(|h| h != pw.field(5));
    let make_home = !st.home_exists && a.create_home && !moved;
    if make_home {
        change("home_exists", "false".into(), "true".into());
    }
    let mut s = Script::new(a);
    if !w.is_empty() {
        let mut words = vec![if lib { "lusermod" } else { "usermod" }.to_string()];
        words.extend(w);
        words.push(a.name.clone());
        s.step(&words);
    }
    for words in &lib_steps {
        s.step(words);
    }
    if let Some(p) = &new_password {
        s.password(a, p);
    }
    if !chage.is_empty() {
        let mut words = vec!["chage".to_string()];
        words.extend(chage);
        words.push(a.name.clone());
        s.step(&words);
    }
    if make_home {
        s.text
            .push_str(&make_home_script(&quote(&home), a.skeleton.as_deref()));
    }
    let keyed = wants_key(a) && key_step(a, st, &mut s);
    if keyed {
        change("ssh_key_file", "".into(), st.key.path.clone());
    }
    values.insert("append".into(), a.append.into());
    values.insert("move_home".into(), a.move_home.into());
    passwd_values(pw, values);
    if wants_key(a) {
        values.insert("ssh_key_file".into(), st.key.path.clone().into());
        if keyed {
            key_values("", None, values);
        } else {
            key_values(&st.key.fingerprint, st.key.public.as_deref(), values);
        }
    }
    // The predicted passwd fields; in check mode Ansible's module reports
    // the account as it is (it reads the passwd entry after not changing it).
    for (key, new) in after.iter().filter(|_| !check_mode) {
        if matches!(*key, "comment" | "home" | "shell") {
            values.insert((*key).into(), new.clone().into());
        } else if matches!(*key, "uid" | "group")
            && let Ok(n) = new.parse::<i64>()
        {
            values.insert((*key).into(), n.into());
        }
    }
    if before.is_empty() {
        return Ok(Plan::noop());
    }
    Ok(Plan::change(Action::Update, vec![s.finish(a)])
        .with_diff(Diff::attributes(&a.name, &before, &after)))
}

/// Creates a missing home directory as Ansible does: a copy of the skeleton
/// (or an empty directory), mode from `/etc/login.defs`, owned by the user.
/// `home` is an sh word (quoted text or an expansion).
fn make_home_script(home: &str, skeleton: Option<&str>) -> String {
    format!(
        "h={h}\nsk={sk}\nu=$(id -u -- \"$n\") && g=$(id -g -- \"$n\") || exit 1\n\
         if [ -e \"$h\" ]; then :\n\
         elif [ -d \"$sk\" ] && [ \"$sk\" != /dev/null ]; then mkdir -p -- \"$(dirname -- \"$h\")\" && cp -a -- \"$sk\" \"$h\" || exit 1\n\
         else mkdir -p -- \"$h\" || exit 1; fi\n\
         if [ -f /etc/login.defs ]; then\n\
           m=$(awk '$1==\"HOME_MODE\"&&$2~/^[0-9]+$/{{print $2; exit}}' /etc/login.defs)\n\
           if [ -z \"$m\" ]; then um=$(awk '$1==\"UMASK\"&&$2~/^[0-9]+$/{{print $2}}' /etc/login.defs | tail -n 1); m=$(printf '%o' $((0777 & ~0${{um:-22}}))); fi\n\
           chmod -- \"$m\" \"$h\" || exit 1\n\
         fi\n\
         chown -R -- \"$u:$g\" \"$h\" || exit 1\n",
        h = home,
        sk = quote(skeleton.unwrap_or("/etc/skel")),
    )
}

#[cfg(test)]
mod tests;
