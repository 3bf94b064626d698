//! The `package` module: install or remove packages with the target's own
//! package manager.
//!
//! As Ansible's `package` action: the package manager is found on the
//! target (in the same round trip as the package probe, since a module does
//! not see facts) and the task runs as that manager's module with the same
//! arguments (all but `use`), so `apt`'s options such as `update_cache` pass
//! through. Only apt (`apt-get` and `dpkg-query` on the target) is supported
//! yet: on a dnf, yum, zypper, apk or pacman host the task fails saying so.
//!
//! # Examples
//!
//! ```yaml
//! - name: Tools every host needs
//!   package:
//!     name: [curl, rsync]
//!     state: present
//!
//! - name: Through apt, refreshing its cache
//!   package:
//!     name: nginx
//!     state: latest
//!     update_cache: yes
//! ```
//!
//! # Return values
//!
//! - `cache_updated` (bool): with apt, whether the package cache was updated.
//! - `cache_update_time` (int): with apt, when the cache was last updated.
//! - `stdout` (str): the package manager's output.
//! - `stderr` (str): the package manager's error output.

use crate::apt;
use crate::args::{self, ArgsError, de};
use crate::choice;
use crate::host::Host;
use crate::module::{Context, FreeForm, Module, ModuleError};
use crate::outcome::Outcome;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;

choice! {
    /// `use` of `package`.
    pub enum Use {
        /// The target's package manager, detected.
        Auto = ["auto"],
        /// apt.
        Apt = ["apt"],
        /// dnf (not supported yet).
        Dnf = ["dnf", "dnf5"],
        /// yum (not supported yet).
        Yum = ["yum"],
        /// zypper (not supported yet).
        Zypper = ["zypper"],
        /// apk (not supported yet).
        Apk = ["apk"],
        /// pacman (not supported yet).
        Pacman = ["pacman"],
    }
}

/// Arguments of `package`; any other argument goes to the package manager's
/// module (apt's `update_cache`, `purge`...).
#[derive(Debug, Clone, Deserialize)]
pub struct Args {
    /// Package names (a list or a comma-separated string), `name=version` with apt.
    #[serde(deserialize_with = "de::list")]
    pub name: Vec<String>,
    /// `present`, `absent` or `latest` (as the package manager's module accepts).
    #[serde(deserialize_with = "de::string")]
    pub state: String,
    /// The package manager's module to use (`auto` detects it on the target).
    #[serde(default, rename = "use")]
    pub use_: Option<Use>,
}

/// The `package` module.
pub struct Package;

/// Splits `use` off, checks `name`/`state`, and reads the rest as apt's arguments.
fn split(raw: &Value, checking: bool) -> Result<apt::Args, ArgsError> {
    let mut map = match raw {
        Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    let mine: serde_json::Map<String, Value> = ["name", "state", "use"]
        .iter()
        .filter_map(|k| map.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect();
    let parsed: Args = if checking {
        args::check(&Value::Object(mine))?
    } else {
        args::parse(&Value::Object(mine))?
    };
    match parsed.use_ {
        None | Some(Use::Auto) | Some(Use::Apt) => {}
        Some(other) => {
            return Err(ArgsError::field(
                "use",
                format!(
                    "package: the {} package manager is not supported yet (only apt)",
                    other.as_str()
                ),
            ));
        }
    }
    map.remove("use");
    let a: apt::Args = if checking {
        args::check(&Value::Object(map))?
    } else {
        args::parse(&Value::Object(map))?
    };
    apt::validate(&a)?;
    Ok(a)
}

#[async_trait]
impl Module for Package {
    fn name(&self) -> &'static str {
        "package"
    }

    fn free_form(&self) -> FreeForm {
        FreeForm::KeyValue
    }

    fn check(&self, raw: &Value) -> Result<(), ArgsError> {
        split(raw, true).map(|_| ())
    }

    async fn run(
        &self,
        raw: &Value,
        ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError> {
        let a = split(raw, false)?;
        apt::run(&a, ctx, host, "package").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Replay, out};
    use serde_json::json;

    #[test]
    fn arguments_pass_through_to_apt() {
        let a = split(
            &json!({"name": "curl", "state": "latest", "update_cache": true, "use": "auto"}),
            false,
        )
        .unwrap();
        assert_eq!(a.name, vec!["curl"]);
        assert_eq!(a.state, apt::State::Latest);
        assert_eq!(a.update_cache, Some(true));
        let err = split(
            &json!({"name": "curl", "state": "present", "use": "dnf"}),
            false,
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "package: the dnf package manager is not supported yet (only apt)"
        );
        let err = split(&json!({"name": "curl"}), false).unwrap_err();
        assert_eq!(err.message, "missing required arguments: state");
        assert!(split(&json!({"name": "curl", "state": "{{ s }}"}), true).is_ok());
    }

    #[tokio::test]
    async fn other_managers_fail_clearly() {
        let host = Replay::outputs(vec![out(0, "MGR|dnf\n")]);
        let err = Package
            .run(
                &json!({"name": "curl", "state": "present"}),
                &Context::default(),
                &host,
            )
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "package: the dnf package manager is not supported yet (only apt)"
        );
        assert_eq!(host.scripts().len(), 1);
    }
}
