//! The `fetch` module: copies a file from the target to the controller.
//!
//! One round trip reads the file's checksum and content on the target; the
//! engine then writes it on the controller, atomically, to
//! `dest/INVENTORY_HOSTNAME/SRC` (or to `dest` itself with `flat`), only when
//! the controller's copy differs. Like Ansible's, the module does not
//! support check mode (it is skipped) and does not fetch directories.
//!
//! # Examples
//!
//! ```yaml
//! - name: Collect each host's configuration
//!   fetch:
//!     src: /etc/app/app.conf
//!     dest: collected/
//!
//! - name: One file, straight to a path
//!   fetch:
//!     src: /var/log/app/report.txt
//!     dest: "reports/{{ inventory_hostname }}.txt"
//!     flat: yes
//! ```
//!
//! # Return values
//!
//! - `dest` (string): the controller path written.
//! - `file` (string): the source path on the target.
//! - `checksum` (string): SHA-1 of the controller file.
//! - `remote_checksum` (string): SHA-1 of the target file.
//! - `md5sum` (string): MD5 of the controller file.
//! - `remote_md5sum` (null): always null, as in Ansible.

use crate::args::{ArgsError, de};
use crate::fileops::{Fetch, Kind, Probe, ProbeOutput, StatOpts, basename};
use crate::host::Host;
use crate::module::{Context, ModuleError, TypedModule};
use crate::outcome::Outcome;
use async_trait::async_trait;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value};

fn yes() -> bool {
    true
}

/// Arguments of `fetch` (Ansible's names).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// The file on the target (not a directory).
    #[serde(deserialize_with = "de::string")]
    pub src: String,
    /// A controller directory (the file goes to `dest/HOST/SRC`), or with
    /// `flat` the file's path (a trailing `/` appends the source's name).
    /// Relative paths are relative to the playbook's directory.
    #[serde(deserialize_with = "de::string")]
    pub dest: String,
    /// Write to `dest` itself instead of below a directory per host.
    #[serde(default, deserialize_with = "de::bool")]
    pub flat: bool,
    /// Fail when the source is missing or unreadable (else report it and go on).
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub fail_on_missing: bool,
    /// Check that the written file has the source's checksum.
    #[serde(default = "yes", deserialize_with = "de::bool")]
    pub validate_checksum: bool,
    /// Internal, set by the engine: the host's inventory name.
    #[serde(default, rename = "_hostname", deserialize_with = "de::opt_string")]
    pub hostname: Option<String>,
    /// Internal, set by the engine: the playbook's directory.
    #[serde(default, rename = "_base_dir", deserialize_with = "de::opt_string")]
    pub base_dir: Option<String>,
}

/// The `fetch` module.
pub struct FetchModule;

/// `os.path.normpath` for absolute or relative POSIX paths.
pub fn normpath(path: &str) -> String {
    let abs = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let body = parts.join("/");
    match (abs, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

/// Where the file goes on the controller.
pub fn local_dest(a: &Args) -> String {
    let base = a.base_dir.clone().unwrap_or_else(|| ".".into());
    let rooted = |p: &str| {
        if p.starts_with('/') {
            p.to_string()
        } else {
            format!("{base}/{p}")
        }
    };
    let dest = if a.flat {
        if a.dest.ends_with('/') {
            rooted(&format!("{}{}", a.dest, basename(&a.src)))
        } else {
            rooted(&a.dest)
        }
    } else {
        let host = a.hostname.clone().unwrap_or_else(|| "localhost".into());
        format!("{}/{host}/{}", rooted(&a.dest), a.src)
    };
    normpath(&dest)
}

#[async_trait]
impl TypedModule for FetchModule {
    type Args = Args;
    const NAME: &'static str = "fetch";

    fn validate(_a: &Args) -> Result<(), ArgsError> {
        Ok(())
    }

    async fn run(&self, a: Args, ctx: &Context, host: &dyn Host) -> Result<Outcome, ModuleError> {
        if ctx.check_mode {
            return Ok(Outcome {
                skipped: true,
                msg: Some("check mode not (yet) supported for this module".into()),
                ..Outcome::default()
            });
        }
        let mut p = Probe::new();
        p.path(
            "src",
            &a.src,
            &StatOpts {
                follow: true,
                checksum: Some("sha1"),
                fetch: Fetch::Whole,
                ..StatOpts::default()
            },
        );
        let out = host.exec(p.finish()).await?;
        let probe = ProbeOutput::parse(&out)?;
        let info = probe.path("src")?;
        let problem = match info.kind() {
            Kind::Absent => Some("the remote file does not exist, not transferring, ignored"),
            Kind::Directory => Some("remote file is a directory, fetch cannot work on directories"),
            _ if info.content.is_none() || info.checksum.is_none() => {
                Some("unable to read the remote file, not transferring, ignored")
            }
            _ => None,
        };
        if let Some(msg) = problem {
            let mut values = Map::new();
            values.insert("file".into(), a.src.clone().into());
            if a.fail_on_missing {
                return Err(ModuleError::Failed {
                    msg: msg.into(),
                    values,
                });
            }
            let msg = if info.kind() == Kind::Directory {
                format!("{msg}, not transferring, ignored")
            } else {
                msg.to_string()
            };
            return Ok(Outcome {
                msg: Some(msg),
                values,
                ..Outcome::default()
            });
        }
        let content = info.content.unwrap_or_default();
        Ok(Outcome::ok()
            .with("file", a.src.clone())
            .with("dest", local_dest(&a))
            .with("remote_checksum", info.checksum.unwrap_or_default())
            .with("remote_md5sum", Value::Null)
            .with("_validate_checksum", a.validate_checksum)
            .with(
                "_content_b64",
                base64::engine::general_purpose::STANDARD.encode(content),
            ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;
    use serde_json::json;

    fn parsed(v: Value) -> Args {
        args::parse(&v).unwrap()
    }

    #[test]
    fn destinations_like_ansible() {
        let a = parsed(
            json!({"src": "/etc/app.conf", "dest": "out", "_hostname": "web1", "_base_dir": "/play"}),
        );
        assert_eq!(local_dest(&a), "/play/out/web1/etc/app.conf");
        let a = parsed(json!({"src": "/etc/app.conf", "dest": "/tmp/x/", "flat": "yes"}));
        assert_eq!(local_dest(&a), "/tmp/x/app.conf");
        let a = parsed(
            json!({"src": "/etc/app.conf", "dest": "r/../f.txt", "flat": true, "_base_dir": "/p"}),
        );
        assert_eq!(local_dest(&a), "/p/f.txt");
        assert_eq!(normpath("a//b/./c/.."), "a/b");
        assert_eq!(normpath("/../x"), "/x");
    }

    struct OneShot(Vec<u8>);

    #[async_trait]
    impl Host for OneShot {
        async fn exec(
            &self,
            _r: crate::host::Exec,
        ) -> Result<crate::host::ExecOutput, crate::host::HostError> {
            Ok(crate::host::ExecOutput {
                status: 0,
                stdout: self.0.clone(),
                stderr: vec![],
            })
        }
    }

    #[tokio::test]
    async fn reads_the_file_in_one_probe() {
        let mut out = b"@env\0umask=0022\0pid=1\0date=d\0id=uid=0(root) gid=0(root)\0".to_vec();
        out.extend_from_slice(b"@src\0path=/etc/x\0stat=81a4 0 0 3 1 5 8 1 2 3 8 512 0 0 root root\0sum=abc\0content=3\0a\0b\0");
        let a = parsed(json!({"src": "/etc/x", "dest": "/o", "_hostname": "h"}));
        let o = FetchModule
            .run(a, &Context::default(), &OneShot(out))
            .await
            .unwrap();
        assert_eq!(o.values["dest"], "/o/h/etc/x");
        assert_eq!(o.values["remote_checksum"], "abc");
        assert_eq!(o.values["_content_b64"], "YQBi");
        let missing = b"@env\0umask=0022\0@src\0path=/nope\0type=absent\0".to_vec();
        let a = parsed(json!({"src": "/nope", "dest": "/o"}));
        let err = FetchModule
            .run(a, &Context::default(), &OneShot(missing.clone()))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the remote file does not exist, not transferring, ignored"
        );
        let a = parsed(json!({"src": "/nope", "dest": "/o", "fail_on_missing": false}));
        let o = FetchModule
            .run(a, &Context::default(), &OneShot(missing))
            .await
            .unwrap();
        assert!(!o.changed && !o.failed);
    }
}
