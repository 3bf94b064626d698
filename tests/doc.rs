//! `tend doc`: the module reference generated from the module sources.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tend(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tend"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .expect("run tend")
}

fn stdout(args: &[&str]) -> String {
    let out = tend(args, &root());
    assert!(
        out.status.success(),
        "tend {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn module_names() -> Vec<String> {
    stdout(&["doc", "--list"])
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn doc_replace_shows_synopsis_options_examples_and_return_values() {
    let text = stdout(&["doc", "replace"]);
    for fragment in [
        "> MODULE replace (modules/src/replace.rs)\n",
        "  Replace all the matches of a regular expression in a file.\n",
        "OPTIONS (= is mandatory):\n",
        "= path\n        The file to modify.\n        aliases: [dest, destfile, name]\n        type: str\n",
        "= regexp\n",
        "- backup\n        Keep a timestamped copy of the original before changing it.\n        default: false\n        type: bool\n",
        "- replace\n",
        "        default: \"\"\n",
        "- encoding\n        The file's encoding; only UTF-8 is supported.\n        default: utf-8\n",
        "- mode\n",
        "        type: raw\n",
        "EXAMPLES:\n\n- name: ",
        "  ansible.builtin.replace:\n",
        "RETURN VALUES:\n",
        "- backup_file\n",
    ] {
        assert!(text.contains(fragment), "missing {fragment:?} in:\n{text}");
    }
    // Options are sorted; the developers' `# Implementation` notes stay out.
    assert!(text.find("- after").unwrap() < text.find("= path").unwrap());
    assert!(!text.contains("re.subn"));
    // The ansible.builtin name works too.
    assert_eq!(stdout(&["doc", "ansible.builtin.replace"]), text);
}

#[test]
fn doc_shows_choices_and_defaults_read_from_the_code() {
    let text = stdout(&["doc", "lineinfile"]);
    assert!(
        text.contains("- state\n        Whether the line should be there.\n        choices: [present, absent]\n        default: present\n        type: str\n"),
        "{text}"
    );
    let text = stdout(&["doc", "shell"]);
    assert!(text.contains(
        "> MODULE shell (modules/src/command.rs)\n\n  Execute shell text on the target.\n"
    ));
    assert!(text.contains("- free_form\n"));
    assert!(!text.contains("- argv\n"), "argv is command's, not shell's");
}

#[test]
fn unknown_module_is_an_error_with_a_suggestion() {
    let out = tend(&["doc", "replce"], &root());
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ERROR! module `replce` not found; did you mean `replace`? (`tend doc --list` lists the modules)\n"
    );
    let out = tend(&["doc", "frobnicate"], &root());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ERROR! module `frobnicate` not found (`tend doc --list` lists the modules)\n"
    );
    let out = tend(&["doc"], &root());
    assert_eq!(out.status.code(), Some(5));
}

#[test]
fn list_is_aligned_and_json_matches() {
    let list = stdout(&["doc", "--list"]);
    assert!(
        list.lines().any(|l| l.starts_with("replace ")
            && l.ends_with("  Replace all the matches of a regular expression in a file")),
        "{list}"
    );
    let column = |l: &str| {
        l.len()
            - l.split_whitespace()
                .skip(1)
                .collect::<Vec<_>>()
                .join(" ")
                .len()
    };
    let columns: Vec<usize> = list.lines().map(column).collect();
    assert!(columns.windows(2).all(|w| w[0] == w[1]), "{list}");
    let json: Value = serde_json::from_str(&stdout(&["doc", "--list", "--json"])).unwrap();
    let names: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(names, module_names().iter().collect::<Vec<_>>());
    for name in [
        "command", "shell", "raw", "copy", "file", "template", "stat",
    ] {
        assert!(names.iter().any(|n| *n == name), "{name}");
    }
}

#[test]
fn json_has_ansible_docs_shape() {
    let json: Value = serde_json::from_str(&stdout(&["doc", "copy", "--json"])).unwrap();
    let copy = &json["copy"];
    assert_eq!(copy["doc"]["module"], "copy");
    let force = &copy["doc"]["options"]["force"];
    assert_eq!(force["type"], "bool");
    assert_eq!(force["default"], true);
    assert_eq!(force["aliases"], serde_json::json!(["thirsty"]));
    assert_eq!(copy["doc"]["options"]["dest"]["required"], true);
    assert_eq!(copy["return"]["checksum"]["type"], "str");
    assert!(
        copy["examples"]
            .as_str()
            .unwrap()
            .contains("ansible.builtin.copy:")
    );
}

#[test]
fn snippet_is_a_task_skeleton_with_every_option() {
    let text = stdout(&["doc", "-s", "replace"]);
    assert!(text.starts_with(
        "- name: Replace all the matches of a regular expression in a file\n  ansible.builtin.replace:\n      after:         # Only replace after"
    ), "{text}");
    assert!(
        text.contains("\n      path:          # (required) The file to modify.\n"),
        "{text}"
    );
    let keys = text
        .lines()
        .filter(|l| l.starts_with("      ") && !l.trim_start().starts_with('#'))
        .count();
    let json: Value = serde_json::from_str(&stdout(&["doc", "replace", "--json"])).unwrap();
    assert_eq!(
        keys,
        json["replace"]["doc"]["options"].as_object().unwrap().len()
    );
}

/// docs/modules.md is `tend doc --markdown`: regenerate it with
/// `cargo run -q -- doc --markdown > docs/modules.md`.
#[test]
fn committed_markdown_reference_is_up_to_date() {
    let generated = stdout(&["doc", "--markdown"]);
    let committed = std::fs::read_to_string(root().join("docs/modules.md")).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/modules.md is out of date: run `cargo run -q -- doc --markdown > docs/modules.md`"
    );
    for name in module_names() {
        assert!(generated.contains(&format!("\n## {name}\n")), "{name}");
    }
}

/// Every module's examples compile: real arguments, checked as in a playbook.
#[test]
fn every_example_compiles() {
    let dir = tempfile::tempdir().unwrap();
    for name in module_names() {
        let json: Value = serde_json::from_str(&stdout(&["doc", &name, "--json"])).unwrap();
        let examples = json[&name]["examples"].as_str().unwrap();
        let mut play = String::from("- hosts: all\n  gather_facts: false\n  tasks:\n");
        for line in examples.lines() {
            play.push_str(&format!("    {line}\n"));
        }
        play.push_str("  handlers:\n");
        for line in examples.lines() {
            if let Some(h) = line.trim().strip_prefix("notify: ") {
                play.push_str(&format!(
                    "    - name: {h}\n      ansible.builtin.meta: noop\n"
                ));
            }
            // Controller-side files the examples name (`src:`, and the
            // script of `script: FILE ARGS` / `cmd: FILE ARGS`).
            let t = line.trim().trim_start_matches("- ");
            let named = t.strip_prefix("src: ").or_else(|| {
                t.strip_prefix("script: ")
                    .or_else(|| t.strip_prefix("cmd: "))
                    .and_then(|c| c.split_whitespace().next())
            });
            if let Some(src) = named
                && !src.starts_with('/')
            {
                let path = dir.path().join(src);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, "x\n").unwrap();
            }
        }
        let book = dir.path().join(format!("{name}.yml"));
        std::fs::write(&book, &play).unwrap();
        let out = tend(
            &[
                "playbook",
                "-i",
                "localhost,",
                "--syntax-check",
                book.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert!(
            out.status.success(),
            "the examples of `{name}` do not compile:\n{}\n{play}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
