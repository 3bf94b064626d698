//! Generates the module reference (`tend doc`) from the module sources.
//!
//! Every `src/**/*.rs` that implements `TypedModule` (`const NAME`) is a
//! module file. Its reference comes from the source, so it cannot drift:
//!
//! * the file's `//!` doc: "The `NAME` module: synopsis." (a file with several
//!   modules: "The `a` and `b` modules: synopsis.", and a bullet
//!   "* `a`: synopsis." each to give one its own synopsis), paragraphs of
//!   semantics, a `# Examples` section with a ```yaml block (a file with
//!   several modules: each module gets the tasks that use it), and a
//!   `# Return values` section of bullets "- `key` (type): description"
//!   ("- `a` (int), `b` (str): ..." for several keys; in a file with several
//!   modules a description starting "`a` only: " is `a`'s alone).
//!   Any other `#` section is for developers and left out of the reference;
//!   rustdoc links (`[`x`]`) lose their brackets.
//! * the impl's `type Args = X`: struct `X`'s fields (flattened structs are
//!   inlined; `skip`ped fields and `_internal` ones set by the engine are
//!   left out; `_raw_params` is shown as `free_form`). Each field's doc
//!   comment is its description; serde's `rename`, `alias` and `default`
//!   give the name, aliases and whether it is required (no `default` and not
//!   an `Option`, or "(required)" in the doc); the Rust type gives the
//!   Ansible type (`String` str, `bool`
//!   bool, integers int, `Vec<T>` list, `ModeSpec`/`Value` raw, maps dict, a
//!   `choice!` enum or a serde enum str with its spellings as choices).
//! * the default value is read from the code: `#[serde(default)]` is the
//!   type's default (`false`, `""`, `[]`, `0`, an enum's `impl Default`);
//!   `#[serde(default = "f")]` is `f`'s body when it is a literal
//!   (`true`, `"x".into()`, `Some(3)`, `State::Present`, `vec![..]`, a
//!   `const`). When the code gives none (a computed default, or an `Option`
//!   whose absence means something), the field's doc may state it in a
//!   sentence "Default: ...", shown as the default; stating it in both
//!   places is an error.
//!
//! A module file without a synopsis, examples or return values section, an
//! undocumented field, or an unreadable default fails the build with a
//! message naming the file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Fields, Item, Lit, Meta, Token, Type};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let src = manifest.join("src");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=build.rs");
    let mut files = Vec::new();
    collect(&src, &mut files);
    files.sort();
    let mut sources = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| fail(path, &format!("cannot read: {e}")));
        let ast = syn::parse_file(&text).unwrap_or_else(|e| fail(path, &format!("{e}")));
        let rel = path.strip_prefix(&manifest).unwrap_or(path);
        let module = rel
            .strip_prefix("src")
            .unwrap_or(rel)
            .with_extension("")
            .to_string_lossy()
            .trim_end_matches("/mod")
            .replace('/', "::");
        sources.push(Source {
            rel: format!("modules/{}", rel.display()),
            module,
            ast,
        });
    }
    let world = World { sources };
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for s in &world.sources {
        match module_docs(&world, s) {
            Ok(d) => docs.extend(d),
            Err(e) => errors.push(format!("{}: {e}", s.rel)),
        }
    }
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("error: module reference: {e}");
        }
        eprintln!(
            "(the module documentation convention is explained at the top of modules/build.rs)"
        );
        std::process::exit(1);
    }
    docs.sort_by(|a, b| a.name.cmp(&b.name));
    for w in docs.windows(2) {
        if w[0].name == w[1].name {
            fail_rel(
                &w[1].source,
                &format!("module `{}` is defined twice", w[1].name),
            );
        }
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("module_docs.rs");
    std::fs::write(&out, render(&docs)).unwrap_or_else(|e| fail(&out, &format!("{e}")));
}

fn fail(path: &Path, msg: &str) -> ! {
    fail_rel(&path.display().to_string(), msg)
}

fn fail_rel(path: &str, msg: &str) -> ! {
    eprintln!("error: module reference: {path}: {msg}");
    std::process::exit(1);
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| fail(dir, &format!("{e}")));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

struct Source {
    /// `modules/src/x.rs`.
    rel: String,
    /// `x` (the module path under `crate`).
    module: String,
    ast: syn::File,
}

struct World {
    sources: Vec<Source>,
}

struct Doc {
    name: String,
    synopsis: String,
    description: Vec<String>,
    options: Vec<Opt>,
    examples: String,
    returns: Vec<Ret>,
    source: String,
}

struct Opt {
    name: String,
    description: String,
    kind: String,
    elements: Option<String>,
    required: bool,
    /// JSON text.
    default: Option<String>,
    choices: Vec<String>,
    aliases: Vec<String>,
}

struct Ret {
    key: String,
    kind: String,
    description: String,
}

// ---------------------------------------------------------------- the file

/// The modules a file defines: `impl TypedModule for X { type Args; const NAME }`.
fn module_docs(world: &World, src: &Source) -> Result<Vec<Doc>, String> {
    let mut impls = Vec::new();
    for item in &src.ast.items {
        let Item::Impl(imp) = item else { continue };
        let Some((_, trait_path, _)) = &imp.trait_ else {
            continue;
        };
        let Some(trait_name) = trait_path.segments.last().map(|s| s.ident.to_string()) else {
            continue;
        };
        let mut name = None;
        let mut args = None;
        for it in &imp.items {
            match it {
                // TypedModule: `const NAME: &str = "x"; type Args = X;`
                syn::ImplItem::Const(c) if c.ident == "NAME" => name = str_lit(&c.expr),
                syn::ImplItem::Type(t) if t.ident == "Args" => args = Some(t.ty.clone()),
                // Module: `fn name(&self) -> &'static str { "x" }`, its args `struct Args`.
                syn::ImplItem::Fn(f) if f.sig.ident == "name" => {
                    name = tail_expr(&f.block).and_then(str_lit);
                }
                _ => {}
            }
        }
        let args = match trait_name.as_str() {
            "TypedModule" => {
                let name = name
                    .as_ref()
                    .ok_or("an `impl TypedModule` without a string `const NAME`")?;
                args.ok_or_else(|| format!("module `{name}`: no `type Args`"))?
            }
            "Module" => {
                let Some(name) = &name else { continue };
                syn::parse_str::<Type>("Args").map_err(|e| format!("module `{name}`: {e}"))?
            }
            _ => continue,
        };
        if let Some(name) = name {
            impls.push((name, args));
        }
    }
    if impls.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = impls.iter().map(|(n, _)| n.clone()).collect();
    let header = Header::parse(&inner_doc(&src.ast.attrs), &names)?;
    let mut docs = Vec::new();
    for (name, args) in impls {
        let Type::Path(tp) = &args else {
            return Err(format!("module `{name}`: `type Args` is not a struct path"));
        };
        let (file, strukt) = world
            .find_struct(src, &tp.path)
            .ok_or_else(|| format!("module `{name}`: cannot find its `struct Args`"))?;
        let mut options = Vec::new();
        world.fields(file, strukt, &mut options)?;
        options.sort_by(|a, b| a.name.cmp(&b.name));
        let synopsis = header
            .own_synopsis
            .get(&name)
            .unwrap_or(&header.synopsis)
            .clone();
        let examples = if names.len() > 1 {
            examples_for(&header.examples, &name)
        } else {
            header.examples.clone()
        };
        let returns = header
            .returns
            .iter()
            .filter_map(|r| {
                let (only, description) = only_for(&r.description, &names);
                only.is_none_or(|o| o.contains(&name)).then(|| Ret {
                    key: r.key.clone(),
                    kind: r.kind.clone(),
                    description: capitalize(description),
                })
            })
            .collect();
        docs.push(Doc {
            name,
            synopsis,
            returns,
            description: header.description.clone(),
            options,
            examples,
            source: src.rel.clone(),
        });
    }
    Ok(docs)
}

/// The text of `//!` (or `///`) doc attributes, one line each, the leading space removed.
fn inner_doc(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for a in attrs {
        if !a.path().is_ident("doc") {
            continue;
        }
        if let Meta::NameValue(nv) = &a.meta
            && let Expr::Lit(l) = &nv.value
            && let Lit::Str(s) = &l.lit
        {
            let v = s.value();
            for line in v.split('\n') {
                lines.push(line.strip_prefix(' ').unwrap_or(line).to_string());
            }
        }
    }
    lines.join("\n")
}

struct Header {
    synopsis: String,
    own_synopsis: BTreeMap<String, String>,
    description: Vec<String>,
    examples: String,
    returns: Vec<Ret>,
}

impl Header {
    fn parse(doc: &str, names: &[String]) -> Result<Header, String> {
        let mut sections: Vec<(String, Vec<&str>)> = vec![(String::new(), Vec::new())];
        let mut fenced = false;
        for line in doc.lines() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
            }
            if !fenced && let Some(title) = line.strip_prefix("# ") {
                sections.push((title.trim().to_ascii_lowercase(), Vec::new()));
                continue;
            }
            if let Some(last) = sections.last_mut() {
                last.1.push(line);
            }
        }
        let intro = paragraphs(&sections[0].1);
        let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        let expected = match quoted.as_slice() {
            [one] => format!("The {one} module"),
            [init @ .., last] => format!("The {} and {last} modules", init.join(", ")),
            [] => String::new(),
        };
        let convention = || format!("the `//!` doc must start with \"{expected}: <synopsis>.\"");
        let first = intro.first().ok_or_else(convention)?;
        let (lead, rest) = first.split_once(": ").ok_or_else(convention)?;
        // Each name is in the lead, or (another name for the same module)
        // anywhere in the first paragraph.
        let listed = backticked(lead);
        let mentioned = backticked(first);
        if !lead.starts_with("The ")
            || !lead.contains(" module")
            || !names.iter().any(|n| listed.contains(n))
            || names.iter().any(|n| !mentioned.contains(n))
        {
            return Err(format!("{}, found \"{lead}:\"", convention()));
        }
        let (synopsis, after) = first_sentence(rest);
        if synopsis.is_empty() {
            return Err(format!("{expected}: the synopsis is empty"));
        }
        let mut description = Vec::new();
        if !after.is_empty() {
            description.push(after.to_string());
        }
        description.extend(intro[1..].iter().cloned());
        let mut own_synopsis = BTreeMap::new();
        if names.len() > 1 {
            for para in &description {
                for item in para.split('\n') {
                    let item = item.trim_start_matches(['*', '-', ' ']);
                    for n in names {
                        if let Some(text) = item.strip_prefix(&format!("`{n}`: ")) {
                            own_synopsis.insert(n.clone(), capitalize(first_sentence(text).0));
                        }
                    }
                }
            }
        }
        let section = |title: &str| {
            sections
                .iter()
                .find(|(t, _)| t == title)
                .map(|(_, lines)| lines.clone())
        };
        let examples = section("examples")
            .and_then(|lines| yaml_block(&lines))
            .ok_or("the `//!` doc needs a `# Examples` section with a ```yaml block")?;
        let returns = section("return values")
            .ok_or("the `//!` doc needs a `# Return values` section (bullets \"- `key` (type): description\")")?;
        Ok(Header {
            synopsis: capitalize(synopsis),
            own_synopsis,
            description: description.iter().map(|p| unlink(p)).collect(),
            examples,
            returns: return_values(&returns)?,
        })
    }
}

/// Paragraphs: lines joined with spaces, except list items, which keep their line.
fn paragraphs(lines: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in lines {
        let t = line.trim();
        if t.is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if !cur.is_empty() {
            let item = t.starts_with("* ") || t.starts_with("- ");
            cur.push(if item { '\n' } else { ' ' });
        }
        cur.push_str(t);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, w)| w.to_string())
        .collect()
}

/// The first sentence (without its period) and the rest.
fn first_sentence(s: &str) -> (&str, &str) {
    let bytes = s.as_bytes();
    let mut in_code = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'`' => in_code = !in_code,
            b'.' if !in_code && (i + 1 == bytes.len() || bytes[i + 1].is_ascii_whitespace()) => {
                return (s[..i].trim(), s[i + 1..].trim());
            }
            _ => {}
        }
    }
    (s.trim(), "")
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Rustdoc links lose their brackets: "[`edit`]" is "`edit`"; "[text](url)" stays.
fn unlink(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("[`") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find("`]") {
            Some(end) if !after[end + 2..].starts_with('(') && !after[..end].contains(']') => {
                out.push_str(&after[..end + 1]);
                rest = &after[end + 2..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The ```yaml blocks of a section, joined by blank lines.
fn yaml_block(lines: &[&str]) -> Option<String> {
    let mut blocks = Vec::new();
    let mut cur: Option<Vec<&str>> = None;
    for line in lines {
        let t = line.trim_start();
        match &mut cur {
            None if t.starts_with("```yaml") || t.starts_with("```yml") => cur = Some(Vec::new()),
            Some(block) if t.starts_with("```") => {
                blocks.push(block.join("\n").trim_end().to_string());
                cur = None;
            }
            Some(block) => block.push(line),
            None => {}
        }
    }
    let text = blocks.join("\n\n");
    (!text.trim().is_empty()).then_some(text)
}

fn return_values(lines: &[&str]) -> Result<Vec<Ret>, String> {
    let mut items: Vec<String> = Vec::new();
    for line in lines {
        let t = line.trim();
        if let Some(item) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
            items.push(item.to_string());
        } else if !t.is_empty()
            && line.starts_with(' ')
            && let Some(last) = items.last_mut()
        {
            last.push(' ');
            last.push_str(t);
        }
    }
    let mut out = Vec::new();
    for item in &items {
        let bad = || {
            format!(
                "`# Return values`: \"- {item}\" is not \"- `key` (type): description\" (or \"- `a` (type), `b` (type): description\")"
            )
        };
        let (head, description) = split_outside_code(item, ": ").ok_or_else(bad)?;
        // `a` (t), `b`, `c` (t2): keys take the type written after them.
        let mut keys: Vec<(String, Option<String>)> = Vec::new();
        let mut rest = head;
        loop {
            rest = rest.trim_start_matches([',', ' ']);
            if let Some(r) = rest.strip_prefix('`') {
                let (key, r) = r.split_once('`').ok_or_else(bad)?;
                keys.push((key.to_string(), None));
                rest = r;
            } else if let Some(r) = rest.strip_prefix('(') {
                let (kind, r) = r.split_once(')').ok_or_else(bad)?;
                for k in keys.iter_mut().rev().take_while(|k| k.1.is_none()) {
                    k.1 = Some(ansible_type(kind.trim()));
                }
                rest = r;
            } else if let Some(r) = rest.strip_prefix("...") {
                rest = r;
            } else if rest.is_empty() {
                break;
            } else {
                return Err(bad());
            }
        }
        if keys.is_empty() || description.trim().is_empty() {
            return Err(bad());
        }
        for (key, kind) in keys {
            out.push(Ret {
                kind: kind.ok_or_else(bad)?,
                key,
                description: capitalize(&unlink(description.trim())),
            });
        }
    }
    Ok(out)
}

/// A return value of some of a file's modules: "`a` and `b` only: text"
/// gives `(Some([a, b]), "text")`.
fn only_for<'a>(description: &'a str, names: &[String]) -> (Option<Vec<String>>, &'a str) {
    if let Some((head, text)) = split_outside_code(description, " only: ") {
        let listed = backticked(head);
        let rest = head.replace(['`', ','], " ").replace(" and ", " ");
        let all_names = rest
            .split_whitespace()
            .all(|w| listed.iter().any(|l| l == w));
        if !listed.is_empty() && all_names && listed.iter().all(|l| names.contains(l)) {
            return (Some(listed), text);
        }
    }
    (None, description)
}

/// Splits at the first `sep` outside backticks.
fn split_outside_code<'a>(s: &'a str, sep: &str) -> Option<(&'a str, &'a str)> {
    let mut in_code = false;
    for (i, c) in s.char_indices() {
        if c == '`' {
            in_code = !in_code;
        } else if !in_code && s[i..].starts_with(sep) {
            return Some((&s[..i], &s[i + sep.len()..]));
        }
    }
    None
}

/// Python's type names as Ansible's docs spell them.
fn ansible_type(kind: &str) -> String {
    match kind {
        "string" => "str",
        "integer" => "int",
        "boolean" => "bool",
        "dictionary" | "mapping" => "dict",
        "any" => "raw",
        other => other,
    }
    .to_string()
}

/// The example tasks of a file with several modules that use `name`
/// (all of them when none does). Tasks start at column 0 with "- ";
/// comment lines just above a task belong to it.
fn examples_for(yaml: &str, name: &str) -> String {
    let mut tasks: Vec<Vec<&str>> = Vec::new();
    let mut pending: Vec<&str> = Vec::new();
    for line in yaml.lines() {
        if line.starts_with("- ") {
            let mut task = std::mem::take(&mut pending);
            task.push(line);
            tasks.push(task);
        } else if line.starts_with('#') || line.trim().is_empty() {
            pending.push(line);
        } else if let Some(task) = tasks.last_mut() {
            task.append(&mut pending);
            task.push(line);
        } else {
            pending.push(line);
        }
    }
    let keys = [
        format!("{name}:"),
        format!("ansible.builtin.{name}:"),
        format!("ansible.legacy.{name}:"),
    ];
    let uses = |task: &Vec<&str>| {
        task.iter().any(|l| {
            let t = l.trim_start().trim_start_matches("- ");
            keys.iter().any(|k| t.starts_with(k.as_str()))
        })
    };
    let kept: Vec<String> = tasks
        .iter()
        .filter(|t| uses(t))
        .map(|t| {
            t.iter()
                .skip_while(|l| l.trim().is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join("\n")
                .trim_end()
                .to_string()
        })
        .collect();
    if kept.is_empty() {
        yaml.to_string()
    } else {
        kept.join("\n\n")
    }
}

// ---------------------------------------------------------------- lookups

impl World {
    fn source(&self, module: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.module == module)
    }

    /// Where an item used in `src` may come from: the module its path
    /// names, `src` itself, the module a `use crate::m::{.., ident}` names.
    fn candidates<'a>(&'a self, src: &'a Source, path: &syn::Path) -> Vec<&'a Source> {
        let segs: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let mut out = Vec::new();
        if segs.len() > 1 {
            let module = segs[..segs.len() - 1]
                .iter()
                .filter(|s| *s != "crate" && *s != "self" && *s != "super")
                .cloned()
                .collect::<Vec<_>>()
                .join("::");
            if let Some(s) = self.source(&module) {
                out.push(s);
            }
        }
        out.push(src);
        let ident = segs.last().cloned().unwrap_or_default();
        for item in &src.ast.items {
            if let Item::Use(u) = item {
                let mut found = Vec::new();
                use_paths(&u.tree, &mut Vec::new(), &mut found);
                for (module, name) in found {
                    if name == ident
                        && let Some(s) = self.source(&module)
                    {
                        out.push(s);
                    }
                }
            }
        }
        out
    }

    /// The first item `pick` accepts, among the candidates for `path`.
    fn find<'a, T>(
        &'a self,
        src: &'a Source,
        path: &syn::Path,
        pick: impl Fn(&'a Source, &'a Item, &syn::Ident) -> Option<T>,
    ) -> Option<T> {
        let ident = &path.segments.last()?.ident;
        let in_file = |s: &'a Source| s.ast.items.iter().find_map(|i| pick(s, i, ident));
        if let Some(found) = self.candidates(src, path).into_iter().find_map(in_file) {
            return Some(found);
        }
        // Else the one file that defines it (a glob import).
        let mut all = self.sources.iter().filter_map(in_file);
        let found = all.next()?;
        all.next().is_none().then_some(found)
    }

    fn find_struct<'a>(
        &'a self,
        src: &'a Source,
        path: &syn::Path,
    ) -> Option<(&'a Source, &'a syn::ItemStruct)> {
        self.find(src, path, |s, i, ident| match i {
            Item::Struct(st) if st.ident == *ident => Some((s, st)),
            _ => None,
        })
    }

    /// The body of a function that is one expression.
    fn find_fn<'a>(&'a self, src: &'a Source, path: &syn::Path) -> Option<(&'a Source, &'a Expr)> {
        self.find(src, path, |s, i, ident| match i {
            Item::Fn(f) if f.sig.ident == *ident => tail_expr(&f.block).map(|e| (s, e)),
            _ => None,
        })
    }

    fn find_const<'a>(
        &'a self,
        src: &'a Source,
        path: &syn::Path,
    ) -> Option<(&'a Source, &'a Expr)> {
        self.find(src, path, |s, i, ident| match i {
            Item::Const(c) if c.ident == *ident => Some((s, &*c.expr)),
            Item::Static(c) if c.ident == *ident => Some((s, &*c.expr)),
            _ => None,
        })
    }

    /// The body of `impl Default for NAME`'s `default()`.
    fn find_default_impl<'a>(
        &'a self,
        src: &'a Source,
        path: &syn::Path,
    ) -> Option<(&'a Source, &'a Expr)> {
        self.find(src, path, |s, i, ident| {
            let Item::Impl(imp) = i else { return None };
            let (_, tr, _) = imp.trait_.as_ref()?;
            let Type::Path(self_ty) = &*imp.self_ty else {
                return None;
            };
            if tr.segments.last().is_none_or(|t| t.ident != "Default")
                || self_ty.path.segments.last()?.ident != *ident
            {
                return None;
            }
            imp.items.iter().find_map(|it| match it {
                syn::ImplItem::Fn(f) if f.sig.ident == "default" => {
                    tail_expr(&f.block).map(|e| (s, e))
                }
                _ => None,
            })
        })
    }

    fn find_enum(&self, src: &Source, path: &syn::Path) -> bool {
        self.find(src, path, |_, i, ident| match i {
            Item::Enum(e) if e.ident == *ident => Some(()),
            _ => None,
        })
        .is_some()
    }

    /// The spellings of an enum usable as a choice: a `choice!` invocation or
    /// a serde-derived enum of unit variants.
    fn find_choices(&self, src: &Source, path: &syn::Path) -> Option<Choices> {
        self.find(src, path, |_, item, ident| choice_item(item, ident))
    }
}

fn str_lit(e: &Expr) -> Option<String> {
    match e {
        Expr::Lit(l) => match &l.lit {
            Lit::Str(s) => Some(s.value()),
            _ => None,
        },
        _ => None,
    }
}

fn tail_expr(block: &syn::Block) -> Option<&Expr> {
    match block.stmts.as_slice() {
        [syn::Stmt::Expr(e, None)] => Some(e),
        _ => None,
    }
}

/// `(module, name)` for every name a `use crate::...` tree imports.
fn use_paths(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<(String, String)>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_paths(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            if prefix.first().is_some_and(|p| p == "crate") {
                out.push((prefix[1..].join("::"), n.ident.to_string()));
            }
        }
        syn::UseTree::Rename(r) => {
            if prefix.first().is_some_and(|p| p == "crate") {
                out.push((prefix[1..].join("::"), r.rename.to_string()));
            }
        }
        syn::UseTree::Group(g) => {
            for t in &g.items {
                use_paths(t, prefix, out);
            }
        }
        syn::UseTree::Glob(_) => {}
    }
}

/// An enum's variants and their spellings (canonical first).
struct Choices {
    variants: Vec<(String, Vec<String>)>,
}

impl Choices {
    fn spellings(&self) -> Vec<String> {
        self.variants
            .iter()
            .flat_map(|(_, s)| s.iter().cloned())
            .collect()
    }

    fn canonical(&self, variant: &str) -> Option<String> {
        self.variants
            .iter()
            .find(|(v, _)| v == variant)
            .and_then(|(_, s)| s.first().cloned())
    }
}

struct ChoiceMacro {
    name: syn::Ident,
    variants: Vec<(String, Vec<String>)>,
}

impl syn::parse::Parse for ChoiceMacro {
    fn parse(input: syn::parse::ParseStream) -> syn::Result<Self> {
        Attribute::parse_outer(input)?;
        input.parse::<syn::Visibility>()?;
        input.parse::<Token![enum]>()?;
        let name: syn::Ident = input.parse()?;
        let body;
        syn::braced!(body in input);
        let mut variants = Vec::new();
        while !body.is_empty() {
            Attribute::parse_outer(&body)?;
            let v: syn::Ident = body.parse()?;
            body.parse::<Token![=]>()?;
            let list;
            syn::bracketed!(list in body);
            let spellings = Punctuated::<syn::LitStr, Token![,]>::parse_terminated(&list)?;
            variants.push((v.to_string(), spellings.iter().map(|l| l.value()).collect()));
            if !body.is_empty() {
                body.parse::<Token![,]>()?;
            }
        }
        Ok(ChoiceMacro { name, variants })
    }
}

fn choice_item(item: &Item, ident: &syn::Ident) -> Option<Choices> {
    match item {
        Item::Macro(m)
            if m.mac
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident == "choice") =>
        {
            let parsed: ChoiceMacro = m.mac.parse_body().ok()?;
            (parsed.name == *ident).then_some(Choices {
                variants: parsed.variants,
            })
        }
        Item::Enum(e) if e.ident == *ident => serde_enum(e),
        _ => None,
    }
}

/// Whether an item derives serde's `Deserialize`.
fn derives_deserialize(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .any(|a| {
            a.parse_args_with(Punctuated::<syn::Path, Token![,]>::parse_terminated)
                .is_ok_and(|paths| {
                    paths
                        .iter()
                        .any(|p| p.segments.last().is_some_and(|s| s.ident == "Deserialize"))
                })
        })
}

/// The spellings of a `#[derive(Deserialize)]` enum of unit variants.
fn serde_enum(e: &syn::ItemEnum) -> Option<Choices> {
    if !derives_deserialize(&e.attrs) {
        return None;
    }
    let mut rename_all = None;
    for a in serde_attrs(&e.attrs) {
        if let SerdeAttr::RenameAll(r) = a {
            rename_all = Some(r);
        }
    }
    let mut variants = Vec::new();
    for v in &e.variants {
        if !matches!(v.fields, Fields::Unit) {
            return None;
        }
        let mut name = None;
        let mut aliases = Vec::new();
        for a in serde_attrs(&v.attrs) {
            match a {
                SerdeAttr::Rename(r) => name = Some(r),
                SerdeAttr::Alias(a) => aliases.push(a),
                _ => {}
            }
        }
        let name = name.unwrap_or_else(|| case(&v.ident.to_string(), rename_all.as_deref()));
        let mut spellings = vec![name];
        spellings.extend(aliases);
        variants.push((v.ident.to_string(), spellings));
    }
    Some(Choices { variants })
}

/// serde's `rename_all` of a variant name.
fn case(ident: &str, rule: Option<&str>) -> String {
    let words = || {
        let mut out = String::new();
        for (i, c) in ident.chars().enumerate() {
            if c.is_uppercase() && i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        }
        out
    };
    match rule {
        Some("lowercase") => ident.to_lowercase(),
        Some("UPPERCASE") => ident.to_uppercase(),
        Some("snake_case") => words(),
        Some("kebab-case") => words().replace('_', "-"),
        Some("SCREAMING_SNAKE_CASE") => words().to_uppercase(),
        _ => ident.to_string(),
    }
}

// ---------------------------------------------------------------- serde attributes

enum SerdeAttr {
    Rename(String),
    RenameAll(String),
    Alias(String),
    /// `default` (None) or `default = "path"`.
    Default(Option<String>),
    Skip,
    Flatten,
}

fn serde_attrs(attrs: &[Attribute]) -> Vec<SerdeAttr> {
    let mut out = Vec::new();
    for a in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = a.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            let has_value = meta.input.peek(Token![=]);
            let value = |meta: &syn::meta::ParseNestedMeta| -> syn::Result<Option<String>> {
                if meta.input.peek(Token![=]) {
                    let lit: syn::LitStr = meta.value()?.parse()?;
                    Ok(Some(lit.value()))
                } else {
                    Ok(None)
                }
            };
            match key.as_str() {
                "rename" | "rename_all" if !has_value => {
                    meta.parse_nested_meta(|inner| {
                        let v = value(&inner)?;
                        if inner.path.is_ident("deserialize")
                            && let Some(v) = v
                        {
                            out.push(if key == "rename" {
                                SerdeAttr::Rename(v)
                            } else {
                                SerdeAttr::RenameAll(v)
                            });
                        }
                        Ok(())
                    })?;
                }
                "rename" => out.extend(value(&meta)?.map(SerdeAttr::Rename)),
                "rename_all" => out.extend(value(&meta)?.map(SerdeAttr::RenameAll)),
                "alias" => out.extend(value(&meta)?.map(SerdeAttr::Alias)),
                "default" => out.push(SerdeAttr::Default(value(&meta)?)),
                "skip" | "skip_deserializing" => out.push(SerdeAttr::Skip),
                "flatten" => out.push(SerdeAttr::Flatten),
                _ => {
                    if has_value {
                        meta.value()?.parse::<Expr>()?;
                    } else if meta.input.peek(syn::token::Paren) {
                        meta.parse_nested_meta(|inner| {
                            if inner.input.peek(Token![=]) {
                                inner.value()?.parse::<Expr>()?;
                            }
                            Ok(())
                        })?;
                    }
                }
            }
            Ok(())
        });
    }
    out
}

// ---------------------------------------------------------------- fields

/// How a Rust type reads in Ansible's terms.
struct Kind {
    kind: String,
    elements: Option<String>,
    choices: Vec<String>,
    optional: bool,
    /// JSON text of `Default::default()` for the type, when known.
    zero: Option<String>,
    /// The enum, for evaluating `Enum::Variant` defaults.
    enum_path: Option<syn::Path>,
}

fn last_ident(ty: &Type) -> Option<(&syn::Path, String, Vec<&Type>)> {
    let Type::Path(tp) = ty else { return None };
    let seg = tp.path.segments.last()?;
    let args = match &seg.arguments {
        syn::PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|g| match g {
                syn::GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Some((&tp.path, seg.ident.to_string(), args))
}

impl World {
    fn kind(&self, src: &Source, ty: &Type) -> Kind {
        let plain = |k: &str, zero: Option<&str>| Kind {
            kind: k.to_string(),
            elements: None,
            choices: Vec::new(),
            optional: false,
            zero: zero.map(str::to_string),
            enum_path: None,
        };
        let Some((path, ident, args)) = last_ident(ty) else {
            return plain("raw", None);
        };
        match ident.as_str() {
            "Option" => {
                let mut inner = args
                    .first()
                    .map_or_else(|| plain("raw", None), |t| self.kind(src, t));
                inner.optional = true;
                inner.zero = None;
                inner
            }
            "Box" => args
                .first()
                .map_or_else(|| plain("raw", None), |t| self.kind(src, t)),
            "String" | "str" => plain("str", Some("\"\"")),
            "PathBuf" => plain("path", None),
            "bool" => plain("bool", Some("false")),
            "i8" | "i16" | "i32" | "i64" | "i128" | "isize" | "u8" | "u16" | "u32" | "u64"
            | "u128" | "usize" => plain("int", Some("0")),
            "f32" | "f64" => plain("float", Some("0.0")),
            "Vec" | "BTreeSet" | "HashSet" | "IndexSet" => Kind {
                elements: args.first().map(|t| self.kind(src, t).kind),
                ..plain("list", Some("[]"))
            },
            "HashMap" | "BTreeMap" | "IndexMap" | "Map" => plain("dict", Some("{}")),
            "Value" | "ModeSpec" => plain("raw", None),
            _ => match self.find_choices(src, path) {
                Some(c) => Kind {
                    choices: c.spellings(),
                    enum_path: Some(path.clone()),
                    ..plain("str", None)
                },
                None if self.find_struct(src, path).is_some() => plain("dict", None),
                // An enum with its own `Deserialize`: a string, see its description.
                None if self.find_enum(src, path) => plain("str", None),
                None => plain("raw", None),
            },
        }
    }

    /// The documented options of an args struct (flattened structs inlined).
    fn fields(&self, src: &Source, st: &syn::ItemStruct, out: &mut Vec<Opt>) -> Result<(), String> {
        let Fields::Named(named) = &st.fields else {
            return Err(format!("`{}` has no named fields", st.ident));
        };
        let container_default = serde_attrs(&st.attrs)
            .iter()
            .any(|a| matches!(a, SerdeAttr::Default(_)));
        for f in &named.named {
            let Some(ident) = &f.ident else { continue };
            let ident = ident.to_string();
            let ident = ident.trim_start_matches("r#").to_string();
            let where_ = format!("`{}.{ident}`", st.ident);
            let attrs = serde_attrs(&f.attrs);
            if attrs.iter().any(|a| matches!(a, SerdeAttr::Skip)) {
                continue;
            }
            if attrs.iter().any(|a| matches!(a, SerdeAttr::Flatten)) {
                let Some((path, _, _)) = last_ident(&f.ty) else {
                    return Err(format!("{where_}: cannot read the flattened type"));
                };
                let (fsrc, fst) = self
                    .find_struct(src, path)
                    .ok_or_else(|| format!("{where_}: cannot find the flattened struct"))?;
                self.fields(fsrc, fst, out)?;
                continue;
            }
            let mut name = ident.clone();
            let mut aliases = Vec::new();
            let mut default: Option<Option<String>> = None;
            for a in attrs {
                match a {
                    SerdeAttr::Rename(r) => name = r,
                    SerdeAttr::Alias(a) => aliases.push(a),
                    SerdeAttr::Default(d) => default = Some(d),
                    _ => {}
                }
            }
            if name == "_raw_params" {
                name = "free_form".into();
            } else if name.starts_with('_') {
                continue; // set by the engine, not by users
            }
            let doc = paragraphs(&inner_doc(&f.attrs).lines().collect::<Vec<_>>());
            if doc.is_empty() {
                return Err(format!(
                    "{where_} (option `{name}`) has no doc comment: every argument must be documented"
                ));
            }
            let mut description = unlink(&doc.join("\n\n"));
            let kind = self.kind(src, &f.ty);
            // The code's default (Err: a default function that is not a literal).
            let code_default: Result<Option<String>, String> = match &default {
                Some(Some(func)) => {
                    let path: syn::Path = syn::parse_str(func)
                        .map_err(|e| format!("{where_}: default = \"{func}\": {e}"))?;
                    let (fsrc, body) = self.find_fn(src, &path).ok_or_else(|| {
                        format!("{where_}: cannot find the default function `{func}`")
                    })?;
                    self.eval(fsrc, body, &kind).map(Some).ok_or_else(|| {
                        format!("{where_}: the default function `{func}` does not return a literal: make it one, or state the default in the doc comment (a sentence \"Default: ...\")")
                    })
                }
                Some(None) => Ok(self.zero(src, &f.ty, &kind)),
                None if container_default => {
                    Ok(self.container_default(src, st, &ident, &f.ty, &kind))
                }
                None => Ok(None),
            }
            .map(|v| v.filter(|v| v != "null"));
            let explicit = matches!(default, Some(Some(_)));
            let stated = take_default_sentence(&mut description).map(|s| stated_json(&s));
            let default_json = match (code_default, stated) {
                // A default function and the doc must agree.
                (Ok(Some(code)), Some(doc)) if explicit && code != doc => {
                    return Err(format!(
                        "{where_}: the doc says \"Default: {doc}\" but the code's default is {code}"
                    ));
                }
                // The doc says what a zero default (`[]`, `""`) means, or what a computed one is.
                (Ok(_) | Err(_), Some(doc)) => Some(doc),
                (Ok(code), None) => code,
                (Err(e), None) => return Err(e),
            };
            // A field that defaults only to give the module's own message
            // when it is missing says "(required)" in its doc.
            let required = (default.is_none() && !container_default && !kind.optional)
                || description.contains("(required)");
            out.push(Opt {
                name,
                description,
                kind: kind.kind,
                elements: kind.elements,
                required,
                default: default_json,
                choices: kind.choices,
                aliases,
            });
        }
        Ok(())
    }

    /// `Default::default()` of a field's type.
    fn zero(&self, src: &Source, ty: &Type, kind: &Kind) -> Option<String> {
        if kind.zero.is_some() || kind.optional {
            return kind.zero.clone();
        }
        let (path, _, _) = last_ident(ty)?;
        let (dsrc, body) = self.find_default_impl(src, path)?;
        self.eval(dsrc, body, kind)
    }

    /// A field's value in the struct's own `impl Default` (or its type's default).
    fn container_default(
        &self,
        src: &Source,
        st: &syn::ItemStruct,
        field: &str,
        ty: &Type,
        kind: &Kind,
    ) -> Option<String> {
        let self_path: syn::Path = syn::parse_str(&st.ident.to_string()).ok()?;
        if let Some((dsrc, Expr::Struct(lit))) = self.find_default_impl(src, &self_path) {
            let value = lit.fields.iter().find_map(|fv| match &fv.member {
                syn::Member::Named(m) if m == field => Some(&fv.expr),
                _ => None,
            })?;
            return self.eval(dsrc, value, kind);
        }
        self.zero(src, ty, kind)
    }

    /// A literal expression as JSON text.
    fn eval(&self, src: &Source, e: &Expr, kind: &Kind) -> Option<String> {
        match e {
            Expr::Lit(l) => lit_json(&l.lit),
            Expr::Paren(p) => self.eval(src, &p.expr, kind),
            Expr::Group(g) => self.eval(src, &g.expr, kind),
            Expr::Block(b) => tail_expr(&b.block).and_then(|e| self.eval(src, e, kind)),
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => {
                self.eval(src, &u.expr, kind).map(|v| format!("-{v}"))
            }
            Expr::Reference(r) => self.eval(src, &r.expr, kind),
            Expr::MethodCall(m)
                if m.args.is_empty()
                    && ["into", "to_string", "to_owned", "into_owned"]
                        .contains(&m.method.to_string().as_str()) =>
            {
                self.eval(src, &m.receiver, kind)
            }
            Expr::Call(c) => {
                let Expr::Path(p) = &*c.func else { return None };
                let segs: Vec<String> = p
                    .path
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect();
                let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
                match (segs.as_slice(), c.args.len()) {
                    (["Some"] | [.., "from"], 1) => self.eval(src, &c.args[0], kind),
                    ([.., "new"] | [.., "default"], 0) => kind.zero.clone(),
                    _ => None,
                }
            }
            Expr::Macro(m) if m.mac.path.is_ident("vec") => {
                let items = m
                    .mac
                    .parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated)
                    .ok()?;
                let inner = Kind {
                    kind: kind.elements.clone().unwrap_or_default(),
                    elements: None,
                    choices: Vec::new(),
                    optional: false,
                    zero: None,
                    enum_path: None,
                };
                let vals: Option<Vec<String>> =
                    items.iter().map(|i| self.eval(src, i, &inner)).collect();
                Some(format!("[{}]", vals?.join(", ")))
            }
            Expr::Path(p) => {
                let segs: Vec<String> = p
                    .path
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect();
                if segs == ["None"] {
                    return Some("null".into());
                }
                if segs.len() >= 2 {
                    let variant = &segs[segs.len() - 1];
                    let mut enum_path = p.path.clone();
                    enum_path.segments.pop();
                    let enum_path = if segs[segs.len() - 2] == "Self" {
                        kind.enum_path.clone()?
                    } else {
                        let mut ep = enum_path;
                        if let Some(last) = ep.segments.pop() {
                            ep.segments.push(last.into_value());
                        }
                        ep
                    };
                    if let Some(c) = self.find_choices(src, &enum_path) {
                        return c.canonical(variant).map(|s| json_string(&s));
                    }
                }
                let (csrc, value) = self.find_const(src, &p.path)?;
                self.eval(csrc, value, kind)
            }
            _ => None,
        }
    }
}

fn lit_json(lit: &Lit) -> Option<String> {
    match lit {
        Lit::Str(s) => Some(json_string(&s.value())),
        Lit::Bool(b) => Some(b.value.to_string()),
        Lit::Int(i) => Some(i.base10_digits().to_string()),
        Lit::Float(f) => Some(f.base10_digits().to_string()),
        Lit::Char(c) => Some(json_string(&c.value().to_string())),
        _ => None,
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// A stated default as JSON: a lone code span (`` `EOF` ``, `` `""` ``,
/// `` `5` ``) is its content, JSON when it parses as JSON; anything else is text.
fn stated_json(s: &str) -> String {
    let inner = s
        .strip_prefix('`')
        .and_then(|r| r.strip_suffix('`'))
        .filter(|r| !r.contains('`'));
    match inner {
        Some(code) if is_json_scalar(code) => code.to_string(),
        Some(code) => json_string(code),
        None => json_string(s),
    }
}

/// `""`, `"x"`, `true`, `false`, `null`, or a number.
fn is_json_scalar(s: &str) -> bool {
    if let Some(body) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        return !body.contains(['"', '\\']);
    }
    matches!(s, "true" | "false")
        || (!s.is_empty()
            && s.trim_start_matches('-')
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.')
            && s.trim_start_matches('-')
                .starts_with(|c: char| c.is_ascii_digit()))
}

/// Removes a sentence "Default: X." from a description and returns X.
fn take_default_sentence(description: &mut String) -> Option<String> {
    let start = description.find("Default: ")?;
    let rest = &description[start + "Default: ".len()..];
    let (value, after) = first_sentence(rest);
    let value = value.to_string();
    let after = after.to_string();
    let before = description[..start].trim_end().to_string();
    *description = match (before.is_empty(), after.is_empty()) {
        (true, _) => after,
        (false, true) => before,
        (false, false) => format!("{before} {after}"),
    };
    Some(value)
}

// ---------------------------------------------------------------- output

fn render(docs: &[Doc]) -> String {
    let mut out = String::from("// Generated by build.rs from the module sources; do not edit.\n");
    out.push_str("static MODULES: &[ModuleDoc] = &[\n");
    for d in docs {
        let _ = writeln!(out, "    ModuleDoc {{");
        let _ = writeln!(out, "        name: {:?},", d.name);
        let _ = writeln!(out, "        synopsis: {:?},", d.synopsis);
        let _ = writeln!(out, "        description: &{:?},", d.description);
        let _ = writeln!(out, "        source: {:?},", d.source);
        let _ = writeln!(out, "        examples: {:?},", d.examples);
        out.push_str("        options: &[\n");
        for o in &d.options {
            let _ = writeln!(
                out,
                "            OptionDoc {{ name: {:?}, description: {:?}, kind: {:?}, elements: {:?}, required: {}, default: {:?}, choices: &{:?}, aliases: &{:?} }},",
                o.name,
                o.description,
                o.kind,
                o.elements,
                o.required,
                o.default,
                o.choices,
                o.aliases
            );
        }
        out.push_str("        ],\n        returns: &[\n");
        for r in &d.returns {
            let _ = writeln!(
                out,
                "            ReturnDoc {{ key: {:?}, kind: {:?}, description: {:?} }},",
                r.key, r.kind, r.description
            );
        }
        out.push_str("        ],\n    },\n");
    }
    out.push_str("];\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world(files: &[(&str, &str)]) -> World {
        World {
            sources: files
                .iter()
                .map(|(module, text)| Source {
                    rel: format!("modules/src/{module}.rs"),
                    module: module.to_string(),
                    ast: syn::parse_file(text).expect("parse"),
                })
                .collect(),
        }
    }

    fn docs(files: &[(&str, &str)]) -> Result<Vec<Doc>, String> {
        let w = world(files);
        let mut out = Vec::new();
        for s in &w.sources {
            out.extend(module_docs(&w, s)?);
        }
        Ok(out)
    }

    const HEADER: &str = r#"//! The `demo` module: do a demo thing.
//!
//! Semantics, with a [`link`].
//!
//! # Examples
//!
//! ```yaml
//! - name: Demo
//!   demo:
//!     path: /x
//! ```
//!
//! # Return values
//!
//! - `path` (string): The path.
//! - `a` (int), `b` (str): Two keys.
//!
//! # Implementation
//!
//! Only for developers.
"#;

    const BODY: &str = r#"
use crate::lineinfile::State;
choice! {
    /// Kinds.
    pub enum Kind { File = ["file", "f"], Dir = ["directory"] }
}
fn yes() -> bool { true }
fn kind() -> Kind { Kind::Dir }
const LIMIT: i64 = 12;
fn limit() -> i64 { LIMIT }
/// Shared.
#[derive(Deserialize)]
pub struct Common {
    /// The owner.
    #[serde(default)]
    pub owner: Option<String>,
}
/// Args.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The path.
    #[serde(alias = "dest", deserialize_with = "de::string")]
    pub path: String,
    /// Force it.
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub force: bool,
    /// What it is.
    #[serde(default = "kind")]
    pub kind: Kind,
    /// Whether it is there.
    #[serde(default = "crate::lineinfile::present_state")]
    pub state: State,
    /// How many.
    #[serde(default = "limit")]
    pub limit: i64,
    /// Names. Default: all of them.
    #[serde(default, deserialize_with = "de::list")]
    pub names: Vec<String>,
    /// Extra words.
    #[serde(default)]
    pub words: Vec<String>,
    /// The text.
    #[serde(rename = "_raw_params", default)]
    pub raw: Option<String>,
    /// Set by the engine.
    #[serde(rename = "_content", default)]
    pub content: Option<String>,
    /// Skipped.
    #[serde(skip)]
    pub skipped: bool,
    #[serde(flatten)]
    pub common: Common,
}
pub struct Demo;
impl TypedModule for Demo {
    type Args = Args;
    const NAME: &'static str = "demo";
}
"#;

    const LINEINFILE: &str = r#"
choice! {
    /// State.
    pub enum State { Present = ["present"], Absent = ["absent"] }
}
pub fn present_state() -> State { State::Present }
"#;

    fn demo(header: &str, body: &str) -> Result<Vec<Doc>, String> {
        docs(&[
            ("demo", &format!("{header}{body}")),
            ("lineinfile", LINEINFILE),
        ])
    }

    fn opt<'a>(d: &'a Doc, name: &str) -> &'a Opt {
        d.options.iter().find(|o| o.name == name).expect(name)
    }

    #[test]
    fn reads_the_header_and_the_args_struct() {
        let docs = demo(HEADER, BODY).unwrap();
        let [d] = docs.as_slice() else { panic!() };
        assert_eq!(d.name, "demo");
        assert_eq!(d.synopsis, "Do a demo thing");
        assert_eq!(d.description, ["Semantics, with a `link`."]);
        assert_eq!(d.examples, "- name: Demo\n  demo:\n    path: /x");
        let rets: Vec<(&str, &str, &str)> = d
            .returns
            .iter()
            .map(|r| (r.key.as_str(), r.kind.as_str(), r.description.as_str()))
            .collect();
        assert_eq!(
            rets,
            [
                ("path", "str", "The path."),
                ("a", "int", "Two keys."),
                ("b", "str", "Two keys.")
            ]
        );
        let names: Vec<&str> = d.options.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "force",
                "free_form",
                "kind",
                "limit",
                "names",
                "owner",
                "path",
                "state",
                "words"
            ]
        );
        let path = opt(d, "path");
        assert!(path.required);
        assert_eq!(
            (path.kind.as_str(), &path.aliases[..]),
            ("str", &["dest".to_string()][..])
        );
        assert_eq!(opt(d, "force").default.as_deref(), Some("true"));
        let kind = opt(d, "kind");
        assert_eq!(kind.choices, ["file", "f", "directory"]);
        assert_eq!(kind.default.as_deref(), Some("\"directory\""));
        assert_eq!(opt(d, "state").default.as_deref(), Some("\"present\""));
        assert_eq!(opt(d, "state").choices, ["present", "absent"]);
        assert_eq!(opt(d, "limit").default.as_deref(), Some("12"));
        let names = opt(d, "names");
        assert_eq!(names.default.as_deref(), Some("\"all of them\""));
        assert_eq!(names.description, "Names.");
        assert_eq!(opt(d, "words").default.as_deref(), Some("[]"));
        assert_eq!(opt(d, "words").elements.as_deref(), Some("str"));
        assert!(!opt(d, "free_form").required);
        assert_eq!(opt(d, "owner").description, "The owner.");
    }

    #[test]
    fn a_module_without_typed_args_uses_its_files_args_struct() {
        let body = BODY.replace(
            "impl TypedModule for Demo {\n    type Args = Args;\n    const NAME: &'static str = \"demo\";\n}",
            "impl Module for Demo {\n    fn name(&self) -> &'static str { \"demo\" }\n}",
        );
        let docs = demo(HEADER, &body).unwrap();
        assert_eq!(docs[0].name, "demo");
        assert!(docs[0].options.iter().any(|o| o.name == "path"));
    }

    #[test]
    fn several_modules_in_one_file_get_their_own_synopsis_and_examples() {
        let header = r#"//! The `one` and `two` modules: run things.
//!
//! * `one`: run one thing. More about it.
//! * `two`: run two things.
//!
//! # Examples
//!
//! ```yaml
//! # the first
//! - name: One
//!   one: x
//!
//! - name: Two
//!   ansible.builtin.two: y
//! ```
//!
//! # Return values
//!
//! - `rc` (int): Status.
//! - `start` (str): `one` only: when it started.
"#;
        let body = r#"
/// A.
#[derive(Deserialize)]
pub struct Args {
    /// Text.
    pub text: String,
}
pub struct One;
impl TypedModule for One { type Args = Args; const NAME: &'static str = "one"; }
pub struct Two;
impl TypedModule for Two { type Args = Args; const NAME: &'static str = "two"; }
"#;
        let docs = docs(&[("m", &format!("{header}{body}"))]).unwrap();
        assert_eq!(docs[0].synopsis, "Run one thing");
        assert_eq!(docs[0].examples, "# the first\n- name: One\n  one: x");
        assert_eq!(docs[1].synopsis, "Run two things");
        assert_eq!(docs[1].examples, "- name: Two\n  ansible.builtin.two: y");
        let keys = |d: &Doc| d.returns.iter().map(|r| r.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&docs[0]), ["rc", "start"]);
        assert_eq!(docs[0].returns[1].description, "When it started.");
        assert_eq!(keys(&docs[1]), ["rc"]);
    }

    fn error(header: &str, body: &str) -> String {
        match demo(header, body) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }

    #[test]
    fn breaking_the_convention_is_an_error_that_says_what_to_fix() {
        let e = error(HEADER, &BODY.replace("    /// Force it.\n", ""));
        assert_eq!(
            e,
            "`Args.force` (option `force`) has no doc comment: every argument must be documented"
        );
        let e = error(&HEADER.replace("The `demo` module: do", "Does"), BODY);
        assert!(
            e.starts_with("the `//!` doc must start with \"The `demo` module: <synopsis>.\""),
            "{e}"
        );
        let e = error(&HEADER.replace("# Examples", "# Samples"), BODY);
        assert!(e.contains("needs a `# Examples` section"), "{e}");
        let e = error(&HEADER.replace("# Return values", "# Returns"), BODY);
        assert!(e.contains("needs a `# Return values` section"), "{e}");
        let e = error(&HEADER.replace("`path` (string)", "path"), BODY);
        assert!(e.contains("is not \"- `key` (type): description\""), "{e}");
        let e = error(
            HEADER,
            &BODY.replace("fn yes() -> bool { true }", "fn yes() -> bool { 1 > 0 }"),
        );
        assert!(
            e.contains("the default function `yes` does not return a literal"),
            "{e}"
        );
        let e = error(
            HEADER,
            &BODY.replace("/// Force it.", "/// Force it. Default: `false`."),
        );
        assert_eq!(
            e,
            "`Args.force`: the doc says \"Default: false\" but the code's default is true"
        );
        // Saying the same as the code is fine.
        assert!(
            demo(
                HEADER,
                &BODY.replace("/// Force it.", "/// Force it. Default: `true`.")
            )
            .is_ok()
        );
        // A computed default stated in the doc.
        let body = BODY
            .replace("fn yes() -> bool { true }", "fn yes() -> bool { 1 > 0 }")
            .replace(
                "/// Force it.",
                "/// Force it. Default: `true` on Tuesdays.",
            );
        let docs = demo(HEADER, &body).unwrap();
        assert_eq!(
            opt(&docs[0], "force").default.as_deref(),
            Some("\"`true` on Tuesdays\"")
        );
    }
}
