//! The `getent` module: read a database of the target's name service
//! (`passwd`, `group`, `shadow`, `hosts`, `services`...) into facts.
//!
//! It runs the target's `getent DATABASE [KEY]` and sets the fact
//! `getent_DATABASE` (also `ansible_facts.getent_DATABASE`): a mapping from the
//! first field of each entry to the list of its other fields. Fields are split
//! at `:` for `passwd`, `shadow`, `group` and `gshadow`, at runs of white space
//! for the other databases, or at `split`. An entry whose first field appears
//! more than once becomes a list of those lists. It changes nothing and runs
//! the same in check mode.
//!
//! # Examples
//!
//! ```yaml
//! - name: Read root's account
//!   ansible.builtin.getent:
//!     database: passwd
//!     key: root
//!
//! - name: Show root's shell
//!   ansible.builtin.debug:
//!     msg: "{{ ansible_facts.getent_passwd.root[5] }}"
//!
//! - name: Look up a service, without failing when it is unknown
//!   ansible.builtin.getent:
//!     database: services
//!     key: http
//!     fail_key: false
//! ```
//!
//! # Return values
//!
//! - `ansible_facts` (dict): `getent_DATABASE`, the entries by their first field (a missing `key` maps to null when `fail_key` is false).
//! - `msg` (str): set when a missing `key` was tolerated (`fail_key: false`).

use crate::args::{ArgsError, de};
use crate::host::{Exec, ExecOutput, Host};
use crate::module::{Context, ModuleError, TypedModule};
use crate::outcome::Outcome;
use crate::sh::quote;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Arguments of `getent`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The database to read (`passwd`, `group`, `hosts`, `services`...).
    #[serde(deserialize_with = "de::string")]
    pub database: String,
    /// Read only the entries for this key (else the whole database).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub key: Option<String>,
    /// Use this service for every database (`getent -s`; not every system has it).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub service: Option<String>,
    /// The text that separates the fields (non-empty). Default: `:` for
    /// `passwd`, `shadow`, `group` and `gshadow`, else runs of white space.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub split: Option<String>,
    /// Fail when `key` is not in the database.
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub fail_key: bool,
}

fn yes() -> bool {
    true
}

/// Databases whose fields are separated by `:`.
const COLON_DATABASES: &[&str] = &["passwd", "shadow", "group", "gshadow"];

/// The `getent` module.
pub struct Getent;

impl Getent {
    /// The one script: `getent`'s output, with its exit status.
    pub fn script(args: &Args) -> Exec {
        let mut words = vec![quote(&args.database).into_owned()];
        if let Some(key) = &args.key {
            words.push(quote(key).into_owned());
        }
        if let Some(service) = &args.service {
            words.push("-s".into());
            words.push(quote(service).into_owned());
        }
        Exec::script(format!(
            "if ! command -v getent >/dev/null 2>&1; then\n\
             \x20 printf 'tend: Failed to find required executable \"getent\" in paths: %s\\n' \"$PATH\" >&2; exit 127\n\
             fi\n\
             exec getent {}\n",
            words.join(" ")
        ))
    }

    /// The entries of `getent`'s output, by their first field.
    pub fn parse(text: &str, split: Option<&str>) -> Map<String, Value> {
        let mut entries = Map::new();
        let mut seen: Map<String, Value> = Map::new();
        for line in splitlines(text) {
            let mut fields: Vec<Value> = match split {
                Some(sep) => line.split(sep).map(Value::from).collect(),
                None => line.split_whitespace().map(Value::from).collect(),
            };
            if fields.is_empty() {
                // Python's `''.split()` is `[]`: `record[0]` would fail; skip it.
                continue;
            }
            let first = fields.remove(0);
            let name = first.as_str().unwrap_or_default().to_string();
            let rest = Value::Array(fields);
            match seen.get(&name).and_then(Value::as_u64) {
                None => {
                    entries.insert(name.clone(), rest);
                    seen.insert(name, 1.into());
                }
                Some(n) => {
                    let slot = entries.entry(name.clone()).or_insert(Value::Null);
                    if n == 1 {
                        *slot = Value::Array(vec![slot.take()]);
                    }
                    if let Value::Array(list) = slot {
                        list.push(rest);
                    }
                    seen.insert(name, (n + 1).into());
                }
            }
        }
        entries
    }

    /// The outcome for the script's output.
    pub fn outcome(args: &Args, out: &ExecOutput) -> Result<Outcome, ModuleError> {
        let fact = format!("getent_{}", args.database);
        let split = args.split.as_deref().or_else(|| {
            COLON_DATABASES
                .contains(&args.database.as_str())
                .then_some(":")
        });
        let facts = |entries: Map<String, Value>| {
            let mut f = Map::new();
            f.insert(fact.clone(), Value::Object(entries));
            Value::Object(f)
        };
        match out.status {
            0 => Ok(Outcome::ok().with(
                "ansible_facts",
                facts(Getent::parse(&out.stdout_text(), split)),
            )),
            2 if !args.fail_key => {
                let mut entries = Map::new();
                entries.insert(args.key.clone().unwrap_or_default(), Value::Null);
                Ok(Outcome::ok()
                    .with("ansible_facts", facts(entries))
                    .with_msg("One or more supplied key could not be found in the database."))
            }
            1 => Err(ModuleError::failed(
                "Missing arguments, or database unknown.",
            )),
            2 => Err(ModuleError::failed(
                "One or more supplied key could not be found in the database.",
            )),
            3 => Err(ModuleError::failed(
                "Enumeration not supported on this database.",
            )),
            127 => Err(ModuleError::applying("Unexpected failure!", out)),
            _ => Err(ModuleError::failed("Unexpected failure!")),
        }
    }
}

/// Python's `str.splitlines()` for the line ends `getent` prints.
fn splitlines(text: &str) -> impl Iterator<Item = &str> {
    text.split_terminator('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
}

#[async_trait]
impl TypedModule for Getent {
    type Args = Args;
    const NAME: &'static str = "getent";

    fn validate(args: &Args) -> Result<(), ArgsError> {
        if args.split.as_deref() == Some("") {
            return Err(ArgsError::field(
                "split",
                "Invalid split value. The value must be a non-empty string",
            ));
        }
        Ok(())
    }

    async fn run(
        &self,
        args: Args,
        _ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError> {
        let out = host.exec(Getent::script(&args).read_only()).await?;
        Getent::outcome(&args, &out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Replay, out};
    use serde_json::json;

    #[test]
    fn reads_entries_into_the_database_fact() {
        let host = Replay::new(&[b"ansibulluser:$6$x:19000:0:99999:7:::\n"]);
        let o = host
            .run(
                &Getent,
                json!({"database": "shadow", "key": "ansibulluser"}),
                true,
            )
            .unwrap();
        assert!(!o.changed);
        assert_eq!(
            o.values["ansible_facts"],
            json!({"getent_shadow": {"ansibulluser": ["$6$x", "19000", "0", "99999", "7", "", "", ""]}})
        );
        assert!(
            host.scripts()[0].contains("exec getent shadow ansibulluser\n"),
            "{}",
            host.scripts()[0]
        );
    }

    #[test]
    fn splits_at_white_space_or_split_and_keeps_duplicates() {
        let text = "127.0.0.1       localhost\n::1  localhost ip6-localhost\n127.0.0.1 other\n";
        let e = Getent::parse(text, None);
        assert_eq!(
            Value::Object(e),
            json!({"127.0.0.1": [["localhost"], ["other"]], "::1": ["localhost", "ip6-localhost"]})
        );
        let e = Getent::parse("a;b;c\n", Some(";"));
        assert_eq!(Value::Object(e), json!({"a": ["b", "c"]}));
        let host = Replay::new(&[b""]);
        host.run(
            &Getent,
            json!({"database": "hosts", "service": "files"}),
            false,
        )
        .unwrap();
        assert!(host.scripts()[0].contains("exec getent hosts -s files\n"));
    }

    #[test]
    fn missing_keys_fail_unless_tolerated() {
        let args = json!({"database": "passwd", "key": "nobody-here"});
        let host = Replay::outputs(vec![out(2, "")]);
        let err = host.run(&Getent, args.clone(), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "One or more supplied key could not be found in the database."
        );
        let host = Replay::outputs(vec![out(2, "")]);
        let mut tolerant = args;
        tolerant["fail_key"] = json!(false);
        let o = host.run(&Getent, tolerant, false).unwrap();
        assert_eq!(
            o.values["ansible_facts"],
            json!({"getent_passwd": {"nobody-here": null}})
        );
        let host = Replay::outputs(vec![out(1, "")]);
        let err = host
            .run(&Getent, json!({"database": "nope"}), false)
            .unwrap_err();
        assert_eq!(err.to_string(), "Missing arguments, or database unknown.");
        let host = Replay::outputs(vec![out(3, "")]);
        let err = host
            .run(&Getent, json!({"database": "shadow"}), false)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Enumeration not supported on this database."
        );
        assert!(
            Replay::new(&[])
                .run(&Getent, json!({"database": "passwd", "split": ""}), false)
                .is_err()
        );
    }
}
