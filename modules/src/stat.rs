//! The `stat` module: retrieve facts about a file or file system path.
//!
//! It never changes anything. The facts are in the `stat` dictionary of the
//! registered result; when the path does not exist, `stat.exists` is false and
//! nothing else is reported. Symlinks are reported as links unless `follow` is
//! true. The checksum is computed on the target with the `<algorithm>sum`
//! tool, and the MIME type with `file` when it is installed. One round trip.
//!
//! # Examples
//!
//! ```yaml
//! - name: Look at the application's configuration
//!   ansible.builtin.stat:
//!     path: /etc/app/app.conf
//!   register: conf
//!
//! - name: Fail when it is world-writable
//!   ansible.builtin.fail:
//!     msg: /etc/app/app.conf must not be world-writable
//!   when: conf.stat.exists and conf.stat.woth
//!
//! - name: Find out where a symlink points
//!   ansible.builtin.stat:
//!     path: /srv/app/current
//!   register: current
//!
//! - name: Use the link's target
//!   ansible.builtin.debug:
//!     msg: "current release: {{ current.stat.lnk_source }}"
//!   when: current.stat.islnk is defined and current.stat.islnk
//!
//! - name: Get a SHA-256 checksum without the MIME type
//!   ansible.builtin.stat:
//!     path: /srv/downloads/app.tar.gz
//!     checksum_algorithm: sha256
//!     get_mime: false
//!   register: archive
//! ```
//!
//! # Return values
//!
//! - `stat` (dict): The facts: `exists` (bool); and, when the path exists, `path`, `mode` (octal `str`), `isdir`, `isreg`, `islnk`, `ischr`, `isblk`, `isfifo`, `issock`, `uid`, `gid`, `pw_name`, `gr_name`, `size`, `inode`, `dev`, `nlink`, `atime`, `mtime`, `ctime`, the permission bits (`rusr`, `wusr`, `xusr`, `rgrp`, `wgrp`, `xgrp`, `roth`, `woth`, `xoth`, `isuid`, `isgid`), `readable`, `writeable`, `executable`, `blocks`, `block_size`, `device_type` (0 unless a device), `lnk_source` and `lnk_target` (symlinks), `checksum` (readable regular files, with `get_checksum`), `mimetype` and `charset` (with `get_mime`; `unknown` when `file` cannot tell), `version`, `attributes` and `attr_flags` (with `get_attributes`).

use crate::args::{ArgsError, de};
use crate::choice;
use crate::fileops::{self, Kind, PathInfo, Probe, ProbeOutput, StatOpts};
use crate::host::Host;
use crate::module::{Context, ModuleError, TypedModule};
use crate::outcome::Outcome;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value, json};

choice! {
    /// `checksum_algorithm` of `stat`.
    pub enum Algorithm {
        /// MD5.
        Md5 = ["md5"],
        /// SHA-1 (default).
        Sha1 = ["sha1"],
        /// SHA-224.
        Sha224 = ["sha224"],
        /// SHA-256.
        Sha256 = ["sha256"],
        /// SHA-384.
        Sha384 = ["sha384"],
        /// SHA-512.
        Sha512 = ["sha512"],
    }
}

fn yes() -> bool {
    true
}

fn sha1() -> Algorithm {
    Algorithm::Sha1
}

/// Arguments of `stat` (Ansible's names and aliases).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The path to report on.
    #[serde(alias = "dest", alias = "name", deserialize_with = "de::string")]
    pub path: String,
    /// Follow a symlink and report on what it points to.
    #[serde(default, deserialize_with = "de::bool")]
    pub follow: bool,
    /// Return the checksum of a readable regular file.
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub get_checksum: bool,
    /// The checksum's algorithm (run as `<algorithm>sum` on the target).
    #[serde(default = "sha1", alias = "checksum", alias = "checksum_algo")]
    pub checksum_algorithm: Algorithm,
    /// Return `mimetype` and `charset` (using `file` on the target when installed).
    #[serde(
        default = "yes",
        alias = "mime",
        alias = "mime_type",
        alias = "mime-type",
        deserialize_with = "de::bool"
    )]
    pub get_mime: bool,
    /// Return `version`, `attributes` and `attr_flags` (using `lsattr -vd`
    /// on the target when installed).
    #[serde(
        default = "yes",
        alias = "attr",
        alias = "attributes",
        deserialize_with = "de::bool"
    )]
    pub get_attributes: bool,
}

/// The `stat` module.
pub struct Stat;

impl Stat {
    /// The probe script for these arguments (one round trip).
    pub fn probe(args: &Args) -> crate::host::Exec {
        let mut p = Probe::new();
        let opts = StatOpts {
            follow: args.follow,
            checksum: args
                .get_checksum
                .then_some(args.checksum_algorithm.as_str()),
            access: true,
            mime: args.get_mime,
            attrs: args.get_attributes,
            ..StatOpts::default()
        };
        p.path("stat", &args.path, &opts);
        p.finish()
    }

    /// Ansible's `stat` dictionary from a probed path.
    pub fn facts(info: &PathInfo, args: &Args) -> Map<String, Value> {
        let mut m = Map::new();
        if !info.exists() {
            m.insert("exists".into(), false.into());
            return m;
        }
        let kind = info.kind();
        let mode = info.mode;
        let access = info.access.clone().unwrap_or_default();
        let bit = |b: u32| Value::Bool(mode & b != 0);
        m.insert("exists".into(), true.into());
        m.insert("path".into(), info.path.clone().into());
        m.insert("mode".into(), fileops::fmt_mode(mode).into());
        m.insert("isdir".into(), (kind == Kind::Directory).into());
        m.insert("ischr".into(), (kind == Kind::Char).into());
        m.insert("isblk".into(), (kind == Kind::Block).into());
        m.insert("isreg".into(), (kind == Kind::File).into());
        m.insert("isfifo".into(), (kind == Kind::Fifo).into());
        m.insert("islnk".into(), (kind == Kind::Link).into());
        m.insert("issock".into(), (kind == Kind::Socket).into());
        m.insert("uid".into(), info.uid.into());
        m.insert("gid".into(), info.gid.into());
        m.insert("size".into(), info.size.into());
        m.insert("inode".into(), info.inode.into());
        m.insert("dev".into(), info.dev.into());
        m.insert("nlink".into(), info.nlink.into());
        m.insert("atime".into(), json!(info.atime));
        m.insert("mtime".into(), json!(info.mtime));
        m.insert("ctime".into(), json!(info.ctime));
        m.insert("wusr".into(), bit(0o200));
        m.insert("rusr".into(), bit(0o400));
        m.insert("xusr".into(), bit(0o100));
        m.insert("wgrp".into(), bit(0o020));
        m.insert("rgrp".into(), bit(0o040));
        m.insert("xgrp".into(), bit(0o010));
        m.insert("woth".into(), bit(0o002));
        m.insert("roth".into(), bit(0o004));
        m.insert("xoth".into(), bit(0o001));
        m.insert("isuid".into(), bit(0o4000));
        m.insert("isgid".into(), bit(0o2000));
        m.insert("blocks".into(), info.blocks.into());
        m.insert("block_size".into(), info.block_size.into());
        // Python's `st_rdev` (0 for what is not a device), glibc's encoding.
        let (major, minor) = info.rdev;
        m.insert(
            "device_type".into(),
            (((major & 0xffff_f000) << 32)
                | ((major & 0xfff) << 8)
                | ((minor & 0xffff_ff00) << 12)
                | (minor & 0xff))
                .into(),
        );
        m.insert("readable".into(), access.contains('r').into());
        m.insert("writeable".into(), access.contains('w').into());
        m.insert("executable".into(), access.contains('x').into());
        m.insert(
            "pw_name".into(),
            info.owner.clone().map(Value::from).unwrap_or(Value::Null),
        );
        m.insert(
            "gr_name".into(),
            info.group.clone().map(Value::from).unwrap_or(Value::Null),
        );
        if kind == Kind::Link {
            m.insert(
                "lnk_source".into(),
                info.real.clone().map(Value::from).unwrap_or(Value::Null),
            );
            m.insert(
                "lnk_target".into(),
                info.target.clone().map(Value::from).unwrap_or(Value::Null),
            );
        }
        if kind == Kind::File && args.get_checksum && access.contains('r') {
            m.insert(
                "checksum".into(),
                info.checksum
                    .clone()
                    .map(Value::from)
                    .unwrap_or(Value::Null),
            );
        }
        if args.get_mime {
            let (mime, charset) = info
                .mime
                .clone()
                .unwrap_or(("unknown".into(), "unknown".into()));
            m.insert("mimetype".into(), mime.into());
            m.insert("charset".into(), charset.into());
        }
        if args.get_attributes {
            let flags = info.attr_flags.clone().unwrap_or_default();
            m.insert(
                "version".into(),
                info.attr_version.clone().map_or(Value::Null, Value::from),
            );
            m.insert("attributes".into(), fileops::attribute_names(&flags).into());
            m.insert("attr_flags".into(), flags.into());
        }
        m
    }
}

#[async_trait]
impl TypedModule for Stat {
    type Args = Args;
    const NAME: &'static str = "stat";

    fn validate(_a: &Args) -> Result<(), ArgsError> {
        Ok(())
    }

    async fn run(
        &self,
        args: Args,
        _ctx: &Context,
        host: &dyn Host,
    ) -> Result<Outcome, ModuleError> {
        let out = host.exec(Stat::probe(&args).read_only()).await?;
        let probe = ProbeOutput::parse(&out)?;
        let info = probe.path("stat").map_err(|e| match e {
            ModuleError::Failed { msg, mut values } => {
                values.insert("path".into(), args.path.clone().into());
                ModuleError::Failed { msg, values }
            }
            other => other,
        })?;
        Ok(Outcome::ok().with("stat", Value::Object(Stat::facts(&info, &args))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;
    use crate::host::ExecOutput;

    #[test]
    fn facts_from_a_probe() {
        let a: Args =
            args::parse(&json!({"path": "/l", "checksum_algo": "sha256", "mime": false})).unwrap();
        assert_eq!(a.checksum_algorithm, Algorithm::Sha256);
        assert!(Stat::probe(&a).script.contains("tend_rec stat /l 0 sha256"));
        let stdout = b"@env\0umask=0022\0@stat\0path=/l\0stat=a1ff 0 0 2 1 7 8 1.5 2 3 0 4096 0 0 root root\0target=/t\0real=/t\0access=rwx\0".to_vec();
        let info = ProbeOutput::parse(&ExecOutput {
            status: 0,
            stdout,
            stderr: vec![],
        })
        .unwrap()
        .path("stat")
        .unwrap();
        let f = Stat::facts(&info, &a);
        assert_eq!(f["islnk"], true);
        assert_eq!(f["mode"], "0777");
        assert_eq!(f["lnk_target"], "/t");
        assert_eq!(f["atime"], 1.5);
        assert_eq!(f["pw_name"], "root");
        assert!(f.get("checksum").is_none());
        let missing = PathInfo {
            kind: Some(Kind::Absent),
            ..PathInfo::default()
        };
        assert_eq!(
            Value::Object(Stat::facts(&missing, &a)),
            json!({"exists": false})
        );
        assert!(args::parse::<Args>(&json!({"path": "/x", "get_md5": true})).is_err());
        assert!(args::parse::<Args>(&json!({"path": "/x", "checksum_algorithm": "crc"})).is_err());
    }
}
