//! The `apt` module: install, upgrade and remove Debian packages with
//! `apt-get`, update the package cache, install `.deb` files.
//!
//! As Ansible's module: one probe reads, for every named package, its dpkg
//! status and installed version (`dpkg-query`), its candidate and available
//! versions (`apt-cache policy`, honouring `default_release`), which names
//! are marked as automatically installed, and the cache's age (the mtime of
//! `/var/lib/apt/periodic/update-success-stamp`, else of
//! `/var/lib/apt/lists`). From that the plan decides which packages
//! `apt-get install` or `apt-get remove` gets: `present` installs what is
//! missing (or not at the pinned `name=version`), `latest` also upgrades what
//! has a newer candidate, `absent` removes what is installed (and, with
//! `purge`, what left its configuration files). Commands run with
//! `DEBIAN_FRONTEND=noninteractive` and the C locale. Check mode runs the same
//! command with `--simulate`, as Ansible does, so dependency problems fail in
//! check mode too; `--diff` shows apt's summary of what it does (Ansible's
//! `prepared` text). `upgrade`, `autoremove` and `autoclean` without packages
//! are simulated in the probe itself, so an unchanged run is one round trip.
//! A cache update (`update_cache`, or a `cache_valid_time` that has expired)
//! is skipped in check mode and reported as done, as in Ansible.
//!
//! Differences: `apt-get` is always used (never `aptitude`; `upgrade: full`
//! is `apt-get dist-upgrade`); `deb` files are installed with
//! `apt-get install FILE`, which also installs their dependencies; package
//! name wildcards, `name>=version`, `state: build-dep`, `state: fixed`, a
//! `deb` URL and `policy_rc_d` are not supported yet.
//!
//! # Examples
//!
//! ```yaml
//! - name: Install nginx and curl, refreshing the cache if older than an hour
//!   apt:
//!     name: [nginx, curl]
//!     state: present
//!     update_cache: yes
//!     cache_valid_time: 3600
//!
//! - name: Pin a version
//!   apt:
//!     name: redis-server=5:7.0.15-1~deb12u1
//!
//! - name: Keep openssl up to date
//!   apt:
//!     name: openssl
//!     state: latest
//!
//! - name: Remove telnet and its configuration
//!   apt:
//!     name: telnet
//!     state: absent
//!     purge: yes
//!
//! - name: Install a package built on the host
//!   apt:
//!     deb: /tmp/myapp_1.2_amd64.deb
//!
//! - name: Upgrade everything
//!   apt:
//!     upgrade: dist
//! ```
//!
//! # Return values
//!
//! - `cache_updated` (bool): whether the package cache was updated.
//! - `cache_update_time` (int): when the cache was last updated (seconds since the epoch, 0 if unknown).
//! - `stdout` (str): apt-get's output.
//! - `stderr` (str): apt-get's error output.
//! - `msg` (str): for `upgrade`, apt-get's output.

use crate::args::{self, ArgsError, de};
use crate::choice;
use crate::host::{Exec, ExecOutput, Host};
use crate::module::{Context, ModuleError, TypedModule};
use crate::outcome::{Diff, Outcome};
use crate::sh;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

choice! {
    /// `state` of `apt`.
    pub enum State {
        /// Installed (any version, or the pinned `name=version`).
        Present = ["present"],
        /// Not installed.
        Absent = ["absent"],
        /// Installed at the candidate version.
        Latest = ["latest"],
        /// Build dependencies installed (not supported yet).
        BuildDep = ["build-dep"],
        /// Broken dependencies fixed (not supported yet).
        Fixed = ["fixed"],
    }
}

/// `upgrade` of `apt`: which upgrade to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upgrade {
    /// No upgrade.
    No,
    /// `apt-get upgrade --with-new-pkgs`.
    Yes,
    /// Same as `yes`.
    Safe,
    /// `apt-get dist-upgrade` (Ansible uses aptitude's full-upgrade when installed).
    Full,
    /// `apt-get dist-upgrade`.
    Dist,
}

impl<'de> Deserialize<'de> for Upgrade {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // YAML's `yes`/`no` arrive as booleans: Ansible maps them back.
        let raw = de::string(d)?;
        if args::placeholders_active() && args::is_templated(&raw) {
            return Ok(Upgrade::No);
        }
        Ok(match raw.as_str() {
            "dist" => Upgrade::Dist,
            "full" => Upgrade::Full,
            "safe" => Upgrade::Safe,
            other => match args::parse_bool(other) {
                Some(true) if !other.is_empty() => Upgrade::Yes,
                Some(false) if !other.is_empty() => Upgrade::No,
                _ => {
                    return Err(serde::de::Error::custom(format!(
                        "value of upgrade must be one of: dist, full, no, safe, yes, got: {raw}"
                    )));
                }
            },
        })
    }
}

fn dpkg_options_default() -> String {
    "force-confdef,force-confold".into()
}
fn five() -> i64 {
    5
}
fn twelve() -> i64 {
    12
}
fn sixty() -> i64 {
    60
}
fn yes() -> bool {
    true
}
fn present() -> State {
    State::Present
}

/// Arguments of `apt` (Ansible's names, aliases and defaults).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// Package names, a list or a comma-separated string; `name=version` pins a version.
    #[serde(
        default,
        alias = "package",
        alias = "pkg",
        deserialize_with = "de::list"
    )]
    pub name: Vec<String>,
    /// `present`, `absent` or `latest` (`build-dep` and `fixed` are not supported yet).
    #[serde(default = "present")]
    pub state: State,
    /// Run `apt-get update` first (skipped while the cache is younger than `cache_valid_time`).
    #[serde(default, alias = "update-cache", deserialize_with = "de::opt_bool")]
    pub update_cache: Option<bool>,
    /// How many times to try the cache update.
    #[serde(default = "five", deserialize_with = "de::int")]
    pub update_cache_retries: i64,
    /// The longest pause between cache update tries, in seconds.
    #[serde(default = "twelve", deserialize_with = "de::int")]
    pub update_cache_retry_max_delay: i64,
    /// Update the cache only if it is older than this many seconds (setting it implies `update_cache`).
    #[serde(default, deserialize_with = "de::int")]
    pub cache_valid_time: i64,
    /// With `state: absent`, also remove configuration files (`--purge`).
    #[serde(default, deserialize_with = "de::bool")]
    pub purge: bool,
    /// Path of a `.deb` file on the target to install (comma-separated for several).
    #[serde(default, deserialize_with = "de::opt_string")]
    pub deb: Option<String>,
    /// The release to install from (`apt-get -t`); also pins candidates.
    #[serde(
        default,
        alias = "default-release",
        deserialize_with = "de::opt_string"
    )]
    pub default_release: Option<String>,
    /// Install recommended packages too (default: apt's configuration).
    #[serde(
        default,
        alias = "install-recommends",
        deserialize_with = "de::opt_bool"
    )]
    pub install_recommends: Option<bool>,
    /// Pass `--force-yes` (apt-get) to install unauthenticated or downgraded packages.
    #[serde(default, deserialize_with = "de::bool")]
    pub force: bool,
    /// Upgrade installed packages: `no`, `yes`/`safe`, `full`/`dist`.
    #[serde(default)]
    pub upgrade: Option<Upgrade>,
    /// dpkg options, comma-separated, each passed as `-o Dpkg::Options::=--OPTION`.
    #[serde(default = "dpkg_options_default", deserialize_with = "de::string")]
    pub dpkg_options: String,
    /// Remove packages that were installed as dependencies and are no longer needed.
    #[serde(default, deserialize_with = "de::opt_bool")]
    pub autoremove: Option<bool>,
    /// Remove package files of versions that can no longer be downloaded.
    #[serde(default, deserialize_with = "de::bool")]
    pub autoclean: bool,
    /// Fail rather than remove packages to satisfy dependencies (`--no-remove`).
    #[serde(default, deserialize_with = "de::bool")]
    pub fail_on_autoremove: bool,
    /// Not supported yet.
    #[serde(default)]
    pub policy_rc_d: Option<Value>,
    /// Only upgrade packages that are already installed.
    #[serde(default, deserialize_with = "de::bool")]
    pub only_upgrade: bool,
    /// Accepted for compatibility: tend always uses apt-get.
    #[serde(default, deserialize_with = "de::bool")]
    pub force_apt_get: bool,
    /// Run `apt-get clean` (removes the downloaded package files) first.
    #[serde(default, deserialize_with = "de::bool")]
    pub clean: bool,
    /// Allow packages that cannot be authenticated.
    #[serde(
        default,
        alias = "allow-unauthenticated",
        deserialize_with = "de::bool"
    )]
    pub allow_unauthenticated: bool,
    /// Allow installing a lower version than the installed one.
    #[serde(
        default,
        alias = "allow-downgrade",
        alias = "allow_downgrades",
        alias = "allow-downgrades",
        deserialize_with = "de::bool"
    )]
    pub allow_downgrade: bool,
    /// Allow changing held packages.
    #[serde(default, deserialize_with = "de::bool")]
    pub allow_change_held_packages: bool,
    /// Seconds to wait for the dpkg lock (`DPkg::Lock::Timeout`).
    #[serde(default = "sixty", deserialize_with = "de::int")]
    pub lock_timeout: i64,
    /// Accepted for compatibility: tend needs nothing on the target but apt.
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub auto_install_module_deps: bool,
}

impl Args {
    /// Arguments for `name` and `state` alone, the rest at their defaults.
    pub fn packages(name: Vec<String>, state: State) -> Self {
        Args {
            name,
            state,
            update_cache: None,
            update_cache_retries: 5,
            update_cache_retry_max_delay: 12,
            cache_valid_time: 0,
            purge: false,
            deb: None,
            default_release: None,
            install_recommends: None,
            force: false,
            upgrade: None,
            dpkg_options: dpkg_options_default(),
            autoremove: None,
            autoclean: false,
            fail_on_autoremove: false,
            policy_rc_d: None,
            only_upgrade: false,
            force_apt_get: false,
            clean: false,
            allow_unauthenticated: false,
            allow_downgrade: false,
            allow_change_held_packages: false,
            lock_timeout: 60,
            auto_install_module_deps: true,
        }
    }

    fn upgrade(&self) -> Option<Upgrade> {
        self.upgrade.filter(|u| *u != Upgrade::No)
    }

    fn autoremove(&self) -> bool {
        self.autoremove.unwrap_or(false)
    }

    /// The names without `*` (which means "all installed" with `latest`).
    fn packages_named(&self) -> Vec<&str> {
        self.name
            .iter()
            .map(|n| n.trim())
            .filter(|n| *n != "*")
            .collect()
    }
}

/// The `apt` module.
pub struct Apt;

#[async_trait]
impl TypedModule for Apt {
    type Args = Args;
    const NAME: &'static str = "apt";

    fn validate(a: &Args) -> Result<(), ArgsError> {
        validate(a)
    }

    async fn run(
        &self,
        args: Args,
        ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError> {
        run(&args, ctx, host, "apt").await
    }
}

/// Checks the arguments as Ansible's argument spec does, and rejects what
/// tend does not support.
pub fn validate(a: &Args) -> Result<(), ArgsError> {
    let given_pkgs = !a.name.is_empty();
    args::mutually_exclusive(&[
        ("deb", a.deb.is_some(), "package", given_pkgs),
        ("deb", a.deb.is_some(), "upgrade", a.upgrade.is_some()),
        ("package", given_pkgs, "upgrade", a.upgrade.is_some()),
    ])?;
    if a.autoremove.is_none()
        && a.deb.is_none()
        && !given_pkgs
        && a.update_cache.is_none()
        && a.upgrade.is_none()
    {
        return Err(ArgsError::general(
            "one of the following is required: autoremove, deb, package, update_cache, upgrade",
        ));
    }
    match a.state {
        State::BuildDep | State::Fixed => {
            return Err(ArgsError::field(
                "state",
                format!("apt: state `{}` is not supported yet", a.state.as_str()),
            ));
        }
        _ => {}
    }
    if a.policy_rc_d.is_some() {
        return Err(ArgsError::field(
            "policy_rc_d",
            "apt: policy_rc_d is not supported yet",
        ));
    }
    if let Some(deb) = &a.deb
        && deb.contains("://")
    {
        return Err(ArgsError::field(
            "deb",
            "apt: installing a deb from a URL is not supported yet (download it first, e.g. with get_url)",
        ));
    }
    for name in &a.name {
        if args::is_templated(name) {
            continue;
        }
        let name = name.trim();
        if name == "*" {
            continue;
        }
        if name.contains(">=") {
            return Err(ArgsError::field(
                "name",
                format!("apt: version comparisons (`{name}`) are not supported yet"),
            ));
        }
        let (pkg, version) = split_spec(name);
        if pkg.chars().any(|c| "*?[]!".contains(c))
            || version.is_some_and(|v| v.chars().any(|c| "*?[]".contains(c)))
        {
            return Err(ArgsError::field(
                "name",
                format!(
                    "apt: wildcards in package names and versions (`{name}`) are not supported yet"
                ),
            ));
        }
        if pkg.starts_with('-') || pkg.is_empty() {
            return Err(ArgsError::field(
                "name",
                format!("apt: invalid package name `{name}`"),
            ));
        }
    }
    Ok(())
}

/// `name=version` → (name, version).
fn split_spec(spec: &str) -> (&str, Option<&str>) {
    match spec.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (spec, None),
    }
}

/// Environment of every apt command (as Ansible's module sets it).
const ENV: &str = "DEBIAN_FRONTEND=noninteractive DEBIAN_PRIORITY=critical LANG=C LC_ALL=C \
LC_MESSAGES=C LC_CTYPE=C LANGUAGE=C\nexport DEBIAN_FRONTEND DEBIAN_PRIORITY LANG LC_ALL LC_MESSAGES LC_CTYPE LANGUAGE\n";

/// Ansible's marker of an apt-get run that changes nothing.
const APT_GET_ZERO: &str = "\n0 upgraded, 0 newly installed, 0 to remove";

/// What the probe saw of one package name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PkgInfo {
    /// dpkg's abbreviated status (`ii `, `rc `...), if dpkg knows the name.
    pub status: Option<String>,
    /// The installed (or last installed) version dpkg reports.
    pub version: Option<String>,
    /// apt knows the name (`apt-cache policy` printed it).
    pub known: bool,
    /// apt's candidate version.
    pub candidate: Option<String>,
    /// Every version in apt's version table.
    pub versions: Vec<String>,
}

impl PkgInfo {
    /// dpkg's current state is `installed`.
    pub fn installed(&self) -> bool {
        self.status
            .as_deref()
            .is_some_and(|s| s.chars().nth(1) == Some('i'))
    }

    /// Files (or configuration files) of the package are on the system.
    pub fn has_files(&self) -> bool {
        self.status
            .as_deref()
            .and_then(|s| s.chars().nth(1))
            .is_some_and(|c| c != 'n')
    }
}

/// What the probe saw of one `deb` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DebInfo {
    /// The path given.
    pub path: String,
    /// The file exists.
    pub exists: bool,
    /// Its `Package` field.
    pub package: String,
    /// Its `Version` field.
    pub version: String,
    /// That version is the one installed.
    pub installed: bool,
}

/// A command simulated by the probe: its exit status and outputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Simulated {
    /// Exit status.
    pub rc: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// What the probe found on the target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AptState {
    /// The package manager found: `apt`, or another one (`dnf`, `yum`...), or `none`.
    pub manager: String,
    /// The target's clock (seconds since the epoch).
    pub now: i64,
    /// The cache's mtime (0 if unknown).
    pub cache_time: i64,
    /// Per package name.
    pub pkgs: BTreeMap<String, PkgInfo>,
    /// Names marked as automatically installed.
    pub auto: BTreeSet<String>,
    /// The `deb` files.
    pub debs: Vec<DebInfo>,
    /// The simulated upgrade/autoremove/autoclean, if any.
    pub sim: Option<Simulated>,
}

/// The operation the arguments ask for (after `clean` and the cache update).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    /// Only the cache update (or clean) was asked for.
    CacheOnly,
    /// `apt-get upgrade`/`dist-upgrade`.
    Upgrade(Upgrade),
    /// Install `.deb` files.
    Deb(Vec<String>),
    /// `apt-get autoremove` / `autoclean` without packages.
    Cleanup(&'static str),
    /// Install or upgrade packages.
    Install,
    /// Remove packages.
    Remove,
}

fn op(a: &Args) -> Result<Op, ModuleError> {
    let names = a.packages_named();
    let wants_cache = a.update_cache == Some(true) || a.cache_valid_time != 0;
    if wants_cache && a.name.is_empty() && a.upgrade().is_none() && a.deb.is_none() {
        return Ok(Op::CacheOnly);
    }
    if let Some(u) = a.upgrade() {
        return Ok(Op::Upgrade(u));
    }
    if let Some(deb) = &a.deb {
        if a.state != State::Present {
            return Err(ModuleError::failed("deb only supports state=present"));
        }
        return Ok(Op::Deb(
            deb.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        ));
    }
    if a.state == State::Latest && a.name.iter().any(|n| n.trim() == "*") {
        if !names.is_empty() {
            return Err(ModuleError::failed(
                "unable to install additional packages when upgrading all installed packages",
            ));
        }
        return Ok(Op::Upgrade(Upgrade::Yes));
    }
    if let Some(bad) = names.iter().find(|n| n.matches('=').count() > 1) {
        return Err(ModuleError::failed(format!("invalid package spec: {bad}")));
    }
    if names.is_empty() {
        if a.autoclean {
            return Ok(Op::Cleanup("autoclean"));
        }
        if a.autoremove() {
            return Ok(Op::Cleanup("autoremove"));
        }
    }
    Ok(if a.state == State::Absent {
        Op::Remove
    } else {
        Op::Install
    })
}

/// `-o Dpkg::Options::=--X` for each of `dpkg_options`, and the lock timeout.
fn dpkg_opts(a: &Args) -> Vec<String> {
    let mut words = Vec::new();
    for opt in a.dpkg_options.split(',') {
        words.push("-o".to_string());
        words.push(format!("Dpkg::Options::=--{}", opt.trim()));
    }
    words.push("-o".into());
    words.push(format!("DPkg::Lock::Timeout={}", a.lock_timeout));
    words
}

fn flag(words: &mut Vec<String>, on: bool, word: &str) {
    if on {
        words.push(word.to_string());
    }
}

/// The `apt-get ... install PKGS` command, in Ansible's order.
fn install_cmd(a: &Args, pkgs: &[String], simulate: bool) -> Vec<String> {
    let mut w = vec!["apt-get".to_string(), "-y".into()];
    w.extend(dpkg_opts(a));
    flag(&mut w, a.only_upgrade, "--only-upgrade");
    flag(&mut w, a.force, "--force-yes");
    flag(&mut w, a.autoremove(), "--auto-remove");
    flag(&mut w, a.fail_on_autoremove, "--no-remove");
    flag(&mut w, simulate, "--simulate");
    w.push("install".into());
    w.extend(pkgs.iter().cloned());
    common_tail(a, &mut w);
    w
}

fn common_tail(a: &Args, w: &mut Vec<String>) {
    if let Some(rel) = &a.default_release {
        w.push("-t".into());
        w.push(rel.clone());
    }
    match a.install_recommends {
        Some(false) => w.extend(["-o".into(), "APT::Install-Recommends=no".into()]),
        Some(true) => w.extend(["-o".into(), "APT::Install-Recommends=yes".into()]),
        None => {}
    }
    flag(w, a.allow_unauthenticated, "--allow-unauthenticated");
    flag(w, a.allow_downgrade, "--allow-downgrades");
    flag(
        w,
        a.allow_change_held_packages,
        "--allow-change-held-packages",
    );
}

fn remove_cmd(a: &Args, pkgs: &[String], simulate: bool) -> Vec<String> {
    let mut w = vec!["apt-get".to_string(), "-q".into(), "-y".into()];
    w.extend(dpkg_opts(a));
    flag(&mut w, a.purge, "--purge");
    flag(&mut w, a.force, "--force-yes");
    flag(&mut w, a.autoremove(), "--auto-remove");
    flag(&mut w, simulate, "--simulate");
    flag(
        &mut w,
        a.allow_change_held_packages,
        "--allow-change-held-packages",
    );
    w.push("remove".into());
    w.extend(pkgs.iter().cloned());
    w
}

fn upgrade_cmd(a: &Args, mode: Upgrade, simulate: bool) -> Vec<String> {
    let mut w = vec!["apt-get".to_string(), "-y".into()];
    w.extend(dpkg_opts(a));
    flag(&mut w, a.force, "--force-yes");
    flag(&mut w, a.fail_on_autoremove, "--no-remove");
    flag(&mut w, a.allow_unauthenticated, "--allow-unauthenticated");
    flag(&mut w, a.allow_downgrade, "--allow-downgrades");
    flag(&mut w, simulate, "--simulate");
    if matches!(mode, Upgrade::Dist | Upgrade::Full) {
        w.push("dist-upgrade".into());
    } else {
        w.push("upgrade".into());
        w.push("--with-new-pkgs".into());
    }
    flag(&mut w, a.autoremove(), "--auto-remove");
    if let Some(rel) = &a.default_release {
        w.push("-t".into());
        w.push(rel.clone());
    }
    w
}

fn cleanup_cmd(a: &Args, operation: &str, simulate: bool) -> Vec<String> {
    let mut w = vec!["apt-get".to_string(), "-y".into()];
    w.extend(dpkg_opts(a));
    flag(&mut w, a.purge, "--purge");
    flag(&mut w, a.force, "--force-yes");
    w.push(operation.into());
    flag(&mut w, simulate, "--simulate");
    w
}

fn line(words: &[String]) -> String {
    sh::join(words.iter().map(String::as_str))
}

/// The probe: which package manager, the cache's age, and per name its dpkg
/// status and apt policy (or the deb files' fields, or a simulation).
pub fn probe_script(a: &Args) -> String {
    let mut s = String::from(ENV);
    s.push_str(
        "if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then\n\
         \x20 for m in dnf yum zypper apk pacman pkg; do\n\
         \x20   if command -v \"$m\" >/dev/null 2>&1; then printf 'MGR|%s\\n' \"$m\"; exit 0; fi\n\
         \x20 done\n\
         \x20 echo 'MGR|none'; exit 0\n\
         fi\n\
         echo 'MGR|apt'\n\
         printf 'NOW|%s\\n' \"$(date +%s)\"\n\
         if [ -e /var/lib/apt/periodic/update-success-stamp ]; then\n\
         \x20 printf 'CACHE|%s\\n' \"$(stat -c %Y /var/lib/apt/periodic/update-success-stamp)\"\n\
         elif [ -e /var/lib/apt/lists ]; then\n\
         \x20 printf 'CACHE|%s\\n' \"$(stat -c %Y /var/lib/apt/lists)\"\n\
         fi\n",
    );
    let rel = a
        .default_release
        .as_ref()
        .map(|r| format!(" -o {}", sh::quote(&format!("APT::Default-Release={r}"))))
        .unwrap_or_default();
    let names: Vec<&str> = a
        .packages_named()
        .into_iter()
        .map(|n| split_spec(n).0)
        .collect();
    let op = op(a).ok();
    if !names.is_empty() && matches!(op, Some(Op::Install | Op::Remove)) {
        s.push_str(&format!(
            "for n in {}; do\n",
            sh::join(names.iter().copied())
        ));
        s.push_str(
            "  printf 'PKG|%s\\n' \"$n\"\n\
             \x20 dpkg-query -W -f='DPKG|${db:Status-Abbrev}|${Version}\\n' \"$n\" 2>/dev/null\n",
        );
        s.push_str(&format!(
            "  apt-cache{rel} policy \"$n\" 2>/dev/null | sed 's/^/POL|/'\ndone\n"
        ));
        s.push_str(&format!(
            "apt-mark showauto {} 2>/dev/null | sed 's/^/AUTO|/'\n",
            sh::join(names.iter().copied())
        ));
    }
    match op {
        Some(Op::Deb(paths)) => {
            s.push_str(&format!(
                "for f in {}; do\n",
                sh::join(paths.iter().map(String::as_str))
            ));
            s.push_str(
                "  if [ -f \"$f\" ]; then\n\
                 \x20   p=$(dpkg-deb -f \"$f\" Package 2>/dev/null); v=$(dpkg-deb -f \"$f\" Version 2>/dev/null)\n\
                 \x20   iv=$(dpkg-query -W -f='${db:Status-Abbrev}|${Version}\\n' \"$p\" 2>/dev/null | head -n 1)\n\
                 \x20   same=0\n\
                 \x20   case $iv in ?i*) dpkg --compare-versions \"$v\" eq \"${iv#*|}\" && same=1 ;; esac\n\
                 \x20   printf 'DEB|%s|%s|%s|%s\\n' \"$same\" \"$p\" \"$v\" \"$f\"\n\
                 \x20 else printf 'DEB|missing|||%s\\n' \"$f\"; fi\n\
                 done\n",
            );
        }
        Some(Op::Upgrade(mode)) => s.push_str(&simulation(&upgrade_cmd(a, mode, true))),
        Some(Op::Cleanup(operation)) => s.push_str(&simulation(&cleanup_cmd(a, operation, true))),
        _ => {}
    }
    s
}

/// Runs a `--simulate` command last in the probe, framed by markers; its
/// stderr goes to the probe's stderr.
fn simulation(cmd: &[String]) -> String {
    format!(
        "echo '@@SIM'\n{} </dev/null\nrc=$?\necho\necho \"@@SIMRC|$rc\"\n",
        line(cmd)
    )
}

/// Reads the probe's output.
pub fn parse(out: &ExecOutput) -> Result<AptState, ModuleError> {
    let text = out.stdout_text();
    let (head, sim) = match text.split_once("@@SIM\n") {
        Some((head, rest)) => {
            let (body, rc) = rest
                .rsplit_once("\n@@SIMRC|")
                .ok_or_else(|| ModuleError::script("apt: unreadable probe output", out))?;
            let rc = rc.trim().parse().unwrap_or(1);
            (
                head.to_string(),
                Some(Simulated {
                    rc,
                    stdout: body.to_string(),
                    stderr: out.stderr_text(),
                }),
            )
        }
        None => (text, None),
    };
    if out.status != 0 {
        return Err(ModuleError::script("apt: probing the target failed", out));
    }
    let mut st = AptState {
        sim,
        ..AptState::default()
    };
    let mut current: Option<String> = None;
    for line in head.lines() {
        let Some((tag, rest)) = line.split_once('|') else {
            continue;
        };
        match tag {
            "MGR" => st.manager = rest.to_string(),
            "NOW" => st.now = rest.trim().parse().unwrap_or(0),
            "CACHE" => st.cache_time = rest.trim().parse().unwrap_or(0),
            "PKG" => {
                st.pkgs.entry(rest.to_string()).or_default();
                current = Some(rest.to_string());
            }
            "DPKG" => {
                if let Some(p) = current.as_ref().and_then(|c| st.pkgs.get_mut(c)) {
                    let (status, version) = rest.split_once('|').unwrap_or((rest, ""));
                    let installed = status.chars().nth(1) == Some('i');
                    // Several lines for several architectures: an installed one wins.
                    if p.status.is_none() || (installed && !p.installed()) {
                        p.status = Some(status.to_string());
                        p.version = Some(version.to_string()).filter(|v| !v.is_empty());
                    }
                }
            }
            "POL" => {
                if let Some(p) = current.as_ref().and_then(|c| st.pkgs.get_mut(c)) {
                    parse_policy_line(p, rest);
                }
            }
            "AUTO" => {
                st.auto.insert(rest.trim().to_string());
            }
            "DEB" => {
                let mut parts = rest.splitn(4, '|');
                let same = parts.next().unwrap_or_default();
                let package = parts.next().unwrap_or_default().to_string();
                let version = parts.next().unwrap_or_default().to_string();
                let path = parts.next().unwrap_or_default().to_string();
                st.debs.push(DebInfo {
                    path,
                    exists: same != "missing",
                    package,
                    version,
                    installed: same == "1",
                });
            }
            _ => {}
        }
    }
    Ok(st)
}

fn parse_policy_line(p: &mut PkgInfo, line: &str) {
    if !line.starts_with(' ') && line.ends_with(':') {
        p.known = true;
        return;
    }
    let trimmed = line.trim_start();
    if let Some(c) = trimmed.strip_prefix("Candidate:") {
        let c = c.trim();
        p.candidate = (c != "(none)" && !c.is_empty()).then(|| c.to_string());
        return;
    }
    // Version lines: ` *** 1.0 100` or `     1.0 500`; their sources are
    // indented by 8.
    let version = if let Some(v) = line.strip_prefix(" *** ") {
        Some(v)
    } else if line.starts_with("     ") && !line.starts_with("      ") {
        Some(trimmed)
    } else {
        None
    };
    if let Some(v) = version.and_then(|v| v.split_whitespace().next()) {
        p.versions.push(v.to_string());
    }
}

/// The packages `apt-get install` gets, as Ansible's `install()` decides.
fn to_install(a: &Args, st: &AptState) -> Result<Vec<String>, ModuleError> {
    let latest = a.state == State::Latest;
    let mut list = Vec::new();
    for spec in a.packages_named() {
        let (name, version) = split_spec(spec);
        let p = st.pkgs.get(name).cloned().unwrap_or_default();
        if !p.known && !p.installed() {
            return Err(ModuleError::failed(format!(
                "No package matching '{name}' is available"
            )));
        }
        let installed = p.installed();
        if p.known && !installed && p.candidate.is_none() && p.versions.is_empty() {
            return Err(ModuleError::failed(format!(
                "apt: {name} is a virtual package: name a package that provides it \
                 (virtual packages are not supported yet)"
            )));
        }
        if !installed && a.only_upgrade {
            continue;
        }
        // The best version: the pinned one if apt has it, else the candidate.
        let best = match version {
            Some(v) => p.versions.iter().find(|x| *x == v).cloned(),
            None => p.candidate.clone(),
        };
        let (version_ok, installable) = if installed {
            let current = p.version.clone().unwrap_or_default();
            let ok = version.is_none_or(|v| v == current);
            (ok, best.filter(|b| *b != current))
        } else {
            (false, best)
        };
        if !version_ok && installable.is_none() {
            return Err(ModuleError::failed(format!(
                "no available installation candidate for {spec}"
            )));
        }
        if let Some(v) = installable
            && ((!installed && !a.only_upgrade) || latest || !version_ok)
        {
            list.push(format!("{name}={v}"));
        }
    }
    Ok(list)
}

/// The packages `apt-get remove` gets, as Ansible's `remove()` decides.
fn to_remove(a: &Args, st: &AptState) -> Vec<String> {
    a.packages_named()
        .into_iter()
        .filter(|spec| {
            let (name, version) = split_spec(spec);
            let p = st.pkgs.get(name).cloned().unwrap_or_default();
            let version_installed =
                p.installed() && version.is_none_or(|v| p.version.as_deref() == Some(v));
            version_installed || (a.purge && p.has_files())
        })
        .map(str::to_string)
        .collect()
}

/// Ansible's `parse_diff`: apt's summary between "Reading state
/// information..." and the "N upgraded" line.
pub fn prepared(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let start = lines
        .iter()
        .position(|l| *l == "Resolving dependencies...")
        .or_else(|| {
            lines
                .iter()
                .position(|l| *l == "Reading state information...")
        })
        .map_or(0, |i| i + 1);
    let end = lines
        .iter()
        .position(|l| {
            let digits = l.chars().take_while(char::is_ascii_digit).count();
            digits > 0
                && (l[digits..].starts_with(" upgraded")
                    || l[digits..].starts_with(" packages upgraded"))
        })
        .map_or(lines.len(), |i| i + 1);
    lines
        .get(start..end.max(start))
        .unwrap_or_default()
        .join("\n")
}

/// Runs a command on the target with apt's environment.
async fn exec_cmd(
    host: &dyn Host,
    words: &[String],
    extra: &str,
) -> Result<ExecOutput, ModuleError> {
    let script = format!("{ENV}{} </dev/null || exit $?\n{extra}", line(words));
    // dpkg's maintainer scripts start services.
    Ok(host.exec(Exec::script(script).lingering()).await?)
}

fn cmd_failed(msg: String, out: &ExecOutput) -> ModuleError {
    ModuleError::applying(&msg, out)
}

fn outputs(values: &mut Map<String, Value>, stdout: &str, stderr: &str) {
    values.insert("stdout".into(), stdout.into());
    values.insert("stderr".into(), stderr.into());
}

/// `apt-get update` with Ansible's retries and backoff; on failure the
/// script exits with a `tend: Failed to update apt cache...` message.
pub fn update_cache_script(retries: i64, max_delay: i64) -> String {
    format!(
        "{ENV}i=0\n\
         while :; do\n\
         \x20 if err=$(apt-get update -q -o APT::Update::Error-Mode=any 2>&1 >/dev/null </dev/null); then break; fi\n\
         \x20 i=$((i + 1))\n\
         \x20 if [ \"$i\" -ge {retries} ]; then\n\
         \x20   printf 'tend: Failed to update apt cache after %s retries: %s\\n' {retries} \"$err\" >&2; exit 1\n\
         \x20 fi\n\
         \x20 d=$((1 << (i - 1))); if [ \"$d\" -gt {max} ]; then d={max}; fi\n\
         \x20 sleep \"$d\"\n\
         done\n",
        max = max_delay.max(0),
    )
}

/// The cache update, then the probe again.
fn update_script(a: &Args) -> String {
    format!(
        "{}{}",
        update_cache_script(a.update_cache_retries, a.update_cache_retry_max_delay),
        probe_script(a)
    )
}

/// Runs `apt` (also for `package`): probe, cache, then the operation.
/// `who` names the module in messages.
pub async fn run(
    a: &Args,
    ctx: &Context,
    host: &dyn Host,
    who: &str,
) -> Result<Outcome, ModuleError> {
    let out = host.exec(Exec::script(probe_script(a))).await?;
    let st = parse(&out)?;
    run_probed(a, ctx, host, who, st).await
}

/// [`run`] after the probe.
pub async fn run_probed(
    a: &Args,
    ctx: &Context,
    host: &dyn Host,
    who: &str,
    mut st: AptState,
) -> Result<Outcome, ModuleError> {
    if st.manager != "apt" {
        return Err(ModuleError::failed(
            if who == "apt" || st.manager == "none" {
                format!(
                    "{who}: apt-get and dpkg-query were not found on the target (package manager: {})",
                    st.manager
                )
            } else {
                format!(
                    "{who}: the {} package manager is not supported yet (only apt)",
                    st.manager
                )
            },
        ));
    }
    let op = op(a)?;
    let only_clean = a.clean && a.name.is_empty() && a.upgrade().is_none() && a.deb.is_none();
    if a.clean {
        let (stdout, stderr) = if ctx.check_mode {
            (String::new(), String::new())
        } else {
            let cmd = vec!["apt-get".to_string(), "clean".into()];
            let out = exec_cmd(host, &cmd, "").await?;
            if out.status != 0 || !out.stderr.is_empty() {
                return Err(cmd_failed("apt-get clean failed".into(), &out));
            }
            (out.stdout_text(), out.stderr_text())
        };
        if only_clean {
            let mut o = Outcome::changed().with_msg(stdout.clone());
            outputs(&mut o.values, &stdout, &stderr);
            changed_diff(&mut o, ctx, &stdout);
            return Ok(o);
        }
    }

    let mut cache_updated = false;
    let mut cache_time = st.cache_time;
    if a.update_cache == Some(true) || a.cache_valid_time != 0 {
        let fresh = st.cache_time + a.cache_valid_time >= st.now;
        if !fresh {
            if a.update_cache_retries <= 0 {
                return Err(ModuleError::failed(format!(
                    "Failed to update apt cache after {} retries: unknown reason",
                    a.update_cache_retries
                )));
            }
            if ctx.check_mode {
                cache_updated = true;
            } else {
                let out = host.exec(Exec::script(update_script(a))).await?;
                if out.status != 0 {
                    return Err(cmd_failed("apt: updating the cache failed".into(), &out));
                }
                st = parse(&out)?;
                cache_updated = st.cache_time != cache_time;
                cache_time = st.cache_time;
            }
        }
    }
    let cache_values = |o: Outcome| {
        o.with("cache_updated", cache_updated)
            .with("cache_update_time", cache_time)
    };

    match op {
        Op::CacheOnly => Ok(cache_values(Outcome {
            changed: cache_updated,
            ..Outcome::ok()
        })),
        Op::Upgrade(mode) => {
            let sim = st.sim.clone().unwrap_or_default();
            if sim.rc != 0 {
                let cmd = if matches!(mode, Upgrade::Dist | Upgrade::Full) {
                    "dist-upgrade"
                } else {
                    "upgrade --with-new-pkgs"
                };
                return Err(ModuleError::Failed {
                    msg: format!("'apt-get {cmd}' failed: {}", sim.stderr),
                    values: [
                        ("stdout".to_string(), Value::from(sim.stdout)),
                        ("rc".to_string(), Value::from(sim.rc)),
                    ]
                    .into_iter()
                    .collect(),
                });
            }
            let changed = !sim.stdout.contains(APT_GET_ZERO);
            let (stdout, stderr) = if changed && !ctx.check_mode {
                let out = exec_cmd(host, &upgrade_cmd(a, mode, false), "").await?;
                if out.status != 0 {
                    return Err(cmd_failed(
                        format!("'{}' failed", line(&upgrade_cmd(a, mode, false))),
                        &out,
                    ));
                }
                (out.stdout_text(), out.stderr_text())
            } else {
                (sim.stdout, sim.stderr)
            };
            let mut o = Outcome {
                changed,
                msg: Some(stdout.clone()),
                ..Outcome::ok()
            };
            outputs(&mut o.values, &stdout, &stderr);
            if changed {
                changed_diff(&mut o, ctx, &stdout);
            }
            Ok(o)
        }
        Op::Cleanup(operation) => {
            let sim = st.sim.clone().unwrap_or_default();
            let cmd = cleanup_cmd(a, operation, false);
            if sim.rc != 0 {
                return Err(ModuleError::Failed {
                    msg: format!("'apt-get {operation}' failed: {}", sim.stderr),
                    values: [
                        ("stdout".to_string(), Value::from(sim.stdout)),
                        ("stderr".to_string(), Value::from(sim.stderr)),
                        ("rc".to_string(), Value::from(sim.rc)),
                    ]
                    .into_iter()
                    .collect(),
                });
            }
            let marker = if operation == "autoremove" {
                "The following packages will be REMOVED"
            } else {
                "Del "
            };
            let changed = sim.stdout.contains(marker);
            let (stdout, stderr) = if changed && !ctx.check_mode {
                let out = exec_cmd(host, &cmd, "").await?;
                if out.status != 0 {
                    return Err(cmd_failed(format!("'apt-get {operation}' failed"), &out));
                }
                (out.stdout_text(), out.stderr_text())
            } else {
                (sim.stdout, sim.stderr)
            };
            let mut o = Outcome {
                changed,
                ..Outcome::ok()
            };
            outputs(&mut o.values, &stdout, &stderr);
            if changed {
                changed_diff(&mut o, ctx, &stdout);
            }
            Ok(o)
        }
        Op::Deb(_) => {
            let mut files = Vec::new();
            for d in &st.debs {
                if !d.exists {
                    return Err(ModuleError::failed(format!(
                        "Unable to install package: no such file: {}",
                        d.path
                    )));
                }
                if !d.installed {
                    files.push(if d.path.contains('/') {
                        d.path.clone()
                    } else {
                        format!("./{}", d.path)
                    });
                }
            }
            if files.is_empty() {
                let mut o = Outcome::ok();
                outputs(&mut o.values, "", "");
                return Ok(o);
            }
            apply(
                a,
                ctx,
                host,
                &install_cmd(a, &files, ctx.check_mode),
                "",
                None,
            )
            .await
        }
        Op::Install => {
            let pkgs = to_install(a, &st)?;
            // Ansible marks every named package as manually installed.
            let marks: Vec<&str> = a
                .packages_named()
                .into_iter()
                .map(|s| split_spec(s).0)
                .filter(|n| st.auto.contains(*n))
                .collect();
            let mark = if marks.is_empty() || ctx.check_mode {
                String::new()
            } else {
                let cmd = format!("apt-mark manual {}", sh::join(marks.iter().copied()));
                format!(
                    "out=$({cmd} 2>&1) || {{ printf 'tend: %s %s\\n' {} \"$out\" >&2; exit 1; }}\n",
                    sh::quote(&format!("'{cmd}' failed:"))
                )
            };
            if pkgs.is_empty() {
                if !mark.is_empty() {
                    let out = host.exec(Exec::script(format!("{ENV}{mark}"))).await?;
                    if out.status != 0 {
                        return Err(ModuleError::applying("apt-mark failed", &out));
                    }
                }
                return Ok(cache_values(Outcome::ok()));
            }
            let o = apply(
                a,
                ctx,
                host,
                &install_cmd(a, &pkgs, ctx.check_mode),
                &mark,
                None,
            )
            .await?;
            Ok(cache_values(o))
        }
        Op::Remove => {
            let pkgs = to_remove(a, &st);
            if pkgs.is_empty() {
                return Ok(Outcome::ok());
            }
            let quoted: Vec<String> = pkgs.iter().map(|p| format!("'{p}'")).collect();
            apply(
                a,
                ctx,
                host,
                &remove_cmd(a, &pkgs, ctx.check_mode),
                "",
                Some(format!("'apt-get remove {}' failed", quoted.join(" "))),
            )
            .await
        }
    }
}

/// Runs an install/remove command (simulated in check mode): changed, with
/// its outputs and `prepared` diff.
async fn apply(
    _a: &Args,
    ctx: &Context,
    host: &dyn Host,
    cmd: &[String],
    extra: &str,
    failed: Option<String>,
) -> Result<Outcome, ModuleError> {
    let out = exec_cmd(host, cmd, extra).await?;
    if out.status != 0 {
        let msg = failed.unwrap_or_else(|| format!("'{}' failed", line(cmd)));
        return Err(cmd_failed(msg, &out));
    }
    let stdout = out.stdout_text();
    let mut o = Outcome::changed();
    outputs(&mut o.values, &stdout, &out.stderr_text());
    changed_diff(&mut o, ctx, &stdout);
    Ok(o)
}

/// A change's diff: apt's summary with --diff; without it Ansible's module
/// still returns `diff`, empty.
fn changed_diff(o: &mut Outcome, ctx: &Context, stdout: &str) {
    if ctx.diff {
        o.diff.push(Diff::prepared(prepared(stdout)));
    } else {
        o.values.insert("diff".into(), Value::Object(Map::new()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Replay, out};
    use serde_json::json;

    fn args(v: Value) -> Args {
        let a: Args = args::parse(&v).unwrap();
        validate(&a).unwrap();
        a
    }

    fn ctx(check_mode: bool, diff: bool) -> Context {
        Context { check_mode, diff }
    }

    const HEAD: &str = "MGR|apt\nNOW|1000\nCACHE|900\n";

    fn pkg(name: &str, dpkg: Option<(&str, &str)>, policy: &str) -> String {
        let mut s = format!("PKG|{name}\n");
        if let Some((st, v)) = dpkg {
            s.push_str(&format!("DPKG|{st}|{v}\n"));
        }
        for l in policy.lines() {
            s.push_str(&format!("POL|{l}\n"));
        }
        s
    }

    const HELLO_NEW: &str = "hello:\n  Installed: (none)\n  Candidate: 2.0\n  Version table:\n     2.0 500\n        500 file:/srv/repo ./ Packages\n     1.0 500\n        500 file:/srv/repo ./ Packages\n";
    const HELLO_OLD: &str = "hello:\n  Installed: 1.0\n  Candidate: 2.0\n  Version table:\n     2.0 500\n        500 file:/srv/repo ./ Packages\n *** 1.0 500\n        500 file:/srv/repo ./ Packages\n        100 /var/lib/dpkg/status\n";

    const APT_OUT: &str = "Reading package lists...\nBuilding dependency tree...\nReading state information...\nThe following NEW packages will be installed:\n  hello\n0 upgraded, 1 newly installed, 0 to remove and 0 not upgraded.\nInst hello (2.0 file:/srv/repo ./ [all])\nConf hello (2.0 file:/srv/repo ./ [all])\n";

    #[test]
    fn parses_dpkg_and_policy() {
        let text = format!(
            "{HEAD}{}{}AUTO|hello\n",
            pkg("hello", Some(("ii ", "1.0")), HELLO_OLD),
            pkg("nope", None, "")
        );
        let st = parse(&out(0, &text)).unwrap();
        assert_eq!(st.now, 1000);
        assert_eq!(st.cache_time, 900);
        let h = &st.pkgs["hello"];
        assert!(h.installed() && h.known);
        assert_eq!(h.version.as_deref(), Some("1.0"));
        assert_eq!(h.candidate.as_deref(), Some("2.0"));
        assert_eq!(h.versions, vec!["2.0", "1.0"]);
        assert!(!st.pkgs["nope"].known);
        assert!(st.auto.contains("hello"));
    }

    #[test]
    fn parses_a_simulation_and_debs() {
        let text = format!(
            "{HEAD}DEB|1|hello|1.0|/tmp/a|b.deb\nDEB|missing|||/x.deb\n@@SIM\n{APT_OUT}\n@@SIMRC|0\n"
        );
        let st = parse(&out(0, &text)).unwrap();
        assert_eq!(st.debs[0].path, "/tmp/a|b.deb");
        assert!(st.debs[0].installed && st.debs[0].exists);
        assert!(!st.debs[1].exists);
        let sim = st.sim.unwrap();
        assert_eq!(sim.stdout, APT_OUT);
        assert_eq!(sim.rc, 0);
    }

    #[test]
    fn prepared_is_the_summary() {
        assert_eq!(
            prepared(APT_OUT),
            "The following NEW packages will be installed:\n  hello\n0 upgraded, 1 newly installed, 0 to remove and 0 not upgraded."
        );
        assert_eq!(prepared("plain"), "plain");
    }

    fn state(pkgs: &[String]) -> AptState {
        parse(&out(0, &format!("{HEAD}{}", pkgs.concat()))).unwrap()
    }

    #[test]
    fn install_decisions() {
        let new = state(&[pkg("hello", None, HELLO_NEW)]);
        let old = state(&[pkg("hello", Some(("ii ", "1.0")), HELLO_OLD)]);
        let present = args(json!({"name": "hello"}));
        let latest = args(json!({"name": "hello", "state": "latest"}));
        let pinned = args(json!({"name": "hello=1.0"}));
        let missing = args(json!({"name": "hello=3.0"}));
        let only = args(json!({"name": "hello", "only_upgrade": true, "state": "latest"}));
        assert_eq!(to_install(&present, &new).unwrap(), vec!["hello=2.0"]);
        assert!(to_install(&present, &old).unwrap().is_empty());
        assert_eq!(to_install(&latest, &old).unwrap(), vec!["hello=2.0"]);
        assert!(to_install(&pinned, &old).unwrap().is_empty());
        assert_eq!(to_install(&pinned, &new).unwrap(), vec!["hello=1.0"]);
        assert_eq!(
            to_install(&missing, &old).unwrap_err().to_string(),
            "no available installation candidate for hello=3.0"
        );
        assert!(to_install(&only, &new).unwrap().is_empty());
        assert_eq!(to_install(&only, &old).unwrap(), vec!["hello=2.0"]);
        let virt = state(&[pkg(
            "mail-transport-agent",
            None,
            "mail-transport-agent:\n  Installed: (none)\n  Candidate: (none)\n  Version table:\n",
        )]);
        assert!(
            to_install(&args(json!({"name": "mail-transport-agent"})), &virt)
                .unwrap_err()
                .to_string()
                .contains("virtual package")
        );
        let unknown = state(&[pkg("ghost", None, "")]);
        assert_eq!(
            to_install(&args(json!({"name": "ghost"})), &unknown)
                .unwrap_err()
                .to_string(),
            "No package matching 'ghost' is available"
        );
    }

    #[test]
    fn remove_decisions() {
        let old = state(&[pkg("hello", Some(("ii ", "1.0")), HELLO_OLD)]);
        let rc = state(&[pkg("hello", Some(("rc ", "1.0")), HELLO_NEW)]);
        let absent = args(json!({"name": "hello", "state": "absent"}));
        let purge = args(json!({"name": "hello", "state": "absent", "purge": true}));
        let other = args(json!({"name": "hello=2.0", "state": "absent"}));
        assert_eq!(to_remove(&absent, &old), vec!["hello"]);
        assert!(to_remove(&absent, &rc).is_empty());
        assert_eq!(to_remove(&purge, &rc), vec!["hello"]);
        assert!(to_remove(&other, &old).is_empty());
    }

    #[test]
    fn commands_follow_ansible() {
        let a = args(
            json!({"name": "hello", "install_recommends": false, "default_release": "bookworm-backports", "autoremove": true}),
        );
        assert_eq!(
            line(&install_cmd(&a, &["hello=2.0".into()], true)),
            "apt-get -y -o 'Dpkg::Options::=--force-confdef' -o 'Dpkg::Options::=--force-confold' \
             -o 'DPkg::Lock::Timeout=60' --auto-remove --simulate install hello=2.0 \
             -t bookworm-backports -o 'APT::Install-Recommends=no'"
        );
        let a = args(json!({"name": "hello", "state": "absent", "purge": true}));
        assert_eq!(
            line(&remove_cmd(&a, &["hello".into()], false)),
            "apt-get -q -y -o 'Dpkg::Options::=--force-confdef' -o 'Dpkg::Options::=--force-confold' \
             -o 'DPkg::Lock::Timeout=60' --purge remove hello"
        );
    }

    #[test]
    fn unsupported_and_invalid_arguments() {
        let err = |v: Value| {
            validate(&args::parse::<Args>(&v).unwrap())
                .unwrap_err()
                .message
        };
        assert_eq!(
            err(json!({"name": "foo*"})),
            "apt: wildcards in package names and versions (`foo*`) are not supported yet"
        );
        assert_eq!(
            err(json!({"name": "foo", "state": "build-dep"})),
            "apt: state `build-dep` is not supported yet"
        );
        assert_eq!(
            err(json!({"state": "present"})),
            "one of the following is required: autoremove, deb, package, update_cache, upgrade"
        );
        assert_eq!(
            err(json!({"name": "foo", "deb": "/x.deb"})),
            "parameters are mutually exclusive: deb|package"
        );
        let a: Args = args::parse(&json!({"upgrade": false, "update_cache": true})).unwrap();
        assert_eq!(a.upgrade, Some(Upgrade::No));
        let a: Args = args::parse(&json!({"upgrade": "yes"})).unwrap();
        assert_eq!(a.upgrade, Some(Upgrade::Yes));
    }

    #[tokio::test]
    async fn unchanged_is_one_round_trip_and_check_mode_simulates() {
        let old = format!("{HEAD}{}", pkg("hello", Some(("ii ", "1.0")), HELLO_OLD));
        let host = Replay::outputs(vec![out(0, &old)]);
        let o = run(
            &args(json!({"name": "hello"})),
            &ctx(false, false),
            &host,
            "apt",
        )
        .await
        .unwrap();
        assert!(!o.changed);
        assert_eq!(host.scripts().len(), 1);
        assert_eq!(o.values["cache_updated"], json!(false));
        assert_eq!(o.values["cache_update_time"], json!(900));

        // latest in check mode: the probe, then the same command simulated.
        let host = Replay::outputs(vec![out(0, &old), out(0, APT_OUT)]);
        let a = args(json!({"name": "hello", "state": "latest"}));
        let o = run(&a, &ctx(true, true), &host, "apt").await.unwrap();
        assert!(o.changed);
        let scripts = host.scripts();
        assert_eq!(scripts.len(), 2);
        assert!(
            scripts[1].contains("--simulate install hello=2.0"),
            "{}",
            scripts[1]
        );
        assert_eq!(o.values["stdout"], json!(APT_OUT));
        assert_eq!(
            o.diff[0].prepared.as_deref(),
            Some(prepared(APT_OUT).as_str())
        );
        assert!(!o.values.contains_key("diff"));
        // Without --diff the change still returns a `diff`, empty, as Ansible.
        let host = Replay::outputs(vec![out(0, &old), out(0, APT_OUT)]);
        let o = run(&a, &ctx(true, false), &host, "apt").await.unwrap();
        assert!(o.changed && o.diff.is_empty());
        assert_eq!(o.values["diff"], json!({}));
    }

    #[tokio::test]
    async fn expired_cache_is_updated_then_probed_again() {
        let probe1 = format!("{HEAD}{}", pkg("hello", None, HELLO_NEW));
        let probe2 = format!(
            "MGR|apt\nNOW|1000\nCACHE|1000\n{}",
            pkg("hello", None, HELLO_NEW)
        );
        let a = args(json!({"name": "hello", "update_cache": true, "cache_valid_time": 50}));
        let host = Replay::outputs(vec![out(0, &probe1), out(0, &probe2), out(0, APT_OUT)]);
        let o = run(&a, &ctx(false, false), &host, "apt").await.unwrap();
        let scripts = host.scripts();
        assert!(scripts[1].contains("apt-get update -q"));
        assert!(scripts[2].contains(" install hello=2.0"));
        assert!(!scripts[2].contains("--simulate"));
        assert!(o.changed);
        assert_eq!(o.values["cache_updated"], json!(true));
        assert_eq!(o.values["cache_update_time"], json!(1000));

        // Fresh enough: no update.
        let a = args(json!({"update_cache": true, "cache_valid_time": 100}));
        let host = Replay::outputs(vec![out(0, HEAD)]);
        let o = run(&a, &ctx(false, false), &host, "apt").await.unwrap();
        assert!(!o.changed);
        assert_eq!(host.scripts().len(), 1);

        // Check mode: reported as updated, not done.
        let a = args(json!({"update_cache": true}));
        let host = Replay::outputs(vec![out(0, HEAD)]);
        let o = run(&a, &ctx(true, false), &host, "apt").await.unwrap();
        assert!(o.changed);
        assert_eq!(o.values["cache_updated"], json!(true));
        assert_eq!(host.scripts().len(), 1);
    }

    #[tokio::test]
    async fn upgrade_uses_the_probed_simulation() {
        let zero = "Reading package lists...\nBuilding dependency tree...\nReading state information...\nCalculating upgrade...\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n";
        let probe = format!("{HEAD}@@SIM\n{zero}\n@@SIMRC|0\n");
        let host = Replay::outputs(vec![out(0, &probe)]);
        let a = args(json!({"upgrade": "dist"}));
        assert!(probe_script(&a).contains("--simulate dist-upgrade"));
        let o = run(&a, &ctx(false, false), &host, "apt").await.unwrap();
        assert!(!o.changed);
        assert_eq!(o.msg.as_deref(), Some(zero));
        assert_eq!(host.scripts().len(), 1);
    }

    #[tokio::test]
    async fn deb_files_install_unless_that_version_is_installed() {
        let probe =
            format!("{HEAD}DEB|1|hello|1.0|/srv/hello_1.0_all.deb\nDEB|0|tool|2.0|tool.deb\n");
        let host = Replay::outputs(vec![out(0, &probe), out(0, APT_OUT)]);
        let a = args(json!({"deb": "/srv/hello_1.0_all.deb,tool.deb"}));
        assert!(probe_script(&a).contains("dpkg-deb -f"));
        let o = run(&a, &ctx(false, false), &host, "apt").await.unwrap();
        assert!(o.changed);
        let s = &host.scripts()[1];
        assert!(s.contains(" install ./tool.deb"), "{s}");
        assert!(!s.contains("hello_1.0"), "{s}");
        assert!(!o.values.contains_key("cache_updated"));

        assert_eq!(
            failure(
                &format!("{HEAD}DEB|missing|||/nope.deb\n"),
                json!({"deb": "/nope.deb"})
            )
            .await,
            "Unable to install package: no such file: /nope.deb"
        );
    }

    /// The message of a run failing right after this probe output.
    async fn failure(probe: &str, a: Value) -> String {
        let host = Replay::outputs(vec![out(0, probe)]);
        run(&args(a), &ctx(false, false), &host, "apt")
            .await
            .unwrap_err()
            .to_string()
    }

    #[tokio::test]
    async fn a_failed_removal_carries_apt_output() {
        let old = format!("{HEAD}{}", pkg("hello", Some(("ii ", "1.0")), HELLO_OLD));
        let failed = ExecOutput {
            status: 100,
            stdout: b"Reading package lists...\n".to_vec(),
            stderr: b"E: Sub-process /usr/bin/dpkg returned an error code (1)\n".to_vec(),
        };
        let host = Replay::outputs(vec![out(0, &old), failed]);
        let a = args(json!({"name": "hello", "state": "absent"}));
        match run(&a, &ctx(false, false), &host, "apt").await.unwrap_err() {
            ModuleError::Failed { msg, values } => {
                assert_eq!(
                    msg,
                    "'apt-get remove 'hello'' failed: E: Sub-process /usr/bin/dpkg returned an error code (1)"
                );
                assert_eq!(values["rc"], json!(100));
                assert_eq!(values["stdout"], json!("Reading package lists...\n"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn other_package_managers_are_named() {
        assert_eq!(
            failure("MGR|dnf\n", json!({"name": "x"})).await,
            "apt: apt-get and dpkg-query were not found on the target (package manager: dnf)"
        );
    }
}
