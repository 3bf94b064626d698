//! The module reference (`tend doc`), generated at build time from the
//! module sources by `build.rs`, so code and documentation cannot drift.
//!
//! Each module file's `//!` doc gives the synopsis, the semantics, the
//! examples and the return values; its `Args` struct gives the options (doc
//! comments, serde names, aliases and defaults, Rust types). `build.rs`
//! explains the convention and fails the build when a module breaks it.

use serde_json::Value;

/// The reference of one module.
#[derive(Debug)]
pub struct ModuleDoc {
    /// Short name (`copy`).
    pub name: &'static str,
    /// One line.
    pub synopsis: &'static str,
    /// Paragraphs of semantics (Markdown-ish: `code`, list items on their own lines).
    pub description: &'static [&'static str],
    /// The file that defines it (`modules/src/copy.rs`).
    pub source: &'static str,
    /// Example tasks, YAML.
    pub examples: &'static str,
    /// Every option, sorted by name.
    pub options: &'static [OptionDoc],
    /// The module's own return values.
    pub returns: &'static [ReturnDoc],
}

/// One option (argument) of a module.
#[derive(Debug)]
pub struct OptionDoc {
    /// Ansible's name (`_raw_params` is shown as `free_form`).
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// Ansible's type: `str`, `bool`, `int`, `float`, `path`, `list`, `dict`, `raw`.
    pub kind: &'static str,
    /// The type of a list's elements.
    pub elements: Option<&'static str>,
    /// Must be given.
    pub required: bool,
    /// The default as JSON text (see [`OptionDoc::default_value`]).
    pub default: Option<&'static str>,
    /// The accepted values, canonical spellings first.
    pub choices: &'static [&'static str],
    /// Other accepted names.
    pub aliases: &'static [&'static str],
}

/// One return value of a module.
#[derive(Debug)]
pub struct ReturnDoc {
    /// The key in the result.
    pub key: &'static str,
    /// Its type (`str`, `int`, `bool`, `list`, `dict`...).
    pub kind: &'static str,
    /// What it holds.
    pub description: &'static str,
}

impl OptionDoc {
    /// The default value, if the option has one.
    pub fn default_value(&self) -> Option<Value> {
        self.default
            .map(|text| serde_json::from_str(text).unwrap_or_else(|_| Value::from(text)))
    }
}

include!(concat!(env!("OUT_DIR"), "/module_docs.rs"));

/// Every module's reference, sorted by name.
pub fn list() -> &'static [ModuleDoc] {
    MODULES
}

/// The reference of a module by short name or `ansible.builtin.` / `ansible.legacy.` name.
pub fn lookup(name: &str) -> Option<&'static ModuleDoc> {
    let short = name
        .strip_prefix("ansible.builtin.")
        .or_else(|| name.strip_prefix("ansible.legacy."))
        .unwrap_or(name);
    MODULES.iter().find(|m| m.name == short)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_registered_module_is_documented_and_nothing_else() {
        let mut registered: Vec<&str> = crate::registry::names().collect();
        registered.sort_unstable();
        let documented: Vec<&str> = list().iter().map(|m| m.name).collect();
        assert_eq!(documented, registered);
    }

    #[test]
    fn every_module_has_synopsis_examples_and_documented_options() {
        for m in list() {
            assert!(!m.synopsis.is_empty(), "{}", m.name);
            assert!(!m.examples.trim().is_empty(), "{}", m.name);
            assert!(!m.options.is_empty(), "{}", m.name);
            for o in m.options {
                assert!(!o.description.is_empty(), "{}.{}", m.name, o.name);
                if let Some(d) = o.default {
                    assert!(
                        serde_json::from_str::<Value>(d).is_ok(),
                        "{}.{}",
                        m.name,
                        o.name
                    );
                }
            }
        }
    }

    fn option(module: &str, name: &str) -> &'static OptionDoc {
        let m = lookup(module).expect(module);
        m.options.iter().find(|o| o.name == name).expect(name)
    }

    #[test]
    fn options_come_from_the_args_structs() {
        let path = option("replace", "path");
        assert!(path.required);
        assert_eq!(path.kind, "str");
        assert_eq!(path.aliases, ["dest", "destfile", "name"]);
        assert_eq!(path.default, None);
        let backup = option("replace", "backup");
        assert!(!backup.required);
        assert_eq!(backup.default_value(), Some(json!(false)));
        assert_eq!(option("replace", "mode").kind, "raw");
        assert_eq!(
            option("replace", "replace").default_value(),
            Some(json!(""))
        );
        // `default = "yes"` reads `fn yes() -> bool { true }`.
        assert_eq!(option("copy", "force").default_value(), Some(json!(true)));
        assert_eq!(option("copy", "force").aliases, ["thirsty"]);
        // A choice! enum imported from another file, with a default fn returning a variant.
        let state = option("blockinfile", "state");
        assert_eq!(state.choices, ["present", "absent"]);
        assert_eq!(state.default_value(), Some(json!("present")));
        assert_eq!(
            option("blockinfile", "marker").default_value(),
            Some(json!("# {mark} ANSIBLE MANAGED BLOCK"))
        );
        assert_eq!(
            option("stat", "checksum_algorithm").default_value(),
            Some(json!("sha1"))
        );
        assert_eq!(
            option("template", "newline_sequence").default_value(),
            Some(json!("\n"))
        );
        // file's own `State`, not lineinfile's.
        assert_eq!(
            option("file", "state").choices,
            ["file", "directory", "link", "hard", "touch", "absent"]
        );
        // `_raw_params` is `free_form`; engine-internal `_x` fields are hidden.
        assert!(lookup("command").is_some_and(|m| m.options.iter().any(|o| o.name == "free_form")));
        assert!(
            list()
                .iter()
                .all(|m| m.options.iter().all(|o| !o.name.starts_with('_')))
        );
        let argv = option("command", "argv");
        assert_eq!((argv.kind, argv.elements), ("list", Some("str")));
    }

    #[test]
    fn a_file_with_several_modules_gives_each_its_synopsis_and_examples() {
        let (command, shell, raw) = (
            lookup("command").unwrap(),
            lookup("shell").unwrap(),
            lookup("ansible.builtin.raw").unwrap(),
        );
        assert_ne!(command.synopsis, shell.synopsis);
        assert_ne!(shell.synopsis, raw.synopsis);
        assert!(shell.examples.contains("shell:"));
        assert!(!shell.examples.contains("ansible.builtin.command:"));
        assert!(raw.examples.contains("raw:"));
        assert!(lookup("nope").is_none());
    }
}
