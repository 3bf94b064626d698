//! Python's `-` and `+` on dates in templates (`now() - ('2024-01-01' |
//! to_datetime('%Y-%m-%d'))`), which minijinja cannot overload on objects:
//! in a template that makes dates, each binary `+` and `-` is rewritten,
//! before the template is compiled, into a call of a function that knows
//! dates and time spans and leaves everything else to minijinja's own
//! operators (`__tend_add(__tend_sub(a, b), c)` for `a - b + c`).
//!
//! The operands are what Jinja's grammar binds to `+` and `-`: everything
//! between the operators of lower precedence (comparisons, `and`, `or`,
//! `not`, `in`, `if`/`else`) and the separators (`,`, `:`, `=`, brackets),
//! so `~`, `*`, `**`, filters, tests, attributes and calls stay in their
//! operand as the parser would group them. Templates that make no dates are
//! left alone, so plain arithmetic keeps minijinja's operators.

use std::borrow::Cow;

use super::percent::{find_endraw, find_str, is_raw_block, matching, string_end};

/// The function `a - b` becomes.
pub const SUB_FUNCTION: &str = "__tend_sub";
/// The function `a + b` becomes.
pub const ADD_FUNCTION: &str = "__tend_add";

/// Words that end an operand of `+`/`-` (lower precedence or statement
/// syntax); `not` right after `is` belongs to a test instead.
const KEYWORDS: [&str; 18] = [
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "elif",
    "else",
    "for",
    "set",
    "with",
    "as",
    "import",
    "from",
    "include",
    "macro",
    "call",
    "recursive",
];

/// Whether the text makes dates (the only values whose `-` and `+`
/// minijinja lacks) and may compute with them.
pub fn makes_dates(source: &str) -> bool {
    (source.contains('-') || source.contains('+'))
        && (source.contains("to_datetime") || source.contains("now("))
}

/// `source` with every binary `+` and `-` inside `{{ }}` and
/// `{% %}` (or anywhere, for a bare expression: `whole_expression`)
/// rewritten into function calls, when the source makes dates.
pub fn rewrite(source: &str, whole_expression: bool) -> Cow<'_, str> {
    if !makes_dates(source) {
        return Cow::Borrowed(source);
    }
    rewrite_for_dates(source, whole_expression)
}

/// `source` rewritten as [`rewrite`] does, for a template whose variables
/// hold dates (whether or not it makes some itself).
pub fn rewrite_for_dates(source: &str, whole_expression: bool) -> Cow<'_, str> {
    if !source.contains('-') && !source.contains('+') {
        return Cow::Borrowed(source);
    }
    let chars: Vec<char> = source.chars().collect();
    let out = if whole_expression {
        block(&chars, 0, chars.len())
    } else {
        template(&chars)
    };
    if out == source {
        Cow::Borrowed(source)
    } else {
        Cow::Owned(out)
    }
}

/// A template's text with its expression and statement blocks rewritten
/// (comments and raw blocks kept as they are).
fn template(chars: &[char]) -> String {
    let mut out = String::with_capacity(chars.len() + 32);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '{' && next == Some('#') {
            let end = find_str(chars, i + 2, "#}").map_or(chars.len(), |e| e + 2);
            out.extend(&chars[i..end]);
            i = end;
        } else if c == '{' && next == Some('%') && is_raw_block(chars, i) {
            let end = find_endraw(chars, i).unwrap_or(chars.len());
            out.extend(&chars[i..end]);
            i = end;
        } else if c == '{' && (next == Some('{') || next == Some('%')) {
            let close = if next == Some('{') { '}' } else { '%' };
            let end = block_end(chars, i + 2, close);
            out.extend(&chars[i..i + 2]);
            out.push_str(&block(chars, i + 2, end));
            let after = (end + 2).min(chars.len());
            out.extend(&chars[end..after]);
            i = after;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Where the block opened before `from` ends: its `}}` (or `%}`) outside
/// strings and brackets, or the end of the text.
fn block_end(chars: &[char], from: usize, close: char) -> usize {
    let mut j = from;
    while j < chars.len() {
        j = match chars[j] {
            '\'' | '"' => string_end(chars, j),
            '(' | '[' | '{' => matching(chars, j).map_or(chars.len(), |k| k + 1),
            c if c == close && chars.get(j + 1) == Some(&'}') => return j,
            _ => j + 1,
        };
    }
    chars.len()
}

/// The inside of one block (`chars[lo..hi]`), rewritten; whitespace control
/// marks touching the delimiters are kept as they are.
fn block(chars: &[char], lo: usize, hi: usize) -> String {
    let mut start = lo;
    let mut end = hi;
    let mut out = String::new();
    if start < end && matches!(chars[start], '-' | '+') {
        out.push(chars[start]);
        start += 1;
    }
    let trailing = if end > start && chars[end - 1] == '-' {
        end -= 1;
        "-"
    } else {
        ""
    };
    let tokens = tokenize(chars, start, end);
    let mut r = Rewriter {
        chars,
        tokens: &tokens,
        from: start,
        depth: 0,
    };
    out.push_str(&r.level(0, tokens.len()));
    let last = tokens.last().map_or(start, |t| t.end);
    out.extend(&chars[last..end]);
    out.push_str(trailing);
    out
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// A string or number literal.
    Literal,
    Name,
    Op,
    Open,
    Close,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

fn tokenize(chars: &[char], lo: usize, hi: usize) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut i = lo;
    while i < hi {
        let c = chars[i];
        let start = i;
        let kind = if c.is_whitespace() {
            i += 1;
            continue;
        } else if c == '\'' || c == '"' {
            i = string_end(chars, i).min(hi);
            Kind::Literal
        } else if c.is_ascii_digit() {
            i += 1;
            while i < hi {
                let d = chars[i];
                let exponent_sign = matches!(d, '-' | '+')
                    && matches!(chars[i - 1], 'e' | 'E')
                    && !is_hex(chars, start, i);
                if d.is_ascii_alphanumeric() || d == '_' || d == '.' || exponent_sign {
                    i += 1;
                } else {
                    break;
                }
            }
            Kind::Literal
        } else if c.is_alphabetic() || c == '_' {
            while i < hi && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            Kind::Name
        } else if matches!(c, '(' | '[' | '{') {
            i += 1;
            Kind::Open
        } else if matches!(c, ')' | ']' | '}') {
            i += 1;
            Kind::Close
        } else {
            let two: String = chars[i..(i + 2).min(hi)].iter().collect();
            i += if ["**", "//", "==", "!=", "<=", ">="].contains(&two.as_str()) {
                2
            } else {
                1
            };
            Kind::Op
        };
        tokens.push(Token {
            kind,
            start,
            end: i,
        });
    }
    tokens
}

/// Whether the number from `start` to `i` is a hex literal (`0xe-1` is a
/// subtraction).
fn is_hex(chars: &[char], start: usize, i: usize) -> bool {
    i > start + 1 && chars[start] == '0' && matches!(chars[start + 1], 'x' | 'X')
}

struct Rewriter<'a> {
    chars: &'a [char],
    tokens: &'a [Token],
    /// Where the first token's leading whitespace starts.
    from: usize,
    /// How many brackets the rewriting is inside.
    depth: usize,
}

/// Brackets nested deeper than this are kept as written (minijinja refuses
/// such templates anyway); the rewriting never exhausts the stack.
const MAX_DEPTH: usize = 64;

impl Rewriter<'_> {
    /// Token `i` with the whitespace before it.
    fn emit(&self, i: usize, out: &mut String) {
        let t = self.tokens[i];
        let ws = if i == 0 {
            self.from
        } else {
            self.tokens[i - 1].end
        };
        out.extend(&self.chars[ws..t.end]);
    }

    fn word(&self, i: usize) -> String {
        let t = self.tokens[i];
        self.chars[t.start..t.end].iter().collect()
    }

    fn is_keyword(&self, i: usize) -> bool {
        self.tokens[i].kind == Kind::Name && KEYWORDS.contains(&self.word(i).as_str())
    }

    /// The token closing the bracket opened at `i` (or the last token).
    fn closing(&self, i: usize, hi: usize) -> usize {
        let mut depth = 0usize;
        for j in i..hi {
            match self.tokens[j].kind {
                Kind::Open => depth += 1,
                Kind::Close => {
                    depth -= 1;
                    if depth == 0 {
                        return j;
                    }
                }
                _ => {}
            }
        }
        hi - 1
    }

    /// The start of each item at this level of `lo..hi`: a bracketed group
    /// is one item, from its opening to its closing token.
    fn items(&self, lo: usize, hi: usize) -> Vec<(usize, usize)> {
        let mut items = Vec::new();
        let mut i = lo;
        while i < hi {
            let end = if self.tokens[i].kind == Kind::Open {
                self.closing(i, hi) + 1
            } else {
                i + 1
            };
            items.push((i, end));
            i = end;
        }
        items
    }

    /// Whether the item starting at `i` ends an operand of `+`/`-` here.
    fn separates(&self, i: usize, previous: Option<usize>) -> bool {
        match self.tokens[i].kind {
            Kind::Op => matches!(
                self.word(i).as_str(),
                "," | ":" | "=" | "==" | "!=" | "<" | ">" | "<=" | ">="
            ),
            Kind::Name if self.word(i) == "is" => false,
            Kind::Name if self.word(i) == "not" => previous.is_none_or(|p| self.word(p) != "is"),
            Kind::Name => self.is_keyword(i),
            _ => false,
        }
    }

    /// Whether a `+`/`-` after the item ending with token `last` is binary.
    fn ends_operand(&self, last: usize) -> bool {
        match self.tokens[last].kind {
            Kind::Literal | Kind::Close => true,
            Kind::Name => !self.is_keyword(last),
            _ => false,
        }
    }

    /// The tokens `lo..hi` of one nesting level, rewritten.
    fn level(&mut self, lo: usize, hi: usize) -> String {
        let mut out = String::new();
        let mut start = lo;
        let mut previous = None;
        for (i, end) in self.items(lo, hi) {
            if self.separates(i, previous) {
                out.push_str(&self.chain(start, i));
                self.emit(i, &mut out);
                start = end;
            }
            previous = Some(i);
        }
        out.push_str(&self.chain(start, hi));
        out
    }

    /// One operand level (`lo..hi`, no separators): a `+`/`-` chain becomes
    /// function calls; its operands are rewritten inside.
    fn chain(&mut self, lo: usize, hi: usize) -> String {
        let mut ops = Vec::new();
        let mut last: Option<usize> = None;
        for (i, end) in self.items(lo, hi) {
            let t = self.tokens[i];
            let sign = t.kind == Kind::Op
                && matches!(self.chars[t.start], '-' | '+')
                && t.end == t.start + 1;
            if sign && last.is_some_and(|l| self.ends_operand(l)) {
                ops.push(i);
            }
            last = Some(end - 1);
        }
        if ops.is_empty() {
            return self.plain(lo, hi);
        }
        let first = self.plain(lo, ops[0]);
        let body = first.trim_start();
        let lead = &first[..first.len() - body.len()];
        let mut acc = body.to_string();
        for (k, &op) in ops.iter().enumerate() {
            let end = ops.get(k + 1).copied().unwrap_or(hi);
            let operand = self.plain(op + 1, end);
            let function = if self.chars[self.tokens[op].start] == '-' {
                SUB_FUNCTION
            } else {
                ADD_FUNCTION
            };
            acc = format!("{function}({acc}, {})", operand.trim_start());
        }
        format!("{lead}{acc}")
    }

    /// The tokens `lo..hi` as they are, with bracketed groups rewritten.
    fn plain(&mut self, lo: usize, hi: usize) -> String {
        let mut out = String::new();
        if self.depth >= MAX_DEPTH {
            for i in lo..hi {
                self.emit(i, &mut out);
            }
            return out;
        }
        self.depth += 1;
        for (i, end) in self.items(lo, hi) {
            self.emit(i, &mut out);
            if end > i + 1 {
                let close = end - 1;
                if self.tokens[close].kind == Kind::Close {
                    out.push_str(&self.level(i + 1, close));
                    self.emit(close, &mut out);
                } else {
                    out.push_str(&self.level(i + 1, end));
                }
            }
        }
        self.depth -= 1;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn subtractions_in_templates_that_make_dates_become_calls() {
        let d = "('2024-01-01' | to_datetime('%Y-%m-%d'))";
        let cases = [
            (
                format!("{{{{ (now() - {d}).days }}}}"),
                format!("{{{{ (__tend_sub(now(), {d})).days }}}}"),
            ),
            (
                format!("{{{{ now() - {d} - x }}}}"),
                format!("{{{{ __tend_sub(__tend_sub(now(), {d}), x) }}}}"),
            ),
            (
                format!("{{{{ a + now() - {d} > b - 1 }}}}"),
                format!("{{{{ __tend_sub(__tend_add(a, now()), {d}) > __tend_sub(b, 1) }}}}"),
            ),
            (
                "{{ now() - x|to_datetime * 2 ~ y is not none }}".to_string(),
                "{{ __tend_sub(now(), x|to_datetime * 2 ~ y is not none) }}".to_string(),
            ),
            (
                "{% if now() - -x and not y - 1 %}{{- f(a, b - now()) -}}{% endif %}".to_string(),
                "{% if __tend_sub(now(), -x) and not __tend_sub(y, 1) %}{{- f(a, __tend_sub(b, now())) -}}{% endif %}".to_string(),
            ),
            (
                "{{ {'k': now() - x}[k] }} {{ now() }}-{{ 1e-3 - 0xe-1 }}".to_string(),
                "{{ {'k': __tend_sub(now(), x)}[k] }} {{ now() }}-{{ __tend_sub(__tend_sub(1e-3, 0xe), 1) }}".to_string(),
            ),
        ];
        for (source, want) in cases {
            assert_eq!(rewrite(&source, false), want, "{source}");
        }
        assert_eq!(
            rewrite("{{ now() + -1 }}", false),
            "{{ __tend_add(now(), -1) }}"
        );
        assert_eq!(
            rewrite("now() - x", true),
            format!("{}(now(), x)", super::SUB_FUNCTION)
        );
    }

    #[test]
    fn odd_input_neither_panics_nor_recurses_without_end() {
        let deep = format!(
            "{{{{ now() - {}x{} }}}}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        assert!(rewrite(&deep, false).starts_with("{{ __tend_sub(now(), ((("));
        for source in [
            "{{ now() - ",
            "{{ now() - (((",
            "{{ now() - ))) - ' }}",
            "{{- now() -",
            "{% now() - x",
            "{{ now() - x }",
            "{{ now() - é - 1e- }}",
            "now( - 0x-",
        ] {
            let _ = rewrite(source, false);
            let _ = rewrite(source, true);
        }
    }

    #[test]
    fn everything_else_is_left_alone() {
        for source in [
            "{{ a - b }}",
            "{{ now() }} - {{ x | to_datetime }}",
            "{# now() - x #}",
            "{% raw %}{{ now() - x }}{% endraw %}",
            "{{ 'now() - x' }}",
            "{{ now(fmt='%Y-%m') }}",
        ] {
            assert_eq!(rewrite(source, false), source, "{source}");
        }
    }
}
