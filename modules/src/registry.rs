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
