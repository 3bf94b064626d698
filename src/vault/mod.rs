//! Ansible Vault: reading and writing vault data byte-compatibly with
//! ansible-vault (formats 1.1 and 1.2, AES256), and the secrets of a run.
//!
//! - [`format`]: the envelope (header, hex body at 80 columns).
//! - [`crypto`]: PBKDF2 / AES-256-CTR / HMAC-SHA256, keys zeroized.
//! - [`source`]: `--vault-id label@source`: password files, scripts, prompts.
//!
//! The secrets of a run are installed once by the command line
//! ([`install`]) and used by the loaders: a vault-encrypted vars file,
//! `group_vars`/`host_vars` file or inventory file is decrypted when it is
//! read ([`decrypt_file`]); an inline `!vault |` value stays encrypted, as a
//! marker `{"__ansible_vault": "<vault text>"}` (the key Ansible's JSON uses),
//! until templating opens it ([`open_marker`]).
//!
//! Hooks for marking secrets (redaction): every inline value is opened by
//! [`open_marker`] only, and every decrypted file is recorded
//! ([`decrypted_file`]).

pub mod crypto;
pub mod edit;
pub mod format;
pub mod source;

use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, RwLock};
use thiserror::Error;
use zeroize::Zeroizing;

pub use format::is_encrypted;

/// The vault id of secrets without a label, and of 1.1 data.
pub const DEFAULT_ID: &str = "default";

/// The key of an inline `!vault` value inside data.
pub const VAULT_KEY: &str = "__ansible_vault";

/// A vault password with its vault id.
pub struct Secret {
    /// The vault id (label).
    pub id: String,
    /// The password; zeroized when dropped.
    pub password: Zeroizing<Vec<u8>>,
    /// Where it came from (a path, `prompt`), for messages.
    pub origin: String,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("id", &self.id)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// What went wrong with vault data; the error names the data's origin.
#[derive(Debug, Error)]
#[error("{origin}: {kind}")]
pub struct Error {
    /// The file (or `a !vault value`, `stdin`).
    pub origin: String,
    /// What went wrong.
    pub kind: ErrorKind,
}

/// The kinds of vault errors.
#[derive(Debug, Error)]
pub enum ErrorKind {
    /// The data is malformed.
    #[error(transparent)]
    Format(#[from] format::FormatError),
    /// Encryption failed.
    #[error(transparent)]
    Crypto(#[from] crypto::CryptoError),
    /// Vault data but no secrets at all.
    #[error(
        "vault encrypted data{} but no vault secrets were given (use --vault-id, --vault-password-file or --ask-vault-pass)",
        for_id(.0.as_deref())
    )]
    NoSecrets(Option<String>),
    /// No secret decrypts the data.
    #[error(
        "decryption failed{}: no vault secret could decrypt it (tried vault ids: {}); {reason}",
        for_id(.vault_id.as_deref()),
        .tried.join(", ")
    )]
    NoMatch {
        /// The vault id the data names (1.2).
        vault_id: Option<String>,
        /// The vault ids tried.
        tried: Vec<String>,
        /// The last failure.
        reason: crypto::CryptoError,
    },
    /// The decrypted data is not UTF-8 where text is needed.
    #[error("the decrypted data is not UTF-8 text")]
    NotText,
    /// No secret to encrypt with.
    #[error("{0}")]
    Choose(String),
}

fn for_id(id: Option<&str>) -> String {
    id.map(|i| format!(" (vault id '{i}')")).unwrap_or_default()
}

impl Error {
    /// An error about `origin`.
    pub fn new(origin: impl std::fmt::Display, kind: impl Into<ErrorKind>) -> Error {
        Error {
            origin: origin.to_string(),
            kind: kind.into(),
        }
    }
}

/// The secrets of a run, in the order given.
#[derive(Debug, Default)]
pub struct Secrets {
    list: Vec<Secret>,
}

impl Secrets {
    /// Secrets in the order given.
    pub fn new(list: Vec<Secret>) -> Secrets {
        Secrets { list }
    }

    /// No secrets.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The vault ids, in order.
    pub fn ids(&self) -> Vec<String> {
        self.list.iter().map(|s| s.id.clone()).collect()
    }

    /// Decrypts vault data: the secrets of the vault id the data names
    /// first, then every other secret (Ansible's default, without
    /// `vault_id_match`). Returns the plaintext and the vault id that worked.
    pub fn decrypt(&self, data: &[u8]) -> Result<(Zeroizing<Vec<u8>>, String), ErrorKind> {
        let env = format::parse(data)?;
        if self.list.is_empty() {
            return Err(ErrorKind::NoSecrets(env.vault_id));
        }
        let wanted = env.vault_id.as_deref();
        let order = self
            .list
            .iter()
            .filter(|s| Some(s.id.as_str()) == wanted)
            .chain(self.list.iter().filter(|s| Some(s.id.as_str()) != wanted));
        let mut tried = Vec::new();
        let mut reason = crypto::CryptoError::Hmac;
        for secret in order {
            match crypto::decrypt(&env.payload, &secret.password) {
                Ok(plain) => return Ok((plain, secret.id.clone())),
                Err(e) => {
                    if !tried.contains(&secret.id) {
                        tried.push(secret.id.clone());
                    }
                    reason = e;
                }
            }
        }
        Err(ErrorKind::NoMatch {
            vault_id: env.vault_id,
            tried,
            reason,
        })
    }

    /// The secret to encrypt with: the one named by `--encrypt-vault-id`,
    /// else the only one.
    pub fn for_encrypt(&self, encrypt_id: Option<&str>) -> Result<&Secret, ErrorKind> {
        match encrypt_id {
            Some(id) => self.list.iter().find(|s| s.id == id).ok_or_else(|| {
                ErrorKind::Choose(format!(
                    "did not find a match for --encrypt-vault-id={id} in the known vault-ids [{}]",
                    self.ids().join(", ")
                ))
            }),
            None => match self.list.as_slice() {
                [only] => Ok(only),
                [] => Err(ErrorKind::Choose(
                    "no vault secret to encrypt with (use --vault-id, --vault-password-file or --ask-vault-pass)".into(),
                )),
                _ => Err(ErrorKind::Choose(format!(
                    "the vault-ids {} are available to encrypt: specify the vault-id to encrypt with --encrypt-vault-id",
                    self.ids().join(",")
                ))),
            },
        }
    }
}

/// Encrypts with one secret: vault text as ansible-vault writes it.
pub fn encrypt(plaintext: &[u8], secret: &Secret) -> Result<String, crypto::CryptoError> {
    let payload = crypto::encrypt(plaintext, &secret.password)?;
    Ok(format::serialize(&payload, Some(&secret.id)))
}

static INSTALLED: LazyLock<RwLock<Arc<Secrets>>> = LazyLock::new(Default::default);
static DECRYPTED: LazyLock<Mutex<HashMap<PathBuf, String>>> = LazyLock::new(Default::default);

/// Installs the secrets of this run (done once by the command line).
pub fn install(secrets: Secrets) {
    if let Ok(mut s) = INSTALLED.write() {
        *s = Arc::new(secrets);
    }
}

/// The secrets of this run.
pub fn installed() -> Arc<Secrets> {
    INSTALLED
        .read()
        .map(|s| s.clone())
        .unwrap_or_else(|_| Arc::new(Secrets::default()))
}

/// A file's text, decrypted with the installed secrets when it is vault
/// encrypted. The error names the file and the vault id.
pub fn decrypt_file(path: &Path, bytes: Vec<u8>) -> Result<Zeroizing<Vec<u8>>, Error> {
    if !is_encrypted(&bytes) {
        return Ok(Zeroizing::new(bytes));
    }
    let (plain, id) = installed()
        .decrypt(&bytes)
        .map_err(|k| Error::new(path.display(), k))?;
    if let Ok(mut d) = DECRYPTED.lock() {
        d.insert(path.to_path_buf(), id);
    }
    mark_secret_file(&plain);
    Ok(plain)
}

/// Marks what a decrypted file holds as secret for every report
/// ([`crate::report::redact`]): each string value of a YAML mapping or list
/// (a vars file), else the whole text (a key, a certificate...).
fn mark_secret_file(plain: &[u8]) {
    fn leaves(v: &Value) {
        match v {
            Value::String(s) => crate::report::redact::register(s),
            Value::Array(a) => a.iter().for_each(leaves),
            Value::Object(m) => m.values().for_each(leaves),
            _ => {}
        }
    }
    let Ok(text) = std::str::from_utf8(plain) else {
        return;
    };
    let parsed = crate::yaml::parse_str("<vault>", text)
        .ok()
        .and_then(|docs| {
            docs.first()
                .map(crate::yaml::Node::to_value)
                .filter(|v| v.is_object() || v.is_array())
        });
    match parsed {
        Some(v) => leaves(&v),
        None => crate::report::redact::register(text.trim_end()),
    }
}

/// The vault id a file was decrypted with, if it was vault encrypted.
pub fn decrypted_file(path: &Path) -> Option<String> {
    DECRYPTED.lock().ok()?.get(path).cloned()
}

/// An inline `!vault` value as data: `{"__ansible_vault": "<vault text>"}`.
pub fn marker(vault_text: &str) -> Value {
    let mut m = serde_json::Map::new();
    m.insert(VAULT_KEY.into(), Value::String(vault_text.to_string()));
    Value::Object(m)
}

/// The vault text of a marker.
pub fn marker_text(map: &serde_json::Map<String, Value>) -> Option<&str> {
    match (map.len(), map.get(VAULT_KEY)) {
        (1, Some(Value::String(s))) => Some(s),
        _ => None,
    }
}

/// Decrypts an inline `!vault` value with the installed secrets. The only
/// place where inline vault values become plaintext.
pub fn open_marker(vault_text: &str) -> Result<String, Error> {
    let origin = "a !vault value";
    let (plain, _) = installed()
        .decrypt(vault_text.as_bytes())
        .map_err(|k| Error::new(origin, k))?;
    let text =
        String::from_utf8(plain.to_vec()).map_err(|_| Error::new(origin, ErrorKind::NotText))?;
    // From here on, every report masks it.
    crate::report::redact::register(&text);
    Ok(text)
}

/// Replaces every marker in `value` by a placeholder template, so that
/// compile-time argument checks accept it as any value.
pub fn markers_as_placeholders(value: &Value) -> std::borrow::Cow<'_, Value> {
    fn has(v: &Value) -> bool {
        match v {
            Value::Object(m) => marker_text(m).is_some() || m.values().any(has),
            Value::Array(a) => a.iter().any(has),
            _ => false,
        }
    }
    fn replace(v: &Value) -> Value {
        match v {
            Value::Object(m) if marker_text(m).is_some() => Value::String("{{ __vault }}".into()),
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), replace(v))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(replace).collect()),
            other => other.clone(),
        }
    }
    if has(value) {
        std::borrow::Cow::Owned(replace(value))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(id: &str, pw: &str) -> Secret {
        Secret {
            id: id.into(),
            password: Zeroizing::new(pw.as_bytes().to_vec()),
            origin: "test".into(),
        }
    }

    #[test]
    fn matching_vault_id_first_then_others() {
        let prod = secret("prod", "p");
        let text = encrypt(b"hello", &prod).unwrap();
        assert!(text.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
        let s = Secrets::new(vec![secret("dev", "d"), secret("prod", "p")]);
        let (plain, id) = s.decrypt(text.as_bytes()).unwrap();
        assert_eq!((&plain[..], id.as_str()), (&b"hello"[..], "prod"));
        // A secret with another label still decrypts (no vault_id_match).
        let s = Secrets::new(vec![secret("other", "p")]);
        assert_eq!(s.decrypt(text.as_bytes()).unwrap().1, "other");
        let s = Secrets::new(vec![secret("dev", "d"), secret("prod", "wrong")]);
        let e = s.decrypt(text.as_bytes()).unwrap_err().to_string();
        assert!(
            e.starts_with("decryption failed (vault id 'prod'): no vault secret could decrypt it (tried vault ids: prod, dev); HMAC verification failed"),
            "{e}"
        );
        let e = Secrets::default().decrypt(text.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("no vault secrets were given"), "{e}");
    }

    #[test]
    fn choosing_the_encryption_secret() {
        let s = Secrets::new(vec![secret("dev", "d"), secret("prod", "p")]);
        assert_eq!(s.for_encrypt(Some("prod")).unwrap().id, "prod");
        assert!(
            s.for_encrypt(None)
                .unwrap_err()
                .to_string()
                .contains("--encrypt-vault-id")
        );
        assert!(s.for_encrypt(Some("x")).is_err());
    }
}
