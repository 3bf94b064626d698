//! Every module tend ships, by name.

use crate::module::Module;

static MODULES: &[&dyn Module] = &[
    &crate::blockinfile::BlockInFile,
    &crate::command::Command,
    &crate::command::Shell,
    &crate::command::Raw,
    &crate::copy::Copy,
    &crate::fetch::FetchModule,
    &crate::file::File,
    &crate::get_url::GetUrl,
    &crate::git::Git,
    &crate::lineinfile::LineInFile,
    &crate::replace::Replace,
    &crate::script::Script,
    &crate::stat::Stat,
    &crate::template::Template,
    &crate::unarchive::Unarchive,
    &crate::uri::Uri,
];

/// Finds a module by short name or by its `ansible.builtin.` / `ansible.legacy.` name.
pub fn lookup(name: &str) -> Option<&'static dyn Module> {
    let short = name
        .strip_prefix("ansible.builtin.")
        .or_else(|| name.strip_prefix("ansible.legacy."))
        .unwrap_or(name);
    MODULES.iter().copied().find(|m| m.name() == short)
}

/// Short names of all modules.
pub fn names() -> impl Iterator<Item = &'static str> {
    MODULES.iter().map(|m| m.name())
}
