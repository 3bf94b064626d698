//! Every module tend ships, by name.

use crate::module::Module;

static MODULES: &[&dyn Module] = &[
    &crate::apt::Apt,
    &crate::apt_repository::AptRepository,
    &crate::authorized_key::AuthorizedKey,
    &crate::blockinfile::BlockInFile,
    &crate::command::Command,
    &crate::command::Shell,
    &crate::command::Raw,
    &crate::copy::Copy,
    &crate::cron::Cron,
    &crate::fetch::FetchModule,
    &crate::file::File,
    &crate::find::Find,
    &crate::get_url::GetUrl,
    &crate::getent::Getent,
    &crate::git::Git,
    &crate::group::Group,
    &crate::hostname::Hostname,
    &crate::known_hosts::KnownHosts,
    &crate::lineinfile::LineInFile,
    &crate::package::Package,
    &crate::ping::Ping,
    &crate::replace::Replace,
    &crate::script::Script,
    &crate::service::Service,
    &crate::slurp::Slurp,
    &crate::stat::Stat,
    &crate::sysctl::Sysctl,
    &crate::systemd::Systemd,
    &crate::systemd::SystemdService,
    &crate::template::Template,
    &crate::tempfile::TempFile,
    &crate::unarchive::Unarchive,
    &crate::uri::Uri,
    &crate::user::User,
    &crate::wait_for::WaitFor,
];

/// Modules that live in a collection rather than in ansible.builtin, by
/// their fully qualified names (playbooks use those names too).
const COLLECTION_MODULES: &[(&str, &str)] = &[
    ("ansible.posix.authorized_key", "authorized_key"),
    ("ansible.posix.sysctl", "sysctl"),
];

/// Finds a module by short name, by its `ansible.builtin.` /
/// `ansible.legacy.` name, or by its collection name (`ansible.posix.sysctl`).
pub fn lookup(name: &str) -> Option<&'static dyn Module> {
    let short = name
        .strip_prefix("ansible.builtin.")
        .or_else(|| name.strip_prefix("ansible.legacy."))
        .or_else(|| {
            COLLECTION_MODULES
                .iter()
                .find(|(fq, _)| *fq == name)
                .map(|(_, short)| *short)
        })
        .unwrap_or(name);
    MODULES.iter().copied().find(|m| m.name() == short)
}

/// Short names of all modules.
pub fn names() -> impl Iterator<Item = &'static str> {
    MODULES.iter().map(|m| m.name())
}

/// The module of a task whose module name is a template (`action: "{{
/// ansible_facts.pkg_mgr }}"`): the name, rendered with the other arguments
/// under [`TEMPLATED_NAME_KEY`], picks the module when the task runs, and
/// that module then checks and runs the rest of the arguments.
pub struct Templated;

/// What [`Templated`] is called before its name is rendered.
const TEMPLATED_ACTION: &str = "action";

/// The argument that carries a [`Templated`] task's module name.
pub const TEMPLATED_NAME_KEY: &str = "_tend_module_name";

#[async_trait::async_trait]
impl Module for Templated {
    fn name(&self) -> &'static str {
        // Not a module of its own (the reference leaves it out): it stands
        // for the one its name renders to.
        TEMPLATED_ACTION
    }

    fn free_form(&self) -> crate::module::FreeForm {
        crate::module::FreeForm::KeyValue
    }

    /// Nothing to check before the module is known.
    fn check(&self, _args: &serde_json::Value) -> Result<(), crate::args::ArgsError> {
        Ok(())
    }

    async fn run(
        &self,
        args: &serde_json::Value,
        ctx: &crate::module::Context,
        host: &dyn crate::host::Host,
    ) -> Result<crate::outcome::Outcome, crate::module::ModuleError> {
        let mut rest = args.as_object().cloned().unwrap_or_default();
        let name = match rest.remove(TEMPLATED_NAME_KEY) {
            Some(serde_json::Value::String(n)) => n.trim().to_string(),
            other => {
                return Err(crate::module::ModuleError::failed(format!(
                    "the module name must render to a string, got {}",
                    other.unwrap_or_default()
                )));
            }
        };
        let module = lookup(&name).ok_or_else(|| {
            crate::module::ModuleError::failed(format!(
                "couldn't resolve module/action '{name}' (a templated module name must name one of the modules tend supports)"
            ))
        })?;
        module
            .run(&serde_json::Value::Object(rest), ctx, host)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Replay;
    use serde_json::json;

    #[test]
    fn a_templated_name_picks_the_module_at_run_time() {
        let host = Replay::new(&[b"ok\0hi"]);
        let o = host
            .run(
                &Templated,
                json!({TEMPLATED_NAME_KEY: "ansible.builtin.slurp", "src": "/etc/motd"}),
                false,
            )
            .unwrap();
        assert_eq!(o.values["content"], "aGk=");
        assert!(host.scripts()[0].contains("cat < /etc/motd"));

        let host = Replay::new(&[]);
        let err = host
            .run(
                &Templated,
                json!({TEMPLATED_NAME_KEY: "nosuch", "a": 1}),
                false,
            )
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("couldn't resolve module/action 'nosuch'")
        );
        let err = host
            .run(
                &Templated,
                json!({TEMPLATED_NAME_KEY: "slurp", "bogus": 1}),
                false,
            )
            .unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
        assert!(host.scripts().is_empty());
        assert!(Templated.check(&json!({"anything": 1})).is_ok());
    }
}
