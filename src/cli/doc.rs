//! `tend doc`: the module reference (like ansible-doc), from
//! [`tend_modules::doc`], which is generated from the module sources.

use clap::Args;
use serde_json::{Map, Value, json};
use std::fmt::Write as _;
use tend_modules::doc::{self, ModuleDoc, OptionDoc};

/// Text output width.
const WIDTH: usize = 80;

/// `tend doc` options.
#[derive(Debug, Args)]
pub struct DocArgs {
    /// The module (`copy`, or `ansible.builtin.copy`).
    module: Option<String>,
    /// List the modules with their synopsis.
    #[arg(short = 'l', long)]
    list: bool,
    /// Print JSON (as ansible-doc --json).
    #[arg(short = 'j', long, conflicts_with = "markdown")]
    json: bool,
    /// Print Markdown; without a module, the whole reference (docs/modules.md).
    #[arg(long, conflicts_with = "snippet")]
    markdown: bool,
    /// Print a task skeleton with every option (as ansible-doc -s).
    #[arg(short = 's', long, conflicts_with = "json")]
    snippet: bool,
}

/// Runs `tend doc`; returns the exit code.
pub fn run(a: DocArgs) -> i32 {
    match render(&a) {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err((code, msg)) => {
            eprintln!("ERROR! {msg}");
            code
        }
    }
}

fn render(a: &DocArgs) -> Result<String, (i32, String)> {
    if a.list {
        return Ok(if a.json {
            let map: Map<String, Value> = doc::list()
                .iter()
                .map(|m| (m.name.to_string(), Value::from(m.synopsis)))
                .collect();
            pretty(&Value::Object(map))
        } else {
            list_text()
        });
    }
    let Some(name) = &a.module else {
        if a.markdown {
            return Ok(markdown(doc::list()));
        }
        return Err((
            5,
            "give a module name (`tend doc copy`), or --list to list the modules".into(),
        ));
    };
    let m = find(name).map_err(|msg| (1, msg))?;
    Ok(if a.json {
        let mut out = Map::new();
        out.insert(m.name.to_string(), to_json(m));
        pretty(&Value::Object(out))
    } else if a.markdown {
        module_markdown(m, "#")
    } else if a.snippet {
        snippet(m)
    } else {
        text(m)
    })
}

/// A module by name, or an error that suggests the closest name.
pub fn find(name: &str) -> Result<&'static ModuleDoc, String> {
    doc::lookup(name).ok_or_else(|| {
        let short = name.rsplit('.').next().unwrap_or(name);
        let hint = crate::playbook::parse::suggest(short, doc::list().iter().map(|m| m.name))
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        format!("module `{name}` not found{hint} (`tend doc --list` lists the modules)")
    })
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

fn list_text() -> String {
    let width = doc::list().iter().map(|m| m.name.len()).max().unwrap_or(0) + 2;
    doc::list()
        .iter()
        .map(|m| format!("{:width$}{}\n", m.name, m.synopsis))
        .collect()
}

/// ansible-doc's JSON shape: `doc` (with `options`), `examples`, `return`.
fn to_json(m: &ModuleDoc) -> Value {
    let options: Map<String, Value> = m
        .options
        .iter()
        .map(|o| {
            let mut v = Map::new();
            v.insert("description".into(), o.description.into());
            v.insert("type".into(), o.kind.into());
            v.insert("required".into(), o.required.into());
            if let Some(d) = o.default_value() {
                v.insert("default".into(), d);
            }
            if let Some(e) = o.elements {
                v.insert("elements".into(), e.into());
            }
            if !o.choices.is_empty() {
                v.insert("choices".into(), o.choices.into());
            }
            if !o.aliases.is_empty() {
                v.insert("aliases".into(), o.aliases.into());
            }
            (o.name.to_string(), Value::Object(v))
        })
        .collect();
    let returns: Map<String, Value> = m
        .returns
        .iter()
        .map(|r| {
            (
                r.key.to_string(),
                json!({"description": r.description, "type": r.kind}),
            )
        })
        .collect();
    json!({
        "doc": {
            "module": m.name,
            "short_description": m.synopsis,
            "description": m.description,
            "filename": m.source,
            "options": options,
        },
        "examples": m.examples,
        "return": returns,
    })
}

/// A default for display: strings bare (quoted when empty or not printable as is).
fn default_text(o: &OptionDoc) -> Option<String> {
    let v = o.default_value()?;
    Some(match &v {
        Value::String(s) if s.is_empty() || s.trim() != s || s.chars().any(char::is_control) => {
            v.to_string()
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// Greedy word wrap; `\n` in the text starts a new line (list items).
fn wrap(text: &str, indent: &str, width: usize) -> String {
    let mut out = String::new();
    for line in text.split('\n') {
        let hang = if line.starts_with("* ") || line.starts_with("- ") {
            "  "
        } else {
            ""
        };
        let mut cur = String::from(indent);
        let mut fresh = true;
        for word in line.split_whitespace() {
            if !fresh && cur.len() + 1 + word.len() > width {
                out.push_str(cur.trim_end());
                out.push('\n');
                cur = format!("{indent}{hang}");
                fresh = true;
            }
            if !fresh {
                cur.push(' ');
            }
            cur.push_str(word);
            fresh = false;
        }
        out.push_str(cur.trim_end());
        out.push('\n');
    }
    out
}

fn text(m: &ModuleDoc) -> String {
    let mut s = format!("> MODULE {} ({})\n\n", m.name, m.source);
    s.push_str(&wrap(&format!("{}.", m.synopsis), "  ", WIDTH));
    for p in m.description {
        s.push('\n');
        s.push_str(&wrap(p, "  ", WIDTH));
    }
    s.push_str("\nOPTIONS (= is mandatory):\n");
    let pad = "        ";
    for o in m.options {
        let mark = if o.required { '=' } else { '-' };
        let _ = writeln!(s, "\n{mark} {}", o.name);
        s.push_str(&wrap(o.description, pad, WIDTH));
        if !o.aliases.is_empty() {
            let _ = writeln!(s, "{pad}aliases: [{}]", o.aliases.join(", "));
        }
        if !o.choices.is_empty() {
            let _ = writeln!(s, "{pad}choices: [{}]", o.choices.join(", "));
        }
        if let Some(d) = default_text(o) {
            s.push_str(&wrap(&format!("default: {d}"), pad, WIDTH));
        }
        if let Some(e) = o.elements {
            let _ = writeln!(s, "{pad}elements: {e}");
        }
        let _ = writeln!(s, "{pad}type: {}", o.kind);
    }
    s.push_str("\nEXAMPLES:\n\n");
    s.push_str(m.examples);
    s.push('\n');
    if !m.returns.is_empty() {
        s.push_str("\nRETURN VALUES:\n");
        for r in m.returns {
            let _ = writeln!(s, "\n- {}", r.key);
            s.push_str(&wrap(r.description, pad, WIDTH));
            let _ = writeln!(s, "{pad}type: {}", r.kind);
        }
    }
    s
}

/// A task with every option, required ones marked, descriptions as comments.
fn snippet(m: &ModuleDoc) -> String {
    let mut s = format!("- name: {}\n  ansible.builtin.{}:\n", m.synopsis, m.name);
    let column = 6 + m
        .options
        .iter()
        .map(|o| o.name.len() + 2)
        .max()
        .unwrap_or(0);
    let indent = " ".repeat(column);
    for o in m.options {
        let required = if o.required { "(required) " } else { "" };
        let text = wrap(
            &format!("{required}{}", o.description.replace('\n', " ")),
            &format!("{indent}# "),
            WIDTH,
        );
        let key = format!("      {}:", o.name);
        let _ = write!(s, "{key:column$}{}", &text[column..]);
    }
    s
}

/// A table cell: one line, pipes escaped.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', "<br>")
}

fn code(s: &str) -> String {
    if s.contains('`') {
        s.to_string()
    } else {
        format!("`{s}`")
    }
}

/// The whole reference, as in `docs/modules.md`.
pub fn markdown(modules: &[ModuleDoc]) -> String {
    let mut s = String::from(
        "# Module reference\n\n\
         Generated by `tend doc --markdown` from the module sources \
         (`modules/src/*.rs`); do not edit. `tend doc MODULE` shows the same \
         in a terminal.\n\n\
         | Module | Synopsis |\n|---|---|\n",
    );
    for m in modules {
        let _ = writeln!(s, "| [`{0}`](#{0}) | {1} |", m.name, cell(m.synopsis));
    }
    for m in modules {
        s.push('\n');
        s.push_str(&module_markdown(m, "##"));
    }
    s
}

fn module_markdown(m: &ModuleDoc, h: &str) -> String {
    let mut s = format!("{h} {}\n\n{}.\n", m.name, m.synopsis);
    for p in m.description {
        let _ = write!(s, "\n{p}\n");
    }
    let _ = write!(
        s,
        "\n{h}# Options\n\n\
         | Option | Type | Required | Default | Choices | Aliases | Description |\n\
         |---|---|---|---|---|---|---|\n"
    );
    for o in m.options {
        let kind = match o.elements {
            Some(e) => format!("{} of {e}", o.kind),
            None => o.kind.to_string(),
        };
        let list = |items: &[&str]| {
            items
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {} | {} | {} |",
            o.name,
            kind,
            if o.required { "yes" } else { "" },
            cell(&default_text(o).map(|d| code(&d)).unwrap_or_default()),
            cell(&list(o.choices)),
            cell(&list(o.aliases)),
            cell(o.description)
        );
    }
    let _ = write!(s, "\n{h}# Examples\n\n```yaml\n{}\n```\n", m.examples);
    if !m.returns.is_empty() {
        let _ = write!(
            s,
            "\n{h}# Return values\n\n| Key | Type | Description |\n|---|---|---|\n"
        );
        for r in m.returns {
            let _ = writeln!(
                s,
                "| `{}` | {} | {} |",
                r.key,
                cell(r.kind),
                cell(r.description)
            );
        }
    }
    s
}
