//! Copying a directory: a `src` directory on the controller (sent by the
//! engine as `_tree`) or on the target (`remote_src`).
//!
//! Both become a list of [`TreeEntry`]s below a destination root, probed in
//! one round trip (each entry's destination, with its SHA-1 for files) and
//! planned into one apply script: missing directories are made, files whose
//! content differs are written atomically, symlinks are made or repointed,
//! and owner, group and modes converged. Nothing is removed from the
//! destination.

use crate::fileops::{
    self, AtomicWrite, CurAttrs, Env, Ids, Kind, ModeSpec, PathInfo, Probe, ProbeOutput, Source,
    WantAttrs, ancestors, basename, dash_safe, dirname, fail, join,
};
use crate::host::Exec;
use crate::module::{ModuleError, Plan};
use crate::outcome::Action;
use crate::sh::quote;
use base64::Engine;
use serde::Deserialize;
use serde_json::Map;

/// Internal argument `_tree`: a controller-side directory, walked by the
/// engine as Ansible's copy action walks it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LocalTree {
    /// Directories, relative to `dest`, parents first.
    #[serde(default)]
    pub dirs: Vec<String>,
    /// Files.
    #[serde(default)]
    pub files: Vec<LocalFile>,
    /// Symlinks.
    #[serde(default)]
    pub links: Vec<LocalLink>,
}

/// A file of [`LocalTree`].
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LocalFile {
    /// Where it goes, relative to `dest`.
    pub rel: String,
    /// Its content, base64-encoded.
    pub b64: String,
    /// Its mode on the controller (octal), for `mode: preserve`.
    pub mode: String,
}

/// A symlink of [`LocalTree`].
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LocalLink {
    /// Where it goes, relative to `dest`.
    pub rel: String,
    /// What it points to, as written.
    pub target: String,
}

/// What one entry of a copied directory should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeKind {
    /// A directory.
    Dir,
    /// A regular file with this content.
    File {
        /// The content.
        source: Source,
        /// Its SHA-1.
        sum: String,
    },
    /// A symlink.
    Link {
        /// Its target.
        target: String,
    },
}

/// One entry below the destination root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// Path relative to the root.
    pub rel: String,
    /// What it should be.
    pub kind: TreeKind,
    /// Mode converged on every run (the controller's `directory_mode` for
    /// directories, `mode` for files).
    pub mode: Option<ModeSpec>,
    /// Mode given when the entry is created or its content written (the
    /// source's, for `remote_src`).
    pub write_mode: Option<u32>,
}

/// How the destination root itself is treated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootPolicy {
    /// Mode of missing directories above the root.
    pub parents_mode: Option<u32>,
    /// Mode of the root when it is created.
    pub new_mode: Option<u32>,
    /// Mode converged on an existing root (`remote_src`'s `mode`).
    pub mode: Option<ModeSpec>,
    /// Owner and group are converged on an existing root too (`remote_src`).
    pub own: bool,
}

/// A directory copy, ready to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    /// The destination root.
    pub root: String,
    /// The entries (controller side); `None` for `remote_src`, whose
    /// entries the probe lists.
    pub entries: Option<Vec<TreeEntry>>,
    /// `remote_src`: the source directory, and whether links are followed.
    pub remote: Option<(String, bool)>,
    /// The root's policy.
    pub policy: RootPolicy,
}

fn trim_dir(path: &str) -> String {
    let t = path.trim_end_matches('/');
    if t.is_empty() && path.starts_with('/') {
        "/".into()
    } else {
        t.to_string()
    }
}

fn parse_mode(s: &str) -> Result<u32, ModuleError> {
    u32::from_str_radix(s.trim(), 8)
        .map(|m| m & 0o7777)
        .map_err(|_| ModuleError::failed(format!("copy: invalid mode `{s}` in `_tree`")))
}

impl Tree {
    /// A controller-side directory: directories (with `directory_mode`),
    /// then files (with `mode`, `preserve` being each file's own), then
    /// symlinks, below `dest`.
    pub fn local(
        dest: &str,
        tree: &LocalTree,
        mode: &Option<ModeSpec>,
        directory_mode: &Option<ModeSpec>,
        umask: Option<u32>,
    ) -> Result<Tree, ModuleError> {
        let mut entries = Vec::new();
        for d in &tree.dirs {
            entries.push(TreeEntry {
                rel: d.clone(),
                kind: TreeKind::Dir,
                mode: directory_mode.clone(),
                write_mode: None,
            });
        }
        for f in &tree.files {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(f.b64.trim())
                .map_err(|e| ModuleError::failed(format!("copy: invalid `_tree` content: {e}")))?;
            let file_mode = match mode {
                Some(ModeSpec::Preserve) => Some(ModeSpec::Octal(parse_mode(&f.mode)?)),
                other => other.clone(),
            };
            entries.push(TreeEntry {
                rel: f.rel.clone(),
                kind: TreeKind::File {
                    sum: fileops::sha1_hex(&bytes),
                    source: Source::Bytes(bytes),
                },
                mode: file_mode,
                write_mode: None,
            });
        }
        for l in &tree.links {
            entries.push(TreeEntry {
                rel: l.rel.clone(),
                kind: TreeKind::Link {
                    target: l.target.clone(),
                },
                mode: None,
                write_mode: None,
            });
        }
        // New directories above and at the root get `directory_mode`.
        let dir_mode = match directory_mode {
            Some(spec) => spec
                .resolve(
                    0o777 & !umask.unwrap_or(0o022),
                    true,
                    umask.unwrap_or(0o022),
                )
                .map_err(ModuleError::failed)?,
            None => None,
        };
        Ok(Tree {
            root: trim_dir(dest),
            entries: Some(entries),
            remote: None,
            policy: RootPolicy {
                parents_mode: dir_mode,
                new_mode: dir_mode,
                mode: None,
                own: false,
            },
        })
    }

    /// A directory on the target: `src/` copies its content into `dest`,
    /// `src` the directory itself (into `dest/basename(src)`). Links are
    /// copied as links unless `local_follow`.
    pub fn remote(src: &str, dest: &str, local_follow: bool, mode: &Option<ModeSpec>) -> Tree {
        let s = trim_dir(src);
        let root = if src.ends_with('/') {
            trim_dir(dest)
        } else {
            join(&trim_dir(dest), basename(&s))
        };
        Tree {
            root,
            entries: None,
            remote: Some((s, local_follow)),
            policy: RootPolicy {
                parents_mode: None,
                new_mode: None,
                mode: mode.clone(),
                own: true,
            },
        }
    }

    /// Adds the probe of the destination (and of the source, for
    /// `remote_src`): record `root`, then `d:REL` for each entry (and
    /// `s:REL` for each source entry).
    pub fn probe(&self, p: &mut Probe) {
        p.set("r0", &self.root);
        p.raw("tend_rec root \"$r0\" 1 '' 0 '' 0 0 0 0");
        match (&self.entries, &self.remote) {
            (Some(entries), _) => {
                for e in entries {
                    let sum = match e.kind {
                        TreeKind::File { .. } => "sha1",
                        _ => "",
                    };
                    p.raw(&format!(
                        "tend_rec {} {} 0 {sum:?} 0 '' 0 0 0 0",
                        quote(&format!("d:{}", e.rel)),
                        quote(&join(&self.root, &e.rel)),
                    ));
                }
            }
            (None, Some((src, follow))) => {
                let inner = format!(
                    "{}s=$1; r0=$2; f=$3; shift 3\nfor p; do\n  [ \"$p\" = \"$s\" ] && continue\n  r=${{p#\"$s\"/}}\n  tend_rec \"s:$r\" \"$p\" \"$f\" sha1 0 '' 0 0 0 0\n  tend_rec \"d:$r\" \"$r0/$r\" 0 sha1 0 '' 0 0 0 0\ndone\n",
                    Probe::functions()
                );
                // The script goes in the environment: find takes any `{}`
                // in an argument for the file name.
                p.raw(&format!(
                    "tend_tree={}; export tend_tree\nfind {} {} -exec sh -c 'eval \"$tend_tree\"' sh {} \"$r0\" {} {{}} +",
                    quote(&inner),
                    if *follow { "-L" } else { "-H" },
                    quote(&dash_safe(src)),
                    quote(&dash_safe(src)),
                    if *follow { "1" } else { "0" },
                ));
            }
            (None, None) => {}
        }
    }

    /// The entries and their destinations' states from the probe.
    pub fn read(&self, probe: &ProbeOutput) -> Result<Vec<(TreeEntry, PathInfo)>, ModuleError> {
        let mut out = Vec::new();
        match &self.entries {
            Some(entries) => {
                for e in entries {
                    out.push((e.clone(), probe.path(&format!("d:{}", e.rel))?));
                }
            }
            None => {
                for (tag, rec) in &probe.records {
                    let Some(rel) = tag.strip_prefix("s:") else {
                        continue;
                    };
                    let src = PathInfo::from_record(rec)?;
                    let kind = match src.kind() {
                        Kind::Directory => TreeKind::Dir,
                        Kind::File => TreeKind::File {
                            sum: src.checksum.clone().ok_or_else(|| {
                                fail(format!("Source {} not readable", src.path), &[])
                            })?,
                            source: Source::Remote(src.path.clone()),
                        },
                        Kind::Link => TreeKind::Link {
                            target: src.target.clone().unwrap_or_default(),
                        },
                        // Sockets, devices, fifos are not copied.
                        _ => continue,
                    };
                    let entry = TreeEntry {
                        rel: rel.to_string(),
                        kind,
                        mode: None,
                        write_mode: Some(src.mode),
                    };
                    out.push((entry, probe.path(&format!("d:{rel}"))?));
                }
            }
        }
        Ok(out)
    }
}

/// What planning a tree needs besides the entries.
pub struct TreeCtx<'a> {
    /// The root's probed state.
    pub root: &'a PathInfo,
    /// `owner`, `group` (`mode` is per entry).
    pub want: &'a WantAttrs,
    /// Resolved owner and group.
    pub ids: &'a Ids,
    /// The target's umask and user.
    pub env: &'a Env,
    /// `force`: replace files whose content differs.
    pub force: bool,
    /// The root's mode when created, for `remote_src` (the source's).
    pub root_new_mode: Option<u32>,
}

/// Plans a directory copy: one apply script for every change.
pub fn plan_tree(
    tree: &Tree,
    entries: &[(TreeEntry, PathInfo)],
    cx: &TreeCtx<'_>,
) -> Result<Plan, ModuleError> {
    let umask = cx.env.umask;
    let uid = cx.ids.user.as_ref().map(|u| u.0);
    let gid = cx.ids.group.as_ref().map(|g| g.0);
    let mut s = String::from(fileops::TMP_TRAP);
    let mut changed = false;
    let root = &tree.root;
    let mut root_attrs = CurAttrs::of(cx.root);
    match cx.root.kind() {
        Kind::Absent => {
            let mut dirs = ancestors(root);
            dirs.pop();
            s.push_str(&fileops::mkdirs_script(
                &dirs,
                tree.policy.parents_mode,
                uid,
                gid,
            ));
            let mode = tree.policy.new_mode.or(cx.root_new_mode);
            s.push_str(&fileops::mkdirs_script(
                std::slice::from_ref(root),
                mode,
                uid,
                gid,
            ));
            root_attrs = cx.env.new_attrs(true);
            root_attrs.mode = mode.unwrap_or(root_attrs.mode);
            changed = true;
        }
        Kind::Directory => {}
        _ => {
            return Err(fail(
                format!("Destination {root} is not a directory"),
                &[("dest", root)],
            ));
        }
    }
    // Owner, group and `mode` of the root (`remote_src` only).
    if tree.policy.own {
        let want = WantAttrs {
            mode: tree.policy.mode.clone(),
            owner: cx.want.owner.clone(),
            group: cx.want.group.clone(),
        };
        let attrs = fileops::plan_attrs(&root_attrs, &want, cx.ids, umask)?;
        if attrs.changes() {
            changed |= cx.root.exists();
            s.push_str(&attrs.script(&quote(root), false));
        }
        root_attrs.mode = attrs.mode;
        root_attrs.uid = attrs.uid;
        root_attrs.gid = attrs.gid;
        root_attrs.owner = attrs.owner.clone();
        root_attrs.group = attrs.group.clone();
    }
    let mut last_file = None;
    for (i, (e, st)) in entries.iter().enumerate() {
        let path = join(root, &e.rel);
        let q = quote(&path);
        let want = WantAttrs {
            mode: e.mode.clone(),
            owner: cx.want.owner.clone(),
            group: cx.want.group.clone(),
        };
        match &e.kind {
            TreeKind::Dir => match st.kind() {
                Kind::Absent => {
                    let mut base = cx.env.new_attrs(true);
                    base.mode = e.write_mode.unwrap_or(base.mode);
                    let attrs = fileops::plan_attrs(&base, &want, cx.ids, umask)?;
                    let mode = attrs.chmod.or(e.write_mode);
                    s.push_str(&format!("mkdir -- {q} || exit 1\n"));
                    s.push_str(&fileops::chown_script(uid, gid, "", &q));
                    if let Some(m) = mode {
                        s.push_str(&format!("chmod -- {m:04o} {q} || exit 1\n"));
                    }
                    changed = true;
                }
                Kind::Directory => {
                    let attrs = fileops::plan_attrs(&CurAttrs::of(st), &want, cx.ids, umask)?;
                    if attrs.changes() {
                        s.push_str(&attrs.script(&q, false));
                        changed = true;
                    }
                }
                other => {
                    return Err(fail(
                        format!("{path} already exists as a {}", other.as_str()),
                        &[("path", &path)],
                    ));
                }
            },
            TreeKind::File { source, sum } => {
                if st.kind() == Kind::Directory {
                    return Err(fail(
                        format!("Destination {path} is a directory"),
                        &[("dest", &path)],
                    ));
                }
                let mut values = Map::new();
                values.insert("dest".into(), path.clone().into());
                values.insert("checksum".into(), sum.clone().into());
                let size = match source {
                    Source::Bytes(b) => b.len() as u64,
                    Source::Remote(_) => st.size,
                };
                if st.exists() && !cx.force {
                    last_file = Some(values);
                    continue;
                }
                let is_file = st.kind() == Kind::File;
                if is_file && st.checksum.as_deref() == Some(sum.as_str()) {
                    let attrs = fileops::plan_attrs(&CurAttrs::of(st), &want, cx.ids, umask)?;
                    if attrs.changes() {
                        s.push_str(&attrs.script(&q, false));
                        changed = true;
                    }
                    attrs.values(&mut values);
                    values.insert("size".into(), st.size.into());
                    values.insert("state".into(), "file".into());
                    last_file = Some(values);
                    continue;
                }
                let mut base = if is_file {
                    CurAttrs::of(st)
                } else {
                    cx.env.new_attrs(false)
                };
                if let Some(m) = e.write_mode {
                    base.mode = m;
                }
                let attrs = fileops::plan_attrs(&base, &want, cx.ids, umask)?;
                let write = AtomicWrite {
                    dest: path.clone(),
                    source: source.clone(),
                    mode: attrs.mode,
                    uid,
                    gid,
                    keep_ids: is_file.then_some((base.uid, base.gid)),
                    ..AtomicWrite::default()
                };
                s.push_str(&write.steps(true)?);
                changed = true;
                attrs.values(&mut values);
                if let Source::Bytes(_) = source {
                    values.insert("size".into(), size.into());
                }
                values.insert("state".into(), "file".into());
                last_file = Some(values);
            }
            TreeKind::Link { target } => {
                if st.kind() == Kind::Link && st.target.as_deref() == Some(target.as_str()) {
                    let attrs = fileops::plan_attrs(&CurAttrs::of(st), &want, cx.ids, umask)?;
                    if attrs.chown.is_some() || attrs.chgrp.is_some() {
                        s.push_str(&fileops::chown_script(attrs.chown, attrs.chgrp, "-h ", &q));
                        changed = true;
                    }
                    continue;
                }
                if st.kind() == Kind::Directory {
                    return Err(fail(
                        format!("refusing to convert from directory to symlink for {path}"),
                        &[("path", &path)],
                    ));
                }
                let tmp = quote(&join(
                    &dirname(&path),
                    &format!(".tend-link.{i}.{}", basename(&path)),
                ))
                .into_owned();
                s.push_str(&format!(
                    "ln -s -- {} {tmp} || exit 1\n",
                    quote(&dash_safe(target))
                ));
                s.push_str(&fileops::chown_script(uid, gid, "-h ", &tmp));
                s.push_str(&format!(
                    "mv -fT -- {tmp} {q} 2>/dev/null || {{ rm -f -- {q} && mv -f -- {tmp} {q}; }} || exit 1\n"
                ));
                changed = true;
            }
        }
    }
    s.push_str("trap - EXIT\n");
    let mut values = Map::new();
    let files = entries
        .iter()
        .filter(|(e, _)| matches!(e.kind, TreeKind::File { .. }))
        .count();
    match last_file {
        // Ansible's copy action returns the one file's result.
        Some(v) if files == 1 && tree.remote.is_none() => values = v,
        _ => {
            let dest = if tree.remote.is_some() {
                root.clone()
            } else {
                format!("{}/", root.trim_end_matches('/'))
            };
            values.insert("dest".into(), dest.into());
            if tree.remote.is_some() {
                root_attrs.values(&mut values);
                values.insert("state".into(), "directory".into());
            }
        }
    }
    let mut plan = if changed {
        Plan::change(
            if cx.root.exists() {
                Action::Update
            } else {
                Action::Create
            },
            vec![Exec::script(s)],
        )
    } else {
        Plan::noop()
    };
    plan.values = values;
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::ExecOutput;

    fn probe_out(records: &str) -> ProbeOutput {
        let mut stdout = b"@env\0umask=0022\0pid=7\0id=uid=0(root) gid=0(root)\0".to_vec();
        stdout.extend_from_slice(records.replace('|', "\0").as_bytes());
        ProbeOutput::parse(&ExecOutput {
            status: 0,
            stdout,
            stderr: vec![],
        })
        .unwrap()
    }

    const DIR: &str = "stat=41ed 0 0 4096 2 5 8 1 2 3 8 512 0 0 root root|";

    fn plan(tree: &Tree, probe: &ProbeOutput) -> Plan {
        let entries = tree.read(probe).unwrap();
        let root = probe.path("root").unwrap();
        let env = probe.env().unwrap();
        plan_tree(
            tree,
            &entries,
            &TreeCtx {
                root: &root,
                want: &WantAttrs::default(),
                ids: &Ids::default(),
                env: &env,
                force: true,
                root_new_mode: None,
            },
        )
        .unwrap()
    }

    fn local() -> Tree {
        let tree = LocalTree {
            dirs: vec!["d".into(), "d/e".into()],
            files: vec![LocalFile {
                rel: "d/f".into(),
                b64: "aGk=".into(),
                mode: "0755".into(),
            }],
            links: vec![LocalLink {
                rel: "d/l".into(),
                target: "../x".into(),
            }],
        };
        Tree::local("/t/", &tree, &None, &Some(ModeSpec::Octal(0o700)), None).unwrap()
    }

    #[test]
    fn a_new_local_tree_is_made_in_one_script() {
        let tree = local();
        let p = probe_out(
            "@root|path=/t|type=absent|@d:d|path=/t/d|type=absent|@d:d/e|path=/t/d/e|type=absent|\
             @d:d/f|path=/t/d/f|type=absent|@d:d/l|path=/t/d/l|type=absent|",
        );
        let plan = plan(&tree, &p);
        assert_eq!(plan.action, Action::Create);
        let s = &plan.apply[0].script;
        assert!(
            s.contains("mkdir -- /t ||") && s.contains("chmod -- 0700 /t"),
            "{s}"
        );
        assert!(
            s.contains("mkdir -- /t/d/e ||") && s.contains("chmod -- 0700 /t/d/e"),
            "{s}"
        );
        assert!(
            s.contains("base64 -d > \"$tmp\"") && s.contains("aGk=\n"),
            "{s}"
        );
        assert!(s.contains("chmod -- 0644 \"$tmp\""), "{s}");
        assert!(s.contains("ln -s -- ../x /t/d/.tend-link.3.l"), "{s}");
        // The one file's result, as Ansible's copy action returns it.
        assert_eq!(plan.values["dest"], "/t/d/f");
        assert_eq!(plan.values["checksum"], fileops::sha1_hex(b"hi"));
    }

    #[test]
    fn an_up_to_date_tree_is_a_noop() {
        let tree = local();
        let sum = fileops::sha1_hex(b"hi");
        let p = probe_out(&format!(
            "@root|path=/t|{DIR}@d:d|path=/t/d|stat=41c0 0 0 4096 2 5 8 1 2 3 8 512 0 0 root root|\
             @d:d/e|path=/t/d/e|stat=41c0 0 0 4096 2 5 8 1 2 3 8 512 0 0 root root|\
             @d:d/f|path=/t/d/f|stat=81a4 0 0 2 1 5 8 1 2 3 8 512 0 0 root root|sum={sum}|\
             @d:d/l|path=/t/d/l|stat=a1ff 0 0 4 1 5 8 1 2 3 8 512 0 0 root root|target=../x|"
        ));
        let plan = plan(&tree, &p);
        assert_eq!(plan.action, Action::NoOp);
        assert!(plan.apply.is_empty());
        // A directory with another mode is converged to `directory_mode`.
        let p = probe_out(&format!(
            "@root|path=/t|{DIR}@d:d|path=/t/d|{DIR}\
             @d:d/e|path=/t/d/e|stat=41c0 0 0 4096 2 5 8 1 2 3 8 512 0 0 root root|\
             @d:d/f|path=/t/d/f|stat=81a4 0 0 2 1 5 8 1 2 3 8 512 0 0 root root|sum=0|\
             @d:d/l|path=/t/d/l|stat=a1ff 0 0 4 1 5 8 1 2 3 8 512 0 0 root root|target=../y|"
        ));
        let plan = super::tests::plan(&tree, &p);
        assert_eq!(plan.action, Action::Update);
        let s = &plan.apply[0].script;
        assert!(s.contains("chmod -- 0700 /t/d ||"), "{s}");
        assert!(!s.contains("chmod -- 0700 /t/d/e"), "{s}");
        assert!(s.contains("dest=/t/d/f"), "{s}");
        assert!(s.contains("mv -fT -- /t/d/.tend-link.3.l /t/d/l"), "{s}");
    }

    #[test]
    fn a_remote_tree_copies_what_the_probe_listed() {
        let tree = Tree::remote("/s/", "/t", false, &None);
        assert_eq!(tree.root, "/t");
        let mut pr = Probe::new();
        tree.probe(&mut pr);
        let script = pr.finish().script;
        assert!(script.contains("find -H /s -exec sh -c"), "{script}");
        let p = probe_out(&format!(
            "@root|path=/t|{DIR}@s:a|path=/s/a|{DIR}@d:a|path=/t/a|type=absent|\
             @s:a/f|path=/s/a/f|stat=81ed 0 0 2 1 5 8 1 2 3 8 512 0 0 root root|sum=abc|\
             @d:a/f|path=/t/a/f|type=absent|\
             @s:k|path=/s/k|stat=a1ff 0 0 4 1 5 8 1 2 3 8 512 0 0 root root|target=a/f|\
             @d:k|path=/t/k|type=absent|"
        ));
        let plan = plan(&tree, &p);
        let s = &plan.apply[0].script;
        assert!(
            s.contains("mkdir -- /t/a ||\nchmod -- 0755 /t/a") || s.contains("chmod -- 0755 /t/a"),
            "{s}"
        );
        assert!(
            s.contains("cat < /s/a/f > \"$tmp\"") && s.contains("chmod -- 0755 \"$tmp\""),
            "{s}"
        );
        assert!(s.contains("ln -s -- a/f"), "{s}");
        assert_eq!(plan.values["dest"], "/t");
        assert_eq!(plan.values["state"], "directory");
        assert_eq!(Tree::remote("/s", "/t/", true, &None).root, "/t/s");
    }
}
