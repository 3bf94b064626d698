//! A controller-side directory as `copy` sends it: Ansible's copy action
//! walk (`_walk_dirs`), which decides what becomes a file, a directory or a
//! symlink on the target.
//!
//! With `local_follow` (the default), a symlink to a file is copied as the
//! file, and a symlink to a directory as the directory, unless that
//! directory is one being copied already (a cycle), which stays a link.
//! Without it, every symlink is copied as a link. A source ending in `/`
//! copies what is inside it; without the slash, the directory itself.

use std::collections::HashSet;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What a directory copy sends, relative to the destination directory.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Walk {
    /// Regular files: the controller file to read, and where it goes.
    pub files: Vec<(PathBuf, String)>,
    /// Directories to create.
    pub dirs: Vec<String>,
    /// Symlinks: their target as written, and where they go.
    pub links: Vec<(String, String)>,
}

type Id = (u64, u64);

fn id_of(path: &Path) -> io::Result<Id> {
    let m = std::fs::metadata(path)?;
    Ok((m.dev(), m.ino()))
}

fn rel_join(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}/{name}")
    }
}

fn readlink(path: &Path) -> io::Result<String> {
    Ok(std::fs::read_link(path)?.to_string_lossy().into_owned())
}

/// Walks `top` (a directory) as Ansible's copy action does; `trailing`:
/// the source was given with a trailing `/`.
pub fn walk(top: &Path, trailing: bool, local_follow: bool) -> io::Result<Walk> {
    let mut out = Walk::default();
    let base = if trailing {
        String::new()
    } else {
        top.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    if !trailing {
        out.dirs.push(base.clone());
    }
    let parents: HashSet<Id> = [id_of(top)?].into_iter().collect();
    recurse(top, &base, &parents, local_follow, &mut out)?;
    Ok(out)
}

fn recurse(
    dir: &Path,
    rel: &str,
    parents: &HashSet<Id>,
    follow: bool,
    out: &mut Walk,
) -> io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    // As `os.walk`: the files of a directory before its subdirectories.
    entries.sort_by_key(|e| {
        (
            std::fs::metadata(e.path()).is_ok_and(|m| m.is_dir()),
            e.file_name(),
        )
    });
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let dest = rel_join(rel, &name);
        let is_link = entry.file_type()?.is_symlink();
        let is_dir = std::fs::metadata(&path).is_ok_and(|m| m.is_dir());
        if !is_dir {
            if !is_link {
                out.files.push((path, dest));
                continue;
            }
            match std::fs::canonicalize(&path) {
                Ok(real) if follow && real.is_file() => out.files.push((real, dest)),
                _ => out.links.push((readlink(&path)?, dest)),
            }
            continue;
        }
        if !is_link {
            out.dirs.push(dest.clone());
            recurse(&path, &dest, parents, follow, out)?;
            continue;
        }
        if !follow {
            out.links.push((readlink(&path)?, dest));
            continue;
        }
        let real = std::fs::canonicalize(&path)?;
        let target = id_of(&real)?;
        if parents.contains(&target) {
            // A link to a directory being copied already: a cycle.
            out.links.push((readlink(&path)?, dest));
            continue;
        }
        // The directories above the link that are not known parents yet.
        let mut new_parents = HashSet::new();
        let mut up = Some(dir);
        while let Some(d) = up {
            let id = id_of(d)?;
            if parents.contains(&id) {
                break;
            }
            new_parents.insert(id);
            up = d.parent().filter(|p| !p.as_os_str().is_empty());
        }
        if new_parents.contains(&target) {
            out.links.push((readlink(&path)?, dest));
            continue;
        }
        out.dirs.push(dest.clone());
        let all: HashSet<Id> = parents.union(&new_parents).copied().collect();
        recurse(&real, &dest, &all, follow, out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(src.join("a/b")).unwrap();
        std::fs::create_dir_all(t.path().join("outside")).unwrap();
        std::fs::write(src.join("f"), "f").unwrap();
        std::fs::write(src.join("a/b/g"), "g").unwrap();
        std::fs::write(t.path().join("outside/o"), "o").unwrap();
        symlink("../f", src.join("a/to_f")).unwrap();
        symlink("..", src.join("a/up")).unwrap();
        symlink("missing", src.join("broken")).unwrap();
        symlink(t.path().join("outside"), src.join("out")).unwrap();
        symlink("../src", t.path().join("outside/back")).unwrap();
        t
    }

    #[test]
    fn follows_links_to_files_and_outside_directories_but_not_cycles() {
        let t = tree();
        let w = walk(&t.path().join("src"), false, true).unwrap();
        assert_eq!(w.dirs, ["src", "src/a", "src/a/b", "src/out"]);
        let files: Vec<&str> = w.files.iter().map(|(_, r)| r.as_str()).collect();
        // As `os.walk`: a directory's files before its subdirectories.
        assert_eq!(files, ["src/f", "src/a/to_f", "src/a/b/g", "src/out/o"]);
        assert_eq!(
            w.links,
            [
                ("missing".to_string(), "src/broken".to_string()),
                ("..".into(), "src/a/up".into()),
                ("../src".into(), "src/out/back".into()),
            ]
        );
    }

    #[test]
    fn without_local_follow_links_stay_links_and_a_slash_copies_the_content() {
        let t = tree();
        let w = walk(&t.path().join("src"), true, false).unwrap();
        assert_eq!(w.dirs, ["a", "a/b"]);
        let files: Vec<&str> = w.files.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(files, ["f", "a/b/g"]);
        let links: Vec<&str> = w.links.iter().map(|(_, r)| r.as_str()).collect();
        assert_eq!(links, ["broken", "a/to_f", "a/up", "out"]);
    }
}
