//! The command line: `tend playbook`, `tend plan`, `tend inventory`, ...
//! Flags that mean the same as ansible-playbook's have the same names.

mod adhoc;

use crate::compile::{self, CompiledPlaybook};
use crate::config::{CliOverrides, Config, TendTomlPlace};
use crate::diagnostic::Diagnostic;
use crate::exec::{self, RunOptions};
use crate::inventory::Inventory;
use crate::plan;
use crate::report::{
    GithubAnnotations, Human, JsonLines, Junit, Markdown, Progress, ProgressWriter, Reporter,
    Reporters, RunEnd, RunInfo, SummaryFile,
};
use crate::template::Templar;
use crate::vars::Vars;
use clap::{Args, CommandFactory, Parser, Subcommand};

mod vault;
use serde_json::Value;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

mod doc;

/// tend: Ansible playbooks, compiled ahead of time, applied fast.
#[derive(Debug, Parser)]
#[command(name = "tend", version, about, propagate_version = true)]
pub struct Cli {
    /// tend's settings file (default: ./tend.toml, else beside the playbook).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run playbooks (like ansible-playbook).
    Playbook(PlaybookArgs),
    /// Show what a run would change: `playbook --check --diff` (`--out` saves the plan).
    Plan(PlaybookArgs),
    /// Apply a plan saved by `tend plan --out`, refusing hosts that drifted since.
    Apply(ApplyArgs),
    /// Run one module on many hosts (like ansible's ad-hoc commands).
    Run(adhoc::RunArgs),
    /// Check that every host can be logged in to and run a shell.
    Ping(adhoc::PingArgs),
    /// Show the inventory (like ansible-inventory).
    Inventory(InventoryArgs),
    /// Encrypt and decrypt Ansible Vault files and strings (like ansible-vault).
    #[command(subcommand)]
    Vault(vault::VaultCommand),
    /// Print the version.
    Version,
    /// Show the module reference (like ansible-doc).
    Doc(doc::DocArgs),
    /// Show the effective settings (like ansible-config).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print every setting, its value and where it came from (default,
    /// ansible.cfg:LINE, env VAR, tend.toml:LINE).
    Dump {
        /// Only the settings some source changed.
        #[arg(long)]
        only_changed: bool,
    },
}

#[derive(Debug, Args)]
struct PlaybookArgs {
    /// Playbook files.
    #[arg(required = true)]
    playbooks: Vec<PathBuf>,
    /// Inventory file, directory, script or comma-separated host list (repeatable).
    #[arg(short = 'i', long = "inventory", alias = "inventory-file")]
    inventory: Vec<String>,
    /// Predict changes, change nothing.
    #[arg(short = 'C', long)]
    check: bool,
    /// Show unified diffs of what changes.
    #[arg(short = 'D', long)]
    diff: bool,
    /// Extra variables: `k=v`, `@file.yml`, or JSON/YAML (repeatable; highest precedence).
    #[arg(short = 'e', long = "extra-vars")]
    extra_vars: Vec<String>,
    /// Further limit the selected hosts to a pattern.
    #[arg(short = 'l', long)]
    limit: Option<String>,
    /// Only run tasks with these tags (comma-separated, repeatable).
    #[arg(short = 't', long = "tags")]
    tags: Vec<String>,
    /// Skip tasks with these tags.
    #[arg(long = "skip-tags")]
    skip_tags: Vec<String>,
    /// Hosts to work on at once (default 50, or ansible.cfg's/tend.toml's).
    #[arg(short = 'f', long)]
    forks: Option<usize>,
    /// More output (-v, -vv, -vvv).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,
    /// Check the playbook and stop (exit 4 on errors).
    #[arg(long)]
    syntax_check: bool,
    /// List the hosts each play would run on.
    #[arg(long)]
    list_hosts: bool,
    /// List the tasks each play would run.
    #[arg(long)]
    list_tasks: bool,
    /// List the tags used.
    #[arg(long)]
    list_tags: bool,
    /// Run handlers even on hosts that failed.
    #[arg(long)]
    force_handlers: bool,
    /// `tend plan` only: save the plan to this file, for `tend apply`.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Start at the first task whose name matches (a glob such as `'install *'`).
    #[arg(long = "start-at-task", value_name = "NAME")]
    start_at_task: Option<String>,
    /// Ask before each task: (N)o/(y)es/(c)ontinue (needs a terminal).
    #[arg(long)]
    step: bool,
    #[command(flatten)]
    reports: ReportArgs,
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(flatten)]
    vault: vault::VaultArgs,
}

#[derive(Debug, Args)]
struct ApplyArgs {
    /// The plan file written by `tend plan --out`.
    plan: PathBuf,
    /// The same extra variables as given to `tend plan` (they are not saved in the plan).
    #[arg(short = 'e', long = "extra-vars")]
    extra_vars: Vec<String>,
    /// Apply what each probe says now, even where the state drifted since the plan.
    #[arg(long)]
    replan: bool,
    /// More output (-v, -vv, -vvv).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(flatten)]
    reports: ReportArgs,
    #[command(flatten)]
    vault: vault::VaultArgs,
}

/// What standard output shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// ansible-playbook's output.
    Human,
    /// JSON lines, one event per line (see docs/json-report.md).
    Json,
}

/// Reports: any combination in one run, all from the same events.
#[derive(Debug, Args)]
struct ReportArgs {
    /// What standard output shows (default human, or tend.toml's).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Also write the JSON lines report to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write a JUnit XML report (a testcase per task per host) to this file.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write a Markdown summary for a pull-request comment to this file.
    #[arg(long = "summary-md", value_name = "FILE")]
    summary_md: Option<PathBuf>,
    /// No progress display (it shows only on a terminal, outside CI).
    #[arg(long)]
    no_progress: bool,
}

impl ReportArgs {
    /// Reports the command line does not name come from `tend.toml`.
    fn default_from(&mut self, cfg: &Config) {
        let r = &cfg.report;
        if self.format.is_none() && r.format.value == "json" {
            self.format = Some(Format::Json);
        }
        for (flag, setting) in [
            (&mut self.json, &r.json),
            (&mut self.junit, &r.junit),
            (&mut self.summary_md, &r.summary_md),
        ] {
            if flag.is_none() {
                flag.clone_from(&setting.value);
            }
        }
    }
}

/// ansible-playbook's connection and privilege escalation options.
#[derive(Debug, Args)]
struct ConnectionArgs {
    /// Connect as this user (default: as ~/.ssh/config says).
    #[arg(short = 'u', long = "user")]
    user: Option<String>,
    /// Use this private key file.
    #[arg(long = "private-key", alias = "key-file")]
    private_key: Option<String>,
    /// Connection type (ssh, local).
    #[arg(short = 'c', long = "connection")]
    connection: Option<String>,
    /// Connection timeout in seconds.
    #[arg(short = 'T', long = "timeout")]
    timeout: Option<u64>,
    /// Extra arguments for every ssh invocation.
    #[arg(long = "ssh-common-args")]
    ssh_common_args: Option<String>,
    /// Extra arguments for ssh only.
    #[arg(long = "ssh-extra-args")]
    ssh_extra_args: Option<String>,
    /// Run operations with become.
    #[arg(short = 'b', long = "become")]
    r#become: bool,
    /// Become this user (default root).
    #[arg(long = "become-user")]
    become_user: Option<String>,
    /// Privilege escalation method (sudo, su).
    #[arg(long = "become-method")]
    become_method: Option<String>,
    /// Ask for the privilege escalation password (read from the terminal;
    /// sent to sudo on standard input, never in an argument or a file).
    #[arg(short = 'K', long = "ask-become-pass")]
    ask_become_pass: bool,
    /// Ask for the connection password (not supported yet).
    #[arg(short = 'k', long = "ask-pass")]
    ask_pass: bool,
}

impl ConnectionArgs {
    /// The flags that are settings (see [`crate::config`]).
    fn overrides(&self, o: &mut CliOverrides) {
        o.remote_user.clone_from(&self.user);
        o.private_key_file.clone_from(&self.private_key);
        o.timeout = self.timeout;
        o.r#become = self.r#become;
        o.become_user.clone_from(&self.become_user);
        o.become_method.clone_from(&self.become_method);
        o.become_ask_pass = self.ask_become_pass;
    }

    /// The connection settings as `ansible_*` variables, or what is not
    /// supported.
    fn vars(&self, cfg: &Config) -> Result<Vars, String> {
        if self.ask_pass {
            return Err("SSH password prompts (-k/--ask-pass) are not supported yet: use key-based SSH (ssh-agent, --private-key)".into());
        }
        let mut v = cfg.connection_vars();
        if cfg.become_ask_pass.value {
            let password = rpassword::prompt_password("BECOME password: ")
                .map_err(|e| format!("cannot read the become password from the terminal: {e}"))?;
            v.insert("ansible_become_password".into(), Value::from(password));
        }
        let mut put = |k: &str, val: Option<Value>| {
            if let Some(val) = val {
                v.insert(k.to_string(), val);
            }
        };
        put(
            "ansible_connection",
            self.connection.clone().map(Value::from),
        );
        put(
            "ansible_ssh_common_args",
            self.ssh_common_args.clone().map(Value::from),
        );
        put(
            "ansible_ssh_extra_args",
            self.ssh_extra_args.clone().map(Value::from),
        );
        Ok(v)
    }
}

#[derive(Debug, Args)]
struct InventoryArgs {
    /// Inventory sources.
    #[arg(short = 'i', long = "inventory")]
    inventory: Vec<String>,
    /// Print all hosts and groups as JSON.
    #[arg(long)]
    list: bool,
    /// Print the group tree.
    #[arg(long)]
    graph: bool,
    /// Print one host's variables.
    #[arg(long)]
    host: Option<String>,
    /// With --graph, show variables.
    #[arg(long)]
    vars: bool,
    /// Group for --graph.
    group: Option<String>,
    #[command(flatten)]
    vault: vault::VaultArgs,
}

fn color_for(stream: &impl IsTerminal) -> bool {
    std::env::var_os("NO_COLOR").is_none() && stream.is_terminal()
}

fn print_diags(diags: &[Diagnostic]) {
    let color = color_for(&std::io::stderr());
    for d in diags {
        eprintln!("{}\n", d.render(color));
    }
    let errors = diags
        .iter()
        .filter(|d| d.severity == crate::diagnostic::Severity::Error)
        .count();
    if errors > 0 {
        eprintln!(
            "{errors} error{} found; no host was contacted.",
            if errors == 1 { "" } else { "s" }
        );
    }
}

/// Runs the CLI; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // `tend plan` has Terraform's codes: any error is 1.
            let plan = std::env::args().nth(1).as_deref() == Some("plan");
            let code = match (e.use_stderr(), plan) {
                (false, _) => 0,
                (true, true) => 1,
                (true, false) => 5,
            };
            let _ = e.print();
            return code;
        }
    };
    let toml = cli.config.as_deref();
    match cli.command {
        Command::Playbook(a) => playbook(a, false, toml).unwrap_or_else(|code| code),
        // Any error before the run is 1 for `tend plan`.
        Command::Plan(a) => playbook(a, true, toml).unwrap_or(1),
        Command::Run(a) => adhoc::run(a, toml),
        Command::Ping(a) => adhoc::ping(a, toml),
        Command::Inventory(a) => inventory(a, toml),
        Command::Config(ConfigCommand::Dump { only_changed }) => {
            match settings(toml, None, CliOverrides::default()) {
                Ok(c) => {
                    print!("{}", c.dump(only_changed));
                    0
                }
                Err(code) => code,
            }
        }
        Command::Vault(v) => vault::run(&v),
        Command::Apply(a) => apply(a, toml),
        Command::Version => {
            println!("tend {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "tend", &mut std::io::stdout());
            0
        }
        Command::Doc(a) => doc::run(a),
    }
}

/// The effective settings: files and environment, then the command line.
/// On error, the exit code.
fn settings(
    toml: Option<&std::path::Path>,
    playbook_dir: Option<&std::path::Path>,
    cli: CliOverrides,
) -> Result<Config, i32> {
    let place = TendTomlPlace {
        explicit: toml,
        playbook_dir,
    };
    let mut cfg = Config::load(&place).map_err(|e| {
        eprintln!("ERROR! {e}");
        5
    })?;
    for w in &cfg.warnings {
        eprintln!("[WARNING]: {w}");
    }
    cfg.apply_cli(cli);
    Ok(cfg)
}

/// The inventory the settings name (`/etc/ansible/hosts` by default, when
/// it exists).
fn load_inventory(cfg: &Config) -> Result<Inventory, String> {
    let sources: Vec<PathBuf> = cfg
        .inventory
        .value
        .iter()
        .map(PathBuf::from)
        .filter(|p| !cfg.inventory.is_default() || p.exists())
        .collect();
    Inventory::load(&sources).map_err(|e| e.to_string())
}

/// Parses `-e` values: `k=v k2=v2`, `@file`, or a JSON/YAML mapping.
pub fn parse_extra_vars(items: &[String]) -> Result<Vars, String> {
    let mut out = Vars::new();
    for item in items {
        let item = item.trim();
        if let Some(file) = item.strip_prefix('@') {
            out.extend(exec::load_vars_file(std::path::Path::new(file))?);
        } else if item.starts_with('{') || item.starts_with('[') {
            let docs = crate::yaml::parse_str("--extra-vars", item).map_err(|d| d.to_string())?;
            match docs.first().map(crate::yaml::Node::to_value) {
                Some(Value::Object(m)) => out.extend(m),
                _ => return Err(format!("--extra-vars: expected a mapping, got `{item}`")),
            }
        } else {
            let kv = crate::playbook::kv::parse_kv(item, None)
                .map_err(|e| format!("--extra-vars: {e}"))?;
            if let Some(raw) = kv.raw {
                return Err(format!("--extra-vars: expected key=value, got `{raw}`"));
            }
            for (k, v) in kv.pairs {
                out.insert(k, Value::String(v));
            }
        }
    }
    Ok(out)
}

fn split_tags(items: &[String]) -> Vec<String> {
    items
        .iter()
        .flat_map(|t| t.split(','))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// The reporters the options ask for, fanned out.
fn reporters(r: &ReportArgs, verbose: u8) -> Result<Reporters, String> {
    let stdout = std::io::stdout();
    let color = color_for(&stdout);
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    let format = r.format.unwrap_or(Format::Human);
    let progress = !r.no_progress
        && format == Format::Human
        && stdout.is_terminal()
        && std::io::stderr().is_terminal()
        && !ci;
    let mut all = Reporters::new();
    let progress = progress.then(Progress::new);
    let writer = || match &progress {
        Some(p) => p.writer(std::io::stdout()),
        None => ProgressWriter::plain(std::io::stdout()),
    };
    match format {
        Format::Human => all.push(Box::new(Human::new(writer(), color, verbose))),
        Format::Json => all.push(Box::new(JsonLines::new(std::io::stdout()))),
    }
    if crate::report::github::wanted() {
        match format {
            Format::Human => all.push(Box::new(GithubAnnotations::new(writer()))),
            Format::Json => all.push(Box::new(GithubAnnotations::new(std::io::stderr()))),
        }
    }
    if let Some(path) = &r.json {
        let file = std::fs::File::create(path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        all.push(Box::new(JsonLines::new(std::io::BufWriter::new(file))));
    }
    if let Some(path) = &r.junit {
        all.push(Box::new(SummaryFile::new(path.clone(), Junit)));
    }
    if let Some(path) = &r.summary_md {
        let hint = match (&r.json, format) {
            (Some(p), _) => format!("`{}`", p.display()),
            (None, Format::Json) => "the JSON report (`--format json`)".into(),
            (None, Format::Human) => "the JSON report (`--json FILE`)".into(),
        };
        all.push(Box::new(SummaryFile::new(
            path.clone(),
            Markdown::new(hint),
        )));
    }
    // First, so it hides before the recap is printed.
    if let Some(p) = progress {
        all.insert_first(Box::new(p));
    }
    Ok(all)
}

/// Warnings about variables that a role reads and nothing defines (see
/// [`compile::undefined_vars`]): inventory variables (with the
/// `group_vars/`/`host_vars/` beside the playbooks), extra vars and the
/// command line's connection variables count as defined; tasks that
/// `--tags`/`--skip-tags` leave out are not judged. None when the
/// playbooks' variable directories cannot be read (the run reports why).
fn undefined_role_vars(
    books: &[CompiledPlaybook],
    inventory: &Inventory,
    (extra_vars, cli_vars): (&Vars, &Vars),
    (tags, skip_tags): (&[String], &[String]),
    templar: &Templar,
) -> Vec<Diagnostic> {
    let mut inventory = inventory.clone();
    if books
        .iter()
        .any(|b| inventory.load_vars_dirs(&b.dir).is_err())
    {
        return Vec::new();
    }
    let mut outside = inventory.var_names();
    outside.extend(extra_vars.keys().chain(cli_vars.keys()).cloned());
    let matches = |pattern: &str| inventory.select(pattern).map_or(true, |h| !h.is_empty());
    let selected =
        |task: &[String], play: &[String]| exec::tags_select(task, play, tags, skip_tags);
    let run = compile::undefined_vars::Run {
        defined: &outside,
        matches: &matches,
        selected: &selected,
    };
    compile::undefined_vars::check(books, &run, templar).warnings
}

/// Loads and installs the vault secrets of a run; `false` after printing why
/// not. Without any vault option, `ansible.cfg`'s `vault_password_file`
/// (or its environment variable) is used, as in Ansible.
fn install_vault_secrets(v: &vault::VaultArgs, cfg: &crate::config::Config) -> bool {
    let mut v = v.clone();
    if v.vault_ids.is_empty() && v.vault_password_files.is_empty() && !v.ask_vault_pass {
        v.vault_password_files
            .extend(cfg.vault_password_file.value.clone());
    }
    match v.load(false) {
        Ok(secrets) => {
            crate::vault::install(secrets);
            true
        }
        Err(e) => {
            eprintln!("ERROR! {e}");
            false
        }
    }
}

/// Runs the playbooks; the exit code, or the code of an error before the run.
/// `tend playbook` has ansible-playbook's codes (0 ok, 2 a host failed, 4 a
/// host unreachable); `tend plan` Terraform's `-detailed-exitcode` (0 nothing
/// to change, 2 changes pending, 1 errors).
fn playbook(mut a: PlaybookArgs, plan: bool, toml: Option<&std::path::Path>) -> Result<i32, i32> {
    let started = std::time::Instant::now();
    let mut overrides = CliOverrides {
        inventory: a.inventory.clone(),
        forks: a.forks,
        ..CliOverrides::default()
    };
    a.connection.overrides(&mut overrides);
    let playbook_dir = a.playbooks.first().and_then(|p| p.parent());
    let cfg = settings(toml, playbook_dir, overrides)?;
    a.reports.default_from(&cfg);
    if !install_vault_secrets(&a.vault, &cfg) {
        return Err(1);
    }
    let templar = Templar::new();
    // Extra vars first: templated import names may use them.
    let extra_vars = exit_on(parse_extra_vars(&a.extra_vars), 5)?;
    // Compile everything before touching anything.
    let mut books: Vec<CompiledPlaybook> = Vec::new();
    let mut all_diags = Vec::new();
    for path in &a.playbooks {
        if !path.exists() {
            eprintln!("ERROR! the playbook: {} could not be found", path.display());
            return Err(1);
        }
        match compile::compile_file_with(path, &templar, &extra_vars) {
            Ok(b) => {
                print_diags(&b.warnings);
                books.push(b)
            }
            Err(d) => all_diags.extend(d),
        }
    }
    if !all_diags.is_empty() {
        print_diags(&all_diags);
        return Err(4);
    }
    let unknown: Vec<Diagnostic> = compile::unknown_tags(&books, &split_tags(&a.tags))
        .into_iter()
        .map(|t| {
            Diagnostic::warning(format!(
                "--tags `{t}`: no play, role, block or task of the playbook has this tag, it selects nothing"
            ))
        })
        .collect();
    print_diags(&unknown);
    let (cli_vars, mut inventory) = match (
        exit_on(a.connection.vars(&cfg), 5),
        exit_on(load_inventory(&cfg), 4),
    ) {
        (Ok(c), Ok(i)) => (c, i),
        (Err(code), _) | (_, Err(code)) => return Err(code),
    };
    print_diags(&undefined_role_vars(
        &books,
        &inventory,
        (&extra_vars, &cli_vars),
        (&split_tags(&a.tags), &split_tags(&a.skip_tags)),
        &templar,
    ));
    if a.syntax_check {
        for p in &a.playbooks {
            println!("\nplaybook: {}", p.display());
        }
        return Ok(0);
    }
    for b in &books {
        if let Err(e) = inventory.load_vars_dirs(&b.dir) {
            eprintln!("ERROR! {e}");
            return Err(4);
        }
    }
    if a.list_hosts || a.list_tasks || a.list_tags {
        return Ok(list(&books, &inventory, &a));
    }
    if a.step && !std::io::stdin().is_terminal() {
        eprintln!("ERROR! --step asks before each task on a terminal: standard input is not one");
        return Err(5);
    }
    // The questions of --step and a progress display would garble each other.
    a.reports.no_progress |= a.step;
    let mut opts = RunOptions {
        check: a.check || plan,
        diff: a.diff || plan,
        unknown_after_changes: plan,
        forks: cfg.forks.value,
        extra_vars,
        limit: a.limit.clone(),
        tags: split_tags(&a.tags),
        skip_tags: split_tags(&a.skip_tags),
        verbosity: a.verbose,
        force_handlers: a.force_handlers,
        cli_vars,
        start_at_task: a.start_at_task.clone(),
        step: a
            .step
            .then(|| Arc::new(TerminalStep) as Arc<dyn exec::StepPrompt>),
        ..RunOptions::default()
    };
    let runtime = runtime()?;
    if a.out.is_some() && !plan {
        eprintln!("ERROR! --out saves a plan: use it with `tend plan`");
        return Err(5);
    }
    let mut saved = None;
    if let Some(out) = &a.out {
        let connection = exit_on(connection_options(&opts.cli_vars), 1)?;
        let (key, inputs) = plan_inputs(
            &a.playbooks,
            &books,
            &a.inventory,
            &inventory,
            &opts.extra_vars,
            &connection,
        )?;
        let session = plan::Session::new(key, plan::Mode::Record);
        opts.plan = Some(Arc::clone(&session));
        let options = plan::PlanOptions {
            limit: a.limit.clone(),
            tags: opts.tags.clone(),
            skip_tags: opts.skip_tags.clone(),
            forks: opts.forks,
            force_handlers: a.force_handlers,
            connection,
            ask_become_pass: a.connection.ask_become_pass,
            extra_vars: !a.extra_vars.is_empty(),
        };
        saved = Some((out.clone(), session, inputs, options));
    }
    let mut reporter = match reporters(&a.reports, a.verbose) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ERROR! {e}");
            return Err(1);
        }
    };
    if let Some((_, session, ..)) = &saved {
        reporter.push(Box::new(plan::Recorder::new(Arc::clone(session))));
    }
    reporter.run_start(&RunInfo {
        command: if plan { "plan" } else { "playbook" }.into(),
        playbooks: a
            .playbooks
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        check: opts.check,
        diff: opts.diff,
    });
    let (mut code, changes) =
        run_books(&runtime, &books, &inventory, &opts, &templar, &mut reporter);
    if plan {
        code = match (code, changes) {
            (0, 0) => 0,
            (0, _) => 2,
            _ => 1,
        };
    }
    if let Some((path, session, inputs, options)) = saved {
        if code == 1 {
            eprintln!(
                "ERROR! the plan had errors: no plan was saved to {}",
                path.display()
            );
        } else {
            let file = session.plan_file(inputs, options);
            if let Err(e) = file.write(&path) {
                eprintln!("ERROR! cannot save the plan: {e}");
                code = 1;
            } else {
                let s = &file.summary;
                let saved = format!(
                    "Plan saved to {}: {} change{} on {} host{} ({} to create, {} to update, {} to delete, {} to run, {} unknown). Apply it with: tend apply {}",
                    path.display(),
                    s.changes,
                    if s.changes == 1 { "" } else { "s" },
                    s.hosts,
                    if s.hosts == 1 { "" } else { "s" },
                    s.create,
                    s.update,
                    s.delete,
                    s.run,
                    s.unknown,
                    path.display()
                );
                // Standard output is JSON lines only with `--format json`.
                if a.reports.format == Some(Format::Json) {
                    eprintln!("{saved}");
                } else {
                    println!("{saved}");
                }
            }
        }
    }
    let end = RunEnd {
        exit_code: code,
        elapsed: started.elapsed(),
    };
    if let Err(e) = reporter.finish(&end) {
        eprintln!("ERROR! cannot write a report: {e}");
        code = if plan { 1 } else { code.max(1) };
    }
    Ok(code)
}

/// The connection options as saved in a plan: never the become password.
fn connection_options(
    cli_vars: &Vars,
) -> Result<std::collections::BTreeMap<String, Value>, String> {
    Ok(cli_vars
        .iter()
        .filter(|(k, _)| !k.contains("pass"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect())
}

/// The fingerprint key and the hashes of a plan's inputs.
fn plan_inputs(
    playbooks: &[PathBuf],
    books: &[CompiledPlaybook],
    inventory_sources: &[String],
    inventory: &Inventory,
    extra_vars: &Vars,
    connection: &std::collections::BTreeMap<String, Value>,
) -> Result<(plan::Key, plan::Inputs), i32> {
    let dir = books
        .first()
        .map(|b| b.dir.clone())
        .unwrap_or_else(|| PathBuf::from("."));
    let key = exit_on(plan::Key::load(&dir).map_err(|e| e.to_string()), 1)?;
    let names: Vec<String> = playbooks.iter().map(|p| p.display().to_string()).collect();
    let inputs = plan::inputs(
        &key,
        books,
        &names,
        inventory_sources,
        inventory,
        extra_vars,
        connection,
    );
    Ok((key, inputs))
}

/// `tend apply PLAN`: the plan's playbooks run for real; each host stops at
/// the first task whose probed state differs from the plan's (unless
/// `--replan`), and every change is probed again after it is applied.
/// ansible-playbook's exit codes: 0 ok, 2 a host failed or drifted, 4 a host
/// unreachable; 1 when the plan cannot be applied at all.
fn apply(a: ApplyArgs, toml: Option<&std::path::Path>) -> i32 {
    match try_apply(a, toml) {
        Ok(code) | Err(code) => code,
    }
}

fn try_apply(a: ApplyArgs, toml: Option<&std::path::Path>) -> Result<i32, i32> {
    let started = std::time::Instant::now();
    let saved = exit_on(plan::PlanFile::read(&a.plan).map_err(|e| e.to_string()), 1)?;
    let templar = Templar::new();
    let playbooks: Vec<PathBuf> = saved.inputs.playbooks.iter().map(PathBuf::from).collect();
    let overrides = CliOverrides {
        inventory: saved.inputs.inventory.clone(),
        ..CliOverrides::default()
    };
    let cfg =
        settings(toml, playbooks.first().and_then(|p| p.parent()), overrides).map_err(|_| 1)?;
    if !install_vault_secrets(&a.vault, &cfg) {
        return Err(1);
    }
    let extra_vars = exit_on(parse_extra_vars(&a.extra_vars), 1)?;
    let mut books = Vec::new();
    for path in &playbooks {
        match compile::compile_file_with(path, &templar, &extra_vars) {
            Ok(b) => books.push(b),
            Err(d) => {
                print_diags(&d);
                eprintln!(
                    "ERROR! the plan's playbook {} no longer compiles: make a new plan",
                    path.display()
                );
                return Err(1);
            }
        }
    }
    let mut inventory = exit_on(load_inventory(&cfg), 1)?;
    for b in &books {
        exit_on(
            inventory.load_vars_dirs(&b.dir).map_err(|e| e.to_string()),
            1,
        )?;
    }
    let connection = saved.options.connection.clone();
    let (key, inputs) = plan_inputs(
        &playbooks,
        &books,
        &saved.inputs.inventory,
        &inventory,
        &extra_vars,
        &connection,
    )?;
    exit_on(saved.check(&key, &inputs).map_err(|e| e.to_string()), 1)?;
    let mut cli_vars: Vars = connection.into_iter().collect();
    if saved.options.ask_become_pass {
        let password = exit_on(
            rpassword::prompt_password("BECOME password: ")
                .map_err(|e| format!("cannot read the become password from the terminal: {e}")),
            1,
        )?;
        cli_vars.insert("ansible_become_password".into(), Value::from(password));
    }
    let mut opts = RunOptions {
        check: true,
        // As the plan: the same probes (content fetched for diffs), the same fingerprints.
        diff: true,
        unknown_after_changes: true,
        forks: saved.options.forks.max(1),
        extra_vars,
        limit: saved.options.limit.clone(),
        tags: saved.options.tags.clone(),
        skip_tags: saved.options.skip_tags.clone(),
        verbosity: a.verbose,
        force_handlers: saved.options.force_handlers,
        cli_vars,
        plan: None,
        ..RunOptions::default()
    };
    let runtime = runtime()?;
    // First, unless --replan, the plan again (quietly): a host whose run
    // differs from the saved one anywhere is refused before anything is
    // applied on it (later tasks' probes would see this run's own changes).
    let drifted = if a.replan {
        std::collections::BTreeMap::new()
    } else {
        let fresh = plan::Session::new(key.clone(), plan::Mode::Record);
        opts.plan = Some(Arc::clone(&fresh));
        let mut quiet = Reporters::new();
        quiet.push(Box::new(plan::Recorder::new(Arc::clone(&fresh))));
        run_books(&runtime, &books, &inventory, &opts, &templar, &mut quiet);
        plan::compare(&saved.hosts, &fresh.records())
    };
    let session = plan::Session::new(
        key,
        plan::Mode::Apply {
            hosts: saved.hosts.clone(),
            replan: a.replan,
        },
    );
    opts.check = false;
    opts.plan = Some(Arc::clone(&session));
    if !drifted.is_empty() {
        let refused: Vec<String> = drifted.keys().map(|h| format!("!{h}")).collect();
        let base = opts.limit.clone().unwrap_or_else(|| "all".into());
        opts.limit = Some(format!("{base}:{}", refused.join(":")));
    }
    let mut reporter = exit_on(reporters(&a.reports, a.verbose), 1)?;
    reporter.push(Box::new(plan::Recorder::new(Arc::clone(&session))));
    reporter.run_start(&RunInfo {
        command: "apply".into(),
        playbooks: saved.inputs.playbooks.clone(),
        check: false,
        diff: true,
    });
    let mut recap = crate::report::Recap::new();
    if !drifted.is_empty() {
        reporter.play_start("Check the saved plan");
        reporter.task_start(&crate::report::TaskInfo {
            name: "Compare each host with the plan",
            span: None,
            action: "plan",
            handler: false,
            hosts: drifted.len(),
        });
        for (host, msg) in &drifted {
            let result =
                serde_json::json!({"changed": false, "failed": true, "drifted": true, "msg": msg});
            reporter.host_result(&crate::report::HostResult::simple(
                host,
                crate::report::Status::Failed,
                &result,
            ));
            recap.entry(host.clone()).or_default().failed += 1;
        }
    }
    let mut with_refused = WithRecap {
        inner: &mut reporter,
        extra: recap,
    };
    let (mut code, _) = run_books(
        &runtime,
        &books,
        &inventory,
        &opts,
        &templar,
        &mut with_refused,
    );
    let mut drifted = drifted;
    drifted.extend(session.drifted());
    if !drifted.is_empty() {
        code = code.max(2);
        eprintln!(
            "\n{} host{} drifted since the plan and stopped: {}",
            drifted.len(),
            if drifted.len() == 1 { "" } else { "s" },
            drifted.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let end = RunEnd {
        exit_code: code,
        elapsed: started.elapsed(),
    };
    if let Err(e) = reporter.finish(&end) {
        eprintln!("ERROR! cannot write a report: {e}");
        code = code.max(1);
    }
    Ok(code)
}

/// Passes events on, adding hosts refused before the run to its first recap.
struct WithRecap<'a> {
    inner: &'a mut Reporters,
    extra: crate::report::Recap,
}

impl Reporter for WithRecap<'_> {
    fn run_start(&mut self, run: &RunInfo) {
        self.inner.run_start(run);
    }
    fn play_start(&mut self, name: &str) {
        self.inner.play_start(name);
    }
    fn task_start(&mut self, task: &crate::report::TaskInfo<'_>) {
        self.inner.task_start(task);
    }
    fn host_start(&mut self, host: &str) {
        self.inner.host_start(host);
    }
    fn host_done(&mut self, host: &str) {
        self.inner.host_done(host);
    }
    fn host_result(&mut self, result: &crate::report::HostResult<'_>) {
        self.inner.host_result(result);
    }
    fn included(&mut self, file: &str, hosts: &[String], item_label: Option<&str>) {
        self.inner.included(file, hosts, item_label);
    }
    fn ignoring(&mut self) {
        self.inner.ignoring();
    }
    fn warning(&mut self, message: &str) {
        self.inner.warning(message);
    }
    fn no_hosts(&mut self) {
        self.inner.no_hosts();
    }
    fn no_more_hosts(&mut self) {
        self.inner.no_more_hosts();
    }
    fn recap(&mut self, recap: &crate::report::Recap) {
        let mut all = recap.clone();
        all.extend(std::mem::take(&mut self.extra));
        self.inner.recap(&all);
    }
    fn finish(&mut self, end: &RunEnd) -> std::io::Result<()> {
        self.inner.finish(end)
    }
}

/// Runs the playbooks in turn: the worst exit code and the number of changes.
fn run_books(
    runtime: &tokio::runtime::Runtime,
    books: &[CompiledPlaybook],
    inventory: &Inventory,
    opts: &RunOptions,
    templar: &Templar,
    reporter: &mut dyn Reporter,
) -> (i32, u32) {
    let (mut code, mut changes) = (0, 0);
    let mut opts = opts.clone();
    for book in books {
        let summary = runtime.block_on(exec::run_playbook(
            book, inventory, &opts, templar, reporter,
        ));
        code = code.max(summary.exit_code());
        changes += summary.recap.values().map(|c| c.changed).sum::<u32>();
        if summary.start_at_task_found {
            opts.start_at_task = None;
        }
    }
    if let Some(name) = &opts.start_at_task {
        // As ansible-playbook: an error, but not a failed run.
        eprintln!(
            "ERROR! No matching task \"{name}\" found. Note: --start-at-task can only follow static includes."
        );
    }
    (code, changes)
}

/// `--step`'s questions, on the terminal (standard output and input).
#[derive(Debug)]
struct TerminalStep;

impl exec::StepPrompt for TerminalStep {
    fn ask(&self, question: &str) -> std::io::Result<String> {
        use std::io::Write;
        let mut out = std::io::stdout();
        write!(out, "{question}")?;
        out.flush()?;
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        // As ansible-playbook, the question again, as a banner.
        let title = question.trim();
        let stars = 80usize.saturating_sub(title.chars().count() + 1).max(3);
        writeln!(out, "\n{title} {}", "*".repeat(stars))?;
        Ok(line)
    }
}

/// An error printed as ansible-playbook prints it, turned into an exit code.
fn exit_on<T>(r: Result<T, String>, code: i32) -> Result<T, i32> {
    r.map_err(|e| {
        eprintln!("ERROR! {e}");
        code
    })
}

/// The async runtime runs use; on failure, the exit code.
fn runtime() -> Result<tokio::runtime::Runtime, i32> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("ERROR! cannot start the async runtime: {e}");
            1
        })
}

/// `--list-hosts`, `--list-tasks`, `--list-tags`, as ansible-playbook shows
/// them: the tasks the tags select, with the play's tags; a block's `rescue`
/// and `always` and an include's file are not listed (the include is).
fn list(books: &[CompiledPlaybook], inventory: &Inventory, a: &PlaybookArgs) -> i32 {
    let mut opts = RunOptions {
        tags: split_tags(&a.tags),
        skip_tags: split_tags(&a.skip_tags),
        ..RunOptions::default()
    };
    // As ansible-playbook: --list-tags without tag options lists every
    // tag, `never` ones too (and so do the tasks listed with it).
    if a.list_tags && opts.tags.is_empty() && opts.skip_tags.is_empty() {
        opts.tags = vec!["never".into(), "all".into()];
    }
    for book in books {
        println!("\nplaybook: {}", book.path.display());
        for (i, play) in book.plays.iter().enumerate() {
            let name = play
                .play
                .name
                .clone()
                .unwrap_or_else(|| play.play.hosts.value.clone());
            println!(
                "\n  play #{} ({}): {}\tTAGS: [{}]",
                i + 1,
                play.play.hosts.value,
                name,
                play.play.tags.join(",")
            );
            if a.list_hosts {
                let hosts = inventory.select(&play.play.hosts.value).unwrap_or_default();
                println!(
                    "    pattern: ['{}']\n    hosts ({}):",
                    play.play.hosts.value,
                    hosts.len()
                );
                for h in hosts {
                    println!("      {h}");
                }
            }
            if !a.list_tasks && !a.list_tags {
                continue;
            }
            let mut tasks = Vec::new();
            for steps in [&play.pre_tasks, &play.tasks, &play.post_tasks] {
                listed_tasks(steps, &mut tasks);
            }
            tasks.retain(|(t, _)| exec::selected_by_tags(t, &play.play.tags, &opts));
            let tags_of = |t: &crate::compile::CompiledTask| {
                let mut tags: Vec<String> =
                    t.task.tags.iter().chain(&play.play.tags).cloned().collect();
                tags.sort();
                tags.dedup();
                tags
            };
            if a.list_tasks {
                println!("    tasks:");
                for (t, name) in &tasks {
                    println!("      {name}\tTAGS: [{}]", tags_of(t).join(", "));
                }
            }
            if a.list_tags {
                let mut tags: Vec<String> = tasks.iter().flat_map(|(t, _)| tags_of(t)).collect();
                tags.extend(play.play.tags.iter().cloned());
                tags.sort();
                tags.dedup();
                println!("      TASK TAGS: [{}]", tags.join(", "));
            }
        }
    }
    0
}

/// The tasks `--list-tasks` shows, with the names it shows: blocks' `block`
/// sections, includes themselves (an unnamed one as `include_tasks`).
fn listed_tasks<'a>(
    steps: &'a [crate::compile::CompiledStep],
    out: &mut Vec<(&'a crate::compile::CompiledTask, String)>,
) {
    for step in steps {
        match step {
            crate::compile::CompiledStep::Task(t) => out.push((t, t.display_name())),
            crate::compile::CompiledStep::Include(inc) => out.push((
                &inc.task,
                inc.task
                    .task
                    .name
                    .clone()
                    .unwrap_or_else(|| "include_tasks".into()),
            )),
            crate::compile::CompiledStep::Block(b) => listed_tasks(&b.block, out),
        }
    }
}

fn inventory(a: InventoryArgs, toml: Option<&std::path::Path>) -> i32 {
    let overrides = CliOverrides {
        inventory: a.inventory.clone(),
        ..CliOverrides::default()
    };
    let cfg = match settings(toml, None, overrides) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if !install_vault_secrets(&a.vault, &cfg) {
        return 1;
    }
    let inv = match load_inventory(&cfg) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("ERROR! {e}");
            return 1;
        }
    };
    if let Some(h) = &a.host {
        return match inv.host_json(h) {
            Ok(v) => {
                println!("{}", crate::inventory::ansible_json(&v));
                0
            }
            Err(e) => {
                eprintln!("ERROR! {e}");
                1
            }
        };
    }
    if a.graph {
        return match inv.graph(a.group.as_deref(), a.vars) {
            Ok(g) => {
                println!("{g}");
                0
            }
            Err(e) => {
                eprintln!("ERROR! {e}");
                1
            }
        };
    }
    if a.list {
        println!(
            "{}",
            serde_json::to_string_pretty(&inv.to_list_json()).unwrap_or_default()
        );
        return 0;
    }
    eprintln!("ERROR! one of --list, --graph or --host is required");
    5
}
