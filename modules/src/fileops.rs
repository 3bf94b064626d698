//! Shared file operations on the target, as sh scripts: reading a file's
//! metadata and content in one probe, and writing content atomically
//! (temp file in the destination directory, attributes set, then rename).
//!
//! The pieces:
//! - [`ModeSpec`]: Ansible's `mode` argument (octal integer or string,
//!   symbolic `u+x,g-w`, `preserve`) and the pure [`apply_symbolic`].
//! - [`Probe`]: builds one read-only script that reports any number of paths
//!   (and users, groups, the umask and the clock); [`ProbeOutput::parse`]
//!   reads its NUL-delimited, length-prefixed output back into [`PathInfo`]s.
//! - [`plan_attrs`]: compares owner/group/mode with what is wanted.
//! - [`AtomicWrite`]: the apply script that replaces a file's content safely.

use crate::args::{ArgsError, is_templated, placeholders_active};
use crate::host::{Exec, ExecOutput};
use crate::module::{MSG_PREFIX, ModuleError};
use crate::sh::quote;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Largest file whose content is fetched for a diff (Ansible's default
/// `max_file_size_for_diff`).
pub const MAX_DIFF_SIZE: u64 = 104_448;

// ---------------------------------------------------------------------------
// Modes
// ---------------------------------------------------------------------------

/// Ansible's `mode` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModeSpec {
    /// Permission bits (`0644`, `'644'`, YAML's `0644` read as the integer 420).
    Octal(u32),
    /// A symbolic mode (`u=rw,g=r,o=r`, `u+x,g-w`), applied to the current mode.
    Symbolic(String),
    /// `preserve`: the source file's mode (copy and template only).
    Preserve,
}

impl ModeSpec {
    /// Parses a mode given as a string.
    pub fn parse_str(s: &str) -> Result<ModeSpec, String> {
        let t = s.trim();
        if t == "preserve" {
            return Ok(ModeSpec::Preserve);
        }
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            return match u32::from_str_radix(t, 8) {
                Ok(m) if m <= 0o7777 => Ok(ModeSpec::Octal(m)),
                _ => Err(format!("mode must be in octal or symbolic form, got: {s}")),
            };
        }
        // Validate the syntax now, against an arbitrary mode.
        apply_symbolic(t, 0o644, false, 0o022)?;
        Ok(ModeSpec::Symbolic(t.to_string()))
    }

    /// The resulting permission bits, given the current ones (or, for a new
    /// object, the default ones) and whether the object is a directory.
    /// `Preserve` yields `None`: the caller supplies the source's mode.
    pub fn resolve(&self, current: u32, is_dir: bool, umask: u32) -> Result<Option<u32>, String> {
        match self {
            ModeSpec::Octal(m) => Ok(Some(*m)),
            ModeSpec::Symbolic(s) => apply_symbolic(s, current, is_dir, umask).map(Some),
            ModeSpec::Preserve => Ok(None),
        }
    }
}

impl<'de> Deserialize<'de> for ModeSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match Value::deserialize(d)? {
            Value::Number(n) => match n.as_u64() {
                // Ansible uses an integer as the mode's value: YAML 0644 is 420 = 0o644.
                Some(m) if m <= 0o7777 => Ok(ModeSpec::Octal(m as u32)),
                _ => Err(D::Error::custom(format!(
                    "mode must be in octal or symbolic form, got: {n}"
                ))),
            },
            Value::String(s) if placeholders_active() && is_templated(&s) => {
                Ok(ModeSpec::Octal(0o644))
            }
            Value::String(s) => ModeSpec::parse_str(&s).map_err(D::Error::custom),
            other => Err(D::Error::custom(format!(
                "mode must be in octal or symbolic form, found {}",
                crate::args::de::kind(&other)
            ))),
        }
    }
}

/// Formats permission bits as Ansible reports them (`0644`, `04755`).
pub fn fmt_mode(mode: u32) -> String {
    format!("0{:03o}", mode & 0o7777)
}

const S_ISUID: u32 = 0o4000;
const S_ISGID: u32 = 0o2000;
const S_ISVTX: u32 = 0o1000;

/// Applies a symbolic mode to `current` the way Ansible does
/// (`AnsibleModule._symbolic_mode_to_octal`): comma-separated clauses of
/// `[ugoa]*` followed by one or more `[-+=][rwxXstugo]*` operations. An empty
/// user list means `a` with the umask applied to `r`/`w`/`x`.
pub fn apply_symbolic(spec: &str, current: u32, is_dir: bool, umask: u32) -> Result<u32, String> {
    let bad = |clause: &str| format!("bad symbolic permission for mode: {clause}");
    let mut mode = current & 0o7777;
    for clause in spec.split(',') {
        let op_at = clause.find(['+', '-', '=']).ok_or_else(|| bad(clause))?;
        let (users, mut rest) = clause.split_at(op_at);
        if !users.bytes().all(|b| b"ugoa".contains(&b)) {
            return Err(bad(clause));
        }
        let use_umask = users.is_empty();
        let users: Vec<u8> = if users.is_empty() || users.contains('a') {
            b"ugo".to_vec()
        } else {
            users.bytes().collect()
        };
        while !rest.is_empty() {
            let op = rest.as_bytes()[0];
            let tail = &rest[1..];
            let end = tail.find(['+', '-', '=']).unwrap_or(tail.len());
            let perms = &tail[..end];
            rest = &tail[end..];
            if !perms.bytes().all(|b| b"rwxXstugo".contains(&b)) {
                return Err(bad(clause));
            }
            for &user in &users {
                let apply = perms_for(user, perms, mode, is_dir, use_umask, umask);
                mode = match op {
                    b'=' => {
                        let mask = match user {
                            b'u' => 0o700 | S_ISUID,
                            b'g' => 0o070 | S_ISGID,
                            _ => 0o007 | S_ISVTX,
                        };
                        (mode & !mask & 0o7777) | apply
                    }
                    b'+' => mode | apply,
                    _ => mode & !apply,
                };
            }
        }
    }
    Ok(mode)
}

fn perms_for(user: u8, perms: &str, prev: u32, is_dir: bool, use_umask: bool, umask: u32) -> u32 {
    let rev_umask = !umask & 0o7777;
    let shift = match user {
        b'u' => 6,
        b'g' => 3,
        _ => 0,
    };
    let masked = |bit: u32| if use_umask { bit & rev_umask } else { bit };
    let apply_x = is_dir || prev & 0o111 != 0;
    let class = |who: u32| (prev >> who) & 0o7;
    perms.bytes().fold(0, |acc, p| {
        acc | match p {
            b'r' => masked(0o4 << shift),
            b'w' => masked(0o2 << shift),
            b'x' => masked(0o1 << shift),
            b'X' if apply_x => 0o1 << shift,
            b's' if user == b'u' => S_ISUID,
            b's' if user == b'g' => S_ISGID,
            b't' if user == b'o' => S_ISVTX,
            b'u' => class(6) << shift,
            b'g' => class(3) << shift,
            b'o' => class(0) << shift,
            _ => 0,
        }
    })
}

// ---------------------------------------------------------------------------
// Probing
// ---------------------------------------------------------------------------

/// Checksum algorithms, by the name of their `<name>sum` tool.
pub const ALGORITHMS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

/// When a probe sends a regular file's content back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch {
    /// Never.
    Never,
    /// Always (up to [`MAX_DIFF_SIZE`] bytes).
    Always,
    /// Only when the file's checksum differs from this sh word (a quoted
    /// literal or a `"$var"` reference), up to [`MAX_DIFF_SIZE`] bytes.
    IfSumDiffers(String),
    /// Always, whatever its size (content that is edited, not only shown).
    Whole,
}

/// What to report about one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatOpts {
    /// Follow a symlink to what it points to (when that exists).
    pub follow: bool,
    /// Checksum algorithm (`sha1`...) for regular files, if any.
    pub checksum: Option<&'static str>,
    /// Whether to send the content back.
    pub fetch: Fetch,
    /// Report readable/writeable/executable for the connecting user.
    pub access: bool,
    /// For a directory: list owner/group/mode of everything below it.
    pub listing: bool,
    /// With `listing`: follow symlinks below the directory (`find -L`).
    pub listing_follow: bool,
    /// Report the MIME type and charset (with `file`, when installed).
    pub mime: bool,
    /// Report the file attributes (`lsattr`) and whether `chattr` is installed.
    pub attrs: bool,
    /// The script reads the shell variable `sum` after this record, so the
    /// checksum is computed on the target even for a small file (whose
    /// checksum is otherwise computed by tend from its content).
    pub sum_in_shell: bool,
}

impl Default for StatOpts {
    fn default() -> Self {
        StatOpts {
            follow: false,
            checksum: None,
            fetch: Fetch::Never,
            access: false,
            listing: false,
            listing_follow: false,
            mime: false,
            attrs: false,
            sum_in_shell: false,
        }
    }
}

/// The shell functions every probe defines. Every datum is printed as a
/// NUL-terminated `key=value`; a record starts with `@tag`; content is
/// `content=<length>` followed by exactly that many bytes and a NUL.
const PRELUDE: &str = r#"LC_ALL=C; export LC_ALL
tend_cat() {
  _n=$3; [ -n "$_n" ] || _n=$(wc -c < "$1") || return 0
  _n=$((_n))
  if [ -z "$2" ] || [ "$_n" -le "$2" ]; then printf 'content=%s\0' "$_n"; cat < "$1"; printf '\0'
  else printf 'toolarge=%s\0' "$_n"; fi
}
# Reads file $1 into _c with the shell's `read`; fails unless that gave
# exactly $2 bytes (a NUL byte, which the shell drops, or a file that
# changed makes it fail, and the caller reads the file with `cat`).
tend_small() {
  _c=; _l=
  while IFS= read -r _l; do _c="$_c$_l
"; done < "$1" || return 1
  _c=$_c$_l
  [ "${#_c}" -eq "$2" ]
}
tend_rec() {
  printf '@%s\0path=%s\0' "$1" "$2"
  _p=$2; sum=
  if [ "${10}" = 1 ] && command -v chattr >/dev/null 2>&1; then printf 'chattr=1\0'; fi
  if [ ! -e "$_p" ] && [ ! -L "$_p" ]; then printf 'type=absent\0'; return 0; fi
  _f=
  if [ "$3" = 1 ] && [ -e "$_p" ]; then _f=-L; fi
  if _s=$(stat $_f -c '%f %u %g %s %h %i %d %.9X %.9Y %.9Z %b %B %t %T %U %G' -- "$_p" 2>&1); then
    printf 'stat=%s\0' "$_s"
  else printf 'error=%s\0' "$_s"; return 0; fi
  # The size, and the owner's and group's ids and names: tend_user and
  # tend_group resolve a name or id seen here without running a process.
  _z=${_s#* * * }; _z=${_z%% *}
  _ou=${_s#* }; _gu=${_ou#* }; _ou=${_ou%% *}; _gu=${_gu%% *}
  _gn=${_s##* }; _on=${_s% *}; _on=${_on##* }
  if [ -L "$_p" ]; then
    if [ -z "$_f" ]; then _t=$(readlink -- "$_p"; echo x); printf 'target=%s\0' "${_t%??}"; fi
    _t=$(readlink -f -- "$_p"; echo x) && printf 'real=%s\0' "${_t%??}"
  fi
  if [ "$7" = 1 ]; then
    _a=; [ -r "$_p" ] && _a=${_a}r; [ -w "$_p" ] && _a=${_a}w; [ -x "$_p" ] && _a=${_a}x
    printf 'access=%s\0' "$_a"
  fi
  if [ -f "$_p" ] && { [ -n "$_f" ] || [ ! -L "$_p" ]; }; then
    # A small file is read by the shell itself, a process fewer than
    # `cat` or `sha1sum` (tend computes the checksum from the content).
    if [ "$_z" -le SMALLSIZE ] && [ "$5" != 2 ] && [ "${11}" != 1 ] \
      && { [ -n "$4" ] || [ "$5" != 0 ]; } && [ -r "$_p" ] && tend_small "$_p" "$_z"; then
      [ -n "$4" ] && printf 'sumalg=%s\0' "$4"
      if [ "$5" = 0 ]; then _k=small; else _k=content; fi
      printf '%s=%s\0%s\0' "$_k" "$_z" "$_c"
      _c=
    else
    if [ -n "$4" ] && [ -r "$_p" ]; then
      if sum=$("$4"sum < "$_p"); then sum=${sum%% *}; printf 'sum=%s\0' "$sum"; else sum=; fi
    fi
    case $5 in
      1) [ -r "$_p" ] && tend_cat "$_p" MAXSIZE "$_z" ;;
      2) [ -r "$_p" ] && [ "$sum" != "$6" ] && tend_cat "$_p" MAXSIZE "$_z" ;;
      3) [ -r "$_p" ] && tend_cat "$_p" '' "$_z" ;;
    esac
    fi
  fi
  if [ "$8" != 0 ] && [ -d "$_p" ]; then
    case $_p in -*) _q=./$_p ;; *) _q=$_p ;; esac
    _L=; [ "$8" = 2 ] && _L=-L
    _l=$(find $_L "$_q" -exec stat $_L -c '%f %u %g %U %G' -- {} + 2>/dev/null)
    printf 'list=%s\0' "$_l"
  fi
  if [ "${10}" = 1 ] && command -v lsattr >/dev/null 2>&1 && _a=$(lsattr -vd -- "$_p" 2>/dev/null); then
    _r=${_a#* }; _r=${_r#"${_r%%[! ]*}"}
    printf 'lsattr=%s\0lsver=%s\0' "${_r%% *}" "${_a%% *}"
  fi
  if [ "$9" = 1 ] && command -v file >/dev/null 2>&1 && _m=$(file -b --mime-type --mime-encoding -- "$_p" 2>/dev/null); then
    printf 'mime=%s\0' "$_m"
  fi
  return 0
}
tend_user() {
  printf '@%s\0' "$1"
  if [ -n "${_ou:-}" ] && { [ "$2" = "$_ou" ] || [ "$2" = "$_on" ]; } && [ "$_on" != UNKNOWN ]; then
    printf 'id=%s\0name=%s\0' "$_ou" "$_on"
  else
    _u=$(id -u -- "$2" 2>/dev/null) && printf 'id=%s\0' "$_u"
    _u=$(id -nu -- "$2" 2>/dev/null) && printf 'name=%s\0' "$_u"
  fi
  return 0
}
tend_group() {
  printf '@%s\0' "$1"
  if [ -n "${_gu:-}" ] && { [ "$2" = "$_gu" ] || [ "$2" = "$_gn" ]; } && [ "$_gn" != UNKNOWN ]; then
    printf 'name=%s\0id=%s\0' "$_gn" "$_gu"; return 0
  fi
  _l=$(getent group -- "$2" 2>/dev/null) || _l=$(awk -F: -v n="$2" '$1==n||$3==n{print; exit}' /etc/group 2>/dev/null)
  if [ -n "$_l" ]; then _r=${_l#*:}; _r=${_r#*:}; printf 'name=%s\0id=%s\0' "${_l%%:*}" "${_r%%:*}"; fi
  return 0
}
printf '@env\0umask=%s\0pid=%s\0id=%s\0' "${__tend_umask:-$(umask)}" "$$" "${__tend_id:-$(id)}"
"#;

/// The largest file a probe reads with the shell's `read` instead of a
/// process (`cat`, `sha1sum`): `read` takes a system call per byte, which
/// costs less than starting a process up to about this size.
pub const SMALL_FILE_SIZE: u64 = 1024;

/// [`PRELUDE`] with its sizes filled in.
fn prelude_text() -> String {
    PRELUDE
        .replace("MAXSIZE", &MAX_DIFF_SIZE.to_string())
        .replace("SMALLSIZE", &SMALL_FILE_SIZE.to_string())
}

/// A probe's first line: its programs run in the C locale.
const PROBE_HEAD: &str = "LC_ALL=C; export LC_ALL\n";

/// The definitions of the probe's shell functions, without
/// [`PROBE_HEAD`], for a shell that runs many probes: it defines them
/// once, and each probe it runs is sent without them
/// ([`without_probe_functions`]), which spares the shell parsing 4 KiB per
/// probe.
pub fn probe_functions() -> &'static str {
    static DEFINITIONS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let functions = Probe::functions();
        functions
            .strip_prefix(PROBE_HEAD)
            .unwrap_or(&functions)
            .to_string()
    });
    &DEFINITIONS
}

/// `script` without the probe's function definitions when it is a probe
/// (see [`probe_functions`]); `None` for any other script.
pub fn without_probe_functions(script: &str) -> Option<String> {
    let rest = script
        .strip_prefix(PROBE_HEAD)?
        .strip_prefix(probe_functions())?;
    Some(format!("{PROBE_HEAD}{rest}"))
}

/// Builds one read-only probe script.
#[derive(Debug, Clone)]
pub struct Probe {
    script: String,
}

impl Default for Probe {
    fn default() -> Self {
        Probe::new()
    }
}

impl Probe {
    /// A probe that reports the umask, its PID and the user (record `env`;
    /// `id` and the umask come from the SSH runner's `__tend_id` and
    /// `__tend_umask` when it runs there: two processes fewer per probe).
    pub fn new() -> Self {
        Probe {
            script: prelude_text(),
        }
    }

    /// The definitions of the probe's shell functions (`tend_rec`), for a
    /// script the probe runs in another shell (`find -exec sh -c`).
    pub fn functions() -> String {
        let text = prelude_text();
        match text.find("printf '@env") {
            Some(i) => text[..i].to_string(),
            None => text,
        }
    }

    /// Adds the target's clock to `env` (for backup file names), when `on`.
    pub fn clock(&mut self, on: bool) -> &mut Self {
        if on {
            self.script
                .push_str("printf '@clock\\0date=%s\\0' \"$(date '+%Y-%m-%d@%H:%M:%S')\"\n");
        }
        self
    }

    /// Sets a shell variable to a literal value.
    pub fn set(&mut self, var: &str, value: &str) -> &mut Self {
        self.script.push_str(&format!("{var}={}\n", quote(value)));
        self
    }

    /// Adds raw script text (a line or more).
    pub fn raw(&mut self, text: &str) -> &mut Self {
        self.script.push_str(text);
        self.script.push('\n');
        self
    }

    /// Reports the path held in a shell word (`"$d"` or a quoted literal) as record `tag`.
    pub fn path_word(&mut self, tag: &str, word: &str, opts: &StatOpts) -> &mut Self {
        let flag = |b: bool| if b { "1" } else { "0" };
        let (mode, expected) = match &opts.fetch {
            Fetch::Never => ("0", "''".to_string()),
            Fetch::Always => ("1", "''".to_string()),
            Fetch::IfSumDiffers(w) => ("2", w.clone()),
            Fetch::Whole => ("3", "''".to_string()),
        };
        self.script.push_str(&format!(
            "tend_rec {} {word} {} {} {mode} {expected} {} {} {} {} {}\n",
            quote(tag),
            flag(opts.follow),
            quote(opts.checksum.unwrap_or("")),
            flag(opts.access),
            match (opts.listing, opts.listing_follow) {
                (false, _) => "0",
                (true, false) => "1",
                (true, true) => "2",
            },
            flag(opts.mime),
            flag(opts.attrs),
            flag(opts.sum_in_shell || matches!(opts.fetch, Fetch::IfSumDiffers(_))),
        ));
        self
    }

    /// Reports a literal path as record `tag`.
    pub fn path(&mut self, tag: &str, path: &str, opts: &StatOpts) -> &mut Self {
        let word = quote(path).into_owned();
        self.path_word(tag, &word, opts)
    }

    /// Resolves a user (name or uid) as record `user:<spec>` with `id` and
    /// `name`: from the owner of a path probed before, when it is that
    /// user, else with `id`.
    pub fn user(&mut self, spec: &str) -> &mut Self {
        self.script.push_str(&format!(
            "tend_user {} {}\n",
            quote(&format!("user:{spec}")),
            quote(spec)
        ));
        self
    }

    /// Resolves a group (name or gid) as record `group:<spec>` with `id`
    /// and `name`: from the group of a path probed before, when it is that
    /// group, else with `getent` (or `/etc/group`).
    pub fn group(&mut self, spec: &str) -> &mut Self {
        self.script.push_str(&format!(
            "tend_group {} {}\n",
            quote(&format!("group:{spec}")),
            quote(spec)
        ));
        self
    }

    /// Resolves the owner and group arguments, when given.
    pub fn ids(&mut self, owner: Option<&str>, group: Option<&str>) -> &mut Self {
        if let Some(o) = owner {
            self.user(o);
        }
        if let Some(g) = group {
            self.group(g);
        }
        self
    }

    /// The finished script (its exit status is 0 unless the shell itself fails).
    pub fn finish(&self) -> Exec {
        Exec::script(format!("{}exit 0\n", self.script))
    }
}

/// Ansible's names of the `lsattr` flags.
const FILE_ATTRIBUTES: &[(char, &str)] = &[
    ('A', "noatime"),
    ('a', "append"),
    ('c', "compressed"),
    ('C', "nocow"),
    ('d', "nodump"),
    ('D', "dirsync"),
    ('e', "extents"),
    ('E', "encrypted"),
    ('h', "blocksize"),
    ('i', "immutable"),
    ('I', "indexed"),
    ('j', "journalled"),
    ('N', "inline"),
    ('s', "zero"),
    ('S', "synchronous"),
    ('t', "notail"),
    ('T', "blockroot"),
    ('u', "undelete"),
    ('X', "compressedraw"),
    ('Z', "compresseddirty"),
];

/// The names of the flags in `flags` (as `lsattr` prints them, dashes
/// removed), in their order; flags without a name are left out (Ansible's
/// `format_attributes`).
pub fn attribute_names(flags: &str) -> Vec<&'static str> {
    flags
        .chars()
        .filter_map(|f| {
            FILE_ATTRIBUTES
                .iter()
                .find(|(c, _)| *c == f)
                .map(|(_, n)| *n)
        })
        .collect()
}

/// `file --mime-type --mime-encoding` output read as Ansible's `stat`
/// reads it: `TYPE; charset=CHARSET`, anything else is no answer.
fn parse_mime(text: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = text.split(';').collect();
    let [mime, charset] = parts[..] else {
        return None;
    };
    let charset = charset.split('=').nth(1)?;
    Some((mime.trim().to_string(), charset.trim().to_string()))
}

/// One record of a probe's output: `key=value` fields and optional content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// Fields by key (last one wins).
    pub fields: BTreeMap<String, Vec<u8>>,
    /// Every field, in order (for multi-valued ones: `mime`, listings).
    pub extra: Vec<(String, Vec<u8>)>,
    /// The file's content, when fetched.
    pub content: Option<Vec<u8>>,
    /// A small file's content read only for its checksum (`sumalg`).
    pub small: Option<Vec<u8>>,
}

impl Record {
    /// The checksum of a regular file: as the target computed it (`sum`),
    /// or, for a small file the shell read, from its content (`sumalg`).
    pub fn checksum(&self) -> Option<String> {
        self.get("sum").filter(|s| !s.is_empty()).or_else(|| {
            let algorithm = self.get("sumalg")?;
            digest_hex(&algorithm, self.content.as_ref().or(self.small.as_ref())?)
        })
    }

    /// A field as text.
    pub fn get(&self, key: &str) -> Option<String> {
        self.fields
            .get(key)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

/// A parsed probe output: records by tag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeOutput {
    /// Records by tag.
    pub records: BTreeMap<String, Record>,
}

fn probe_error(msg: impl Into<String>, out: &ExecOutput) -> ModuleError {
    ModuleError::script(
        format!("reading the target's state failed: {}", msg.into()),
        out,
    )
}

impl ProbeOutput {
    /// Parses a probe's output; a non-zero exit or garbled output is an error.
    pub fn parse(out: &ExecOutput) -> Result<ProbeOutput, ModuleError> {
        if out.status != 0 {
            return Err(probe_error(format!("exit status {}", out.status), out));
        }
        let mut records: BTreeMap<String, Record> = BTreeMap::new();
        let mut current: Option<String> = None;
        let bytes = &out.stdout;
        let mut i = 0;
        while i < bytes.len() {
            let end = match bytes[i..].iter().position(|&b| b == 0) {
                Some(n) => i + n,
                None => return Err(probe_error("unterminated field", out)),
            };
            let token = &bytes[i..end];
            i = end + 1;
            if let Some(tag) = token.strip_prefix(b"@") {
                let tag = String::from_utf8_lossy(tag).into_owned();
                records.insert(tag.clone(), Record::default());
                current = Some(tag);
                continue;
            }
            let Some(tag) = &current else {
                return Err(probe_error("field outside a record", out));
            };
            let rec = records.entry(tag.clone()).or_default();
            let eq = token
                .iter()
                .position(|&b| b == b'=')
                .ok_or_else(|| probe_error("malformed field", out))?;
            let key = String::from_utf8_lossy(&token[..eq]).into_owned();
            let value = token[eq + 1..].to_vec();
            if key == "content" || key == "small" {
                let n: usize = String::from_utf8_lossy(&value)
                    .trim()
                    .parse()
                    .map_err(|_| probe_error("malformed content length", out))?;
                if bytes.get(i + n) != Some(&0) {
                    return Err(probe_error("a file changed while it was read", out));
                }
                let data = Some(bytes[i..i + n].to_vec());
                if key == "content" {
                    rec.content = data;
                } else {
                    rec.small = data;
                }
                i += n + 1;
                continue;
            }
            rec.extra.push((key.clone(), value.clone()));
            rec.fields.insert(key, value);
        }
        Ok(ProbeOutput { records })
    }

    /// A record, or an error naming the missing tag.
    pub fn record(&self, tag: &str) -> Result<&Record, ModuleError> {
        self.records.get(tag).ok_or_else(|| {
            ModuleError::failed(format!(
                "reading the target's state failed: no `{tag}` record"
            ))
        })
    }

    /// A path record as [`PathInfo`].
    pub fn path(&self, tag: &str) -> Result<PathInfo, ModuleError> {
        PathInfo::from_record(self.record(tag)?)
    }

    /// The `env` record.
    pub fn env(&self) -> Result<Env, ModuleError> {
        let rec = self.record("env")?;
        let umask = rec
            .get("umask")
            .and_then(|u| u32::from_str_radix(u.trim(), 8).ok())
            .unwrap_or(0o022);
        let id = rec.get("id").unwrap_or_default();
        // `uid=0(root) gid=0(root) groups=...`
        let part = |key: &str| -> (u32, Option<String>) {
            let Some(rest) = id.split_whitespace().find_map(|w| w.strip_prefix(key)) else {
                return (0, None);
            };
            let num: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let name = rest
                .split_once('(')
                .map(|(_, n)| n.trim_end_matches(')').to_string());
            (num.parse().unwrap_or(0), name)
        };
        Ok(Env {
            umask,
            pid: rec.get("pid").unwrap_or_default(),
            date: self
                .records
                .get("clock")
                .and_then(|c| c.get("date"))
                .unwrap_or_default(),
            user: part("uid="),
            group: part("gid="),
        })
    }

    /// A resolved user or group (`kind` is `user` or `group`).
    pub fn id(&self, kind: &str, spec: &str) -> Option<(u32, Option<String>)> {
        let rec = self.records.get(&format!("{kind}:{spec}"))?;
        let id = rec
            .get("id")
            .and_then(|s| s.trim().parse().ok())
            .or_else(|| spec.parse().ok())?;
        let name = rec.get("name").filter(|n| !n.is_empty());
        Some((id, name))
    }
}

/// The target's umask, the probe's PID and the time (for backup names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    /// The umask of the connecting user.
    pub umask: u32,
    /// PID of the probing shell.
    pub pid: String,
    /// `YYYY-MM-DD@HH:MM:SS` when probed.
    pub date: String,
    /// The connecting user's uid and name (owner of what it creates).
    pub user: (u32, Option<String>),
    /// The connecting user's gid and group name.
    pub group: (u32, Option<String>),
}

impl Env {
    /// Attributes a new object gets: the connecting user's, default mode from the umask.
    pub fn new_attrs(&self, is_dir: bool) -> CurAttrs {
        let base = if is_dir { 0o777 } else { 0o666 };
        CurAttrs {
            mode: base & !self.umask & 0o7777,
            uid: self.user.0,
            gid: self.group.0,
            owner: self.user.1.clone(),
            group: self.group.1.clone(),
            is_dir,
        }
    }

    /// Ansible's backup file name for `path`: `path.PID.YYYY-MM-DD@HH:MM:SS~`.
    pub fn backup_name(&self, path: &str) -> String {
        format!("{path}.{}.{}~", self.pid, self.date)
    }
}

/// What kind of filesystem object a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Nothing there.
    Absent,
    /// Regular file.
    File,
    /// Directory.
    Directory,
    /// Symbolic link.
    Link,
    /// Named pipe.
    Fifo,
    /// Socket.
    Socket,
    /// Block device.
    Block,
    /// Character device.
    Char,
}

impl Kind {
    fn from_raw(raw: u32) -> Kind {
        match raw & 0o170000 {
            0o140000 => Kind::Socket,
            0o120000 => Kind::Link,
            0o100000 => Kind::File,
            0o060000 => Kind::Block,
            0o040000 => Kind::Directory,
            0o020000 => Kind::Char,
            _ => Kind::Fifo,
        }
    }

    /// Ansible's name for the state (`file`, `directory`, `link`, `absent`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Absent => "absent",
            Kind::File => "file",
            Kind::Directory => "directory",
            Kind::Link => "link",
            Kind::Fifo => "fifo",
            Kind::Socket => "socket",
            Kind::Block => "block",
            Kind::Char => "char",
        }
    }
}

/// One entry below a probed directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Kind of the entry (not following links).
    pub kind: Kind,
    /// Permission bits.
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Group gid.
    pub gid: u32,
}

/// Everything a probe reported about one path.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PathInfo {
    /// The path probed.
    pub path: String,
    /// What it is (after following a link, when asked to and possible).
    pub kind: Option<Kind>,
    /// Permission bits.
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Group gid.
    pub gid: u32,
    /// Owner name, if it has one.
    pub owner: Option<String>,
    /// Group name, if it has one.
    pub group: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// Number of hard links.
    pub nlink: u64,
    /// Inode number.
    pub inode: u64,
    /// Device number.
    pub dev: u64,
    /// Access time (seconds since the epoch).
    pub atime: f64,
    /// Modification time.
    pub mtime: f64,
    /// Status change time.
    pub ctime: f64,
    /// Blocks allocated.
    pub blocks: u64,
    /// Block size of the `blocks` count.
    pub block_size: u64,
    /// Device major/minor, for device files.
    pub rdev: (u64, u64),
    /// The link's target, for an unfollowed symlink.
    pub target: Option<String>,
    /// The fully resolved path, for a symlink.
    pub real: Option<String>,
    /// `r`, `w`, `x` access for the connecting user.
    pub access: Option<String>,
    /// Checksum, for a readable regular file when asked.
    pub checksum: Option<String>,
    /// Content, when fetched.
    pub content: Option<Vec<u8>>,
    /// The content was not fetched because it is larger than [`MAX_DIFF_SIZE`].
    pub too_large: bool,
    /// Entries below a directory, when listed (including the directory itself).
    pub listing: Vec<Entry>,
    /// MIME type and charset, when asked, `file` is installed and its
    /// answer reads as `TYPE; charset=CHARSET` (Ansible's rule).
    pub mime: Option<(String, String)>,
    /// The inode's version/generation number (`lsattr -v`), when
    /// attributes were asked and `lsattr` could read them.
    pub attr_version: Option<String>,
    /// The file attribute flags (`lsattr -d`, dashes removed), when asked
    /// and `lsattr` could read them.
    pub attr_flags: Option<String>,
    /// `chattr` is installed on the target (reported when attributes are asked).
    pub chattr: bool,
}

/// The keys [`PathInfo::add_path_info`] sets.
pub const PATH_INFO_KEYS: [&str; 7] = ["uid", "gid", "owner", "group", "mode", "state", "size"];

impl PathInfo {
    /// Reads a path record.
    pub fn from_record(rec: &Record) -> Result<PathInfo, ModuleError> {
        let mut info = PathInfo {
            path: rec.get("path").unwrap_or_default(),
            chattr: rec.fields.contains_key("chattr"),
            ..PathInfo::default()
        };
        if rec.get("type").as_deref() == Some("absent") {
            info.kind = Some(Kind::Absent);
            return Ok(info);
        }
        if let Some(err) = rec.get("error") {
            return Err(ModuleError::failed(format!(
                "cannot stat {}: {}",
                info.path,
                err.trim()
            )));
        }
        let stat = rec
            .get("stat")
            .ok_or_else(|| ModuleError::failed(format!("no stat for {}", info.path)))?;
        let f: Vec<&str> = stat.split_whitespace().collect();
        if f.len() < 16 {
            return Err(ModuleError::failed(format!(
                "unexpected stat output for {}: {stat}",
                info.path
            )));
        }
        let num = |i: usize| f[i].parse::<u64>().unwrap_or(0);
        let float = |i: usize| f[i].parse::<f64>().unwrap_or(0.0);
        let raw = u32::from_str_radix(f[0], 16).unwrap_or(0);
        info.kind = Some(Kind::from_raw(raw));
        info.mode = raw & 0o7777;
        info.uid = num(1) as u32;
        info.gid = num(2) as u32;
        info.size = num(3);
        info.nlink = num(4);
        info.inode = num(5);
        info.dev = num(6);
        info.atime = float(7);
        info.mtime = float(8);
        info.ctime = float(9);
        info.blocks = num(10);
        info.block_size = num(11);
        info.rdev = (
            u64::from_str_radix(f[12], 16).unwrap_or(0),
            u64::from_str_radix(f[13], 16).unwrap_or(0),
        );
        let name = |s: &str| (s != "UNKNOWN").then(|| s.to_string());
        info.owner = name(f[f.len() - 2]);
        info.group = name(f[f.len() - 1]);
        info.target = rec.get("target");
        info.real = rec.get("real");
        info.access = rec.get("access");
        info.checksum = rec.checksum();
        info.content = rec.content.clone();
        info.too_large = rec.fields.contains_key("toolarge");
        info.attr_flags = rec
            .get("lsattr")
            .map(|f| f.replace('-', "").trim().to_string());
        info.attr_version = rec.get("lsver").filter(|v| !v.is_empty());
        info.mime = rec.get("mime").as_deref().and_then(parse_mime);
        if let Some(list) = rec.get("list") {
            for line in list.lines() {
                let p: Vec<&str> = line.split_whitespace().collect();
                if p.len() < 3 {
                    continue;
                }
                let raw = u32::from_str_radix(p[0], 16).unwrap_or(0);
                info.listing.push(Entry {
                    kind: Kind::from_raw(raw),
                    mode: raw & 0o7777,
                    uid: p[1].parse().unwrap_or(0),
                    gid: p[2].parse().unwrap_or(0),
                });
            }
        }
        Ok(info)
    }

    /// Whether something is there.
    pub fn exists(&self) -> bool {
        !matches!(self.kind, None | Some(Kind::Absent))
    }

    /// The kind, `Absent` when unknown.
    pub fn kind(&self) -> Kind {
        self.kind.unwrap_or(Kind::Absent)
    }

    /// Ansible's `add_path_info`, which every file-handling module's result
    /// goes through on its way out: the path's `uid`, `gid`, `owner`,
    /// `group`, `mode`, `state` and `size` as they are on the host (when
    /// something is there: else the values are left as they are).
    pub fn add_path_info(&self, values: &mut Map<String, Value>) {
        if !self.exists() {
            return;
        }
        CurAttrs::of(self).values(values);
        values.insert("state".into(), self.state().into());
        values.insert("size".into(), self.size.into());
    }

    /// Ansible's `get_state`: `hard` for a regular file with more than one link.
    pub fn state(&self) -> &'static str {
        match self.kind() {
            Kind::File if self.nlink > 1 => "hard",
            Kind::Absent => "absent",
            Kind::Link => "link",
            Kind::Directory => "directory",
            _ => "file",
        }
    }
}

// ---------------------------------------------------------------------------
// Owner, group, mode
// ---------------------------------------------------------------------------

/// The owner/group/mode a task asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WantAttrs {
    /// `mode`.
    pub mode: Option<ModeSpec>,
    /// `owner` (name or uid).
    pub owner: Option<String>,
    /// `group` (name or gid).
    pub group: Option<String>,
}

/// A resolved user or group: id and name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ids {
    /// Wanted owner, resolved.
    pub user: Option<(u32, Option<String>)>,
    /// Wanted group, resolved.
    pub group: Option<(u32, Option<String>)>,
}

impl Ids {
    /// Resolves the wanted owner and group from a probe that called [`Probe::ids`].
    pub fn resolve(probe: &ProbeOutput, want: &WantAttrs, path: &str) -> Result<Ids, ModuleError> {
        let fail = |msg: String| {
            let mut values = Map::new();
            values.insert("path".into(), path.into());
            ModuleError::Failed { msg, values }
        };
        let user = match &want.owner {
            None => None,
            Some(o) => Some(
                probe
                    .id("user", o)
                    .ok_or_else(|| fail(format!("chown failed: failed to look up user {o}")))?,
            ),
        };
        let group = match &want.group {
            None => None,
            Some(g) => Some(
                probe
                    .id("group", g)
                    .ok_or_else(|| fail(format!("chgrp failed: failed to look up group {g}")))?,
            ),
        };
        Ok(Ids { user, group })
    }
}

/// The attribute changes for one object, and the attributes it ends up with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttrPlan {
    /// New uid, when it changes.
    pub chown: Option<u32>,
    /// New gid, when it changes.
    pub chgrp: Option<u32>,
    /// New permission bits, when they change.
    pub chmod: Option<u32>,
    /// Diff lines (old side), Ansible's `owner`/`group`/`mode` keys.
    pub before: Vec<(&'static str, String)>,
    /// Diff lines (new side).
    pub after: Vec<(&'static str, String)>,
    /// Final mode.
    pub mode: u32,
    /// Final uid.
    pub uid: u32,
    /// Final gid.
    pub gid: u32,
    /// Final owner name.
    pub owner: Option<String>,
    /// Final group name.
    pub group: Option<String>,
    /// The `chattr` argument (`=A`, `+i`, `-a`), when the attributes change.
    pub chattr: Option<String>,
}

impl AttrPlan {
    /// Whether anything changes.
    pub fn changes(&self) -> bool {
        self.chown.is_some()
            || self.chgrp.is_some()
            || self.chmod.is_some()
            || self.chattr.is_some()
    }

    /// Ansible's `set_attributes_if_different`: `attributes` (`A`, `+A`,
    /// `-A`; empty means leave them) against the flags `lsattr` reported for
    /// `info`, probed with [`StatOpts::attrs`]. `=` flags that already match
    /// change nothing; `-` always runs `chattr`; without `chattr` on the
    /// target nothing is changed. An object about to be created (`info`
    /// absent) gets `chattr` after it is made.
    pub fn set_attributes(&mut self, info: &PathInfo, attributes: Option<&str>) {
        let Some(want) = attributes else {
            return;
        };
        let (op, flags) = match want.chars().next() {
            Some(c @ ('+' | '-')) => (c, &want[1..]),
            _ => ('=', want),
        };
        if flags.is_empty() || !info.chattr {
            return;
        }
        let existing = info
            .exists()
            .then(|| info.attr_flags.clone().unwrap_or_default());
        if existing.as_deref() == Some(flags) && op != '-' {
            return;
        }
        let arg = format!("{op}{flags}");
        self.before
            .push(("attributes", existing.unwrap_or_default()));
        self.after.push(("attributes", arg.clone()));
        self.chattr = Some(arg);
    }

    /// The sh commands that apply it to the path in sh word `word`.
    /// `nofollow` changes a symlink itself (`chown -h`; its mode is never set).
    pub fn script(&self, word: &str, nofollow: bool) -> String {
        let h = if nofollow { "-h " } else { "" };
        let mut s = chown_script(self.chown, self.chgrp, h, word);
        if let Some(m) = self.chmod {
            s.push_str(&format!("chmod -- {m:04o} {word} || exit 1\n"));
        }
        if let Some(a) = &self.chattr {
            s.push_str(&chattr_script(a, word));
        }
        s
    }

    /// The same attributes, with no diff lines (for an object being created).
    pub fn without_diff(&self) -> AttrPlan {
        AttrPlan {
            before: Vec::new(),
            after: Vec::new(),
            ..self.clone()
        }
    }

    /// Ansible's `owner`, `group`, `mode`, `uid`, `gid` return values.
    pub fn values(&self, values: &mut Map<String, Value>) {
        CurAttrs {
            mode: self.mode,
            uid: self.uid,
            gid: self.gid,
            owner: self.owner.clone(),
            group: self.group.clone(),
            is_dir: false,
        }
        .values(values);
    }
}

/// Current attributes of an object (or the defaults of one about to be created).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CurAttrs {
    /// Permission bits.
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Group gid.
    pub gid: u32,
    /// Owner name.
    pub owner: Option<String>,
    /// Group name.
    pub group: Option<String>,
    /// Is a directory (for symbolic `X`).
    pub is_dir: bool,
}

impl CurAttrs {
    /// The attributes of a probed path.
    pub fn of(info: &PathInfo) -> CurAttrs {
        CurAttrs {
            mode: info.mode,
            uid: info.uid,
            gid: info.gid,
            owner: info.owner.clone(),
            group: info.group.clone(),
            is_dir: info.kind() == Kind::Directory,
        }
    }

    /// Ansible's `uid`, `gid`, `owner`, `group` and `mode` return values.
    pub fn values(&self, values: &mut Map<String, Value>) {
        values.insert("uid".into(), self.uid.into());
        values.insert("gid".into(), self.gid.into());
        values.insert(
            "owner".into(),
            self.owner
                .clone()
                .map(Value::from)
                .unwrap_or_else(|| self.uid.to_string().into()),
        );
        values.insert(
            "group".into(),
            self.group
                .clone()
                .map(Value::from)
                .unwrap_or_else(|| self.gid.to_string().into()),
        );
        values.insert("mode".into(), fmt_mode(self.mode).into());
    }

    /// Ansible's `add_path_info` for a regular file: these attributes, its
    /// `size` and `state: file`.
    pub fn file_values(&self, size: u64, values: &mut Map<String, Value>) {
        self.values(values);
        values.insert("size".into(), size.into());
        values.insert("state".into(), "file".into());
    }
}

/// `chattr ARG -- PATH`; like Ansible, a non-zero exit or any output fails
/// with `chattr failed` (the output in `details`).
pub fn chattr_script(arg: &str, word: &str) -> String {
    format!(
        "_e=$(chattr {} -- {word} 2>&1); _r=$?\n\
         if [ $_r -ne 0 ] || [ -n \"$_e\" ]; then printf '%s\\n' \"$_e\" >&2; printf '{MSG_PREFIX}chattr failed\\n' >&2; exit 1; fi\n",
        quote(arg)
    )
}

/// Compares current attributes with the wanted ones (Ansible's
/// `set_fs_attributes_if_different`, in its order: owner, group, mode).
/// `preserve` is `None` here: callers resolve it to an octal mode first.
pub fn plan_attrs(
    cur: &CurAttrs,
    want: &WantAttrs,
    ids: &Ids,
    umask: u32,
) -> Result<AttrPlan, ModuleError> {
    let mut plan = AttrPlan {
        mode: cur.mode,
        uid: cur.uid,
        gid: cur.gid,
        owner: cur.owner.clone(),
        group: cur.group.clone(),
        ..AttrPlan::default()
    };
    if let Some((uid, name)) = &ids.user
        && *uid != cur.uid
    {
        plan.chown = Some(*uid);
        plan.before.push(("owner", cur.uid.to_string()));
        plan.after.push(("owner", uid.to_string()));
        plan.uid = *uid;
        plan.owner = name.clone();
    }
    if let Some((gid, name)) = &ids.group
        && *gid != cur.gid
    {
        plan.chgrp = Some(*gid);
        plan.before.push(("group", cur.gid.to_string()));
        plan.after.push(("group", gid.to_string()));
        plan.gid = *gid;
        plan.group = name.clone();
    }
    if let Some(spec) = &want.mode {
        let new = spec
            .resolve(cur.mode, cur.is_dir, umask)
            .map_err(ModuleError::failed)?;
        if let Some(new) = new
            && new != cur.mode
        {
            plan.chmod = Some(new);
            plan.before.push(("mode", fmt_mode(cur.mode)));
            plan.after.push(("mode", fmt_mode(new)));
            plan.mode = new;
        }
    }
    Ok(plan)
}

// ---------------------------------------------------------------------------
// Paths and scripts
// ---------------------------------------------------------------------------

/// `os.path.dirname`: everything before the last `/` (trailing slashes kept off).
pub fn dirname(path: &str) -> String {
    match path.rfind('/') {
        None => String::new(),
        Some(0) => "/".to_string(),
        Some(i) => {
            let d = path[..i].trim_end_matches('/');
            if d.is_empty() {
                "/".to_string()
            } else {
                d.to_string()
            }
        }
    }
}

/// `os.path.basename`.
pub fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `os.path.join(dir, name)`: `name` when absolute.
pub fn join(dir: &str, name: &str) -> String {
    if name.starts_with('/') || dir.is_empty() {
        name.to_string()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// A path that no command can mistake for an option (`./-x` for `-x`).
pub fn dash_safe(path: &str) -> String {
    if path.starts_with('-') {
        format!("./{path}")
    } else {
        path.to_string()
    }
}

/// The directories `mkdir -p path` would consider, outermost first.
pub fn ancestors(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    if path.starts_with('/') {
        cur.push('/');
    }
    for part in path.split('/').filter(|p| !p.is_empty()) {
        if !cur.is_empty() && !cur.ends_with('/') {
            cur.push('/');
        }
        cur.push_str(part);
        out.push(cur.clone());
    }
    out
}

/// sh commands that create each missing directory of `dirs` (outermost first)
/// and give each new one the attributes (`mode`, `owner`, `group`).
pub fn mkdirs_script(
    dirs: &[String],
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
) -> String {
    let mut s = String::new();
    for d in dirs {
        let q = quote(d);
        s.push_str(&format!("if [ ! -d {q} ]; then mkdir -- {q} || exit 1\n"));
        s.push_str(&chown_script(uid, gid, "", &q));
        if let Some(m) = mode {
            s.push_str(&format!("  chmod -- {m:04o} {q} || exit 1\n"));
        }
        s.push_str("fi\n");
    }
    s
}

/// Checks a `validate` argument has its `%s` (a templated one is checked later).
pub fn check_validate(validate: &Option<String>) -> Result<(), ArgsError> {
    match validate {
        Some(v) if !is_templated(v) && !v.contains("%s") => Err(ArgsError::field(
            "validate",
            format!("validate must contain %s: {v}"),
        )),
        _ => Ok(()),
    }
}

/// Turns a `validate` command into sh text: `%s` becomes the temp file, `%%` a `%`.
pub fn validate_command(validate: &str, file_word: &str) -> Result<String, ModuleError> {
    if !validate.contains("%s") {
        return Err(ModuleError::failed(format!(
            "validate must contain %s: {validate}"
        )));
    }
    let mut out = String::new();
    let mut chars = validate.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.peek() {
                Some('s') => {
                    chars.next();
                    out.push_str(file_word);
                }
                Some('%') => {
                    chars.next();
                    out.push('%');
                }
                _ => out.push('%'),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Where an atomic write gets its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// These bytes, sent on the script's stdin.
    Bytes(Vec<u8>),
    /// A file already on the target (`remote_src`).
    Remote(String),
}

impl Default for Source {
    fn default() -> Self {
        Source::Bytes(Vec::new())
    }
}

/// How an [`AtomicWrite`] runs `validate` and reports a failure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Validation {
    /// `copy`, `template`: the command is sh text, its output goes to
    /// stderr, and a failure stops the script with
    /// `tend: failed to validate (exit status N)`.
    #[default]
    Shell,
    /// `lineinfile`, `blockinfile` (Ansible's `run_command`): the command is
    /// split into words as a shell would, but run without one; its stdout is
    /// dropped. A failure prints `__tend_invalid N` and exits 0, leaving the
    /// command's stderr for [`written`]'s `failed to validate: rc:N error:...`.
    Words,
}

/// Replaces `dest`'s content atomically: the new content goes to a temp file
/// in the same directory (`mktemp "$dir/.tend.XXXXXX"`), which gets its owner,
/// group and mode, is validated, and is renamed over `dest` (after an optional
/// backup copy of the old file, reported as `__tend_backup PATH` on stdout).
/// On any failure the temp file is removed and the old file is untouched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AtomicWrite {
    /// The file to write (a symlink's target, to keep the link).
    pub dest: String,
    /// The new content.
    pub source: Source,
    /// Final permission bits.
    pub mode: u32,
    /// Final uid (`None`: the writer's).
    pub uid: Option<u32>,
    /// Final gid.
    pub gid: Option<u32>,
    /// The old file's uid and gid, given to the temp file where the writer
    /// may (a failure is ignored, as Ansible ignores `EPERM`); `uid`/`gid` apply after.
    pub keep_ids: Option<(u32, u32)>,
    /// `validate` command (with `%s`).
    pub validate: Option<String>,
    /// How `validate` runs.
    pub validation: Validation,
    /// Backup file to copy the old `dest` to first.
    pub backup: Option<String>,
    /// Directories to create first (outermost first), with their mode.
    pub mkdirs: Vec<String>,
    /// Mode of created directories (`None`: from the umask).
    pub dir_mode: Option<u32>,
}

/// Removes an [`AtomicWrite`]'s temp file when a script stops halfway.
pub const TMP_TRAP: &str = "tmp=\ntrap '[ -z \"$tmp\" ] || rm -f -- \"$tmp\"' EXIT\ntrap 'exit 129' HUP\ntrap 'exit 130' INT\ntrap 'exit 143' TERM\n";

impl AtomicWrite {
    /// The apply script.
    pub fn exec(&self) -> Result<Exec, ModuleError> {
        let mut s = String::from(TMP_TRAP);
        s.push_str(&self.steps(false)?);
        s.push_str("trap - EXIT\n");
        let stdin = match &self.source {
            Source::Bytes(b) => b.clone(),
            Source::Remote(_) => Vec::new(),
        };
        Ok(Exec::with_stdin(s, stdin))
    }

    /// The commands of the write, for a script that starts with
    /// [`TMP_TRAP`]. `inline`: [`Source::Bytes`] are written into the script
    /// (base64, decoded on the target) instead of read from stdin, so that
    /// one script can write several files.
    pub fn steps(&self, inline: bool) -> Result<String, ModuleError> {
        let dest = quote(&self.dest);
        let dir = dash_safe(match dirname(&self.dest).as_str() {
            "" => ".",
            d => d,
        });
        let mut s = String::from("dest=");
        s.push_str(&dest);
        s.push('\n');
        s.push_str(&mkdirs_script(&self.mkdirs, self.dir_mode, None, None));
        s.push_str(&format!(
            "tmp=$(mktemp {}) || {{ echo '{MSG_PREFIX}cannot create a temporary file in {}' >&2; exit 1; }}\n",
            quote(&format!("{dir}/.tend.XXXXXX")),
            dir.replace('\'', ""),
        ));
        match &self.source {
            Source::Bytes(b) if inline => {
                use base64::Engine;
                let text = base64::engine::general_purpose::STANDARD.encode(b);
                s.push_str("base64 -d > \"$tmp\" <<'__TEND_EOF__' || exit 1\n");
                for chunk in text.as_bytes().chunks(76) {
                    s.push_str(&String::from_utf8_lossy(chunk));
                    s.push('\n');
                }
                s.push_str("__TEND_EOF__\n");
            }
            Source::Bytes(_) => s.push_str("cat > \"$tmp\" || exit 1\n"),
            Source::Remote(src) => {
                s.push_str(&format!("cat < {} > \"$tmp\" || exit 1\n", quote(src)))
            }
        }
        if let Some((u, g)) = self.keep_ids {
            s.push_str(&format!("chown -- {u}:{g} \"$tmp\" 2>/dev/null\n"));
        }
        s.push_str(&chown_script(self.uid, self.gid, "", "\"$tmp\""));
        s.push_str(&format!("chmod -- {:04o} \"$tmp\" || exit 1\n", self.mode));
        if let Some(v) = &self.validate {
            s.push_str(&match self.validation {
                Validation::Shell => format!(
                    "( {}\n) 1>&2 || {{ rc=$?; echo \"{MSG_PREFIX}failed to validate (exit status $rc)\" >&2; exit 1; }}\n",
                    validate_command(v, "\"$tmp\"")?
                ),
                Validation::Words => format!(
                    "{} >/dev/null || {{ printf '{INVALID}%s\\n' \"$?\"; exit 0; }}\n",
                    validate_words(v, "\"$tmp\"")?
                ),
            });
        }
        if let Some(b) = &self.backup {
            s.push_str(&format!(
                "cp -p -- \"$dest\" {b} || {{ echo '{MSG_PREFIX}could not make a backup of the destination' >&2; exit 1; }}\nprintf '{BACKUP}%s\\n' {b}\n",
                b = quote(b)
            ));
        }
        s.push_str(
            "mv -fT -- \"$tmp\" \"$dest\" 2>/dev/null || mv -f -- \"$tmp\" \"$dest\" || exit 1\n",
        );
        s.push_str(&format!("printf '{TEMP}%s\\n' \"${{tmp##*/}}\"\ntmp=\n"));
        Ok(s)
    }
}

const BACKUP: &str = "__tend_backup ";
const TEMP: &str = "__tend_temp ";
const INVALID: &str = "__tend_invalid ";

/// What a successful [`AtomicWrite`] printed: the backup it made, if any.
/// A failed [`Validation::Words`] check is Ansible's
/// `failed to validate: rc:N error:STDERR`.
pub fn written(out: &ExecOutput) -> Result<Option<String>, ModuleError> {
    Ok(write_report(out)?.backup)
}

/// What an [`AtomicWrite`] reports back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// The backup it made.
    pub backup: Option<String>,
    /// The name of the temp file the content went through (renamed to the
    /// destination since): Ansible's `src` of a copy.
    pub temp_name: Option<String>,
}

/// Reads what a successful [`AtomicWrite`] printed (see [`written`]).
pub fn write_report(out: &ExecOutput) -> Result<WriteReport, ModuleError> {
    let mut report = WriteReport::default();
    for line in out.stdout_text().lines() {
        if let Some(t) = line.strip_prefix(TEMP) {
            report.temp_name = Some(t.to_string());
        } else if let Some(b) = line.strip_prefix(BACKUP) {
            report.backup = Some(b.to_string());
        } else if let Some(rc) = line.strip_prefix(INVALID) {
            return Err(ModuleError::failed(format!(
                "failed to validate: rc:{rc} error:{}",
                out.stderr_text()
            )));
        }
    }
    Ok(report)
}

/// A `validate` command run without a shell: its words (split as a shell
/// would), each quoted, `%s` in any of them becoming `file_word`.
pub fn validate_words(validate: &str, file_word: &str) -> Result<String, ModuleError> {
    let words = crate::command::shlex_split(validate).map_err(ModuleError::failed)?;
    Ok(words
        .iter()
        .map(|word| {
            word.split("%s")
                .map(|piece| quote(piece).into_owned())
                .collect::<Vec<_>>()
                .join(file_word)
        })
        .collect::<Vec<_>>()
        .join(" "))
}

/// `chown`/`chgrp` commands giving the path in sh word `word` these ids
/// (`flags`: e.g. `-h ` for the link itself), exiting on failure.
pub fn chown_script(uid: Option<u32>, gid: Option<u32>, flags: &str, word: &str) -> String {
    match (uid, gid) {
        (Some(u), Some(g)) => format!("chown {flags}-- {u}:{g} {word} || exit 1\n"),
        (Some(u), None) => format!("chown {flags}-- {u} {word} || exit 1\n"),
        (None, Some(g)) => format!("chgrp {flags}-- {g} {word} || exit 1\n"),
        (None, None) => String::new(),
    }
}

/// A failure with string return values (`path`, `dest`, `src`...).
pub fn fail(msg: impl Into<String>, pairs: &[(&str, &str)]) -> ModuleError {
    pairs
        .iter()
        .fold(ModuleError::failed(msg), |e, (k, v)| e.with(k, *v))
}

/// Content as diff text: `None` for binary content (a NUL byte).
pub fn diff_text(bytes: &[u8]) -> Option<String> {
    if bytes.contains(&0) {
        None
    } else {
        Some(String::from_utf8_lossy(bytes).into_owned())
    }
}

/// The checksum of `bytes` with one of [`ALGORITHMS`], in hex as its
/// `<name>sum` tool prints it.
pub fn digest_hex(algorithm: &str, bytes: &[u8]) -> Option<String> {
    use sha2::Digest;
    let digest: Vec<u8> = match algorithm {
        "md5" => md5::Md5::digest(bytes).to_vec(),
        "sha1" => sha1::Sha1::digest(bytes).to_vec(),
        "sha224" => sha2::Sha224::digest(bytes).to_vec(),
        "sha256" => sha2::Sha256::digest(bytes).to_vec(),
        "sha384" => sha2::Sha384::digest(bytes).to_vec(),
        "sha512" => sha2::Sha512::digest(bytes).to_vec(),
        _ => return None,
    };
    Some(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// SHA-1 of bytes, in hex.
pub fn sha1_hex(bytes: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    Sha1::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A `not supported yet` argument error.
pub fn unsupported(module: &str, arg: &str) -> ArgsError {
    ArgsError::field(
        arg,
        format!("{module}: argument `{arg}` is not supported yet"),
    )
}

/// The file attribute arguments tend does not implement yet.
pub const UNSUPPORTED: [&str; 5] = ["attributes", "selevel", "serole", "setype", "seuser"];

/// Rejects the arguments of [`UNSUPPORTED`], given in its order.
pub fn reject_unsupported(module: &str, given: [&Option<Value>; 5]) -> Result<(), ArgsError> {
    match UNSUPPORTED.iter().zip(given).find(|(_, v)| v.is_some()) {
        Some((name, _)) => Err(unsupported(module, name)),
        None => Ok(()),
    }
}

/// Rejects `mode: preserve` outside copy and template.
pub fn reject_preserve(mode: &Option<ModeSpec>) -> Result<(), ArgsError> {
    match mode {
        Some(ModeSpec::Preserve) => Err(ArgsError::field(
            "mode",
            "mode `preserve` is only valid for copy and template",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_like_ansible() {
        assert_eq!(ModeSpec::parse_str("0644"), Ok(ModeSpec::Octal(0o644)));
        assert_eq!(ModeSpec::parse_str("644"), Ok(ModeSpec::Octal(0o644)));
        assert_eq!(ModeSpec::parse_str("1777"), Ok(ModeSpec::Octal(0o1777)));
        assert_eq!(ModeSpec::parse_str("preserve"), Ok(ModeSpec::Preserve));
        assert!(ModeSpec::parse_str("0999").is_err());
        assert!(ModeSpec::parse_str("u=rwz").is_err());
        assert!(ModeSpec::parse_str("q+x").is_err());
        let m: ModeSpec = serde_json::from_value(serde_json::json!(420)).unwrap();
        assert_eq!(m, ModeSpec::Octal(0o644));
    }

    #[test]
    fn symbolic_modes() {
        let a = |s: &str, cur: u32, dir: bool| apply_symbolic(s, cur, dir, 0o022).unwrap();
        assert_eq!(a("u=rw,g=r,o=r", 0o777, false), 0o644);
        assert_eq!(a("u+x,g-w", 0o664, false), 0o744);
        assert_eq!(a("a+X", 0o644, false), 0o644);
        assert_eq!(a("a+X", 0o644, true), 0o755);
        assert_eq!(a("a+X", 0o744, false), 0o755);
        assert_eq!(a("u+rw,g-wx,o-rwx", 0o777, false), 0o740);
        assert_eq!(a("u=rwx,g=u,o=", 0o000, false), 0o770);
        assert_eq!(a("u+s,g+s,o+t", 0o755, true), 0o7755);
        assert_eq!(a("u=rw", 0o4755, false), 0o655);
        assert_eq!(a("+x", 0o644, false), 0o755);
        assert_eq!(apply_symbolic("=rw", 0o000, false, 0o027).unwrap(), 0o640);
        assert_eq!(a("u+r-w", 0o200, false), 0o400);
        assert_eq!(a("go=", 0o755, false), 0o700);
        assert!(apply_symbolic("u", 0, false, 0).is_err());
    }

    #[test]
    fn paths() {
        assert_eq!(dirname("/a/b"), "/a");
        assert_eq!(dirname("/a"), "/");
        assert_eq!(dirname("a"), "");
        assert_eq!(dirname("a/b//c"), "a/b");
        assert_eq!(join("/a", "b"), "/a/b");
        assert_eq!(join("/a/", "/b"), "/b");
        assert_eq!(ancestors("/a/b/c"), vec!["/a", "/a/b", "/a/b/c"]);
        assert_eq!(ancestors("a//b/"), vec!["a", "a/b"]);
        assert_eq!(dash_safe("-x"), "./-x");
    }

    #[test]
    fn validate_substitution() {
        assert_eq!(
            validate_command("visudo -cf %s", "\"$tmp\"").unwrap(),
            "visudo -cf \"$tmp\""
        );
        assert_eq!(
            validate_command("echo 100%% %s", "F").unwrap(),
            "echo 100% F"
        );
        assert!(validate_command("true", "F").is_err());
    }

    /// Runs `probe` under `/bin/sh` with a PATH that holds only `tools`
    /// (symlinks to the real ones).
    fn run_with_only(probe: &Probe, tools: &[&str]) -> ProbeOutput {
        let bin = tempfile::tempdir().unwrap();
        for tool in tools {
            let real = ["/usr/bin", "/bin"]
                .iter()
                .map(|d| std::path::Path::new(d).join(tool))
                .find(|p| p.exists())
                .unwrap();
            std::os::unix::fs::symlink(real, bin.path().join(tool)).unwrap();
        }
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(probe.finish().script)
            .env("PATH", bin.path())
            .env("__tend_id", "uid=0(root) gid=0(root) groups=0(root)")
            .output()
            .unwrap();
        ProbeOutput::parse(&ExecOutput {
            status: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: out.stderr,
        })
        .unwrap()
    }

    #[test]
    fn owner_and_group_seen_by_stat_need_no_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "hello\n").unwrap();
        let meta = std::fs::metadata(&file).unwrap();
        use std::os::unix::fs::MetadataExt;
        let (uid, gid) = (meta.uid(), meta.gid());
        let fetch = StatOpts {
            checksum: Some("sha1"),
            fetch: Fetch::Always,
            ..StatOpts::default()
        };
        let mut probe = Probe::new();
        probe.path("f", file.to_str().unwrap(), &fetch);
        probe.ids(Some(&uid.to_string()), Some(&gid.to_string()));
        // Neither `id`, `getent`, `awk` nor `wc` can run: what the probe
        // reports comes from `stat` alone (and `sha1sum` for the sum).
        let p = run_with_only(&probe, &["stat", "sha1sum", "cat"]);
        let info = p.path("f").unwrap();
        assert_eq!(info.content.as_deref(), Some(&b"hello\n"[..]));
        assert_eq!(info.size, 6);
        let user = p.id("user", &uid.to_string()).unwrap();
        assert_eq!(user.0, uid);
        assert_eq!(user.1, info.owner);
        let group = p.id("group", &gid.to_string()).unwrap();
        assert_eq!(group.0, gid);
        assert_eq!(group.1, info.group);
        // By name, too, when the names are known.
        if let (Some(owner), Some(group)) = (info.owner.clone(), info.group.clone()) {
            let mut probe = Probe::new();
            probe.path("f", file.to_str().unwrap(), &StatOpts::default());
            probe.ids(Some(&owner), Some(&group));
            let p = run_with_only(&probe, &["stat"]);
            assert_eq!(p.id("user", &owner), Some((uid, Some(owner.clone()))));
            assert_eq!(p.id("group", &group), Some((gid, Some(group.clone()))));
        }
        // A user the stat did not show still needs `id`: without it, no answer.
        let mut probe = Probe::new();
        probe.path("f", file.to_str().unwrap(), &StatOpts::default());
        probe.user("no-such-user-tend");
        let p = run_with_only(&probe, &["stat"]);
        assert_eq!(p.id("user", "no-such-user-tend"), None);
    }

    #[test]
    fn small_files_are_read_by_the_shell_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let mut long = "x".repeat(99);
        long.push('\n');
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", Vec::new()),
            ("line", b"hello\n".to_vec()),
            ("no-newline", b"no newline".to_vec()),
            (
                "odd",
                b"  lead \\back\\\\slash\ttab\r\n\n\n-end %s %% '\" $x\n\n".to_vec(),
            ),
            ("max", long.repeat(11).into_bytes()[..1024].to_vec()),
        ];
        let mut probe = Probe::new();
        for (i, (name, bytes)) in cases.iter().enumerate() {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let algorithm = ALGORITHMS[i % ALGORITHMS.len()];
            let opts = |fetch| StatOpts {
                checksum: Some(algorithm),
                fetch,
                ..StatOpts::default()
            };
            let path = path.to_str().unwrap();
            probe.path(&format!("{name}:sum"), path, &opts(Fetch::Never));
            probe.path(&format!("{name}:whole"), path, &opts(Fetch::Whole));
        }
        // No `cat` or `*sum` to run: the shell reads them all.
        let p = run_with_only(&probe, &["stat"]);
        for (i, (name, bytes)) in cases.iter().enumerate() {
            let algorithm = ALGORITHMS[i % ALGORITHMS.len()];
            let want = digest_hex(algorithm, bytes);
            let sum = p.path(&format!("{name}:sum")).unwrap();
            assert_eq!(sum.checksum, want, "{name}");
            assert_eq!(sum.content, None, "{name}: content only when asked for");
            let whole = p.path(&format!("{name}:whole")).unwrap();
            assert_eq!(whole.content.as_deref(), Some(&bytes[..]), "{name}");
            assert_eq!(whole.checksum, want, "{name}");
        }
    }

    #[test]
    fn files_the_shell_cannot_read_exactly_are_read_by_processes() {
        let dir = tempfile::tempdir().unwrap();
        let nul = dir.path().join("nul");
        std::fs::write(&nul, b"a\0b\n").unwrap();
        let big = dir.path().join("big");
        let big_bytes = vec![b'y'; SMALL_FILE_SIZE as usize + 1];
        std::fs::write(&big, &big_bytes).unwrap();
        let opts = StatOpts {
            checksum: Some("sha256"),
            fetch: Fetch::Whole,
            ..StatOpts::default()
        };
        let mut probe = Probe::new();
        probe.path("nul", nul.to_str().unwrap(), &opts);
        probe.path("big", big.to_str().unwrap(), &opts);
        let p = run_with_only(&probe, &["stat", "sha256sum", "cat"]);
        for (tag, bytes) in [("nul", &b"a\0b\n"[..]), ("big", &big_bytes[..])] {
            let info = p.path(tag).unwrap();
            assert_eq!(info.content.as_deref(), Some(bytes), "{tag}");
            assert_eq!(info.checksum, digest_hex("sha256", bytes), "{tag}");
            // Computed on the target, by `sha256sum`.
            assert!(p.record(tag).unwrap().get("sum").is_some(), "{tag}");
        }
    }

    #[test]
    fn digests_are_those_the_sum_tools_print() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"tend\n").unwrap();
        for algorithm in ALGORITHMS {
            let out = std::process::Command::new(format!("{algorithm}sum"))
                .arg(&file)
                .output()
                .unwrap();
            let printed = String::from_utf8(out.stdout).unwrap();
            let printed = printed.split_whitespace().next().unwrap().to_string();
            assert_eq!(
                digest_hex(algorithm, b"tend\n"),
                Some(printed),
                "{algorithm}"
            );
        }
        assert_eq!(digest_hex("crc32", b""), None);
    }

    #[test]
    fn mime_type_and_charset_come_from_one_file_run() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.txt");
        std::fs::write(&file, "plain text\n").unwrap();
        let mut probe = Probe::new();
        let opts = StatOpts {
            mime: true,
            ..StatOpts::default()
        };
        probe.path("t", file.to_str().unwrap(), &opts);
        probe.path("d", dir.path().to_str().unwrap(), &opts);
        let p = run_with_only(&probe, &["stat", "file"]);
        assert_eq!(
            p.path("t").unwrap().mime,
            Some(("text/plain".to_string(), "us-ascii".to_string()))
        );
        assert_eq!(
            p.path("d").unwrap().mime,
            Some(("inode/directory".to_string(), "binary".to_string()))
        );
    }

    #[test]
    fn parses_probe_output() {
        let mut stdout = b"@env\0umask=0022\0pid=42\0id=uid=0(root) gid=0(root) groups=0(root)\0@clock\0date=2024-01-02@03:04:05\0@d\0path=/x y\0".to_vec();
        stdout.extend_from_slice(
            b"stat=81a4 0 0 3 1 7 8 1.5 2.5 3.5 8 512 0 0 root root\0sum=abc\0content=3\0a\0b\0",
        );
        stdout
            .extend_from_slice(b"@user:nobody\0id=65534\0name=nobody\0@n\0path=/n\0type=absent\0");
        let out = ExecOutput {
            status: 0,
            stdout,
            stderr: Vec::new(),
        };
        let p = ProbeOutput::parse(&out).unwrap();
        let d = p.path("d").unwrap();
        assert_eq!(d.path, "/x y");
        assert_eq!(d.kind(), Kind::File);
        assert_eq!(d.mode, 0o644);
        assert_eq!(d.content.as_deref(), Some(&b"a\0b"[..]));
        assert_eq!(d.checksum.as_deref(), Some("abc"));
        assert_eq!(d.mtime, 2.5);
        assert_eq!(p.path("n").unwrap().kind(), Kind::Absent);
        assert_eq!(p.id("user", "nobody"), Some((65534, Some("nobody".into()))));
        let env = p.env().unwrap();
        assert_eq!(env.user, (0, Some("root".into())));
        assert_eq!(env.new_attrs(false).mode, 0o644);
        assert_eq!(env.backup_name("/etc/x"), "/etc/x.42.2024-01-02@03:04:05~");
        let bad = ExecOutput {
            status: 0,
            stdout: b"@d\0content=9\0ab\0".to_vec(),
            stderr: Vec::new(),
        };
        assert!(ProbeOutput::parse(&bad).is_err());
    }
}
