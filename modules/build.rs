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
//!   `# Return values` section of bullets "- `key` (type): description".
//!   Any other `#` section is for developers and left out of the reference;
//!   rustdoc links (`[`x`]`) lose their brackets.
//! * the impl's `type Args = X`: struct `X`'s fields (flattened structs are
//!   inlined; `skip`ped fields and `_internal` ones set by the engine are
//!   left out; `_raw_params` is shown as `free_form`). Each field's doc
//!   comment is its description; serde's `rename`, `alias` and `default`
//!   give the name, aliases and whether it is required (no `default` and not
//!   an `Option`); the Rust type gives the Ansible type (`String` str, `bool`
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
    for s in &world.sources {
        docs.extend(module_docs(&world, s).unwrap_or_else(|e| fail_rel(&s.rel, &e)));
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
        if trait_path
            .segments
            .last()
            .is_none_or(|s| s.ident != "TypedModule")
        {
            continue;
        }
        let mut name = None;
        let mut args = None;
        for it in &imp.items {
            match it {
                syn::ImplItem::Const(c) if c.ident == "NAME" => {
                    if let Expr::Lit(l) = &c.expr
                        && let Lit::Str(s) = &l.lit
                    {
                        name = Some(s.value());
                    }
                }
                syn::ImplItem::Type(t) if t.ident == "Args" => args = Some(t.ty.clone()),
                _ => {}
            }
        }
        let name = name.ok_or("an `impl TypedModule` without a string `const NAME`")?;
        let args = args.ok_or_else(|| format!("module `{name}`: no `type Args`"))?;
        impls.push((name, args));
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
            .ok_or_else(|| format!("module `{name}`: cannot find the struct of `type Args`"))?;
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
        docs.push(Doc {
            name,
            synopsis,
            description: header.description.clone(),
            options,
            examples,
            returns: header
                .returns
                .iter()
                .map(|r| Ret {
                    key: r.key.clone(),
                    kind: r.kind.clone(),
                    description: r.description.clone(),
                })
                .collect(),
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
        let expected = names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let first = intro.first().ok_or_else(|| {
            format!("the `//!` doc must start with \"The {expected} module: <synopsis>.\"")
        })?;
        let (lead, rest) = first.split_once(": ").ok_or_else(|| {
            format!("the `//!` doc must start with \"The {expected} module: <synopsis>.\"")
        })?;
        let listed = backticked(lead);
        if !lead.starts_with("The ")
            || !(lead.ends_with(" module") || lead.ends_with(" modules"))
            || names.iter().any(|n| !listed.contains(n))
        {
            return Err(format!(
                "the `//!` doc must start with \"The {expected} module: <synopsis>.\", found \"{lead}:\""
            ));
        }
        let (synopsis, after) = first_sentence(rest);
        if synopsis.is_empty() {
            return Err(format!("module {expected}: the synopsis is empty"));
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
            .ok_or_else(|| {
                format!("module {expected}: the `//!` doc needs a `# Examples` section with a ```yaml block")
            })?;
        let returns = section("return values")
            .ok_or_else(|| format!("module {expected}: the `//!` doc needs a `# Return values` section (bullets \"- `key` (type): description\")"))?;
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
    items
        .iter()
        .map(|item| {
            let bad = || {
                format!("`# Return values`: \"- {item}\" is not \"- `key` (type): description\"")
            };
            let rest = item.strip_prefix('`').ok_or_else(bad)?;
            let (key, rest) = rest.split_once('`').ok_or_else(bad)?;
            let rest = rest.trim_start().strip_prefix('(').ok_or_else(bad)?;
            let (kind, rest) = rest.split_once(')').ok_or_else(bad)?;
            let description = rest.trim_start().strip_prefix(':').ok_or_else(bad)?.trim();
            if key.is_empty() || kind.is_empty() || description.is_empty() {
                return Err(bad());
            }
            Ok(Ret {
                key: key.to_string(),
                kind: kind.trim().to_string(),
                description: unlink(description),
            })
        })
        .collect()
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

    /// Where an item named `ident` used in `src` comes from: `src` itself,
    /// the module a `use crate::m::{.., ident}` names, or the one file that
    /// defines it.
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
        out.extend(self.sources.iter());
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
        self.candidates(src, path)
            .into_iter()
            .find_map(|s| s.ast.items.iter().find_map(|i| pick(s, i, ident)))
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

    /// The spellings of an enum usable as a choice: a `choice!` invocation or
    /// a serde-derived enum of unit variants.
    fn find_choices(&self, src: &Source, path: &syn::Path) -> Option<Choices> {
        self.find(src, path, |_, item, ident| choice_item(item, ident))
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

fn serde_enum(e: &syn::ItemEnum) -> Option<Choices> {
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
            let code_default = match &default {
                Some(Some(func)) => {
                    let path: syn::Path = syn::parse_str(func)
                        .map_err(|e| format!("{where_}: default = \"{func}\": {e}"))?;
                    let (fsrc, body) = self.find_fn(src, &path).ok_or_else(|| {
                        format!("{where_}: cannot find the default function `{func}` (or its body is not one expression)")
                    })?;
                    let v = self.eval(fsrc, body, &kind).ok_or_else(|| {
                        format!("{where_}: the default function `{func}` does not return a literal; make it one, or drop `default = ...` and state it in the doc (\"Default: ...\")")
                    })?;
                    Some(v)
                }
                Some(None) => self.zero(src, &f.ty, &kind),
                None if container_default => self.container_default(src, st, &ident, &f.ty, &kind),
                None => None,
            }
            .filter(|v| v != "null");
            let stated = take_default_sentence(&mut description);
            let default_json = match (code_default, stated) {
                (Some(_), Some(s)) => {
                    return Err(format!(
                        "{where_}: the doc states \"Default: {s}\" but the code gives the default; remove the sentence"
                    ));
                }
                (Some(c), None) => Some(c),
                (None, Some(s)) => Some(stated_json(&s)),
                (None, None) => None,
            };
            let required = default.is_none() && !container_default && !kind.optional;
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
