//! Python's `re` for tend: Python's pattern syntax and matching rules on
//! the `fancy-regex` engine, shared by the modules (`lineinfile`,
//! `blockinfile`, `replace`) and the Jinja `regex_*` filters and tests.
//!
//! A pattern is translated from Python's syntax into fancy-regex's, then
//! compiled once. fancy-regex hands patterns without backreferences or
//! look-around to the `regex` crate whole, and runs the others (`\1`,
//! `(?P=name)`, `(?=…)`, `(?!…)`, `(?<=…)`, `(?<!…)`, atomic groups,
//! conditionals) on its backtracking VM, delegating the simple pieces.
//!
//! Python's meaning is kept where the engines differ:
//! - `$` without MULTILINE matches at the end or before a final `\n` only;
//!   `\Z` is the very end; `\<`, `\>` are literals;
//! - `{` that does not start a quantifier is a literal; `{,n}` is `{0,n}`;
//! - `[`, `&&`, `~~`, `--` inside a class are literals;
//! - `(?#…)` comments and VERBOSE (`(?x)`) whitespace and comments are dropped;
//! - global flags (`(?ims)`) only at the start, as Python 3.11 requires;
//! - bytes patterns ([`Kind::Bytes`], what Ansible's modules compile) have
//!   ASCII classes and `.` matches one byte; text patterns ([`Kind::Str`])
//!   are Unicode.
//!
//! Matching follows `re.search`, `re.match`, `re.finditer` (an empty match
//! right after a non-empty one counts) and `re.subn` (with Python's
//! replacement templates: `\1`, `\g<1>`, `\g<name>`, octal and character
//! escapes, unmatched groups empty).

use std::ops::Range;

use fancy_regex::{BytesMode, Input, MatchBytes, RegexBuilder, RegexInput};

/// How many backtracking steps one search may take before it fails
/// (fancy-regex's default, 1 000 000, is hit by ordinary backreference
/// patterns over a few megabytes; Python has no limit at all). A search
/// that hits it fails with an error rather than running for minutes.
pub const BACKTRACK_LIMIT: usize = 200_000_000;

/// What a pattern is compiled for: Python `str` or `bytes` patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    /// A text pattern: Unicode classes and case folding.
    #[default]
    Str,
    /// A bytes pattern (`re.compile(to_bytes(p))`): ASCII classes, `.` is one byte.
    Bytes,
}

/// The flags a pattern is compiled with (`re.IGNORECASE`, `re.MULTILINE`, `re.DOTALL`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// `str` or `bytes` pattern.
    pub kind: Kind,
    /// `re.IGNORECASE`.
    pub ignorecase: bool,
    /// `re.MULTILINE`.
    pub multiline: bool,
    /// `re.DOTALL`.
    pub dotall: bool,
}

impl Flags {
    /// A text pattern without flags.
    pub fn str() -> Flags {
        Flags::default()
    }

    /// A bytes pattern without flags.
    pub fn bytes() -> Flags {
        Flags {
            kind: Kind::Bytes,
            ..Flags::default()
        }
    }

    /// With `re.IGNORECASE` on or off.
    pub fn ignorecase(self, yes: bool) -> Flags {
        Flags {
            ignorecase: yes,
            ..self
        }
    }

    /// With `re.MULTILINE` on or off.
    pub fn multiline(self, yes: bool) -> Flags {
        Flags {
            multiline: yes,
            ..self
        }
    }

    /// With `re.DOTALL` on or off.
    pub fn dotall(self, yes: bool) -> Flags {
        Flags {
            dotall: yes,
            ..self
        }
    }
}

/// A compiled Python regular expression.
#[derive(Clone)]
pub struct Regex {
    re: fancy_regex::Regex,
    pattern: String,
    kind: Kind,
    multiline: bool,
    groups: usize,
    names: Vec<(String, usize)>,
}

impl std::fmt::Debug for Regex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Regex")
            .field("pattern", &self.pattern)
            .field("kind", &self.kind)
            .field("translated", &self.re.as_str())
            .finish()
    }
}

/// One match: the span of the whole match (group 0) and of every group
/// (`None` when the group did not take part), as byte offsets into the
/// haystack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    spans: Vec<Option<Range<usize>>>,
}

impl Match {
    /// The span of the whole match.
    pub fn range(&self) -> Range<usize> {
        self.spans.first().cloned().flatten().unwrap_or_default()
    }

    /// Where the match starts.
    pub fn start(&self) -> usize {
        self.range().start
    }

    /// Where the match ends.
    pub fn end(&self) -> usize {
        self.range().end
    }

    /// The span of group `i` (0 is the whole match); `None` when it did not take part.
    pub fn get(&self, i: usize) -> Option<Range<usize>> {
        self.spans.get(i).cloned().flatten()
    }

    /// Group `i` of `hay` (`None` when it did not take part).
    pub fn group<'h>(&self, hay: &'h str, i: usize) -> Option<&'h str> {
        self.get(i).and_then(|r| hay.get(r))
    }

    /// Group `i` of a bytes haystack (`None` when it did not take part).
    pub fn group_bytes<'h>(&self, hay: &'h [u8], i: usize) -> Option<&'h [u8]> {
        self.get(i).and_then(|r| hay.get(r))
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for str {}
    impl Sealed for [u8] {}
}

/// What a [`Regex`] searches: `str` or `[u8]`.
pub trait Haystack: Input + sealed::Sealed {
    #[doc(hidden)]
    fn span<'t>(m: Self::Match<'t>) -> Range<usize>
    where
        Self: 't;
    #[doc(hidden)]
    fn bytes(&self) -> &[u8];
    /// The next position to search from after an empty match at `pos`.
    #[doc(hidden)]
    fn step(&self, pos: usize) -> usize;
}

impl Haystack for str {
    fn span<'t>(m: fancy_regex::Match<'t>) -> Range<usize>
    where
        Self: 't,
    {
        m.range()
    }
    fn bytes(&self) -> &[u8] {
        self.as_bytes()
    }
    fn step(&self, pos: usize) -> usize {
        pos + self[pos..].chars().next().map_or(1, char::len_utf8)
    }
}

impl Haystack for [u8] {
    fn span<'t>(m: MatchBytes<'t>) -> Range<usize>
    where
        Self: 't,
    {
        m.range()
    }
    fn bytes(&self) -> &[u8] {
        self
    }
    fn step(&self, pos: usize) -> usize {
        pos + 1
    }
}

impl Regex {
    /// Compiles a Python pattern.
    pub fn new(pattern: &str, flags: Flags) -> Result<Regex, String> {
        let t = translate(pattern, flags)?;
        let mut b = RegexBuilder::new(&t.out);
        b.case_insensitive(t.ignorecase)
            .multi_line(t.multiline)
            .dot_matches_new_line(t.dotall)
            .backtrack_limit(BACKTRACK_LIMIT);
        if flags.kind == Kind::Bytes {
            b.bytes_mode(BytesMode::Ascii);
        }
        let re = b.build().map_err(|e| engine_error(&e))?;
        let names = re
            .capture_names()
            .enumerate()
            .filter_map(|(i, n)| n.map(|n| (n.to_string(), i)))
            .collect();
        Ok(Regex {
            groups: re.captures_len().saturating_sub(1),
            re,
            pattern: pattern.to_string(),
            kind: flags.kind,
            multiline: t.multiline,
            names,
        })
    }

    /// A text pattern (`re.compile(p, flags)`).
    pub fn str(pattern: &str) -> Result<Regex, String> {
        Regex::new(pattern, Flags::str())
    }

    /// A bytes pattern, as Ansible's file modules compile them.
    pub fn bytes(pattern: &str) -> Result<Regex, String> {
        Regex::new(pattern, Flags::bytes())
    }

    /// The Python pattern as given.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The fancy-regex pattern it was translated to.
    pub fn translated(&self) -> &str {
        self.re.as_str()
    }

    /// `str` or `bytes`.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Whether MULTILINE is on for the whole pattern (the flag, or a
    /// leading `(?m)`): Python's `regex.flags & re.MULTILINE`.
    pub fn multiline(&self) -> bool {
        self.multiline
    }

    /// Python's `regex.groups`: the number of capturing groups.
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// The index of the group named `name`.
    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.names.iter().find(|(n, _)| n == name).map(|(_, i)| *i)
    }

    /// Group names and their indices (Python's `regex.groupindex`).
    pub fn group_names(&self) -> impl Iterator<Item = (&str, usize)> {
        self.names.iter().map(|(n, i)| (n.as_str(), *i))
    }

    fn run_error(&self, e: &fancy_regex::Error) -> String {
        format!("regular expression '{}': {e}", self.pattern)
    }

    /// Whether the pattern matches anywhere (`re.search(...) is not None`).
    pub fn is_match<H: Haystack + ?Sized>(&self, hay: &H) -> Result<bool, String> {
        self.re.is_match(hay).map_err(|e| self.run_error(&e))
    }

    /// `re.search`: the first match.
    pub fn search<H: Haystack + ?Sized>(&self, hay: &H) -> Result<Option<Match>, String> {
        self.search_from(hay, 0)
    }

    /// The first match starting at `pos` or later; anchors and look-behind
    /// still see the text before `pos` (Python's `regex.search(s, pos)`).
    pub fn search_from<H: Haystack + ?Sized>(
        &self,
        hay: &H,
        pos: usize,
    ) -> Result<Option<Match>, String> {
        self.captures(RegexInput::new(hay).from_pos(pos))
    }

    /// `re.match`: a match starting at the beginning of `hay`.
    pub fn match_start<H: Haystack + ?Sized>(&self, hay: &H) -> Result<Option<Match>, String> {
        self.captures(RegexInput::new(hay).anchored(true))
    }

    fn captures<H: Haystack + ?Sized>(
        &self,
        input: RegexInput<'_, H>,
    ) -> Result<Option<Match>, String> {
        let caps = self
            .re
            .captures_input(input)
            .map_err(|e| self.run_error(&e))?;
        Ok(caps.map(|c| Match {
            spans: (0..c.len()).map(|i| c.get(i).map(H::span)).collect(),
        }))
    }

    /// `re.finditer`: every non-overlapping match, an empty match right
    /// after a non-empty one included (Python 3.7+).
    pub fn find_all<H: Haystack + ?Sized>(&self, hay: &H) -> Result<Vec<Match>, String> {
        let mut rv = Vec::new();
        let mut pos = 0;
        let mut last_empty: Option<usize> = None;
        let len = hay.bytes().len();
        while pos <= len {
            let Some(m) = self.search_from(hay, pos)? else {
                break;
            };
            let r = m.range();
            if r.is_empty() && last_empty == Some(r.start) {
                // The same empty match again: search from the next character.
                if r.start >= len {
                    break;
                }
                pos = hay.step(r.start);
                continue;
            }
            last_empty = r.is_empty().then_some(r.end);
            pos = r.end;
            rv.push(m);
        }
        Ok(rv)
    }

    /// Parses a replacement template (Python's `re.sub` `repl`) for this pattern.
    pub fn template(&self, repl: &str) -> Result<Template, String> {
        Template::parse(self, repl)
    }

    /// `re.subn(pattern, repl, hay, count)` on text (`count` 0 = all).
    pub fn subn(&self, repl: &str, hay: &str, count: usize) -> Result<(String, usize), String> {
        let t = self.template(repl)?;
        let (out, n) = self.subn_with(&t, hay, count)?;
        String::from_utf8(out)
            .map(|s| (s, n))
            .map_err(|_| "the replacement produced invalid UTF-8".to_string())
    }

    /// `re.subn` on bytes (`count` 0 = all).
    pub fn subn_bytes(
        &self,
        repl: &str,
        hay: &[u8],
        count: usize,
    ) -> Result<(Vec<u8>, usize), String> {
        let t = self.template(repl)?;
        self.subn_with(&t, hay, count)
    }

    fn subn_with<H: Haystack + ?Sized>(
        &self,
        t: &Template,
        hay: &H,
        count: usize,
    ) -> Result<(Vec<u8>, usize), String> {
        let text = hay.bytes();
        let mut out = Vec::with_capacity(text.len());
        let mut last = 0;
        let mut n = 0;
        for m in self.find_all(hay)? {
            if count > 0 && n >= count {
                break;
            }
            let r = m.range();
            out.extend_from_slice(&text[last..r.start]);
            t.expand_into(&m, text, &mut out);
            last = r.end;
            n += 1;
        }
        out.extend_from_slice(&text[last..]);
        Ok((out, n))
    }
}

fn engine_error(e: &fancy_regex::Error) -> String {
    e.to_string()
}

// ---------------------------------------------------------------------------
// Replacement templates.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Lit(Vec<u8>),
    Group(usize),
}

/// A parsed Python replacement template (`re.sub`'s `repl`, `match.expand`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `repl` as Python does for `re`: group references are checked
    /// against `re` now, whether or not anything matches later. Errors read
    /// as Python's (`bad escape \D at position 0`).
    pub fn parse(re: &Regex, repl: &str) -> Result<Template, String> {
        let chars: Vec<char> = repl.chars().collect();
        let mut pieces = Vec::new();
        let mut lit: Vec<u8> = Vec::new();
        let mut i = 0;
        let push_char = |lit: &mut Vec<u8>, v: u32| match re.kind {
            Kind::Bytes => lit.push(v as u8),
            Kind::Str => {
                let c = char::from_u32(v).unwrap_or('\u{fffd}');
                let mut buf = [0u8; 4];
                lit.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        };
        let group_ref = |n: usize, at: usize| -> Result<Piece, String> {
            if n > re.groups {
                return Err(format!("invalid group reference {n} at position {at}"));
            }
            Ok(Piece::Group(n))
        };
        while i < chars.len() {
            let c = chars[i];
            if c != '\\' {
                let mut buf = [0u8; 4];
                lit.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                i += 1;
                continue;
            }
            let at = i;
            let Some(&n) = chars.get(i + 1) else {
                return Err(format!("bad escape (end of pattern) at position {at}"));
            };
            i += 2;
            let group = match n {
                'g' => {
                    if chars.get(i) != Some(&'<') {
                        return Err(format!("missing < at position {i}"));
                    }
                    let Some(close) = chars[i + 1..].iter().position(|c| *c == '>') else {
                        return Err(format!(
                            "missing >, unterminated name at position {}",
                            i + 1
                        ));
                    };
                    let name: String = chars[i + 1..i + 1 + close].iter().collect();
                    let name_at = i + 1;
                    i += close + 2;
                    if name.is_empty() {
                        return Err(format!("missing group name at position {name_at}"));
                    }
                    if name.bytes().all(|b| b.is_ascii_digit()) {
                        let idx = name.parse::<usize>().unwrap_or(usize::MAX);
                        Some(group_ref(idx, name_at)?)
                    } else if is_identifier(&name) {
                        match re.group_index(&name) {
                            Some(idx) => Some(Piece::Group(idx)),
                            None => return Err(format!("unknown group name '{name}'")),
                        }
                    } else {
                        return Err(format!(
                            "bad character in group name '{name}' at position {name_at}"
                        ));
                    }
                }
                '0' => {
                    let mut v = 0u32;
                    let mut taken = 0;
                    while taken < 2 && chars.get(i).is_some_and(|c| ('0'..='7').contains(c)) {
                        v = v * 8 + chars[i].to_digit(8).unwrap_or(0);
                        i += 1;
                        taken += 1;
                    }
                    push_char(&mut lit, v);
                    None
                }
                '1'..='9' => {
                    let d2 = chars.get(i).copied().filter(char::is_ascii_digit);
                    let d3 = chars.get(i + 1).copied();
                    let octal = |c: char| ('0'..='7').contains(&c);
                    if let (Some(a), Some(b)) = (d2, d3)
                        && octal(n)
                        && octal(a)
                        && octal(b)
                    {
                        let v = n.to_digit(8).unwrap_or(0) * 64
                            + a.to_digit(8).unwrap_or(0) * 8
                            + b.to_digit(8).unwrap_or(0);
                        if v > 0o377 {
                            return Err(format!(
                                "octal escape value \\{n}{a}{b} outside of range 0-0o377 at position {at}"
                            ));
                        }
                        i += 2;
                        push_char(&mut lit, v);
                        None
                    } else {
                        let mut idx = n.to_digit(10).unwrap_or(0) as usize;
                        if let Some(a) = d2 {
                            idx = idx * 10 + a.to_digit(10).unwrap_or(0) as usize;
                            i += 1;
                        }
                        Some(group_ref(idx, at + 1)?)
                    }
                }
                'a' => {
                    lit.push(7);
                    None
                }
                'b' => {
                    lit.push(8);
                    None
                }
                'f' => {
                    lit.push(12);
                    None
                }
                'n' => {
                    lit.push(b'\n');
                    None
                }
                'r' => {
                    lit.push(b'\r');
                    None
                }
                't' => {
                    lit.push(b'\t');
                    None
                }
                'v' => {
                    lit.push(11);
                    None
                }
                '\\' => {
                    lit.push(b'\\');
                    None
                }
                c if c.is_ascii_alphabetic() => {
                    return Err(format!("bad escape \\{c} at position {at}"));
                }
                c => {
                    lit.push(b'\\');
                    let mut buf = [0u8; 4];
                    lit.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    None
                }
            };
            if let Some(g) = group {
                if !lit.is_empty() {
                    pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                pieces.push(g);
            }
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Ok(Template { pieces })
    }

    /// Whether the template refers to no group (a literal replacement).
    pub fn is_literal(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::Lit(_)))
    }

    /// Appends the expansion for match `m` of `hay` to `out`; groups that
    /// did not take part expand to nothing.
    pub fn expand_into(&self, m: &Match, hay: &[u8], out: &mut Vec<u8>) {
        for p in &self.pieces {
            match p {
                Piece::Lit(b) => out.extend_from_slice(b),
                Piece::Group(i) => {
                    if let Some(g) = m.group_bytes(hay, *i) {
                        out.extend_from_slice(g);
                    }
                }
            }
        }
    }

    /// Python's `match.expand(template)` on bytes.
    pub fn expand(&self, m: &Match, hay: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        self.expand_into(m, hay, &mut out);
        out
    }

    /// `match.expand(template)` on text.
    pub fn expand_str(&self, m: &Match, hay: &str) -> String {
        String::from_utf8_lossy(&self.expand(m, hay.as_bytes())).into_owned()
    }
}

fn is_identifier(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && cs.all(|c| c == '_' || c.is_alphanumeric())
}

/// Python's `re.escape`.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\x0b\x0c".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------
// The translation.

/// A Python pattern in fancy-regex's syntax, with the flags for its builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    /// The fancy-regex pattern.
    pub out: String,
    /// IGNORECASE for the whole pattern.
    pub ignorecase: bool,
    /// MULTILINE for the whole pattern.
    pub multiline: bool,
    /// DOTALL for the whole pattern.
    pub dotall: bool,
}

#[derive(Debug, Clone, Copy)]
struct Scope {
    multiline: bool,
    verbose: bool,
}

struct Tr {
    /// Capturing groups opened so far, and their names.
    opened: usize,
    names: Vec<String>,
    c: Vec<char>,
    i: usize,
    out: String,
    kind: Kind,
    cur: Scope,
    stack: Vec<Scope>,
    /// Whether only global flag groups were seen so far (Python accepts them there only).
    at_start: bool,
    ignorecase: bool,
    dotall: bool,
}

/// Translates a Python pattern into fancy-regex's syntax.
pub fn translate(pattern: &str, flags: Flags) -> Result<Translated, String> {
    let mut t = Tr {
        opened: 0,
        names: Vec::new(),
        c: pattern.chars().collect(),
        i: 0,
        out: String::with_capacity(pattern.len() + 16),
        kind: flags.kind,
        cur: Scope {
            multiline: flags.multiline,
            verbose: false,
        },
        stack: Vec::new(),
        at_start: true,
        ignorecase: flags.ignorecase,
        dotall: flags.dotall,
    };
    t.run()?;
    Ok(Translated {
        out: t.out,
        ignorecase: t.ignorecase,
        multiline: t.cur.multiline,
        dotall: t.dotall,
    })
}

impl Tr {
    fn err(&self, what: &str, at: usize) -> String {
        format!("{what} at position {at}")
    }

    fn peek(&self, k: usize) -> Option<char> {
        self.c.get(self.i + k).copied()
    }

    /// A literal character, escaped for fancy-regex (outside or inside a class).
    fn literal(&mut self, ch: char) {
        if ch.is_ascii_alphanumeric() || ch == '_' {
            self.out.push(ch);
        } else if ch.is_ascii() || self.kind == Kind::Str {
            self.out.push_str(&format!("\\x{{{:X}}}", ch as u32));
        } else {
            self.bytes_of(ch);
        }
    }

    /// A non-ASCII character of a bytes pattern: its UTF-8 bytes.
    fn bytes_of(&mut self, ch: char) {
        let mut buf = [0u8; 4];
        for b in ch.encode_utf8(&mut buf).bytes() {
            self.out.push_str(&format!("\\x{{{b:X}}}"));
        }
    }

    /// A code point given by an escape (`\x41`, `\101`, `\u00e9`).
    fn code(&mut self, v: u32) {
        self.out.push_str(&format!("\\x{{{v:X}}}"));
    }

    fn hex(&mut self, digits: usize, at: usize, esc: char) -> Result<u32, String> {
        let h: String = self.c.iter().skip(self.i).take(digits).collect();
        if h.chars().count() != digits || !h.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(self.err(&format!("incomplete escape \\{esc}{h}"), at));
        }
        self.i += digits;
        u32::from_str_radix(&h, 16).map_err(|e| e.to_string())
    }

    fn run(&mut self) -> Result<(), String> {
        while self.i < self.c.len() {
            let ch = self.c[self.i];
            if self.cur.verbose {
                if matches!(ch, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c') {
                    self.i += 1;
                    continue;
                }
                if ch == '#' {
                    while self.i < self.c.len() && self.c[self.i] != '\n' {
                        self.i += 1;
                    }
                    continue;
                }
            }
            let global_flags = ch == '(' && self.peek(1) == Some('?') && self.is_global_flags();
            if !global_flags {
                self.at_start = false;
            }
            match ch {
                '\\' => self.escape()?,
                '[' => self.class()?,
                '(' => self.group()?,
                ')' => {
                    let Some(scope) = self.stack.pop() else {
                        return Err(self.err("unbalanced parenthesis", self.i));
                    };
                    self.cur = scope;
                    self.out.push(')');
                    self.i += 1;
                }
                '$' => {
                    if self.cur.multiline {
                        self.out.push_str("(?m:$)");
                    } else {
                        // End of text, or before a final newline.
                        self.out.push_str("(?=\\n?\\z)");
                    }
                    self.i += 1;
                }
                '{' => self.brace(),
                '}' => {
                    self.out.push_str("\\}");
                    self.i += 1;
                }
                '.' | '^' | '|' | '*' | '+' | '?' => {
                    self.out.push(ch);
                    self.i += 1;
                }
                c => {
                    self.literal(c);
                    self.i += 1;
                }
            }
        }
        if !self.stack.is_empty() {
            return Err(self.err("missing ), unterminated subpattern", self.c.len()));
        }
        Ok(())
    }

    /// Whether `(?` at `i` is a global flags group like `(?im)`.
    fn is_global_flags(&self) -> bool {
        let mut k = self.i + 2;
        while self.c.get(k).is_some_and(|c| "aiLmsux".contains(*c)) {
            k += 1;
        }
        k > self.i + 2 && self.c.get(k) == Some(&')')
    }

    /// `{`: a quantifier (`{m}`, `{m,}`, `{,n}`, `{m,n}`, `{,}`) or a literal.
    fn brace(&mut self) {
        let mut k = self.i + 1;
        let mut lo = String::new();
        let mut hi = String::new();
        while self.c.get(k).is_some_and(char::is_ascii_digit) {
            lo.push(self.c[k]);
            k += 1;
        }
        let comma = self.c.get(k) == Some(&',');
        if comma {
            k += 1;
            while self.c.get(k).is_some_and(char::is_ascii_digit) {
                hi.push(self.c[k]);
                k += 1;
            }
        }
        let closed = self.c.get(k) == Some(&'}');
        if !closed || (lo.is_empty() && !comma) {
            self.out.push_str("\\{");
            self.i += 1;
            return;
        }
        let lo = if lo.is_empty() { "0".to_string() } else { lo };
        self.out.push('{');
        self.out.push_str(&lo);
        if comma {
            self.out.push(',');
            self.out.push_str(&hi);
        }
        self.out.push('}');
        self.i = k + 1;
    }

    /// An escape outside a class.
    fn escape(&mut self) -> Result<(), String> {
        let at = self.i;
        let Some(n) = self.peek(1) else {
            return Err(self.err("bad escape (end of pattern)", at));
        };
        self.i += 2;
        match n {
            'A' | 'b' | 'B' | 'd' | 'D' | 's' | 'S' | 'w' | 'W' => {
                self.out.push('\\');
                self.out.push(n);
            }
            'Z' => self.out.push_str("\\z"),
            'a' => self.code(7),
            'f' => self.code(12),
            'n' => self.code(10),
            'r' => self.code(13),
            't' => self.code(9),
            'v' => self.code(11),
            'x' => {
                let v = self.hex(2, at, 'x')?;
                self.code(v);
            }
            'u' | 'U' if self.kind == Kind::Str => {
                let v = self.hex(if n == 'u' { 4 } else { 8 }, at, n)?;
                if char::from_u32(v).is_none() {
                    return Err(self.err(&format!("bad escape \\{n}"), at));
                }
                self.code(v);
            }
            'N' if self.kind == Kind::Str && self.peek(0) == Some('{') => {
                return Err(self.err("named Unicode escapes (\\N{...}) are not supported yet", at));
            }
            '0' => {
                let mut v = 0u32;
                let mut taken = 0;
                while taken < 2 && self.peek(0).is_some_and(|c| ('0'..='7').contains(&c)) {
                    v = v * 8 + self.c[self.i].to_digit(8).unwrap_or(0);
                    self.i += 1;
                    taken += 1;
                }
                self.code(v);
            }
            '1'..='9' => {
                let d2 = self.peek(0).filter(char::is_ascii_digit);
                let d3 = self.peek(1);
                let octal = |c: char| ('0'..='7').contains(&c);
                if let (Some(a), Some(b)) = (d2, d3)
                    && octal(n)
                    && octal(a)
                    && octal(b)
                {
                    let v = n.to_digit(8).unwrap_or(0) * 64
                        + a.to_digit(8).unwrap_or(0) * 8
                        + b.to_digit(8).unwrap_or(0);
                    if v > 0o377 {
                        return Err(self.err(
                            &format!("octal escape value \\{n}{a}{b} outside of range 0-0o377"),
                            at,
                        ));
                    }
                    self.i += 2;
                    self.code(v);
                } else {
                    let mut g = n.to_digit(10).unwrap_or(0);
                    if let Some(a) = d2 {
                        g = g * 10 + a.to_digit(10).unwrap_or(0);
                        self.i += 1;
                    }
                    if g as usize > self.opened {
                        return Err(self.err(&format!("invalid group reference {g}"), at + 1));
                    }
                    // A backreference; grouped so that a following digit stays a literal.
                    self.out.push_str(&format!("(?:\\{g})"));
                }
            }
            c if c.is_ascii_alphanumeric() => {
                return Err(self.err(&format!("bad escape \\{c}"), at));
            }
            c => self.literal(c),
        }
        Ok(())
    }

    /// A `[...]` class.
    fn class(&mut self) -> Result<(), String> {
        let open = self.i;
        self.i += 1;
        self.out.push('[');
        if self.peek(0) == Some('^') {
            self.out.push('^');
            self.i += 1;
        }
        let mut first = true;
        loop {
            let Some(ch) = self.peek(0) else {
                return Err(self.err("unterminated character set", open));
            };
            match ch {
                ']' if !first => {
                    self.out.push(']');
                    self.i += 1;
                    return Ok(());
                }
                '\\' => self.class_escape()?,
                '-' if first || self.peek(1) == Some(']') || self.peek(1) == Some('-') => {
                    // A hyphen that cannot make a range is a literal.
                    self.out.push_str("\\x{2D}");
                    self.i += 1;
                }
                '-' => {
                    self.out.push('-');
                    self.i += 1;
                }
                c if c.is_ascii_alphanumeric() || c == '_' => {
                    self.out.push(c);
                    self.i += 1;
                }
                c if !c.is_ascii() && self.kind == Kind::Bytes => {
                    self.bytes_of(c);
                    self.i += 1;
                }
                c if !c.is_ascii() => {
                    self.out.push(c);
                    self.i += 1;
                }
                c => {
                    // `]` first, `[`, `&`, `~`, `^`, whitespace, punctuation: literals.
                    self.code(c as u32);
                    self.i += 1;
                }
            }
            first = false;
        }
    }

    /// An escape inside a class.
    fn class_escape(&mut self) -> Result<(), String> {
        let at = self.i;
        let Some(n) = self.peek(1) else {
            return Err(self.err("bad escape (end of pattern)", at));
        };
        self.i += 2;
        match n {
            'd' | 'D' | 's' | 'S' | 'w' | 'W' => {
                self.out.push('\\');
                self.out.push(n);
            }
            'a' => self.code(7),
            'b' => self.code(8),
            'f' => self.code(12),
            'n' => self.code(10),
            'r' => self.code(13),
            't' => self.code(9),
            'v' => self.code(11),
            'x' => {
                let v = self.hex(2, at, 'x')?;
                self.code(v);
            }
            'u' | 'U' if self.kind == Kind::Str => {
                let v = self.hex(if n == 'u' { 4 } else { 8 }, at, n)?;
                if char::from_u32(v).is_none() {
                    return Err(self.err(&format!("bad escape \\{n}"), at));
                }
                self.code(v);
            }
            '0'..='7' => {
                let mut v = n.to_digit(8).unwrap_or(0);
                let mut taken = 1;
                while taken < 3 && self.peek(0).is_some_and(|c| ('0'..='7').contains(&c)) {
                    v = v * 8 + self.c[self.i].to_digit(8).unwrap_or(0);
                    self.i += 1;
                    taken += 1;
                }
                if v > 0o377 {
                    return Err(self.err(
                        &format!("octal escape value \\{v:o} outside of range 0-0o377"),
                        at,
                    ));
                }
                self.code(v);
            }
            c if c.is_ascii_alphanumeric() => {
                return Err(self.err(&format!("bad escape \\{c}"), at));
            }
            c if !c.is_ascii() && self.kind == Kind::Bytes => self.bytes_of(c),
            c if !c.is_ascii() => self.out.push(c),
            c => self.code(c as u32),
        }
        Ok(())
    }

    /// A group: `(`, `(?:`, `(?P<n>`, `(?P=n)`, look-around, atomic,
    /// conditional, comment, or flags.
    fn group(&mut self) -> Result<(), String> {
        let at = self.i;
        if self.peek(1) != Some('?') {
            self.opened += 1;
            self.stack.push(self.cur);
            self.out.push('(');
            self.i += 1;
            return Ok(());
        }
        self.i += 2;
        let Some(n) = self.peek(0) else {
            return Err(self.err("unexpected end of pattern", self.i));
        };
        match n {
            '#' => {
                while self.peek(0).is_some_and(|c| c != ')') {
                    self.i += 1;
                }
                if self.peek(0).is_none() {
                    return Err(self.err("missing ), unterminated comment", at));
                }
                self.i += 1;
            }
            ':' | '>' | '=' | '!' => {
                self.stack.push(self.cur);
                self.out.push_str("(?");
                self.out.push(n);
                self.i += 1;
            }
            '<' if matches!(self.peek(1), Some('=' | '!')) => {
                self.stack.push(self.cur);
                self.out.push_str("(?<");
                self.out.push(self.c[self.i + 1]);
                self.i += 2;
            }
            'P' if self.peek(1) == Some('<') => {
                self.i += 2;
                let name = self.name_until('>', at)?;
                self.opened += 1;
                self.names.push(name.clone());
                self.stack.push(self.cur);
                self.out.push_str(&format!("(?P<{name}>"));
            }
            'P' if self.peek(1) == Some('=') => {
                self.i += 2;
                let name = self.name_until(')', at)?;
                if !self.names.contains(&name) {
                    return Err(self.err(&format!("unknown group name '{name}'"), at));
                }
                self.out.push_str(&format!("\\k<{name}>"));
            }
            '(' => {
                self.i += 1;
                let cond = self.name_until(')', at)?;
                self.stack.push(self.cur);
                if cond.bytes().all(|b| b.is_ascii_digit()) {
                    self.out.push_str(&format!("(?({cond})"));
                } else {
                    self.out.push_str(&format!("(?(<{cond}>)"));
                }
            }
            _ => self.flags(at)?,
        }
        Ok(())
    }

    /// A group name (identifier, or digits for a conditional) up to `end`.
    fn name_until(&mut self, end: char, at: usize) -> Result<String, String> {
        let start = self.i;
        while self.peek(0).is_some_and(|c| c != end) {
            self.i += 1;
        }
        if self.peek(0).is_none() {
            return Err(self.err("missing group name terminator", at));
        }
        let name: String = self.c[start..self.i].iter().collect();
        self.i += 1;
        if name.is_empty() {
            return Err(self.err("missing group name", start));
        }
        if !is_identifier(&name) && !name.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.err(&format!("bad character in group name '{name}'"), start));
        }
        Ok(name)
    }

    /// `(?aiLmsux)` global flags or `(?imsx-imsx:...)` scoped flags.
    fn flags(&mut self, at: usize) -> Result<(), String> {
        let mut on = String::new();
        let mut off = String::new();
        while let Some(c) = self.peek(0).filter(|c| "aiLmsux".contains(*c)) {
            on.push(c);
            self.i += 1;
        }
        if self.peek(0) == Some('-') {
            self.i += 1;
            while let Some(c) = self.peek(0).filter(|c| "imsx".contains(*c)) {
                off.push(c);
                self.i += 1;
            }
            if off.is_empty() {
                return Err(self.err("missing flag", self.i));
            }
        }
        match self.peek(0) {
            Some(')') if off.is_empty() && !on.is_empty() => {
                self.i += 1;
                if !self.at_start || !self.stack.is_empty() {
                    return Err(self.err("global flags not at the start of the expression", at));
                }
                self.ignorecase |= on.contains('i');
                self.dotall |= on.contains('s');
                self.cur.multiline |= on.contains('m');
                self.cur.verbose |= on.contains('x');
                Ok(())
            }
            Some(':') if !on.is_empty() || !off.is_empty() => {
                self.i += 1;
                self.stack.push(self.cur);
                if on.contains('m') {
                    self.cur.multiline = true;
                }
                if off.contains('m') {
                    self.cur.multiline = false;
                }
                if on.contains('x') {
                    self.cur.verbose = true;
                }
                if off.contains('x') {
                    self.cur.verbose = false;
                }
                // `m` is kept for `^`; `$` is written out by scope. `x` is
                // handled here; `a`, `L`, `u` have nothing to say to fancy-regex.
                let keep =
                    |s: &str| -> String { s.chars().filter(|c| "ims".contains(*c)).collect() };
                let (on, off) = (keep(&on), keep(&off));
                self.out.push_str("(?");
                self.out.push_str(&on);
                if !off.is_empty() {
                    self.out.push('-');
                    self.out.push_str(&off);
                }
                self.out.push(':');
                Ok(())
            }
            Some(c) if on.is_empty() && off.is_empty() => {
                Err(self.err(&format!("unknown extension ?{c}"), at))
            }
            _ => Err(self.err("missing -, : or )", self.i)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(p: &str) -> Regex {
        Regex::str(p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    fn b(p: &str) -> Regex {
        Regex::bytes(p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    /// `re.search(p, text).group(0)`.
    fn find(p: &str, text: &str) -> Option<String> {
        let re = s(p);
        re.search(text)
            .unwrap()
            .map(|m| text[m.range()].to_string())
    }

    fn sub(p: &str, repl: &str, text: &str) -> String {
        s(p).subn(repl, text, 0).unwrap().0
    }

    #[test]
    fn numbered_backreferences() {
        assert_eq!(
            find(r"(\w+) \1", "say hello hello"),
            Some("hello hello".into())
        );
        assert_eq!(find(r"(a)\1", "ab"), None);
        // `\1` followed by a digit stays a backreference plus a literal.
        assert_eq!(
            Regex::str(r"(a)\10").unwrap_err(),
            "invalid group reference 10 at position 4"
        );
        assert_eq!(
            Regex::str(r"(?P=n)(?P<n>a)").unwrap_err(),
            "unknown group name 'n' at position 0"
        );
        assert_eq!(find(r"(a)(?:\1)0", "aa0"), Some("aa0".into()));
        // Ansible's lineinfile test: a line starting and ending with the same word.
        let re = b(r"^(REF) .* \1$");
        assert!(
            re.is_match(&b"REF this is a line for backrefs REF\n"[..])
                .unwrap()
        );
        assert!(
            !re.is_match(&b"REF this is a line for backrefs XYZ\n"[..])
                .unwrap()
        );
        // octal escapes are not backreferences
        assert_eq!(find(r"\101", "A"), Some("A".into()));
        assert_eq!(find(r"\0", "\0"), Some("\0".into()));
    }

    #[test]
    fn named_backreferences() {
        assert_eq!(
            find(r"(?P<q>['\x22]).*?(?P=q)", r#"x "a" y"#),
            Some("\"a\"".into())
        );
        assert_eq!(find(r"(?P<w>\w)(?P=w)", "abccd"), Some("cc".into()));
        assert!(Regex::str(r"(?P=nope)").is_err());
        let re = s(r"(?P<k>\w+)=(?P<v>\w+)");
        assert_eq!(re.group_index("v"), Some(2));
        assert_eq!(re.groups(), 2);
    }

    #[test]
    fn lookahead_and_lookbehind() {
        assert_eq!(find(r"foo(?=bar)", "foobaz foobar"), Some("foo".into()));
        assert_eq!(
            s(r"foo(?=bar)")
                .search("foobaz foobar")
                .unwrap()
                .unwrap()
                .start(),
            7
        );
        assert_eq!(find(r"foo(?!bar)", "foobar foobaz"), Some("foo".into()));
        assert_eq!(
            s(r"foo(?!bar)")
                .search("foobar foobaz")
                .unwrap()
                .unwrap()
                .start(),
            7
        );
        assert_eq!(find(r"(?<=\$)\d+", "cost: $42"), Some("42".into()));
        assert_eq!(find(r"(?<!\$)\b\d+", "$42 17"), Some("17".into()));
        assert_eq!(sub(r"(?<=a)b", "x", "ab cb"), "ax cb");
        assert_eq!(sub(r"(?<!a)b", "x", "ab cb"), "ab cx");
        // look-behind sees the text before the search position
        let re = s(r"(?<=a)b");
        assert_eq!(
            re.search_from("ab", 1).unwrap().map(|m| m.range()),
            Some(1..2)
        );
        let re = b(r"^(?!#)\w+=");
        assert!(re.is_match(&b"key=1\n"[..]).unwrap());
        assert!(!re.is_match(&b"#key=1\n"[..]).unwrap());
    }

    #[test]
    fn atomic_conditional_possessive() {
        assert_eq!(find(r"(?>a+)b", "aab"), Some("aab".into()));
        assert_eq!(find(r"(?>a+)a", "aaa"), None);
        assert_eq!(find(r"a++a", "aaa"), None);
        assert_eq!(find(r"(<)?\w+(?(1)>)", "<a>"), Some("<a>".into()));
        assert_eq!(find(r"(?P<o><)?\w+(?(o)>|$)", "b"), Some("b".into()));
    }

    #[test]
    fn dollar_and_end_anchors_are_pythons() {
        // `$`: the end, or before a final newline only
        assert_eq!(find("foo$", "foo\n"), Some("foo".into()));
        assert_eq!(find("foo$", "foo\n\n"), None);
        assert_eq!(find("a$", "a\nb"), None);
        assert_eq!(find("(?m)a$", "a\nb"), Some("a".into()));
        assert_eq!(
            s("a$").subn("X", "a\na\n", 0).unwrap(),
            ("a\nX\n".to_string(), 1)
        );
        let re = Regex::new("^a$", Flags::str().multiline(true)).unwrap();
        assert_eq!(re.subn("X", "a\na\n", 0).unwrap().1, 2);
        assert!(re.multiline());
        // `(?m:...)` scopes MULTILINE for `$`
        assert_eq!(find("(?m:a$)", "a\nb"), Some("a".into()));
        assert_eq!(find("(?m:x)|a$", "a\nb"), None);
        // `\Z` is the very end
        assert_eq!(find(r"foo\Z", "foo\n"), None);
        assert_eq!(find(r"foo\Z", "foo"), Some("foo".into()));
        assert_eq!(find(r"\Afoo", "foo"), Some("foo".into()));
    }

    #[test]
    fn python_syntax_differences() {
        assert_eq!(find("a{", "a{"), Some("a{".into()));
        assert_eq!(find("{b}", "a{b}c"), Some("{b}".into()));
        assert_eq!(find("a{,2}b", "aaab"), Some("aab".into()));
        assert_eq!(find("a{,}b", "aaab"), Some("aaab".into()));
        assert_eq!(find("a{}", "a{}"), Some("a{}".into()));
        assert_eq!(find("x{2}", "xxx"), Some("xx".into()));
        assert_eq!(find("[[]", "["), Some("[".into()));
        assert_eq!(find("[]a]", "]"), Some("]".into()));
        assert_eq!(find("[a&&b]", "&"), Some("&".into()));
        assert_eq!(find("[a~~b]", "~"), Some("~".into()));
        assert_eq!(find("[a-c]+", "xbcay"), Some("bca".into()));
        assert_eq!(find(r"\<a\>", "<a>"), Some("<a>".into()));
        assert_eq!(find(r"(?#comment)a", "a"), Some("a".into()));
        assert_eq!(find(r"(?x) a b  # comment", "ab"), Some("ab".into()));
        assert_eq!(find(r"(?x) a\ b [ ]", "a b "), Some("a b ".into()));
        assert_eq!(find(r"(?i)ABC", "xabc"), Some("abc".into()));
        assert_eq!(find(r"(?s)a.b", "a\nb"), Some("a\nb".into()));
        assert_eq!(find(r"a.b", "a\nb"), None);
        assert_eq!(find(r"\x41\u00e9", "Aé"), Some("Aé".into()));
        assert_eq!(find(r"[\x41-\x43]+", "ABCD"), Some("ABC".into()));
        assert_eq!(find(r"[\b]", "\x08"), Some("\x08".into()));
        assert_eq!(find(r"\d+", "x٣4"), Some("٣4".into()));
        assert_eq!(find(r"\t\n", "\t\n"), Some("\t\n".into()));
        assert_eq!(find(r"\.\*\#", ".*#"), Some(".*#".into()));
        assert_eq!(find(r"\/", "/"), Some("/".into()));
        assert_eq!(find("é+", "éé"), Some("éé".into()));
        for bad in [
            r"\q",
            r"(",
            r")",
            r"[a",
            r"a\",
            r"(?P<1a>x)",
            r"(?z)",
            r"a(?i)b",
            r"\400",
        ] {
            assert!(Regex::str(bad).is_err(), "{bad}");
        }
        assert!(
            Regex::str(r"\q")
                .unwrap_err()
                .contains("bad escape \\q at position 0")
        );
    }

    #[test]
    fn bytes_patterns_are_ascii() {
        let m = |p: &str, h: &[u8]| b(p).is_match(h).unwrap();
        assert!(!m(r"\d", "٣".as_bytes()));
        assert!(!m(r"\w", "é".as_bytes()));
        assert!(m("^.$", &[0xff]));
        assert!(m("^..$", "é".as_bytes()));
        assert!(m("caf[é]", "caf\u{e9}".as_bytes()));
        assert!(m("é+", "éé".as_bytes()));
        assert!(m(r"(?i)K", b"k"));
        assert!(m(r"\xff", &[0xff]));
        assert!(!m(r"(?i)é", "É".as_bytes()));
        assert!(m("foo$", b"foo\n"));
        assert!(!m("foo$", b"foo\r\n"));
    }

    #[test]
    fn finditer_and_subn_follow_python() {
        assert_eq!(sub("x*", "-", "abxd"), "-a-b--d-");
        assert_eq!(sub("", "-", "ä"), "-ä-");
        let re = s("a");
        assert_eq!(re.subn("b", "aaa", 2).unwrap(), ("bba".into(), 2));
        assert_eq!(sub(r"(b)", r"[\1]", "abc"), "a[b]c");
        assert_eq!(sub(r"(?P<x>b)", r"<\g<x>>", "abc"), "a<b>c");
        assert_eq!(sub(r"(b)", r"\g<1>\g<0>", "abc"), "abbc");
        assert_eq!(sub(r"(a)|b", r"[\1]", "ab"), "[a][]");
        assert_eq!(sub(r"b", r"\n\t\\\.", "b"), "\n\t\\\\.");
        assert_eq!(sub(r"b", r"\101\0", "b"), "A\0");
        // backreference and replacement together (Ansible's replace docs)
        assert_eq!(
            sub(
                r"\b(localhost)(\d*)\b",
                r"\1\2.localdomain\2 \1\2",
                "127.0.0.1 localhost"
            ),
            "127.0.0.1 localhost.localdomain localhost"
        );
        assert_eq!(s(r"(\w)\1").find_all("aabbc").unwrap().len(), 2);
        let bytes = b("o");
        assert_eq!(
            bytes.subn_bytes("0", &b"fo\xffo"[..], 0).unwrap(),
            (b"f0\xff0".to_vec(), 2)
        );
        assert_eq!(s("a").match_start("ba").unwrap(), None);
        assert_eq!(
            s("b").match_start("ba").unwrap().map(|m| m.range()),
            Some(0..1)
        );
    }

    #[test]
    fn templates_are_checked_like_pythons() {
        let re = s("(a)(b)?(?P<n>c)");
        let e = |t: &str| {
            re.template(t).map(|t| {
                let m = re.search("ac").unwrap().unwrap();
                t.expand_str(&m, "ac")
            })
        };
        assert_eq!(e(r"\1-\2-\3-\g<n>-\g<1>").unwrap(), "a--c-c-a");
        assert_eq!(e(r"\n\\\.").unwrap(), "\n\\\\.");
        assert_eq!(e(r"\101").unwrap(), "A");
        assert_eq!(
            e(r"\9").unwrap_err(),
            "invalid group reference 9 at position 1"
        );
        assert_eq!(e(r"\D").unwrap_err(), "bad escape \\D at position 0");
        assert_eq!(
            e(r"\10").unwrap_err(),
            "invalid group reference 10 at position 1"
        );
        assert_eq!(e(r"\g<x>").unwrap_err(), "unknown group name 'x'");
        assert!(e(r"\g<").is_err());
        assert!(e(r"\g").is_err());
        assert!(e("\\").is_err());
        assert!(e(r"\477").is_err());
        // str templates: octal escapes are characters
        assert_eq!(e(r"\351").unwrap(), "é");
        let rb = b("(x)");
        let t = rb.template(r"\351\1").unwrap();
        let m = rb.search(&b"x"[..]).unwrap().unwrap();
        assert_eq!(t.expand(&m, b"x"), b"\xe9x");
    }

    #[test]
    fn escape_is_pythons() {
        assert_eq!(escape("a.b*c d"), "a\\.b\\*c\\ d");
        assert_eq!(
            find(
                &escape("1+1=2 (ok) [x] {y} $z ^w"),
                "1+1=2 (ok) [x] {y} $z ^w"
            )
            .unwrap()
            .len(),
            24
        );
    }
}
