//! Actions that run on the controller (they need variables, not a host):
//! `debug`, `set_fact`, `assert`, `fail`, `meta`, `pause`. Their arguments
//! are checked like any module's.

use serde::Deserialize;
use serde_json::Value;
use tend_modules::args::{self, ArgsError, de};

/// A controller-side action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// `debug`
    Debug,
    /// `set_fact`
    SetFact,
    /// `assert`
    Assert,
    /// `fail`
    Fail,
    /// `meta`
    Meta,
    /// `pause`
    Pause,
    /// `include_vars`
    IncludeVars,
    /// `add_host`: adds a host to the run's inventory (once per task, not per host).
    AddHost,
    /// `group_by`: puts each host in a group named by a template.
    GroupBy,
    /// `setup`: gathers the host's facts (run by the executor, on the host).
    Setup,
}

impl Builtin {
    /// Finds an action by short or `ansible.builtin.` name.
    pub fn lookup(name: &str) -> Option<Builtin> {
        let short = name
            .strip_prefix("ansible.builtin.")
            .or_else(|| name.strip_prefix("ansible.legacy."))
            .unwrap_or(name);
        Some(match short {
            "debug" => Builtin::Debug,
            "set_fact" => Builtin::SetFact,
            "assert" => Builtin::Assert,
            "fail" => Builtin::Fail,
            "meta" => Builtin::Meta,
            "pause" => Builtin::Pause,
            "include_vars" => Builtin::IncludeVars,
            "add_host" => Builtin::AddHost,
            "group_by" => Builtin::GroupBy,
            "setup" => Builtin::Setup,
            _ => return None,
        })
    }

    /// Names, for suggestions.
    pub const NAMES: &'static [&'static str] = &[
        "debug",
        "set_fact",
        "assert",
        "fail",
        "meta",
        "pause",
        "include_vars",
        "add_host",
        "group_by",
        "setup",
    ];

    /// The options of `include_vars` (its other free-form text is the file).
    pub const INCLUDE_VARS_KEYS: &'static [&'static str] = &[
        "file",
        "dir",
        "name",
        "depth",
        "files_matching",
        "ignore_files",
        "extensions",
        "ignore_unknown_extensions",
        "hash_behaviour",
    ];

    /// Checks (possibly templated) arguments.
    pub fn check(self, raw: &Value) -> Result<(), ArgsError> {
        match self {
            Builtin::Debug => args::check::<DebugArgs>(raw).and_then(|a| a.validate()),
            Builtin::SetFact => check_set_fact(raw),
            Builtin::Assert => match raw.get("that") {
                // Ansible's messages (argument spec, then its conditional check).
                None if raw.is_object() => {
                    Err(ArgsError::general("missing required arguments: that"))
                }
                Some(Value::Null) => Err(ArgsError::general(EMPTY_CONDITIONAL)),
                _ => args::check::<AssertArgs>(raw).map(drop),
            },
            Builtin::Fail => args::check::<FailArgs>(raw).map(drop),
            Builtin::Meta => args::check::<MetaArgs>(raw).and_then(|a| a.action().map(drop)),
            Builtin::Pause => args::check::<PauseArgs>(raw).and_then(|a| a.validate()),
            Builtin::IncludeVars => args::check::<IncludeVarsArgs>(raw).and_then(|a| a.validate()),
            Builtin::AddHost => AddHostArgs::from_value(raw).map(drop),
            Builtin::GroupBy => args::check::<GroupByArgs>(raw).map(drop),
            Builtin::Setup => args::check::<SetupArgs>(raw).map(drop),
        }
    }

    /// Runs once per task rather than once per host (Ansible's
    /// `BYPASS_HOST_LOOP`), like a task with `run_once`.
    pub fn bypasses_host_loop(self) -> bool {
        matches!(self, Builtin::AddHost | Builtin::Pause)
    }
}

/// `add_host` arguments: every other key is a variable of the host.
#[derive(Debug)]
pub struct AddHostArgs {
    /// `name` (aliases `host`, `hostname`): the host, maybe with `:port`.
    pub name: String,
    /// `groups` (aliases `group`, `groupname`): a list or comma-separated text.
    pub groups: Vec<String>,
    /// The host's variables.
    pub vars: serde_json::Map<String, Value>,
}

impl AddHostArgs {
    /// Reads (possibly templated) arguments, as Ansible's action does.
    pub fn from_value(raw: &Value) -> Result<AddHostArgs, ArgsError> {
        let Value::Object(map) = raw else {
            return Err(ArgsError::general("add_host takes a mapping of arguments"));
        };
        let first = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| map.get(*k).filter(|v| !v.is_null()))
        };
        let name = match first(&["name", "hostname", "host"]) {
            None => {
                return Err(ArgsError::general(
                    "name, host or hostname needs to be provided",
                ));
            }
            Some(Value::String(s)) => s.clone(),
            Some(v @ Value::Number(_)) => v.to_string(),
            Some(_) => return Err(ArgsError::field("name", "name must be a string")),
        };
        let groups = match first(&["groupname", "groups", "group"]) {
            None => Vec::new(),
            Some(Value::String(s)) => s.split(',').map(|g| g.trim().to_string()).collect(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|g| match g {
                    Value::String(s) => s.trim().to_string(),
                    other => other.to_string(),
                })
                .collect(),
            Some(_) => {
                return Err(ArgsError::field(
                    "groups",
                    "Groups must be specified as a list.",
                ));
            }
        };
        let mut unique: Vec<String> = Vec::new();
        for g in groups {
            if !g.is_empty() && !unique.contains(&g) {
                unique.push(g);
            }
        }
        let special = ["name", "hostname", "host", "groupname", "groups", "group"];
        let vars = map
            .iter()
            .filter(|(k, _)| !special.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(AddHostArgs {
            name,
            groups: unique,
            vars,
        })
    }
}

/// `group_by` arguments.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupByArgs {
    /// The group to put the host in (spaces become `-`).
    #[serde(deserialize_with = "de::string")]
    pub key: String,
    /// The groups the group goes under: a name or a list (default `all`).
    #[serde(default)]
    pub parents: Option<Value>,
}

impl GroupByArgs {
    /// The group's name and its parents', spaces replaced by `-` as Ansible does.
    pub fn names(&self) -> (String, Vec<String>) {
        let dashed = |s: &str| s.replace(' ', "-");
        let parents = match &self.parents {
            None | Some(Value::Null) => vec!["all".to_string()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|p| match p {
                    Value::String(s) => dashed(s),
                    other => dashed(&other.to_string()),
                })
                .collect(),
            Some(Value::String(s)) => vec![dashed(s)],
            Some(other) => vec![dashed(&other.to_string())],
        };
        (dashed(&self.key), parents)
    }
}

/// `debug` arguments.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebugArgs {
    /// The message to print.
    pub msg: Option<Value>,
    /// A variable name (or expression) to print.
    #[serde(default)]
    pub var: Option<Value>,
    /// Minimum verbosity to print at.
    #[serde(default, deserialize_with = "de::opt_int")]
    pub verbosity: Option<i64>,
}

impl DebugArgs {
    /// `msg` and `var` are mutually exclusive.
    pub fn validate(&self) -> Result<(), ArgsError> {
        if self.msg.is_some() && self.var.is_some() {
            return Err(ArgsError::field(
                "var",
                "parameters are mutually exclusive: msg|var",
            ));
        }
        self.var_expression().map(drop)
    }

    /// The `var` expression: text only (Ansible converts nothing to it);
    /// `!unsafe` text is refused as Ansible 2.19 refuses it.
    pub fn var_expression(&self) -> Result<Option<String>, ArgsError> {
        match &self.var {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            // Accepted while checking: the task fails when it runs.
            Some(Value::Object(m)) if m.contains_key(crate::template::UNSAFE_KEY) => {
                if args::placeholders_active() {
                    Ok(None)
                } else {
                    Err(ArgsError::general(UNTRUSTED_VAR))
                }
            }
            Some(other) => Err(ArgsError::field(
                "var",
                format!(
                    "argument 'var' is of type {} and we were unable to convert to str: {other} is not a string and conversion is not allowed",
                    python_type(other)
                ),
            )),
        }
    }
}

/// Python's name for the type of a value (`type(v).__name__`).
pub fn python_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Ansible 2.19's refusal of a null or blank condition.
pub const EMPTY_CONDITIONAL: &str = "Task failed: Empty conditional expressions are not allowed.";

/// Ansible 2.19's failure of `debug: var:` given untrusted (`!unsafe`) text.
pub const UNTRUSTED_VAR: &str = "Task failed: Error while resolving `var` expression: Encountered untrusted template or expression.";

fn check_set_fact(raw: &Value) -> Result<(), ArgsError> {
    let Value::Object(map) = raw else {
        return Err(ArgsError::general("set_fact takes key=value pairs"));
    };
    if map.is_empty() {
        return Err(ArgsError::general(
            "No key/value pairs provided, at least one is required for this action to succeed",
        ));
    }
    for key in map.keys() {
        if key == "cacheable" {
            continue;
        }
        let valid = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid && !crate::template::is_template(key) {
            return Err(ArgsError::field(
                key,
                format!(
                    "The variable name '{key}' is not valid. Variables must start with a letter or underscore character, and contain only letters, numbers and underscores."
                ),
            ));
        }
    }
    Ok(())
}

/// `setup` arguments (converted as Ansible's when the task runs).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupArgs {
    /// Which facts to gather: `all`, `min`, a collector (`hardware`,
    /// `network`, `virtual`, `platform`...) or a fact it yields (`mounts`),
    /// `!` before one to leave it out; a list or comma-separated text.
    #[serde(default)]
    pub gather_subset: Option<Value>,
    /// Seconds the gathering may take (it fails after).
    #[serde(default, deserialize_with = "de::opt_int")]
    pub gather_timeout: Option<i64>,
    /// Shell patterns on the fact names (`ansible_*_mb`): only the facts
    /// matching one are returned.
    #[serde(default)]
    pub filter: Option<Value>,
    /// The directory of local facts (`*.fact`, for `ansible_local`).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub fact_path: Option<String>,
}

/// `include_vars` arguments.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncludeVarsArgs {
    /// The file to load (free-form text is this too); relative: the
    /// role's `vars/`, the role, the playbook's `vars/`, the playbook's directory.
    #[serde(default, alias = "_raw_params", deserialize_with = "de::opt_string")]
    pub file: Option<String>,
    /// A directory whose files are loaded, sorted by name, recursively.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub dir: Option<String>,
    /// Put the variables under this one variable instead of at the top.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub name: Option<String>,
    /// With `dir`: how deep to go (0: all the way).
    #[serde(default, deserialize_with = "de::opt_int")]
    pub depth: Option<i64>,
    /// With `dir`: only files whose name matches this regular expression.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub files_matching: Option<String>,
    /// With `dir`: file names to skip.
    #[serde(default)]
    pub ignore_files: Option<Value>,
    /// With `dir`: the extensions loaded (default json, yaml, yml).
    #[serde(default)]
    pub extensions: Option<Value>,
    /// With `dir`: skip files of other extensions instead of failing.
    #[serde(default, deserialize_with = "de::bool")]
    pub ignore_unknown_extensions: bool,
    /// `replace` only (`merge` is not supported yet).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub hash_behaviour: Option<String>,
}

impl IncludeVarsArgs {
    /// `file` and `dir` are exclusive; `merge` is not supported yet.
    pub fn validate(self) -> Result<(), ArgsError> {
        if self.file.is_some() && self.dir.is_some() {
            return Err(ArgsError::general(
                "You are mixing file only and dir only arguments, these are incompatible",
            ));
        }
        if self.hash_behaviour.as_deref() == Some("merge") {
            return Err(ArgsError::field(
                "hash_behaviour",
                "hash_behaviour=merge is not supported yet",
            ));
        }
        Ok(())
    }
}

/// `assert` arguments.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertArgs {
    /// Conditions that must all hold.
    pub that: Value,
    /// Message on failure.
    #[serde(alias = "msg")]
    pub fail_msg: Option<Value>,
    /// Message on success.
    pub success_msg: Option<Value>,
    /// Print less.
    #[serde(default, deserialize_with = "de::bool")]
    pub quiet: bool,
}

/// `fail` arguments.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailArgs {
    /// The failure message.
    pub msg: Option<Value>,
}

/// `meta` arguments (the action is free-form text).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaArgs {
    /// The meta action.
    #[serde(rename = "_raw_params", deserialize_with = "de::string")]
    pub raw: String,
}

/// The meta actions tend implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaAction {
    /// Run notified handlers now.
    FlushHandlers,
    /// End the play for all hosts.
    EndPlay,
    /// End the play for this host.
    EndHost,
    /// Do nothing.
    Noop,
    /// Close the host's connection: the next task connects anew.
    ResetConnection,
    /// Clear the failures of the play's hosts.
    ClearHostErrors,
    /// End the current `serial` batch for all its hosts (the play when
    /// there is no `serial`): the next batch starts.
    EndBatch,
    /// Read the inventory again from its sources (later plays see it).
    RefreshInventory,
    /// Forget the gathered facts of the play's hosts.
    ClearFacts,
}

impl MetaArgs {
    /// The action named.
    pub fn action(&self) -> Result<MetaAction, ArgsError> {
        Ok(match self.raw.trim() {
            "flush_handlers" => MetaAction::FlushHandlers,
            "end_play" => MetaAction::EndPlay,
            "end_host" => MetaAction::EndHost,
            "noop" => MetaAction::Noop,
            "reset_connection" => MetaAction::ResetConnection,
            "clear_host_errors" => MetaAction::ClearHostErrors,
            "end_batch" => MetaAction::EndBatch,
            "refresh_inventory" => MetaAction::RefreshInventory,
            "clear_facts" => MetaAction::ClearFacts,
            other @ "end_role" => {
                return Err(ArgsError::general(format!("{other} is not supported yet")));
            }
            other => {
                return Err(ArgsError::general(format!(
                    "invalid meta action requested: {other}"
                )));
            }
        })
    }
}

/// `pause` arguments.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseArgs {
    /// Seconds to wait.
    #[serde(default, deserialize_with = "de::opt_int")]
    pub seconds: Option<i64>,
    /// Minutes to wait.
    #[serde(default, deserialize_with = "de::opt_int")]
    pub minutes: Option<i64>,
    /// Interactive prompt (not supported).
    pub prompt: Option<Value>,
    /// Echo input (not supported).
    pub echo: Option<Value>,
}

impl PauseArgs {
    /// Only timed pauses are supported.
    pub fn validate(self) -> Result<(), ArgsError> {
        if self.prompt.is_some()
            || self.echo.is_some()
            || (self.seconds.is_none() && self.minutes.is_none())
        {
            return Err(ArgsError::general(
                "pause: only `seconds`/`minutes` are supported yet (no interactive prompt)",
            ));
        }
        Ok(())
    }

    /// The duration.
    pub fn duration(&self) -> std::time::Duration {
        let secs = self.seconds.unwrap_or(0) + self.minutes.unwrap_or(0) * 60;
        std::time::Duration::from_secs(secs.max(0) as u64)
    }
}
