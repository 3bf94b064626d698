//! The effective settings of a run, each with where it came from.
//!
//! Sources, lowest precedence first: tend's defaults, the first `ansible.cfg`
//! found in Ansible's order (`ANSIBLE_CONFIG`, `./ansible.cfg`,
//! `~/.ansible.cfg`, `/etc/ansible/ansible.cfg`), `tend.toml` (tend's own
//! settings: `--config FILE`, else `./tend.toml`, else beside the playbook),
//! the `ANSIBLE_*` environment variables, and the command line.
//!
//! As in Ansible, unknown `ansible.cfg` keys are ignored, but a known key
//! with a bad value is an error naming the file and line. `tend.toml` is
//! tend's own file, so an unknown key there is an error too.

mod ini;
mod tend_toml;

use crate::connection::ssh::HostKeyChecking;
use crate::vars::Vars;
use serde_json::Value;
use std::fmt;
use std::path::{Component, Path, PathBuf};

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// tend's default.
    Default,
    /// A line of an `ansible.cfg`.
    AnsibleCfg {
        /// The file.
        path: PathBuf,
        /// The line (1-based).
        line: usize,
    },
    /// An environment variable.
    Env(String),
    /// A line of a `tend.toml`.
    TendToml {
        /// The file.
        path: PathBuf,
        /// The line (1-based).
        line: usize,
    },
    /// A command-line flag.
    Cli,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::AnsibleCfg { path, line } | Origin::TendToml { path, line } => {
                write!(f, "{}:{line}", path.display())
            }
            Origin::Env(var) => write!(f, "env {var}"),
            Origin::Cli => f.write_str("cli"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<T> {
    /// The effective value.
    pub value: T,
    /// Its source.
    pub origin: Origin,
}

impl<T> Setting<T> {
    fn default(value: T) -> Self {
        Setting {
            value,
            origin: Origin::Default,
        }
    }

    fn set(&mut self, value: T, origin: Origin) {
        self.value = value;
        self.origin = origin;
    }

    /// Whether the value is tend's default (no source set it).
    pub fn is_default(&self) -> bool {
        self.origin == Origin::Default
    }
}

/// A setting that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A file that cannot be read or parsed, or a bad value in it.
    #[error("{}:{line}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The line (1-based; 0 when the whole file is at fault).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A bad value in an environment variable.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable.
        var: String,
        /// What is wrong.
        message: String,
    },
    /// A bad value on the command line.
    #[error("{0}")]
    Cli(String),
}

/// `[report]` of `tend.toml`: the reports a run writes by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSettings {
    /// What standard output shows: `human` or `json`.
    pub format: Setting<String>,
    /// The JSON lines report file.
    pub json: Setting<Option<PathBuf>>,
    /// The JUnit XML report file.
    pub junit: Setting<Option<PathBuf>>,
    /// The Markdown summary file.
    pub summary_md: Setting<Option<PathBuf>>,
}

/// The effective settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The `ansible.cfg` read, if any.
    pub ansible_cfg: Option<PathBuf>,
    /// The `tend.toml` read, if any.
    pub tend_toml: Option<PathBuf>,
    /// Inventory sources (`-i`).
    pub inventory: Setting<Vec<String>>,
    /// Hosts worked on at once (`-f`).
    pub forks: Setting<usize>,
    /// The login user (`-u`); none: as `~/.ssh/config` says.
    pub remote_user: Setting<Option<String>>,
    /// The SSH private key (`--private-key`).
    pub private_key_file: Setting<Option<PathBuf>>,
    /// Where roles are searched after `roles/` beside the playbook.
    pub roles_path: Setting<Vec<PathBuf>>,
    /// Where collections (`ansible_collections/NS/COL/`) are searched after
    /// `collections/` beside the playbook, for collection roles (`ns.col.role`).
    pub collections_path: Setting<Vec<PathBuf>>,
    /// Host key verification.
    pub host_key_checking: Setting<HostKeyChecking>,
    /// The connection timeout in seconds (`-T`).
    pub timeout: Setting<u64>,
    /// The vault password file (`--vault-password-file`).
    pub vault_password_file: Setting<Option<PathBuf>>,
    /// Privilege escalation by default (`-b`).
    pub r#become: Setting<bool>,
    /// The privilege escalation method (`--become-method`).
    pub become_method: Setting<String>,
    /// The user to become (`--become-user`).
    pub become_user: Setting<String>,
    /// Ask for the privilege escalation password (`-K`).
    pub become_ask_pass: Setting<bool>,
    /// Extra `ssh` arguments (`[ssh_connection] ssh_args`).
    pub ssh_args: Setting<Option<String>>,
    /// Default reports.
    pub report: ReportSettings,
    /// Things worth saying that are not errors.
    pub warnings: Vec<String>,
}

/// tend's default `forks` (Ansible's is 5; tend's connections are cheap).
pub const DEFAULT_FORKS: usize = 50;

/// Ansible's default `collections_path`.
const DEFAULT_COLLECTIONS_PATH: &str = "~/.ansible/collections:/usr/share/ansible/collections";

/// Ansible's default `roles_path`.
const DEFAULT_ROLES_PATH: &str = "~/.ansible/roles:/usr/share/ansible/roles:/etc/ansible/roles";

impl Default for Config {
    fn default() -> Self {
        Config {
            ansible_cfg: None,
            tend_toml: None,
            inventory: Setting::default(vec!["/etc/ansible/hosts".into()]),
            forks: Setting::default(DEFAULT_FORKS),
            remote_user: Setting::default(None),
            private_key_file: Setting::default(None),
            roles_path: Setting::default(Vec::new()),
            collections_path: Setting::default(Vec::new()),
            host_key_checking: Setting::default(HostKeyChecking::Strict),
            timeout: Setting::default(crate::connection::ssh::DEFAULT_TIMEOUT),
            vault_password_file: Setting::default(None),
            r#become: Setting::default(false),
            become_method: Setting::default("sudo".into()),
            become_user: Setting::default("root".into()),
            become_ask_pass: Setting::default(false),
            ssh_args: Setting::default(None),
            report: ReportSettings {
                format: Setting::default("human".into()),
                json: Setting::default(None),
                junit: Setting::default(None),
                summary_md: Setting::default(None),
            },
            warnings: Vec::new(),
        }
    }
}

/// What the process sees: environment, working directory, home.
pub struct Env<'a> {
    /// Looks up an environment variable.
    pub var: &'a dyn Fn(&str) -> Option<String>,
    /// The working directory.
    pub cwd: PathBuf,
    /// The home directory.
    pub home: Option<PathBuf>,
}

impl Env<'static> {
    /// The real process environment.
    pub fn process() -> Self {
        Env {
            var: &|name| std::env::var(name).ok(),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            home: std::env::var_os("HOME").map(PathBuf::from),
        }
    }
}

/// Where to look for `tend.toml`.
#[derive(Debug, Clone, Default)]
pub struct TendTomlPlace<'a> {
    /// `--config FILE`: must exist.
    pub explicit: Option<&'a Path>,
    /// The playbook's directory, searched after the working directory.
    pub playbook_dir: Option<&'a Path>,
}

/// The command-line flags that are settings; `None`/empty: not given.
#[derive(Debug, Clone, Default)]
pub struct CliOverrides {
    /// `-i`.
    pub inventory: Vec<String>,
    /// `-f`.
    pub forks: Option<usize>,
    /// `-u`.
    pub remote_user: Option<String>,
    /// `--private-key`.
    pub private_key_file: Option<String>,
    /// `-T`.
    pub timeout: Option<u64>,
    /// `-b`.
    pub r#become: bool,
    /// `--become-method`.
    pub become_method: Option<String>,
    /// `--become-user`.
    pub become_user: Option<String>,
    /// `-K`.
    pub become_ask_pass: bool,
    /// `--vault-password-file`.
    pub vault_password_file: Option<PathBuf>,
}

/// A raw value from a file or the environment.
struct Raw {
    value: String,
    /// Relative paths are relative to this (the file's directory).
    base: PathBuf,
    origin: Origin,
}

/// Ansible's `boolean()`, strictly: anything else is an error.
fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" | "on" | "1" | "true" | "t" | "1.0" => Ok(true),
        "n" | "no" | "off" | "0" | "false" | "f" | "0.0" => Ok(false),
        other => Err(format!(
            "`{other}` is not a boolean (true/false, yes/no, on/off, 1/0)"
        )),
    }
}

fn parse_uint<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.trim()
        .parse::<T>()
        .map_err(|_| format!("`{}` is not a whole number", s.trim()))
}

/// `~/x` expanded, then made absolute against `base` and normalised
/// lexically (`a/../b` → `b`), as Ansible's `unfrackpath`.
fn resolve_path(s: &str, base: Option<&Path>, home: Option<&Path>) -> PathBuf {
    let p = match (s.strip_prefix("~/"), home) {
        (Some(rest), Some(h)) => h.join(rest),
        _ if s == "~" && home.is_some() => home.map(Path::to_path_buf).unwrap_or_default(),
        _ => PathBuf::from(s),
    };
    let p = match base {
        Some(b) if p.is_relative() => b.join(p),
        _ => p,
    };
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir if out.parent().is_some() => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// A path list: `sep`-separated (and one per continuation line).
fn split_list(s: &str, sep: char) -> impl Iterator<Item = &str> {
    s.split([sep, '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The first `ansible.cfg` in Ansible's order, and a warning when the
/// working directory's is skipped for being world-writable.
pub fn find_ansible_cfg(env: &Env<'_>) -> (Option<PathBuf>, Option<String>) {
    let mut candidates = Vec::new();
    if let Some(c) = (env.var)("ANSIBLE_CONFIG").filter(|c| !c.is_empty()) {
        let p = resolve_path(&c, Some(&env.cwd), env.home.as_deref());
        candidates.push(if p.is_dir() { p.join("ansible.cfg") } else { p });
    }
    let mut warning = None;
    let cwd_cfg = env.cwd.join("ansible.cfg");
    if world_writable(&env.cwd) {
        if cwd_cfg.is_file() {
            warning = Some(format!(
                "Ansible is being run in a world writable directory ({}), ignoring it as an ansible.cfg source.",
                env.cwd.display()
            ));
        }
    } else {
        candidates.push(cwd_cfg);
    }
    if let Some(h) = &env.home {
        candidates.push(h.join(".ansible.cfg"));
    }
    candidates.push(PathBuf::from("/etc/ansible/ansible.cfg"));
    (candidates.into_iter().find(|c| c.is_file()), warning)
}

fn world_writable(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o002 != 0)
}

/// A setting's name (as in `ansible.cfg`, or `report.KEY` in `tend.toml`),
/// the `ansible.cfg` keys it is read from and its environment variables (the
/// last one set wins, as in Ansible).
struct Spec {
    name: &'static str,
    ini: &'static [(&'static str, &'static str)],
    env: &'static [&'static str],
    /// Whether `tend.toml` may set it.
    toml: bool,
}

macro_rules! spec {
    ($name:literal, [$(($s:literal, $k:literal)),*], [$($e:literal),*], $toml:literal) => {
        Spec { name: $name, ini: &[$(($s, $k)),*], env: &[$($e),*], toml: $toml }
    };
}

const INVENTORY: Spec = spec!(
    "inventory",
    [("defaults", "inventory")],
    ["ANSIBLE_INVENTORY"],
    true
);
const FORKS: Spec = spec!("forks", [("defaults", "forks")], ["ANSIBLE_FORKS"], true);
const REMOTE_USER: Spec = spec!(
    "remote_user",
    [("defaults", "remote_user")],
    ["ANSIBLE_REMOTE_USER"],
    true
);
const PRIVATE_KEY_FILE: Spec = spec!(
    "private_key_file",
    [("defaults", "private_key_file")],
    ["ANSIBLE_PRIVATE_KEY_FILE"],
    true
);
const ROLES_PATH: Spec = spec!(
    "roles_path",
    [("defaults", "roles_path")],
    ["ANSIBLE_ROLES_PATH"],
    false
);
const COLLECTIONS_PATH: Spec = spec!(
    "collections_path",
    [
        ("defaults", "collections_path"),
        ("defaults", "collections_paths")
    ],
    ["ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_COLLECTIONS_PATHS"],
    false
);
const HOST_KEY_CHECKING: Spec = spec!(
    "host_key_checking",
    [
        ("defaults", "host_key_checking"),
        ("ssh_connection", "host_key_checking")
    ],
    ["ANSIBLE_HOST_KEY_CHECKING", "ANSIBLE_SSH_HOST_KEY_CHECKING"],
    true
);
const TIMEOUT: Spec = spec!(
    "timeout",
    [("defaults", "timeout"), ("ssh_connection", "timeout")],
    ["ANSIBLE_TIMEOUT", "ANSIBLE_SSH_TIMEOUT"],
    true
);
const VAULT_PASSWORD_FILE: Spec = spec!(
    "vault_password_file",
    [("defaults", "vault_password_file")],
    ["ANSIBLE_VAULT_PASSWORD_FILE"],
    false
);
const BECOME: Spec = spec!(
    "become",
    [("privilege_escalation", "become")],
    ["ANSIBLE_BECOME"],
    false
);
const BECOME_METHOD: Spec = spec!(
    "become_method",
    [("privilege_escalation", "become_method")],
    ["ANSIBLE_BECOME_METHOD"],
    false
);
const BECOME_USER: Spec = spec!(
    "become_user",
    [("privilege_escalation", "become_user")],
    ["ANSIBLE_BECOME_USER"],
    false
);
const BECOME_ASK_PASS: Spec = spec!(
    "become_ask_pass",
    [("privilege_escalation", "become_ask_pass")],
    ["ANSIBLE_BECOME_ASK_PASS"],
    false
);
const SSH_ARGS: Spec = spec!(
    "ssh_args",
    [("ssh_connection", "ssh_args")],
    ["ANSIBLE_SSH_ARGS"],
    false
);
const REPORT_FORMAT: Spec = spec!("report.format", [], [], true);
const REPORT_JSON: Spec = spec!("report.json", [], [], true);
const REPORT_JUNIT: Spec = spec!("report.junit", [], [], true);
const REPORT_SUMMARY_MD: Spec = spec!("report.summary_md", [], [], true);

/// The raw sources, read once.
struct Sources<'e> {
    env: &'e Env<'e>,
    cfg_path: Option<PathBuf>,
    cfg: Vec<ini::Entry>,
    toml_path: Option<PathBuf>,
    toml: Vec<tend_toml::Entry>,
}

fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

impl Sources<'_> {
    /// The raw values of a setting, lowest precedence first.
    fn raws(&self, spec: &Spec) -> Vec<Raw> {
        let mut out = Vec::new();
        if let Some(path) = &self.cfg_path {
            for (section, key) in spec.ini {
                if let Some(e) = self
                    .cfg
                    .iter()
                    .find(|e| e.section == *section && e.key == *key)
                {
                    out.push(Raw {
                        value: e.value.clone(),
                        base: dir_of(path),
                        origin: Origin::AnsibleCfg {
                            path: path.clone(),
                            line: e.line,
                        },
                    });
                }
            }
        }
        if let Some(path) = &self.toml_path
            && spec.toml
            && let Some(e) = self.toml.iter().find(|e| e.key == spec.name)
        {
            out.push(Raw {
                value: e.value.clone(),
                base: dir_of(path),
                origin: Origin::TendToml {
                    path: path.clone(),
                    line: e.line,
                },
            });
        }
        for var in spec.env {
            if let Some(v) = (self.env.var)(var) {
                out.push(Raw {
                    value: v,
                    base: self.env.cwd.clone(),
                    origin: Origin::Env((*var).to_string()),
                });
            }
        }
        out
    }

    /// Sets `setting` from each source in turn, parsing each value.
    fn apply<T>(
        &self,
        setting: &mut Setting<T>,
        spec: &Spec,
        parse: impl Fn(&str, &Path) -> Result<T, String>,
    ) -> Result<(), ConfigError> {
        for raw in self.raws(spec) {
            match parse(&raw.value, &raw.base) {
                Ok(v) => setting.set(v, raw.origin),
                Err(message) => {
                    let message = format!("{}: {message}", spec.name);
                    return Err(match raw.origin {
                        Origin::AnsibleCfg { path, line } | Origin::TendToml { path, line } => {
                            ConfigError::File {
                                path,
                                line,
                                message,
                            }
                        }
                        Origin::Env(var) => ConfigError::Env { var, message },
                        Origin::Default | Origin::Cli => ConfigError::Cli(message),
                    });
                }
            }
        }
        Ok(())
    }
}

fn read_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.to_path_buf(),
        line: 0,
        message: format!("cannot read: {e}"),
    })
}

fn parse_host_key_checking(s: &str) -> Result<HostKeyChecking, String> {
    HostKeyChecking::parse(&Value::String(s.to_string()))
        .map_err(|_| format!("`{}` is not one of true, false, accept-new", s.trim()))
}

fn non_empty(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

impl Config {
    /// The settings from the process's environment and files.
    pub fn load(place: &TendTomlPlace<'_>) -> Result<Config, ConfigError> {
        Self::load_with(&Env::process(), place)
    }

    /// The settings for `env` (tests pass their own).
    pub fn load_with(env: &Env<'_>, place: &TendTomlPlace<'_>) -> Result<Config, ConfigError> {
        let home = env.home.as_deref();
        let mut c = Config::default();
        c.roles_path.value = default_roles_path(home);
        c.collections_path.value = default_path_list(DEFAULT_COLLECTIONS_PATH, home);
        let (cfg_path, warning) = find_ansible_cfg(env);
        c.warnings.extend(warning);
        let cfg = match &cfg_path {
            None => Vec::new(),
            Some(path) => ini::parse(&read_file(path)?).map_err(|e| ConfigError::File {
                path: path.clone(),
                line: e.line,
                message: e.message,
            })?,
        };
        let toml_path = match place.explicit {
            Some(p) => Some(resolve_path(&p.to_string_lossy(), Some(&env.cwd), home)),
            None => std::iter::once(env.cwd.join("tend.toml"))
                .chain(place.playbook_dir.map(|d| d.join("tend.toml")))
                .find(|p| p.is_file()),
        };
        let toml = match &toml_path {
            None => Vec::new(),
            Some(path) => tend_toml::parse(&read_file(path)?).map_err(|e| ConfigError::File {
                path: path.clone(),
                line: e.line,
                message: e.message,
            })?,
        };
        let s = Sources {
            env,
            cfg_path,
            cfg,
            toml_path,
            toml,
        };
        let path =
            |v: &str, base: &Path| Ok(non_empty(v).map(|v| resolve_path(&v, Some(base), home)));
        let text = |v: &str, _: &Path| Ok(non_empty(v));
        s.apply(&mut c.inventory, &INVENTORY, |v, base| {
            Ok(split_list(v, ',')
                .map(|p| resolve_path(p, Some(base), home).display().to_string())
                .collect())
        })?;
        s.apply(&mut c.forks, &FORKS, |v, _| match parse_uint::<usize>(v)? {
            0 => Err("must be at least 1".into()),
            n => Ok(n),
        })?;
        s.apply(&mut c.remote_user, &REMOTE_USER, text)?;
        s.apply(&mut c.private_key_file, &PRIVATE_KEY_FILE, path)?;
        let paths = |v: &str, base: &Path| {
            Ok(split_list(v, ':')
                .map(|p| resolve_path(p, Some(base), home))
                .collect())
        };
        s.apply(&mut c.roles_path, &ROLES_PATH, paths)?;
        s.apply(&mut c.collections_path, &COLLECTIONS_PATH, paths)?;
        s.apply(&mut c.host_key_checking, &HOST_KEY_CHECKING, |v, _| {
            parse_host_key_checking(v)
        })?;
        s.apply(&mut c.timeout, &TIMEOUT, |v, _| parse_uint(v))?;
        s.apply(&mut c.vault_password_file, &VAULT_PASSWORD_FILE, path)?;
        s.apply(&mut c.r#become, &BECOME, |v, _| parse_bool(v))?;
        let word = |v: &str, _: &Path| non_empty(v).ok_or_else(|| "must not be empty".to_string());
        s.apply(&mut c.become_method, &BECOME_METHOD, word)?;
        s.apply(&mut c.become_user, &BECOME_USER, word)?;
        s.apply(&mut c.become_ask_pass, &BECOME_ASK_PASS, |v, _| {
            parse_bool(v)
        })?;
        s.apply(&mut c.ssh_args, &SSH_ARGS, text)?;
        s.apply(&mut c.report.format, &REPORT_FORMAT, |v, _| {
            match v.trim() {
                f @ ("human" | "json") => Ok(f.to_string()),
                other => Err(format!("`{other}` is not one of human, json")),
            }
        })?;
        s.apply(&mut c.report.json, &REPORT_JSON, path)?;
        s.apply(&mut c.report.junit, &REPORT_JUNIT, path)?;
        s.apply(&mut c.report.summary_md, &REPORT_SUMMARY_MD, path)?;
        c.ansible_cfg = s.cfg_path;
        c.tend_toml = s.toml_path;
        Ok(c)
    }

    /// Applies the command line, the highest precedence.
    pub fn apply_cli(&mut self, o: CliOverrides) {
        if !o.inventory.is_empty() {
            self.inventory.set(o.inventory, Origin::Cli);
        }
        if let Some(f) = o.forks {
            self.forks.set(f.max(1), Origin::Cli);
        }
        if let Some(u) = o.remote_user {
            self.remote_user.set(Some(u), Origin::Cli);
        }
        if let Some(k) = o.private_key_file {
            self.private_key_file
                .set(Some(PathBuf::from(k)), Origin::Cli);
        }
        if let Some(t) = o.timeout {
            self.timeout.set(t, Origin::Cli);
        }
        if o.r#become {
            self.r#become.set(true, Origin::Cli);
        }
        if let Some(m) = o.become_method {
            self.become_method.set(m, Origin::Cli);
        }
        if let Some(u) = o.become_user {
            self.become_user.set(u, Origin::Cli);
        }
        if o.become_ask_pass {
            self.become_ask_pass.set(true, Origin::Cli);
        }
        if let Some(f) = o.vault_password_file {
            self.vault_password_file.set(Some(f), Origin::Cli);
        }
    }

    /// The connection and privilege settings as `ansible_*` variables, for
    /// [`crate::exec::RunOptions::cli_vars`] (below every inventory and
    /// playbook source, as in Ansible). Only settings some source set:
    /// defaults are the connection's own.
    pub fn connection_vars(&self) -> Vars {
        let mut v = Vars::new();
        let mut put = |k: &str, set: bool, val: Option<Value>| {
            if let (true, Some(val)) = (set, val) {
                v.insert(k.to_string(), val);
            }
        };
        put(
            "ansible_user",
            !self.remote_user.is_default(),
            self.remote_user.value.clone().map(Value::from),
        );
        put(
            "ansible_ssh_private_key_file",
            !self.private_key_file.is_default(),
            self.private_key_file
                .value
                .as_ref()
                .map(|p| Value::from(p.display().to_string())),
        );
        put(
            "ansible_timeout",
            !self.timeout.is_default(),
            Some(Value::from(self.timeout.value)),
        );
        put(
            "ansible_host_key_checking",
            !self.host_key_checking.is_default(),
            Some(Value::from(host_key_checking_str(
                self.host_key_checking.value,
            ))),
        );
        put(
            "ansible_ssh_args",
            !self.ssh_args.is_default(),
            self.ssh_args.value.clone().map(Value::from),
        );
        put(
            "ansible_become",
            !self.r#become.is_default(),
            Some(Value::Bool(self.r#become.value)),
        );
        put(
            "ansible_become_method",
            !self.become_method.is_default(),
            Some(Value::from(self.become_method.value.clone())),
        );
        put(
            "ansible_become_user",
            !self.become_user.is_default(),
            Some(Value::from(self.become_user.value.clone())),
        );
        v
    }

    /// Every setting: name, value as shown, origin.
    pub fn entries(&self) -> Vec<(&'static str, String, &Origin)> {
        fn opt<T: fmt::Display>(v: &Option<T>) -> String {
            v.as_ref()
                .map_or_else(|| "None".into(), ToString::to_string)
        }
        fn opt_path(v: &Option<PathBuf>) -> String {
            opt(&v.as_ref().map(|p| p.display()))
        }
        let roles: Vec<String> = self
            .roles_path
            .value
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let r = &self.report;
        vec![
            (
                "inventory",
                self.inventory.value.join(","),
                &self.inventory.origin,
            ),
            ("forks", self.forks.value.to_string(), &self.forks.origin),
            (
                "remote_user",
                opt(&self.remote_user.value),
                &self.remote_user.origin,
            ),
            (
                "private_key_file",
                opt_path(&self.private_key_file.value),
                &self.private_key_file.origin,
            ),
            ("roles_path", roles.join(":"), &self.roles_path.origin),
            (
                "collections_path",
                self.collections_path
                    .value
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(":"),
                &self.collections_path.origin,
            ),
            (
                "host_key_checking",
                host_key_checking_str(self.host_key_checking.value).into(),
                &self.host_key_checking.origin,
            ),
            (
                "timeout",
                self.timeout.value.to_string(),
                &self.timeout.origin,
            ),
            (
                "vault_password_file",
                opt_path(&self.vault_password_file.value),
                &self.vault_password_file.origin,
            ),
            (
                "become",
                self.r#become.value.to_string(),
                &self.r#become.origin,
            ),
            (
                "become_method",
                self.become_method.value.clone(),
                &self.become_method.origin,
            ),
            (
                "become_user",
                self.become_user.value.clone(),
                &self.become_user.origin,
            ),
            (
                "become_ask_pass",
                self.become_ask_pass.value.to_string(),
                &self.become_ask_pass.origin,
            ),
            ("ssh_args", opt(&self.ssh_args.value), &self.ssh_args.origin),
            ("report.format", r.format.value.clone(), &r.format.origin),
            ("report.json", opt_path(&r.json.value), &r.json.origin),
            ("report.junit", opt_path(&r.junit.value), &r.junit.origin),
            (
                "report.summary_md",
                opt_path(&r.summary_md.value),
                &r.summary_md.origin,
            ),
        ]
    }

    /// `tend config dump`: the files read, then one `name = value (origin)`
    /// line per setting (only those some source set, with `only_changed`).
    pub fn dump(&self, only_changed: bool) -> String {
        let file = |p: &Option<PathBuf>| opt_display(p.as_deref());
        let mut out = format!(
            "# ansible.cfg: {}\n# tend.toml: {}\n",
            file(&self.ansible_cfg),
            file(&self.tend_toml)
        );
        for (name, value, origin) in self.entries() {
            if only_changed && *origin == Origin::Default {
                continue;
            }
            out.push_str(&format!("{name} = {value}  ({origin})\n"));
        }
        out
    }
}

fn opt_display(p: Option<&Path>) -> String {
    p.map_or_else(|| "(none)".into(), |p| p.display().to_string())
}

fn host_key_checking_str(h: HostKeyChecking) -> &'static str {
    match h {
        HostKeyChecking::Strict => "true",
        HostKeyChecking::AcceptNew => "accept-new",
        HostKeyChecking::Off => "false",
    }
}

/// `roles_path` alone (`ANSIBLE_ROLES_PATH`, else the `ansible.cfg`'s, else
/// Ansible's default), for the compiler; a bad configuration reads as the
/// default here (the command line reports it before compiling).
pub fn roles_path() -> Vec<PathBuf> {
    match Config::load(&TendTomlPlace::default()) {
        Ok(c) => c.roles_path.value,
        Err(_) => default_roles_path(std::env::var_os("HOME").map(PathBuf::from).as_deref()),
    }
}

fn default_roles_path(home: Option<&Path>) -> Vec<PathBuf> {
    default_path_list(DEFAULT_ROLES_PATH, home)
}

fn default_path_list(list: &str, home: Option<&Path>) -> Vec<PathBuf> {
    split_list(list, ':')
        .map(|p| resolve_path(p, None, home))
        .collect()
}

/// `collections_path` alone (`ANSIBLE_COLLECTIONS_PATH`, else the
/// `ansible.cfg`'s, else Ansible's default).
pub fn collections_path() -> Vec<PathBuf> {
    match Config::load(&TendTomlPlace::default()) {
        Ok(c) => c.collections_path.value,
        Err(_) => default_path_list(
            DEFAULT_COLLECTIONS_PATH,
            std::env::var_os("HOME").map(PathBuf::from).as_deref(),
        ),
    }
}

#[cfg(test)]
mod tests;
