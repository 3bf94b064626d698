//! `tend vault`: ansible-vault's commands and flags (create, encrypt,
//! decrypt, view, edit, rekey, encrypt_string).
//!
//! Every command reads and transforms all its inputs before writing
//! anything, so an error leaves every file as it was. Files are replaced
//! atomically (a temporary file in the same directory, renamed), keeping the
//! mode of the file they replace (new files are 0600, as ansible-vault).

use crate::vault::{self, Secret, Secrets, source::VaultId};
use clap::{Args, Subcommand};
use std::io::{IsTerminal, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use thiserror::Error;
use zeroize::Zeroizing;

/// The vault subcommands.
#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Create a new encrypted file with $EDITOR.
    Create(EditArgs),
    /// Encrypt files in place (or stdin to stdout).
    Encrypt(CryptArgs),
    /// Decrypt files in place (or stdin to stdout).
    Decrypt(CryptArgs),
    /// Show the plaintext of encrypted files.
    View(FilesArgs),
    /// Edit an encrypted file with $EDITOR.
    Edit(EditArgs),
    /// Re-encrypt files with a new password.
    Rekey(RekeyArgs),
    /// Encrypt strings as `!vault |` YAML values.
    #[command(name = "encrypt_string", alias = "encrypt-string")]
    EncryptString(EncryptStringArgs),
}

/// Where vault passwords come from (ansible's names).
#[derive(Debug, Args, Default, Clone)]
pub struct VaultArgs {
    /// A vault identity: `label@source`, where source is a password file, an
    /// executable script, or `prompt` (repeatable).
    #[arg(long = "vault-id")]
    pub vault_ids: Vec<String>,
    /// A vault password file or executable script (repeatable).
    #[arg(
        long = "vault-password-file",
        alias = "vault-pass-file",
        env = "ANSIBLE_VAULT_PASSWORD_FILE"
    )]
    pub vault_password_files: Vec<PathBuf>,
    /// Ask for the vault password.
    #[arg(short = 'J', long = "ask-vault-pass", alias = "ask-vault-password")]
    pub ask_vault_pass: bool,
}

impl VaultArgs {
    /// The vault ids in the order Ansible uses: `--vault-id`s, then password
    /// files, then the prompt.
    pub fn ids(&self) -> Vec<VaultId> {
        let mut ids: Vec<VaultId> = self.vault_ids.iter().map(|s| VaultId::parse(s)).collect();
        ids.extend(self.vault_password_files.iter().map(|p| VaultId::file(p)));
        if self.ask_vault_pass {
            ids.push(VaultId::ask());
        }
        ids
    }

    /// Loads every secret (`new`: passwords asked on a prompt are confirmed).
    pub fn load(&self, new: bool) -> Result<Secrets, VaultCliError> {
        load_ids(&self.ids(), new)
    }
}

fn load_ids(ids: &[VaultId], new: bool) -> Result<Secrets, VaultCliError> {
    let mut list = Vec::with_capacity(ids.len());
    for id in ids {
        list.push(id.load(new)?);
    }
    Ok(Secrets::new(list))
}

/// `create` and `edit`.
#[derive(Debug, Args)]
pub struct EditArgs {
    #[command(flatten)]
    vault: VaultArgs,
    /// The vault id to encrypt with (when several are given; `edit`'s
    /// default is the one that decrypted the file).
    #[arg(long = "encrypt-vault-id")]
    encrypt_vault_id: Option<String>,
    /// The file.
    file: PathBuf,
}

/// `encrypt` and `decrypt`.
#[derive(Debug, Args)]
pub struct CryptArgs {
    #[command(flatten)]
    vault: VaultArgs,
    /// The vault id to encrypt with (when several are given).
    #[arg(long = "encrypt-vault-id")]
    encrypt_vault_id: Option<String>,
    /// Write the result here instead of in place (`-` for stdout).
    #[arg(long = "output")]
    output: Option<PathBuf>,
    /// Files (`-` or none: stdin to stdout).
    files: Vec<PathBuf>,
}

/// `view`.
#[derive(Debug, Args)]
pub struct FilesArgs {
    #[command(flatten)]
    vault: VaultArgs,
    /// Files (`-`: stdin).
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// `rekey`.
#[derive(Debug, Args)]
pub struct RekeyArgs {
    #[command(flatten)]
    vault: VaultArgs,
    /// The new vault identity (`label@source`).
    #[arg(long = "new-vault-id")]
    new_vault_id: Option<String>,
    /// The new vault password file or script.
    #[arg(long = "new-vault-password-file")]
    new_vault_password_file: Option<PathBuf>,
    /// Files to re-encrypt.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// `encrypt_string`.
#[derive(Debug, Args)]
pub struct EncryptStringArgs {
    #[command(flatten)]
    vault: VaultArgs,
    /// The vault id to encrypt with (when several are given).
    #[arg(long = "encrypt-vault-id")]
    encrypt_vault_id: Option<String>,
    /// Variable names for the strings, in order (repeatable).
    #[arg(short = 'n', long = "name")]
    names: Vec<String>,
    /// The variable name for the string read from stdin.
    #[arg(long = "stdin-name")]
    stdin_name: Option<String>,
    /// Ask for the string to encrypt.
    #[arg(short = 'p', long = "prompt")]
    prompt: bool,
    /// With --prompt, show what is typed.
    #[arg(long = "show-input")]
    show_input: bool,
    /// Write the result here instead of stdout.
    #[arg(long = "output")]
    output: Option<PathBuf>,
    /// Strings to encrypt (`-` or none: stdin).
    strings: Vec<String>,
}

/// What can go wrong in `tend vault`.
#[derive(Debug, Error)]
pub enum VaultCliError {
    /// Vault data or crypto error (names the file).
    #[error(transparent)]
    Vault(#[from] vault::Error),
    /// A password source failed.
    #[error(transparent)]
    Source(#[from] vault::source::SourceError),
    /// A file could not be read or written.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// Anything else, with its message.
    #[error("{0}")]
    Other(String),
    /// Editing failed or was interrupted.
    #[error(transparent)]
    Edit(#[from] vault::edit::EditError),
    /// A usage error (exit code 5).
    #[error("{0}")]
    Usage(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> VaultCliError + '_ {
    move |error| VaultCliError::Io {
        path: path.to_path_buf(),
        error,
    }
}

fn is_stdio(p: &Path) -> bool {
    p.as_os_str() == "-"
}

fn read_input(path: &Path) -> Result<Vec<u8>, VaultCliError> {
    if is_stdio(path) {
        let mut data = Vec::new();
        if std::io::stdin().is_terminal() {
            eprintln!("Reading input from stdin. (ctrl-d to end input)");
        }
        std::io::stdin()
            .read_to_end(&mut data)
            .map_err(io(Path::new("stdin")))?;
        return Ok(data);
    }
    std::fs::read(path).map_err(io(path))
}

/// Writes `data` to `path` atomically (`-`: stdout), keeping the mode of
/// `mode_of` (or of `path`) when it exists, else 0600.
fn write_output(path: &Path, data: &[u8], mode_of: Option<&Path>) -> Result<(), VaultCliError> {
    if is_stdio(path) {
        let mut out = std::io::stdout().lock();
        return out
            .write_all(data)
            .and_then(|()| out.flush())
            .map_err(io(Path::new("stdout")));
    }
    // A symlink is followed: its target is replaced, as ansible-vault does.
    let real;
    let path = if path.is_symlink() {
        real = std::fs::canonicalize(path).map_err(io(path))?;
        real.as_path()
    } else {
        path
    };
    let mode = mode_of
        .filter(|p| !is_stdio(p))
        .into_iter()
        .chain(std::iter::once(path))
        .find_map(|p| std::fs::metadata(p).ok())
        .map_or(0o600, |m| m.permissions().mode() & 0o7777);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".tend-vault-")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .map_err(io(path))?;
    tmp.write_all(data).map_err(io(path))?;
    tmp.as_file().sync_all().map_err(io(path))?;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))
        .map_err(io(path))?;
    tmp.persist(path).map_err(|e| VaultCliError::Io {
        path: path.to_path_buf(),
        error: e.error,
    })?;
    Ok(())
}

fn name_of(path: &Path) -> String {
    if is_stdio(path) {
        "stdin".into()
    } else {
        path.display().to_string()
    }
}

/// Secrets for decrypting: as given, or asked for when none is given.
fn decrypt_secrets(v: &VaultArgs) -> Result<Secrets, VaultCliError> {
    if v.ids().is_empty() {
        return load_ids(&[VaultId::ask()], false);
    }
    v.load(false)
}

/// The secret for encrypting: `--encrypt-vault-id`'s, the only one given, or
/// a new password asked for (twice).
fn encrypt_secrets(v: &VaultArgs) -> Result<Secrets, VaultCliError> {
    if v.ids().is_empty() {
        return load_ids(&[VaultId::ask()], true);
    }
    v.load(true)
}

fn encrypt_with<'a>(secrets: &'a Secrets, id: Option<&str>) -> Result<&'a Secret, VaultCliError> {
    secrets
        .for_encrypt(id)
        .map_err(|k| VaultCliError::Usage(k.to_string()))
}

fn encrypt_bytes(data: &[u8], secret: &Secret, origin: &str) -> Result<String, VaultCliError> {
    vault::encrypt(data, secret).map_err(|e| vault::Error::new(origin, e).into())
}

fn decrypt_bytes(
    secrets: &Secrets,
    data: &[u8],
    origin: &str,
) -> Result<(Zeroizing<Vec<u8>>, String), VaultCliError> {
    secrets
        .decrypt(data)
        .map_err(|k| vault::Error::new(origin, k).into())
}

fn inputs(files: &[PathBuf], output: Option<&PathBuf>) -> Result<Vec<PathBuf>, VaultCliError> {
    let files = if files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        files.to_vec()
    };
    if files.len() > 1 && output.is_some() {
        return Err(VaultCliError::Usage(
            "--output can't be used with multiple files".into(),
        ));
    }
    Ok(files)
}

fn encrypt(a: &CryptArgs) -> Result<(), VaultCliError> {
    let files = inputs(&a.files, a.output.as_ref())?;
    let secrets = encrypt_secrets(&a.vault)?;
    let secret = encrypt_with(&secrets, a.encrypt_vault_id.as_deref())?;
    let mut out = Vec::with_capacity(files.len());
    for f in &files {
        let data = Zeroizing::new(read_input(f)?);
        if vault::is_encrypted(&data) {
            return Err(VaultCliError::Other(format!(
                "{}: input is already encrypted",
                name_of(f)
            )));
        }
        out.push(encrypt_bytes(&data, secret, &name_of(f))?);
    }
    for (f, text) in files.iter().zip(out) {
        write_output(a.output.as_deref().unwrap_or(f), text.as_bytes(), Some(f))?;
    }
    if !a.output.as_deref().is_some_and(is_stdio) && !files.iter().any(|f| is_stdio(f)) {
        eprintln!("Encryption successful");
    }
    Ok(())
}

fn decrypt(a: &CryptArgs) -> Result<(), VaultCliError> {
    let files = inputs(&a.files, a.output.as_ref())?;
    let secrets = decrypt_secrets(&a.vault)?;
    let mut out = Vec::with_capacity(files.len());
    for f in &files {
        let data = read_input(f)?;
        out.push(decrypt_bytes(&secrets, &data, &name_of(f))?.0);
    }
    for (f, plain) in files.iter().zip(out) {
        write_output(a.output.as_deref().unwrap_or(f), &plain, Some(f))?;
    }
    if !a.output.as_deref().is_some_and(is_stdio) && !files.iter().any(|f| is_stdio(f)) {
        eprintln!("Decryption successful");
    }
    Ok(())
}

fn view(a: &FilesArgs) -> Result<(), VaultCliError> {
    let secrets = decrypt_secrets(&a.vault)?;
    let mut all = Zeroizing::new(Vec::new());
    for f in &a.files {
        let data = read_input(f)?;
        all.extend_from_slice(&decrypt_bytes(&secrets, &data, &name_of(f))?.0);
    }
    let stdout = std::io::stdout();
    if stdout.is_terminal() {
        let pager = std::env::var("PAGER").unwrap_or_else(|_| "less".into());
        let words = shlex::split(&pager).unwrap_or_default();
        if let Some((prog, args)) = words.split_first()
            && let Ok(mut child) = std::process::Command::new(prog)
                .args(args)
                .stdin(std::process::Stdio::piped())
                .spawn()
        {
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(&all);
            }
            let _ = child.wait();
            return Ok(());
        }
    }
    write_output(Path::new("-"), &all, None)
}

fn rekey(a: &RekeyArgs) -> Result<(), VaultCliError> {
    let secrets = decrypt_secrets(&a.vault)?;
    let new_id = match (&a.new_vault_id, &a.new_vault_password_file) {
        (Some(_), Some(_)) => {
            return Err(VaultCliError::Usage(
                "--new-vault-id and --new-vault-password-file are mutually exclusive".into(),
            ));
        }
        (Some(id), None) => VaultId::parse(id),
        (None, Some(file)) => VaultId::file(file),
        (None, None) => VaultId::ask(),
    };
    let new = new_id.load(true)?;
    let mut out = Vec::with_capacity(a.files.len());
    for f in &a.files {
        let data = std::fs::read(f).map_err(io(f))?;
        let (plain, _) = decrypt_bytes(&secrets, &data, &name_of(f))?;
        out.push(encrypt_bytes(&plain, &new, &name_of(f))?);
    }
    for (f, text) in a.files.iter().zip(out) {
        write_output(f, text.as_bytes(), None)?;
    }
    eprintln!("Rekey successful");
    Ok(())
}

/// `name: !vault |` and the vault text indented by 10, as ansible-vault.
fn vault_yaml(name: Option<&str>, vault_text: &str) -> String {
    let mut out = match name {
        Some(n) => format!("{n}: !vault |\n"),
        None => "!vault |\n".to_string(),
    };
    for line in vault_text.lines() {
        out.push_str("          ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn encrypt_string(a: &EncryptStringArgs) -> Result<(), VaultCliError> {
    // (plaintext, name, where it came from)
    let mut items: Vec<(Zeroizing<Vec<u8>>, Option<String>, String)> = Vec::new();
    let from_stdin = a.strings.iter().any(|s| s == "-") || (a.strings.is_empty() && !a.prompt);
    if a.prompt {
        let text = if a.show_input {
            eprint!("String to encrypt: ");
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(io(Path::new("stdin")))?;
            line.trim_end_matches(['\n', '\r']).to_string()
        } else {
            rpassword::prompt_password("String to encrypt (hidden): ")
                .map_err(io(Path::new("the terminal")))?
        };
        if text.is_empty() {
            return Err(VaultCliError::Other(
                "The plaintext provided from the prompt was empty, not encrypting".into(),
            ));
        }
        let name = a.names.first().cloned().or_else(|| a.stdin_name.clone());
        items.push((Zeroizing::new(text.into_bytes()), name, "the prompt".into()));
    }
    if from_stdin {
        let data = read_input(Path::new("-"))?;
        if data.is_empty() {
            return Err(VaultCliError::Other(
                "stdin was empty, not encrypting".into(),
            ));
        }
        items.push((Zeroizing::new(data), a.stdin_name.clone(), "stdin".into()));
    }
    let mut names = a.names.iter();
    for (i, s) in a.strings.iter().filter(|s| *s != "-").enumerate() {
        if s.is_empty() {
            return Err(VaultCliError::Other(
                "The plaintext provided from the command line args was empty, not encrypting"
                    .into(),
            ));
        }
        items.push((
            Zeroizing::new(s.clone().into_bytes()),
            names.next().cloned(),
            format!("the string #{} from the command line args", i + 1),
        ));
    }
    let secrets = encrypt_secrets(&a.vault)?;
    let secret = encrypt_with(&secrets, a.encrypt_vault_id.as_deref())?;
    let mut out = String::new();
    let several = items.len() > 1;
    for (plain, name, origin) in &items {
        if several {
            match name {
                Some(n) => {
                    eprintln!("# The encrypted version of variable (\"{n}\", {origin}).")
                }
                None => eprintln!("# The encrypted version of {origin}."),
            }
        }
        let text = encrypt_bytes(plain, secret, origin)?;
        out.push_str(&vault_yaml(name.as_deref(), &text));
    }
    write_output(
        a.output.as_deref().unwrap_or(Path::new("-")),
        out.as_bytes(),
        None,
    )
}

fn create(a: &EditArgs) -> Result<(), VaultCliError> {
    if a.file.exists() {
        return Err(VaultCliError::Other(format!(
            "{} exists, please use 'edit' instead",
            a.file.display()
        )));
    }
    let secrets = encrypt_secrets(&a.vault)?;
    let secret = encrypt_with(&secrets, a.encrypt_vault_id.as_deref())?;
    let edited = vault::edit::edit_plaintext(&a.file, &[])?;
    let text = encrypt_bytes(&edited, secret, &name_of(&a.file))?;
    write_output(&a.file, text.as_bytes(), None)
}

fn edit(a: &EditArgs) -> Result<(), VaultCliError> {
    let data = std::fs::read(&a.file).map_err(io(&a.file))?;
    let secrets = decrypt_secrets(&a.vault)?;
    let (plain, used) = decrypt_bytes(&secrets, &data, &name_of(&a.file))?;
    let edited = vault::edit::edit_plaintext(&a.file, &plain)?;
    if *edited == *plain {
        eprintln!("{}: not changed", a.file.display());
        return Ok(());
    }
    let secret = encrypt_with(
        &secrets,
        Some(a.encrypt_vault_id.as_deref().unwrap_or(&used)),
    )?;
    let text = encrypt_bytes(&edited, secret, &name_of(&a.file))?;
    write_output(&a.file, text.as_bytes(), None)
}

/// Runs a vault subcommand; returns the exit code.
pub fn run(cmd: &VaultCommand) -> i32 {
    let result = match cmd {
        VaultCommand::Create(a) => create(a),
        VaultCommand::Encrypt(a) => encrypt(a),
        VaultCommand::Decrypt(a) => decrypt(a),
        VaultCommand::View(a) => view(a),
        VaultCommand::Edit(a) => edit(a),
        VaultCommand::Rekey(a) => rekey(a),
        VaultCommand::EncryptString(a) => encrypt_string(a),
    };
    match result {
        Ok(()) => 0,
        Err(VaultCliError::Usage(m)) => {
            eprintln!("ERROR! {m}");
            5
        }
        Err(e @ VaultCliError::Edit(vault::edit::EditError::Signal { code, .. })) => {
            eprintln!("ERROR! {e}");
            code
        }
        Err(e) => {
            eprintln!("ERROR! {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_yaml_is_indented_by_ten() {
        let y = vault_yaml(Some("pw"), "$ANSIBLE_VAULT;1.1;AES256\n3031\n");
        assert_eq!(
            y,
            "pw: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n          3031\n"
        );
    }
}
