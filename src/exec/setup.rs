//! Fact gathering on a host: the play's implicit "Gathering Facts" (with
//! the play's `gather_subset`, `gather_timeout`, `fact_path`) and the
//! `setup` task. Both run the one fact script ([`facts::Request::script`])
//! and return the facts as Ansible's `setup` module does.

use std::time::Duration;

use serde_json::{Map, Value, json};
use tend_modules::args::py_repr;
use tend_modules::{Exec, ExecOutput, HostError};

use super::facts::{self, Request};

/// The exit status of coreutils `timeout` when it ended the command.
const TIMEOUT_STATUS: i32 = 124;

/// Why a gathering gave no facts.
#[derive(Debug)]
pub(crate) enum GatherError {
    /// The host is unreachable.
    Unreachable(String),
    /// The gathering could not run (become refused, a keyword's template).
    Failed(String),
    /// What Ansible's `setup` module fails with (an unknown subset).
    Module(String),
    /// It took longer than `gather_timeout`.
    TimedOut,
}

impl GatherError {
    /// The failure's message.
    pub(crate) fn message(&self) -> String {
        match self {
            GatherError::Unreachable(m) | GatherError::Failed(m) | GatherError::Module(m) => {
                m.clone()
            }
            GatherError::TimedOut => "Timeout exceeded".into(),
        }
    }
}

/// Runs the fact script for `request` with `exec` (the host's connection,
/// become applied) and returns the facts as `setup` names them. The whole
/// run is bounded by `gather_timeout` when it is set.
pub(crate) async fn gather<F>(request: &Request, exec: F) -> Result<Map<String, Value>, GatherError>
where
    F: AsyncFnOnce(Exec) -> Result<ExecOutput, HostError>,
{
    // A bad subset fails before anything runs, as in Ansible.
    facts::subset::collectors(&request.gather_subset).map_err(GatherError::Module)?;
    let run = exec(Exec::script(request.script()).read_only());
    let out = match request.gather_timeout {
        None => run.await,
        Some(secs) => tokio::time::timeout(Duration::from_secs(secs), run)
            .await
            .map_err(|_| GatherError::TimedOut)?,
    };
    let out = match out {
        Ok(o) => o,
        Err(e @ HostError::Unreachable(_)) => return Err(GatherError::Unreachable(e.to_string())),
        Err(e) => return Err(GatherError::Failed(e.to_string())),
    };
    // `timeout` (see [`deadline`]) ended it first.
    if request.gather_timeout.is_some() && out.status == TIMEOUT_STATUS {
        return Err(GatherError::TimedOut);
    }
    if out.status != 0 {
        return Err(GatherError::Unreachable(format!(
            "fact gathering failed (rc={}): {}",
            out.status,
            out.stderr_text()
        )));
    }
    let all =
        facts::parse(&out.stdout_text()).map_err(|e| GatherError::Unreachable(e.to_string()))?;
    request.select(all).map_err(GatherError::Module)
}

/// The failed result of a play's fact gathering (Ansible's `gather_facts`
/// action) when the `setup` module failed: it names the module, and its
/// own result is under `failed_modules`.
pub(crate) fn gather_facts_failure(e: &GatherError) -> Value {
    match e {
        GatherError::Module(_) | GatherError::TimedOut => json!({
            "ansible_facts": {},
            "changed": false,
            "failed": true,
            "failed_modules": {"ansible.legacy.setup": {
                "exception": super::task::NO_TRACEBACK,
                "failed": true,
                "msg": e.message(),
            }},
            "msg": "The following modules failed to execute: ansible.legacy.setup.",
        }),
        e => json!({"failed": true, "msg": e.message(), "changed": false}),
    }
}

/// When the remote command must be killed: `gather_timeout` from now
/// (the connection runs it under `timeout`, so that a hung probe and what
/// it started end on the target too).
pub(crate) fn deadline(request: &Request) -> Option<std::time::Instant> {
    request
        .gather_timeout
        .map(|secs| std::time::Instant::now() + Duration::from_secs(secs))
}

/// The `setup` task's result: the facts, unchanged, or its failure.
pub(crate) fn task_result(gathered: &Result<Map<String, Value>, GatherError>) -> Value {
    match gathered {
        Ok(f) => json!({"ansible_facts": f, "changed": false, "failed": false}),
        Err(GatherError::Unreachable(m)) => {
            json!({"msg": m, "unreachable": true, "changed": false})
        }
        Err(e) => json!({"failed": true, "msg": e.message(), "changed": false,
            "exception": super::task::NO_TRACEBACK}),
    }
}

/// The request a `setup` task's (rendered) arguments make, with Ansible's
/// messages for arguments of the wrong type.
pub(crate) fn task_request(args: &Value) -> Result<Request, String> {
    let arg = |name: &str| args.get(name).filter(|v| !v.is_null());
    Ok(Request {
        gather_subset: arg("gather_subset")
            .map(|v| list("gather_subset", v))
            .transpose()?
            .unwrap_or_default(),
        gather_timeout: arg("gather_timeout")
            .map(|v| timeout("gather_timeout", v))
            .transpose()?,
        filter: arg("filter")
            .map(|v| list("filter", v))
            .transpose()?
            .unwrap_or_default(),
        fact_path: arg("fact_path").map(text),
    })
}

/// The request of a play's fact gathering, from its (rendered) keywords:
/// `gather_subset` is a list (a single value is a list of one),
/// `gather_timeout` an integer.
pub(crate) fn play_request(
    gather_subset: Option<&Value>,
    gather_timeout: Option<&Value>,
    fact_path: Option<&Value>,
) -> Result<Request, String> {
    let gather_subset = match gather_subset {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(text).collect(),
        Some(one) => vec![text(one)],
    };
    Ok(Request {
        gather_subset,
        gather_timeout: gather_timeout
            .filter(|v| !v.is_null())
            .map(|v| timeout("gather_timeout", v))
            .transpose()?,
        filter: Vec::new(),
        fact_path: fact_path.filter(|v| !v.is_null()).map(text),
    })
}

/// A value as a string element (Python's `str` of it).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Ansible's `list` argument type: a list, or text split at commas, or a
/// number as a list of one.
fn list(name: &str, v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::Array(items) => Ok(items.iter().map(text).collect()),
        Value::String(s) => Ok(s.split(',').map(str::to_owned).collect()),
        Value::Number(_) => Ok(vec![text(v)]),
        other => Err(format!(
            "argument '{name}' is of type {} and we were unable to convert to list: {} cannot be converted to a list",
            class(other),
            class(other)
        )),
    }
}

/// A whole number of seconds (an `int` argument), at least 1.
fn timeout(name: &str, v: &Value) -> Result<u64, String> {
    let n = match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n > 0 => Ok(n.unsigned_abs()),
        // Ansible takes 0 (or less) as its default, 10.
        Some(_) => Ok(10),
        None => Err(format!(
            "argument '{name}' is of type {} and we were unable to convert to int: {} cannot be converted to an int",
            class(v),
            class(v)
        )),
    }
}

/// Python's `<class '...'>` for a value.
fn class(v: &Value) -> String {
    format!("<class '{}'>", crate::compile::actions::python_type(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_arguments_convert_as_ansibles() {
        let r = task_request(&json!({
            "gather_subset": "!all,network",
            "filter": ["ansible_*_mb", "kernel"],
            "gather_timeout": "5",
            "fact_path": "/srv/facts"
        }))
        .unwrap();
        assert_eq!(r.gather_subset, ["!all", "network"]);
        assert_eq!(r.filter, ["ansible_*_mb", "kernel"]);
        assert_eq!(r.gather_timeout, Some(5));
        assert_eq!(r.fact_path.as_deref(), Some("/srv/facts"));
        // Ansible splits at commas without trimming.
        assert_eq!(
            task_request(&json!({"gather_subset": "a, b"}))
                .unwrap()
                .gather_subset,
            ["a", " b"]
        );
        assert_eq!(task_request(&json!({})).unwrap(), Request::default());
        assert!(
            task_request(&json!({"gather_timeout": "soon"}))
                .unwrap_err()
                .contains("unable to convert to int")
        );
        assert!(
            task_request(&json!({"filter": {"a": 1}}))
                .unwrap_err()
                .contains("unable to convert to list")
        );
    }

    #[test]
    fn play_keywords_make_a_list_of_one() {
        let r = play_request(Some(&json!("!all,network")), Some(&json!(3)), None).unwrap();
        assert_eq!(r.gather_subset, ["!all,network"]);
        assert_eq!(r.gather_timeout, Some(3));
        let r = play_request(Some(&json!(["min"])), None, Some(&json!("/x"))).unwrap();
        assert_eq!(r.gather_subset, ["min"]);
        assert_eq!(r.fact_path.as_deref(), Some("/x"));
    }

    #[tokio::test]
    async fn a_bad_subset_fails_before_running() {
        let request = Request {
            gather_subset: vec!["bogus".into()],
            ..Request::default()
        };
        let r = gather(&request, async |_| -> Result<ExecOutput, HostError> {
            panic!("must not run")
        })
        .await;
        let Err(e) = r else { panic!("gathered") };
        assert!(matches!(&e, GatherError::Module(m) if m.starts_with("Bad subset 'bogus'")));
        let failure = gather_facts_failure(&e);
        assert_eq!(
            failure["msg"],
            "The following modules failed to execute: ansible.legacy.setup."
        );
        assert!(
            failure["failed_modules"]["ansible.legacy.setup"]["msg"]
                .as_str()
                .is_some_and(|m| m.starts_with("Bad subset 'bogus'"))
        );
    }

    #[tokio::test]
    async fn the_timeout_bounds_the_whole_gathering() {
        let request = Request {
            gather_timeout: Some(1),
            ..Request::default()
        };
        let r = gather(&request, async |_| {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(ExecOutput::default())
        })
        .await;
        assert!(matches!(r, Err(GatherError::TimedOut)));
    }

    #[tokio::test]
    async fn gathers_the_subset_asked_for() {
        let request = Request {
            gather_subset: vec!["!all".into(), "!min".into(), "date_time".into()],
            ..Request::default()
        };
        let r = gather(&request, async |e: Exec| {
            let out = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(&e.script)
                .output()
                .await
                .unwrap();
            Ok(ExecOutput {
                status: out.status.code().unwrap_or(1),
                stdout: out.stdout,
                stderr: out.stderr,
            })
        })
        .await
        .unwrap();
        let keys: Vec<&str> = r.keys().map(String::as_str).collect();
        assert_eq!(keys, ["ansible_date_time", "gather_subset", "module_setup"]);
        assert_eq!(r["gather_subset"], json!(["!all", "!min", "date_time"]));
    }
}
