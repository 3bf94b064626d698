//! The command line: `tend playbook`, `tend plan`, `tend inventory`, ...
//! Flags that mean the same as ansible-playbook's have the same names.

mod adhoc;

use crate::compile::{self, CompiledPlaybook};
use crate::diagnostic::Diagnostic;
use crate::exec::{self, RunOptions};
use crate::inventory::Inventory;
use crate::report::{
    GithubAnnotations, Human, JsonLines, Junit, Markdown, Progress, ProgressWriter, Reporter,
    Reporters, RunEnd, RunInfo, SummaryFile,
};
use crate::template::Templar;
use crate::vars::Vars;
use clap::{Args, CommandFactory, Parser, Subcommand};
use serde_json::Value;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

mod doc;

/// tend: Ansible playbooks, compiled ahead of time, applied fast.
#[derive(Debug, Parser)]
#[command(name = "tend", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run playbooks (like ansible-playbook).
    Playbook(PlaybookArgs),
    /// Show what a run would change: `playbook --check --diff`.
    Plan(PlaybookArgs),
    /// Run one module on many hosts (like ansible's ad-hoc commands).
    Run(adhoc::RunArgs),
    /// Check that every host can be logged in to and run a shell.
    Ping(adhoc::PingArgs),
    /// Show the inventory (like ansible-inventory).
    Inventory(InventoryArgs),
    /// Print the version.
    Version,
    /// Show the module reference (like ansible-doc).
    Doc(doc::DocArgs),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
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
    /// Hosts to work on at once.
    #[arg(short = 'f', long, default_value_t = 50)]
    forks: usize,
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
    /// What standard output shows.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
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
    /// The options as `ansible_*` variables, or what is not supported.
    fn vars(&self) -> Result<Vars, String> {
        if self.ask_pass {
            return Err("SSH password prompts (-k/--ask-pass) are not supported yet: use key-based SSH (ssh-agent, --private-key)".into());
        }
        let mut v = Vars::new();
        if self.ask_become_pass {
            let password = rpassword::prompt_password("BECOME password: ")
                .map_err(|e| format!("cannot read the become password from the terminal: {e}"))?;
            v.insert("ansible_become_password".into(), Value::from(password));
        }
        let mut put = |k: &str, val: Option<Value>| {
            if let Some(val) = val {
                v.insert(k.to_string(), val);
            }
        };
        put("ansible_user", self.user.clone().map(Value::from));
        put(
            "ansible_ssh_private_key_file",
            self.private_key.clone().map(Value::from),
        );
        put(
            "ansible_connection",
            self.connection.clone().map(Value::from),
        );
        put("ansible_timeout", self.timeout.map(Value::from));
        put(
            "ansible_ssh_common_args",
            self.ssh_common_args.clone().map(Value::from),
        );
        put(
            "ansible_ssh_extra_args",
            self.ssh_extra_args.clone().map(Value::from),
        );
        put("ansible_become", self.r#become.then_some(Value::Bool(true)));
        put(
            "ansible_become_user",
            self.become_user.clone().map(Value::from),
        );
        put(
            "ansible_become_method",
            self.become_method.clone().map(Value::from),
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
    match cli.command {
        Command::Playbook(a) => playbook(a, false).unwrap_or_else(|code| code),
        // Any error before the run is 1 for `tend plan`.
        Command::Plan(a) => playbook(a, true).unwrap_or(1),
        Command::Run(a) => adhoc::run(a),
        Command::Ping(a) => adhoc::ping(a),
        Command::Inventory(a) => inventory(a),
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

fn load_inventory(sources: &[String]) -> Result<Inventory, String> {
    let sources: Vec<PathBuf> = if sources.is_empty() {
        let default = PathBuf::from("/etc/ansible/hosts");
        if default.exists() {
            vec![default]
        } else {
            Vec::new()
        }
    } else {
        sources.iter().map(PathBuf::from).collect()
    };
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
fn reporters(a: &PlaybookArgs) -> Result<Reporters, String> {
    let r = &a.reports;
    let stdout = std::io::stdout();
    let color = color_for(&stdout);
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    let progress = !r.no_progress
        && !a.step
        && r.format == Format::Human
        && stdout.is_terminal()
        && std::io::stderr().is_terminal()
        && !ci;
    let mut all = Reporters::new();
    let progress = progress.then(Progress::new);
    let writer = || match &progress {
        Some(p) => p.writer(std::io::stdout()),
        None => ProgressWriter::plain(std::io::stdout()),
    };
    match r.format {
        Format::Human => all.push(Box::new(Human::new(writer(), color, a.verbose))),
        Format::Json => all.push(Box::new(JsonLines::new(std::io::stdout()))),
    }
    if crate::report::github::wanted() {
        match r.format {
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
        let hint = match (&r.json, r.format) {
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

/// Runs the playbooks; the exit code, or the code of an error before the run.
/// `tend playbook` has ansible-playbook's codes (0 ok, 2 a host failed, 4 a
/// host unreachable); `tend plan` Terraform's `-detailed-exitcode` (0 nothing
/// to change, 2 changes pending, 1 errors).
fn playbook(a: PlaybookArgs, plan: bool) -> Result<i32, i32> {
    let started = std::time::Instant::now();
    let templar = Templar::new();
    // Compile everything before touching anything.
    let mut books: Vec<CompiledPlaybook> = Vec::new();
    let mut all_diags = Vec::new();
    for path in &a.playbooks {
        if !path.exists() {
            eprintln!("ERROR! the playbook: {} could not be found", path.display());
            return Err(1);
        }
        match compile::compile_file(path, &templar) {
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
    let (extra_vars, cli_vars, mut inventory) = match (
        exit_on(parse_extra_vars(&a.extra_vars), 5),
        exit_on(a.connection.vars(), 5),
        exit_on(load_inventory(&a.inventory), 4),
    ) {
        (Ok(e), Ok(c), Ok(i)) => (e, c, i),
        (Err(code), ..) | (_, Err(code), _) | (.., Err(code)) => return Err(code),
    };
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
    let mut opts = RunOptions {
        check: a.check || plan,
        diff: a.diff || plan,
        forks: a.forks.max(1),
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
    };
    let runtime = runtime()?;
    let mut reporter = match reporters(&a) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ERROR! {e}");
            return Err(1);
        }
    };
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
    let mut code = 0;
    let mut changes = 0;
    for book in &books {
        let summary = runtime.block_on(exec::run_playbook(
            book,
            &inventory,
            &opts,
            &templar,
            &mut reporter,
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
    if plan {
        code = match (code, changes) {
            (0, 0) => 0,
            (0, _) => 2,
            _ => 1,
        };
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
    let opts = RunOptions {
        tags: split_tags(&a.tags),
        skip_tags: split_tags(&a.skip_tags),
        ..RunOptions::default()
    };
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
            tasks.retain(|t| exec::selected_by_tags(t, &play.play.tags, &opts));
            let tags_of = |t: &crate::compile::CompiledTask| {
                let mut tags: Vec<String> =
                    t.task.tags.iter().chain(&play.play.tags).cloned().collect();
                tags.sort();
                tags.dedup();
                tags
            };
            if a.list_tasks {
                println!("    tasks:");
                for t in &tasks {
                    println!(
                        "      {}\tTAGS: [{}]",
                        t.display_name(),
                        tags_of(t).join(", ")
                    );
                }
            }
            if a.list_tags {
                let mut tags: Vec<String> = tasks.iter().flat_map(|t| tags_of(t)).collect();
                tags.extend(play.play.tags.iter().cloned());
                tags.sort();
                tags.dedup();
                println!("      TASK TAGS: [{}]", tags.join(", "));
            }
        }
    }
    0
}

/// The tasks `--list-tasks` shows: blocks' `block` sections, includes themselves.
fn listed_tasks<'a>(
    steps: &'a [crate::compile::CompiledStep],
    out: &mut Vec<&'a crate::compile::CompiledTask>,
) {
    for step in steps {
        match step {
            crate::compile::CompiledStep::Task(t) => out.push(t),
            crate::compile::CompiledStep::Include(inc) => out.push(&inc.task),
            crate::compile::CompiledStep::Block(b) => listed_tasks(&b.block, out),
        }
    }
}

fn inventory(a: InventoryArgs) -> i32 {
    let inv = match load_inventory(&a.inventory) {
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
