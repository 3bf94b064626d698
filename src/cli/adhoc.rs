//! `tend run` and `tend ping`: one module on many hosts, like `ansible`.
//!
//! The command line becomes a one-task play held in memory, so the module
//! and its arguments go through the same compiler (every mistake reported
//! before any host is contacted) and executor as a playbook.

use super::{
    ConnectionArgs, exit_on, load_inventory, parse_extra_vars, print_diags, runtime, settings,
};
use crate::compile;
use crate::config::CliOverrides;
use crate::exec::{self, RunOptions};
use crate::report::{AdHoc, Reporters};
use crate::template::Templar;
use clap::Args;
use std::path::Path;

/// `tend run`: ansible's ad-hoc command.
#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// Host pattern (`all`, `web`, `db:!db3`, ...).
    pattern: String,
    /// The module to run.
    #[arg(short = 'm', long = "module-name", default_value = "command")]
    module: String,
    /// The module's arguments: `k=v ...`, a command line, or a JSON mapping.
    #[arg(short = 'a', long = "args")]
    args: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

/// `tend ping`: can every host be logged in to and run a shell?
#[derive(Debug, Args)]
pub(super) struct PingArgs {
    /// Host pattern (default `all`).
    #[arg(default_value = "all")]
    pattern: String,
    #[command(flatten)]
    common: CommonArgs,
}

/// Options shared by `tend run` and `tend ping`.
#[derive(Debug, Args)]
struct CommonArgs {
    /// Inventory file, directory, script or comma-separated host list (repeatable).
    #[arg(short = 'i', long = "inventory", alias = "inventory-file")]
    inventory: Vec<String>,
    /// Predict changes, change nothing.
    #[arg(short = 'C', long)]
    check: bool,
    /// Show unified diffs of what changes.
    #[arg(short = 'D', long)]
    diff: bool,
    /// Extra variables: `k=v`, `@file.yml`, or JSON/YAML (repeatable).
    #[arg(short = 'e', long = "extra-vars")]
    extra_vars: Vec<String>,
    /// Further limit the selected hosts to a pattern.
    #[arg(short = 'l', long)]
    limit: Option<String>,
    /// Hosts to work on at once (default 50, or ansible.cfg's/tend.toml's).
    #[arg(short = 'f', long)]
    forks: Option<usize>,
    /// One line per host.
    #[arg(short = 'o', long = "one-line")]
    one_line: bool,
    /// More output (-v, -vv, -vvv).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(flatten)]
    vault: super::vault::VaultArgs,
}

pub(super) fn run(a: RunArgs, toml: Option<&Path>) -> i32 {
    adhoc(&a.pattern, &a.module, a.args.as_deref(), &a.common, toml)
}

pub(super) fn ping(a: PingArgs, toml: Option<&Path>) -> i32 {
    adhoc(&a.pattern, "ping", None, &a.common, toml)
}

/// The one-task play for an ad-hoc command, as YAML.
pub(crate) fn adhoc_play(
    pattern: &str,
    module: &str,
    args: Option<&str>,
) -> Result<String, String> {
    let valid = !module.is_empty()
        && module
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !valid {
        return Err(format!("`{module}` is not a module name"));
    }
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let args = match args.map(str::trim) {
        None | Some("") => "{}".to_string(),
        // A JSON mapping is YAML too.
        Some(a) if a.starts_with('{') => a.to_string(),
        Some(a) => quote(a),
    };
    Ok(format!(
        "- hosts: {}\n  gather_facts: false\n  tasks:\n    - {module}: {args}\n",
        quote(pattern)
    ))
}

fn adhoc(
    pattern: &str,
    module: &str,
    args: Option<&str>,
    a: &CommonArgs,
    toml: Option<&Path>,
) -> i32 {
    match try_adhoc(pattern, module, args, a, toml) {
        Ok(code) | Err(code) => code,
    }
}

fn try_adhoc(
    pattern: &str,
    module: &str,
    args: Option<&str>,
    a: &CommonArgs,
    toml: Option<&Path>,
) -> Result<i32, i32> {
    let mut overrides = CliOverrides {
        inventory: a.inventory.clone(),
        forks: a.forks,
        ..CliOverrides::default()
    };
    a.connection.overrides(&mut overrides);
    let cfg = settings(toml, None, overrides)?;
    if !super::install_vault_secrets(&a.vault, &cfg) {
        return Err(1);
    }
    let templar = Templar::new();
    let source = exit_on(adhoc_play(pattern, module, args), 5)?;
    let book =
        compile::compile_source("<ad-hoc>", &source, ".".into(), &templar).map_err(|diags| {
            print_diags(&diags);
            5
        })?;
    let opts = RunOptions {
        check: a.check,
        diff: a.diff,
        forks: cfg.forks.value,
        extra_vars: exit_on(parse_extra_vars(&a.extra_vars), 5)?,
        limit: a.limit.clone(),
        verbosity: a.verbose,
        cli_vars: exit_on(a.connection.vars(&cfg), 5)?,
        ..RunOptions::default()
    };
    let inventory = exit_on(load_inventory(&cfg), 4)?;
    let runtime = runtime()?;
    // Through the fan-out, so `no_log` results are censored as everywhere.
    let mut reporter = Reporters::new();
    reporter.push(Box::new(AdHoc::new(std::io::stdout(), module, a.one_line)));
    let summary = runtime.block_on(exec::run_playbook(
        &book,
        &inventory,
        &opts,
        &templar,
        &mut reporter,
    ));
    Ok(summary.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_becomes_a_one_task_play() {
        assert_eq!(
            adhoc_play("web:&prod", "shell", Some("echo \"$HOME\" | wc -c")).unwrap(),
            "- hosts: \"web:&prod\"\n  gather_facts: false\n  tasks:\n    - shell: \"echo \\\"$HOME\\\" | wc -c\"\n"
        );
        assert_eq!(
            adhoc_play("all", "ansible.builtin.file", Some(r#"{"path": "/tmp/x"}"#)).unwrap(),
            "- hosts: \"all\"\n  gather_facts: false\n  tasks:\n    - ansible.builtin.file: {\"path\": \"/tmp/x\"}\n"
        );
        assert!(adhoc_play("all", "ping\n  - x", None).is_err());
    }
}
