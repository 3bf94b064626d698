//! The Ansible Vault envelope: a header line, then hex wrapped at 80 columns.
//!
//! ```text
//! $ANSIBLE_VAULT;1.1;AES256            (or $ANSIBLE_VAULT;1.2;AES256;<vault-id>)
//! 3338613262...                        (hex of: hex(salt) \n hex(hmac) \n hex(ciphertext))
//! ```
//!
//! Parsing reports what is wrong and where (line and column of a bad hex
//! digit); serialising writes exactly what ansible-vault writes.

use thiserror::Error;

/// The first field of every vault header.
pub const MAGIC: &str = "$ANSIBLE_VAULT";
/// The only cipher Ansible writes and reads.
pub const CIPHER: &str = "AES256";
/// Hex digits per body line.
const WIDTH: usize = 80;

/// What is wrong with a vault envelope.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FormatError {
    /// The data does not start with `$ANSIBLE_VAULT`.
    #[error("not vault encrypted data (it does not start with `$ANSIBLE_VAULT;`)")]
    NotVault,
    /// The header line is malformed.
    #[error(
        "bad vault header `{header}`: {problem} (expected `$ANSIBLE_VAULT;1.1;AES256` or `$ANSIBLE_VAULT;1.2;AES256;<vault-id>`)"
    )]
    Header {
        /// The header line as found (cut to 80 characters).
        header: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The body has no data at all.
    #[error("the vault data is truncated: nothing follows the header")]
    Empty,
    /// A character that is not a hex digit.
    #[error("bad hex in the vault data: {found:?} at line {line}, column {column}")]
    BadHex {
        /// 1-based line in the envelope (the header is line 1).
        line: usize,
        /// 1-based column.
        column: usize,
        /// The offending character.
        found: char,
    },
    /// An odd number of hex digits (a truncated file, or a line lost).
    #[error("the vault data is truncated: {what} has an odd number of hex digits")]
    OddHex {
        /// Which part (the body, the salt, the HMAC, the ciphertext).
        what: &'static str,
    },
    /// The decoded body is not `salt \n hmac \n ciphertext`.
    #[error("the vault data is malformed: {0}")]
    Body(String),
}

/// The vault format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `1.1`: no vault id in the header.
    V1_1,
    /// `1.2`: the vault id is the fourth header field.
    V1_2,
}

/// A parsed envelope: header fields and the decoded payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The format version.
    pub version: Version,
    /// The vault id named in a 1.2 header.
    pub vault_id: Option<String>,
    /// The decoded payload.
    pub payload: Payload,
}

/// The three parts of the AES256 payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The PBKDF2 salt (32 bytes when written by Ansible).
    pub salt: Vec<u8>,
    /// HMAC-SHA256 of the ciphertext.
    pub hmac: Vec<u8>,
    /// AES-256-CTR ciphertext of the PKCS#7-padded plaintext.
    pub ciphertext: Vec<u8>,
}

/// True when data looks vault encrypted (starts with `$ANSIBLE_VAULT`, after
/// leading whitespace as in a YAML block).
pub fn is_encrypted(data: &[u8]) -> bool {
    data.trim_ascii_start().starts_with(MAGIC.as_bytes())
}

fn header_error(header: &str, problem: impl Into<String>) -> FormatError {
    FormatError::Header {
        header: header.chars().take(80).collect(),
        problem: problem.into(),
    }
}

fn parse_header(header: &str) -> Result<(Version, Option<String>), FormatError> {
    let fields: Vec<&str> = header.trim().split(';').map(str::trim).collect();
    if fields.first() != Some(&MAGIC) {
        return Err(FormatError::NotVault);
    }
    let version = match fields.get(1) {
        Some(&"1.1") => Version::V1_1,
        Some(&"1.2") => Version::V1_2,
        Some(v) => return Err(header_error(header, format!("unsupported version `{v}`"))),
        None => return Err(header_error(header, "the version is missing")),
    };
    match fields.get(2) {
        Some(&CIPHER) => {}
        Some(c) => return Err(header_error(header, format!("unsupported cipher `{c}`"))),
        None => return Err(header_error(header, "the cipher is missing")),
    }
    let vault_id = match (version, fields.get(3)) {
        (Version::V1_1, None) => None,
        (Version::V1_1, Some(_)) => {
            return Err(header_error(header, "version 1.1 has no vault id field"));
        }
        (Version::V1_2, Some(id)) if !id.is_empty() => Some((*id).to_string()),
        (Version::V1_2, _) => return Err(header_error(header, "version 1.2 needs a vault id")),
    };
    if fields.len() > 4 {
        return Err(header_error(header, "too many fields"));
    }
    Ok((version, vault_id))
}

/// Decodes hex, reporting the first bad digit.
fn unhex(hex: &[u8], what: &'static str) -> Result<Vec<u8>, FormatError> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    if !hex.len().is_multiple_of(2) {
        return Err(FormatError::OddHex { what });
    }
    hex.chunks_exact(2)
        .map(|pair| match (digit(pair[0]), digit(pair[1])) {
            (Some(h), Some(l)) => Ok(h << 4 | l),
            _ => Err(FormatError::Body(format!("{what} is not hex"))),
        })
        .collect()
}

/// Lowercase hex, as Python's `hexlify`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// Parses vault data (a file's bytes or a `!vault` string).
pub fn parse(data: &[u8]) -> Result<Envelope, FormatError> {
    let text = data.trim_ascii();
    if !text.starts_with(MAGIC.as_bytes()) {
        return Err(FormatError::NotVault);
    }
    let mut lines = text.split(|&b| b == b'\n').map(|l| l.trim_ascii());
    let header = lines.next().unwrap_or_default();
    let header = std::str::from_utf8(header)
        .map_err(|_| header_error(&String::from_utf8_lossy(header), "it is not UTF-8 text"))?;
    let (version, vault_id) = parse_header(header)?;
    // The body: hex digits only, checked with their position.
    let mut body = Vec::with_capacity(text.len());
    for (i, line) in lines.enumerate() {
        for (j, &c) in line.iter().enumerate() {
            if !c.is_ascii_hexdigit() {
                let found = std::str::from_utf8(&line[j..])
                    .ok()
                    .and_then(|s| s.chars().next())
                    .unwrap_or(char::REPLACEMENT_CHARACTER);
                return Err(FormatError::BadHex {
                    line: i + 2,
                    column: j + 1,
                    found,
                });
            }
        }
        body.extend_from_slice(line);
    }
    if body.is_empty() {
        return Err(FormatError::Empty);
    }
    let inner = unhex(&body, "the body")?;
    let mut parts = inner.splitn(3, |&b| b == b'\n');
    let (Some(salt), Some(hmac), Some(ciphertext)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(FormatError::Body(
            "expected a salt, an HMAC and a ciphertext on three lines (the data is truncated or not made by ansible-vault)".into(),
        ));
    };
    let payload = Payload {
        salt: unhex(salt, "the salt")?,
        hmac: unhex(hmac, "the HMAC")?,
        ciphertext: unhex(ciphertext, "the ciphertext")?,
    };
    if payload.salt.is_empty() {
        return Err(FormatError::Body("the salt is empty".into()));
    }
    if payload.hmac.len() != 32 {
        return Err(FormatError::Body(format!(
            "the HMAC has {} bytes, expected 32",
            payload.hmac.len()
        )));
    }
    if payload.ciphertext.is_empty() || !payload.ciphertext.len().is_multiple_of(16) {
        return Err(FormatError::Body(format!(
            "the ciphertext has {} bytes, expected a non-zero multiple of 16 (the data is truncated)",
            payload.ciphertext.len()
        )));
    }
    Ok(Envelope {
        version,
        vault_id,
        payload,
    })
}

/// Serialises an envelope exactly as ansible-vault does: version 1.2 with
/// the vault id when it is given and not `default`, else 1.1; the hex body
/// wrapped at 80 columns; a final newline.
pub fn serialize(payload: &Payload, vault_id: Option<&str>) -> String {
    let inner = format!(
        "{}\n{}\n{}",
        hex(&payload.salt),
        hex(&payload.hmac),
        hex(&payload.ciphertext)
    );
    let body = hex(inner.as_bytes());
    let mut out = String::with_capacity(body.len() + body.len() / WIDTH + 64);
    match vault_id.filter(|id| *id != super::DEFAULT_ID) {
        Some(id) => out.push_str(&format!("{MAGIC};1.2;{CIPHER};{id}\n")),
        None => out.push_str(&format!("{MAGIC};1.1;{CIPHER}\n")),
    }
    for chunk in body.as_bytes().chunks(WIDTH) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload() -> Payload {
        Payload {
            salt: vec![1; 32],
            hmac: vec![2; 32],
            ciphertext: vec![3; 32],
        }
    }

    #[test]
    fn round_trip_and_layout() {
        let text = serialize(&payload(), Some("prod"));
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("$ANSIBLE_VAULT;1.2;AES256;prod"));
        let body: Vec<&str> = lines.collect();
        assert!(body[..body.len() - 1].iter().all(|l| l.len() == 80));
        assert!(text.ends_with('\n'));
        let env = parse(text.as_bytes()).unwrap();
        assert_eq!(env.version, Version::V1_2);
        assert_eq!(env.vault_id.as_deref(), Some("prod"));
        assert_eq!(env.payload, payload());
        let text = serialize(&payload(), Some("default"));
        assert!(text.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
        assert_eq!(parse(text.as_bytes()).unwrap().vault_id, None);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let good = serialize(&payload(), None);
        assert_eq!(parse(b"hello"), Err(FormatError::NotVault));
        let e = parse(b"$ANSIBLE_VAULT;1.0;AES\n00").unwrap_err();
        assert!(e.to_string().contains("unsupported version `1.0`"), "{e}");
        let e = parse(b"$ANSIBLE_VAULT;1.1;AES128\n00").unwrap_err();
        assert!(e.to_string().contains("unsupported cipher `AES128`"), "{e}");
        let e = parse(b"$ANSIBLE_VAULT;1.2;AES256\n00").unwrap_err();
        assert!(e.to_string().contains("needs a vault id"), "{e}");
        assert_eq!(
            parse(b"$ANSIBLE_VAULT;1.1;AES256\n"),
            Err(FormatError::Empty)
        );
        let bad = good.replacen("\n3", "\n3z", 1);
        assert_eq!(
            parse(bad.as_bytes()),
            Err(FormatError::BadHex {
                line: 2,
                column: 2,
                found: 'z'
            })
        );
        let cut = &good[..good.len() - 2];
        assert_eq!(
            parse(cut.as_bytes()),
            Err(FormatError::OddHex { what: "the body" })
        );
        let cut = &good[..good.len() - 3];
        assert_eq!(
            parse(cut.as_bytes()),
            Err(FormatError::OddHex {
                what: "the ciphertext"
            })
        );
        let cut = &good[..good.len() - 5];
        let e = parse(cut.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("31 bytes"), "{e}");
    }
}
