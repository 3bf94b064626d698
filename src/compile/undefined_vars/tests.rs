use super::*;

/// The role task every case reads `the_var` in (unless a case replaces it).
const READS: &str = "- debug:\n    msg: \"value {{ the_var }}\"\n";

/// Compiles `files` (`site.yml` and the rest, relative to a fresh
/// directory) and checks them, with `outside` defined by the inventory or
/// extra vars.
fn check_files(files: &[(&str, &str)], outside: &[&str]) -> Report {
    check_files_on(files, outside, &|_| true, &|task, play| {
        crate::exec::tags_select(task, play, &[], &[])
    })
}

/// [`check_files`] with `matches` telling which `hosts` patterns match a
/// host, `selected` which tags `--tags`/`--skip-tags` select.
fn check_files_on(
    files: &[(&str, &str)],
    outside: &[&str],
    matches: &dyn Fn(&str) -> bool,
    selected: &dyn Fn(&[String], &[String]) -> bool,
) -> Report {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
    }
    let templar = Templar::new();
    let book =
        crate::compile::compile_file(&dir.path().join("site.yml"), &templar).unwrap_or_else(|d| {
            panic!(
                "{}",
                d.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
    let defined = outside.iter().map(|s| s.to_string()).collect();
    let run = Run {
        defined: &defined,
        matches,
        selected,
    };
    check(&[book], &run, &templar)
}

/// The variables warned about.
fn warned(files: &[(&str, &str)], outside: &[&str]) -> Vec<String> {
    check_files(files, outside)
        .warnings
        .iter()
        .map(|d| d.message.split('`').nth(3).unwrap_or_default().to_string())
        .collect()
}

/// Files of a case: (path, text).
type Files = Vec<(String, String)>;

/// A play running role `r`, with `extra` lines added to the play.
fn site(extra: &str) -> String {
    format!("- hosts: all\n  gather_facts: false\n{extra}  roles:\n    - r\n")
}

#[test]
fn a_variable_defined_nowhere_is_warned_about_at_its_reference() {
    let site = site("");
    let report = check_files(
        &[
            ("site.yml", &site),
            ("roles/r/defaults/main.yml", "the_vat: 1\n"),
            ("roles/r/tasks/main.yml", READS),
        ],
        &[],
    );
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    let d = &report.warnings[0];
    assert_eq!(d.severity, crate::diagnostic::Severity::Warning);
    assert_eq!(
        d.message,
        "role `r` uses the variable `the_var`, which nothing defines"
    );
    let span = d.span.as_ref().expect("span");
    assert!(span.file.path.ends_with("roles/r/tasks/main.yml"));
    assert_eq!((span.line, span.col, span.len), (2, 20, 7));
    assert_eq!(d.label.as_deref(), Some("did you mean `the_vat`?"));
}

/// Each source of definitions, alone, silences the warning: each case
/// warns once its definition is taken away.
#[test]
fn every_source_of_definitions_counts() {
    let with_role_tasks = |tasks: &str| {
        vec![
            ("site.yml".to_string(), site("")),
            ("roles/r/tasks/main.yml".to_string(), tasks.to_string()),
        ]
    };
    let on_site = |extra: &str| {
        vec![
            ("site.yml".to_string(), site(extra)),
            ("roles/r/tasks/main.yml".to_string(), READS.to_string()),
        ]
    };
    let plus = |mut files: Vec<(String, String)>, name: &str, text: &str| {
        files.push((name.to_string(), text.to_string()));
        files
    };
    // `import_role` or `include_role` of `r`, with more lines of arguments.
    let by = |action: &str, args: &str| {
        vec![
            (
                "site.yml".to_string(),
                format!(
                    "- hosts: all\n  gather_facts: false\n  tasks:\n    - {action}:\n        name: r\n{args}"
                ),
            ),
            ("roles/r/tasks/main.yml".to_string(), READS.to_string()),
        ]
    };
    let import = |args: &str| by("import_role", args);
    let include = |args: &str| by("include_role", args);
    // (what defines it, the files with the definition, the files without)
    let cases: Vec<(&str, Files, Files)> = vec![
        (
            "play vars",
            on_site("  vars:\n    the_var: 1\n"),
            on_site("  vars:\n    other: 1\n"),
        ),
        (
            "vars_files",
            plus(
                on_site("  vars_files: [vf.yml]\n"),
                "vf.yml",
                "the_var: 1\n",
            ),
            plus(on_site("  vars_files: [vf.yml]\n"), "vf.yml", "other: 1\n"),
        ),
        (
            "vars_prompt",
            on_site("  vars_prompt:\n    - name: the_var\n      prompt: value?\n"),
            on_site("  vars_prompt:\n    - name: other\n      prompt: value?\n"),
        ),
        (
            "role defaults",
            plus(on_site(""), "roles/r/defaults/main.yml", "the_var: 1\n"),
            plus(on_site(""), "roles/r/defaults/main.yml", "other: 1\n"),
        ),
        (
            "role vars",
            plus(on_site(""), "roles/r/vars/main.yml", "the_var: 1\n"),
            plus(on_site(""), "roles/r/vars/main.yml", "other: 1\n"),
        ),
        (
            "a dependency's defaults",
            plus(
                plus(on_site(""), "roles/r/meta/main.yml", "dependencies: [d]\n"),
                "roles/d/defaults/main.yml",
                "the_var: 1\n",
            ),
            plus(
                plus(on_site(""), "roles/r/meta/main.yml", "dependencies: [d]\n"),
                "roles/d/defaults/main.yml",
                "other: 1\n",
            ),
        ),
        (
            "defaults_from",
            plus(
                import("        defaults_from: more\n"),
                "roles/r/defaults/more.yml",
                "the_var: 1\n",
            ),
            plus(
                import("        defaults_from: more\n"),
                "roles/r/defaults/more.yml",
                "other: 1\n",
            ),
        ),
        (
            "vars_from",
            plus(
                include("        vars_from: more\n"),
                "roles/r/vars/more.yml",
                "the_var: 1\n",
            ),
            plus(
                include("        vars_from: more\n"),
                "roles/r/vars/more.yml",
                "other: 1\n",
            ),
        ),
        (
            "a role param",
            vec![
                (
                    "site.yml".into(),
                    "- hosts: all\n  roles:\n    - role: r\n      the_var: 1\n".into(),
                ),
                ("roles/r/tasks/main.yml".into(), READS.into()),
            ],
            vec![
                (
                    "site.yml".into(),
                    "- hosts: all\n  roles:\n    - role: r\n      other: 1\n".into(),
                ),
                ("roles/r/tasks/main.yml".into(), READS.into()),
            ],
        ),
        (
            "include_role vars",
            include("      vars:\n        the_var: 1\n"),
            include("      vars:\n        other: 1\n"),
        ),
        (
            "block vars",
            with_role_tasks(
                "- block:\n    - debug:\n        msg: \"{{ the_var }}\"\n  vars:\n    the_var: 1\n",
            ),
            with_role_tasks(
                "- block:\n    - debug:\n        msg: \"{{ the_var }}\"\n  vars:\n    other: 1\n",
            ),
        ),
        (
            "task vars",
            with_role_tasks("- debug:\n    msg: \"{{ the_var }}\"\n  vars:\n    the_var: 1\n"),
            with_role_tasks("- debug:\n    msg: \"{{ the_var }}\"\n  vars:\n    other: 1\n"),
        ),
        (
            "register",
            with_role_tasks(&format!(
                "- command: \"true\"\n  register: the_var\n{READS}"
            )),
            with_role_tasks(&format!("- command: \"true\"\n  register: other\n{READS}")),
        ),
        (
            "set_fact",
            with_role_tasks(&format!(
                "- set_fact:\n    the_var: 1\n    cacheable: true\n{READS}"
            )),
            with_role_tasks(&format!(
                "- set_fact:\n    other: 1\n    cacheable: true\n{READS}"
            )),
        ),
        (
            "set_fact in an earlier play",
            vec![
                (
                    "site.yml".into(),
                    format!(
                        "- hosts: all\n  tasks:\n    - set_fact: the_var=1\n{}",
                        site("")
                    ),
                ),
                ("roles/r/tasks/main.yml".into(), READS.into()),
            ],
            vec![
                (
                    "site.yml".into(),
                    format!(
                        "- hosts: all\n  tasks:\n    - set_fact: other=1\n{}",
                        site("")
                    ),
                ),
                ("roles/r/tasks/main.yml".into(), READS.into()),
            ],
        ),
        (
            "add_host",
            on_site("  pre_tasks:\n    - add_host:\n        name: h2\n        the_var: 1\n"),
            on_site("  pre_tasks:\n    - add_host:\n        name: h2\n        other: 1\n"),
        ),
        (
            "loop_var",
            with_role_tasks(
                "- debug:\n    msg: \"{{ the_var }}\"\n  loop: [1]\n  loop_control:\n    loop_var: the_var\n",
            ),
            with_role_tasks(
                "- debug:\n    msg: \"{{ the_var }}\"\n  loop: [1]\n  loop_control:\n    loop_var: other\n",
            ),
        ),
        (
            "index_var",
            with_role_tasks(
                "- debug:\n    msg: \"{{ the_var }}\"\n  loop: [1]\n  loop_control:\n    index_var: the_var\n",
            ),
            with_role_tasks(
                "- debug:\n    msg: \"{{ the_var }}\"\n  loop: [1]\n  loop_control:\n    index_var: other\n",
            ),
        ),
        (
            "getent's facts",
            with_role_tasks(
                "- getent:\n    database: passwd\n- debug:\n    msg: \"{{ getent_passwd }}\"\n",
            ),
            with_role_tasks("- debug:\n    msg: \"{{ getent_passwd }}\"\n"),
        ),
    ];
    let run = |f: &[(String, String)]| {
        let files: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        warned(&files, &[])
    };
    for (what, with, without) in cases {
        assert_eq!(run(&with), Vec::<String>::new(), "{what}");
        assert_eq!(run(&without).len(), 1, "{what}: without it");
    }
}

#[test]
fn inventory_extra_vars_magic_and_facts_count() {
    let site = site("");
    let tasks = "- debug:\n    msg: \"{{ from_inventory }} {{ from_extra }} {{ inventory_hostname }} {{ role_path }} {{ groups.all }} {{ hostvars }} {{ playbook_dir }} {{ ansible_distribution }} {{ ansible_facts.os_family }} {{ item }} {{ lookup('env', 'HOME') }} {{ range(3) | list }}\"\n";
    let files = [
        ("site.yml", site.as_str()),
        ("roles/r/tasks/main.yml", tasks),
    ];
    assert_eq!(
        warned(&files, &["from_inventory", "from_extra"]),
        Vec::<String>::new()
    );
    assert_eq!(warned(&files, &["from_inventory"]), vec!["from_extra"]);
}

/// Role task files (`tasks`) checked with `the_var` defined nowhere.
fn role_warnings(tasks: &str) -> Vec<String> {
    let site = site("");
    warned(
        &[("site.yml", &site), ("roles/r/tasks/main.yml", tasks)],
        &[],
    )
}

#[test]
fn guarded_references_are_not_warned_about() {
    for tasks in [
        "- debug:\n    msg: \"{{ the_var | default(1) }}\"\n",
        "- debug:\n    msg: \"{{ the_var.x | d(1) }}\"\n",
        "- debug:\n    msg: \"{{ the_var }}\"\n  when: the_var is defined\n",
        "- debug:\n    msg: \"{% if the_var is defined %}{{ the_var }}{% endif %}\"\n",
        // The guard covers the name in the whole task.
        "- debug:\n    msg: \"{{ the_var }} {{ the_var is undefined }}\"\n",
        // May short-circuit.
        "- debug:\n    msg: \"{{ inventory_hostname or the_var }}\"\n",
        "- debug:\n    msg: \"{{ 1 if inventory_hostname else the_var }}\"\n",
        // Inside a block of the template.
        "- debug:\n    msg: \"{% for x in groups.all %}{{ the_var }}{% endfor %}\"\n",
        // Not rendered, or not an error.
        "- debug:\n    var: the_var\n",
        "- name: \"{{ the_var }}\"\n  debug:\n    msg: hi\n",
        "- assert:\n    that: true\n    fail_msg: \"{{ the_var }}\"\n",
        "- debug:\n    msg: \"{{ the_var }}\"\n  vars:\n    other: 1\n  when: inventory_hostname == 'a'\n",
        "- debug:\n    msg: '{{ \"{{ the_var }}\" }}'\n",
        "- debug:\n    msg: !unsafe \"{{ the_var }}\"\n",
    ] {
        assert_eq!(role_warnings(tasks), Vec::<String>::new(), "{tasks}");
    }
}

/// The role's `tasks`, with `inner.yml` beside them reading `the_var`.
fn with_inner(tasks: &str) -> Vec<String> {
    let site = site("");
    let files = [
        ("site.yml", site.as_str()),
        ("roles/r/tasks/main.yml", tasks),
        ("roles/r/tasks/inner.yml", READS),
    ];
    warned(&files, &[])
}

#[test]
fn tasks_that_may_not_run_or_may_fail_on_purpose_are_not_checked() {
    for tasks in [
        "- debug:\n    msg: \"{{ the_var }}\"\n  when: inventory_hostname == 'a'\n",
        "- debug:\n    msg: \"{{ the_var }}\"\n  loop: \"{{ groups.all }}\"\n",
        "- debug:\n    msg: \"{{ the_var }}\"\n  ignore_errors: true\n",
        "- debug:\n    msg: \"{{ the_var }}\"\n  failed_when: false\n",
        "- debug:\n    msg: \"{{ the_var }}\"\n  tags: never\n",
        "- block:\n    - debug:\n        msg: \"{{ the_var }}\"\n  rescue:\n    - debug: msg=rescued\n",
        "- block:\n    - debug: msg=ok\n  rescue:\n    - debug:\n        msg: \"{{ the_var }}\"\n",
        "- block:\n    - debug:\n        msg: \"{{ the_var }}\"\n  when: inventory_hostname == 'a'\n",
        "- meta: end_play\n- debug:\n    msg: \"{{ the_var }}\"\n",
        "- include_tasks: inner.yml\n  when: inventory_hostname == 'a'\n",
        // Its first condition only.
        "- debug: msg=hi\n  when:\n    - inventory_hostname == 'a'\n    - the_var == 1\n",
    ] {
        assert_eq!(with_inner(tasks), Vec::<String>::new(), "{tasks}");
    }
}

#[test]
fn unguarded_references_are_warned_about() {
    for tasks in [
        // `mandatory` fails on an undefined value.
        "- debug:\n    msg: \"{{ the_var | mandatory }}\"\n",
        "- debug:\n    msg: \"{{ the_var }}\"\n  loop: [1, 2]\n",
        "- debug: msg=hi\n  when: the_var == 1\n",
        "- assert:\n    that:\n      - the_var == 1\n",
        "- debug: msg=\"{{ the_var }}\"\n",
        "- copy:\n    content: \"{% set x = the_var %}{{ x }}\"\n    dest: /tmp/x\n",
        "- include_tasks: inner.yml\n",
        "- block:\n    - debug: msg=ok\n  always:\n    - debug:\n        msg: \"{{ the_var }}\"\n",
        // Once per role and variable.
        "- debug:\n    msg: \"{{ the_var }} {{ the_var }}\"\n- debug:\n    msg: \"{{ the_var }}\"\n",
    ] {
        assert_eq!(with_inner(tasks), vec!["the_var"], "{tasks}");
    }
}

#[test]
fn play_tasks_are_not_checked_only_roles() {
    let site = "- hosts: all\n  tasks:\n    - debug:\n        msg: \"{{ the_var }}\"\n";
    assert_eq!(warned(&[("site.yml", site)], &[]), Vec::<String>::new());
}

#[test]
fn handlers_are_checked_when_a_checked_task_notifies_them() {
    let handlers = "- name: restart\n  debug:\n    msg: \"{{ the_var }}\"\n";
    let site = site("");
    let run = |tasks: &str| {
        warned(
            &[
                ("site.yml", site.as_str()),
                ("roles/r/tasks/main.yml", tasks),
                ("roles/r/handlers/main.yml", handlers),
            ],
            &[],
        )
    };
    assert_eq!(
        run("- command: \"true\"\n  notify: restart\n"),
        vec!["the_var"]
    );
    assert_eq!(
        run("- command: \"true\"\n  notify: restart\n  when: inventory_hostname == 'a'\n"),
        Vec::<String>::new()
    );
    assert_eq!(run("- command: \"true\"\n"), Vec::<String>::new());
}

#[test]
fn templates_are_checked_outside_their_blocks() {
    let site = site("");
    let tasks = "- template:\n    src: t.j2\n    dest: /tmp/t\n";
    let template = "a {{ top }}\n{% if flag is defined %}{{ inside_if }}{% endif %}\n{% for x in items_list %}{{ x }} {{ in_loop }}{% endfor %}\n{# {{ commented }} #}\n{% raw %}{{ raw_text }}{% endraw %}\n{% set local = 1 %}{{ local }} {{ flag | default(0) }}\n";
    let report = check_files(
        &[
            ("site.yml", &site),
            ("roles/r/tasks/main.yml", tasks),
            ("roles/r/templates/t.j2", template),
        ],
        &[],
    );
    let names: Vec<&str> = report
        .warnings
        .iter()
        .map(|d| d.message.split('`').nth(3).unwrap_or_default())
        .collect();
    assert_eq!(names, ["top", "items_list"]);
    let span = report.warnings[1].span.as_ref().expect("span");
    assert!(span.file.path.ends_with("roles/r/templates/t.j2"));
    assert_eq!((span.line, span.col), (3, 13));
    // A template that reads others is not judged.
    let including = "{% include 'other.j2' %}{{ top }}\n";
    let files = [
        ("site.yml", site.as_str()),
        ("roles/r/tasks/main.yml", tasks),
        ("roles/r/templates/t.j2", including),
    ];
    assert_eq!(warned(&files, &[]), Vec::<String>::new());
}

#[test]
fn plays_defining_variables_at_run_time_are_skipped() {
    let cases = [
        ("- include_vars: more.yml\n", GiveUp::IncludeVars),
        ("- meta: refresh_inventory\n", GiveUp::RefreshInventory),
        ("- set_fact:\n    \"{{ name }}\": 1\n", GiveUp::DynamicFact),
        ("- set_fact: \"{{ facts }}\"\n", GiveUp::DynamicFact),
        (
            "- include_tasks: \"{{ file }}.yml\"\n",
            GiveUp::DeferredInclude,
        ),
        (
            "- add_host:\n    name: x\n    \"{{ k }}\": 1\n",
            GiveUp::DynamicHostVars,
        ),
    ];
    for (task, reason) in cases {
        // The dynamic task in a first play: that play and the next are skipped.
        let site = format!(
            "- hosts: all\n  tasks:\n{}\n{}",
            task.lines()
                .map(|l| format!("    {l}\n"))
                .collect::<String>(),
            site("")
        );
        let report = check_files(
            &[
                ("site.yml", &site),
                ("roles/r/tasks/main.yml", READS),
                ("more.yml", "a: 1\n"),
            ],
            &[],
        );
        assert!(report.warnings.is_empty(), "{task}");
        assert_eq!(report.skipped.len(), 2, "{task}");
        assert_eq!(report.skipped[1].1, reason, "{task}");
    }
}

#[test]
fn an_unreadable_vars_file_skips_its_play_only() {
    let site = format!(
        "- hosts: all\n  vars_files: [\"{{{{ env }}}}.yml\"]\n  roles: [r]\n{}",
        site("")
    );
    let report = check_files(
        &[("site.yml", &site), ("roles/r/tasks/main.yml", READS)],
        &[],
    );
    assert_eq!(
        report.skipped,
        [("all".to_string(), GiveUp::VarsFile("{{ env }}.yml".into()))]
    );
    // The second play runs the role too, but it was reported once.
    assert_eq!(report.warnings.len(), 1);
}

#[test]
fn pieces_finds_the_expressions_outside_blocks() {
    let src = "a {{ x }} {%- if y -%} {{ z }} {% else %} {{ w }} {% endif %} {% for i in items recursive %}{% endfor %}{% set s = v %}{# c #}";
    let p = pieces(src).expect("pieces");
    let top: Vec<&str> = p.top.iter().map(|(_, e)| e.trim()).collect();
    assert_eq!(top, ["x", "y", "items", "v"]);
    for (offset, expr) in &p.top {
        assert_eq!(&src[*offset..*offset + expr.len()], *expr);
    }
    assert!(!p.reads_templates);
    assert!(pieces("{% if x %}").is_none());
    assert!(pieces("{{ x").is_none());
    assert!(pieces("{% endif %}").is_none());
    assert!(
        pieces("{% import 'm.j2' as m %}")
            .expect("pieces")
            .reads_templates
    );
    // Delimiters inside string literals do not close the tag.
    let p = pieces("{{ '}}' ~ x }}").expect("pieces");
    assert_eq!(p.top, [(2, " '}}' ~ x ")]);
}

#[test]
fn first_use_skips_attributes_filters_and_strings() {
    assert_eq!(first_use("'x' ~ y.x | x ~ x", "x"), Some(16));
    assert_eq!(first_use("a.x", "x"), None);
    assert_eq!(first_use("xx + x", "x"), Some(5));
}

#[test]
fn a_play_on_no_host_is_not_checked() {
    let site = site("");
    let files = [
        ("site.yml", site.as_str()),
        ("roles/r/tasks/main.yml", READS),
    ];
    let everything = |_: &[String], _: &[String]| true;
    let report = check_files_on(&files, &[], &|pattern| pattern != "all", &everything);
    assert!(report.warnings.is_empty());
    assert_eq!(
        report.skipped,
        [("all".to_string(), GiveUp::NoHosts("all".into()))]
    );
    assert_eq!(
        check_files_on(&files, &[], &|_| true, &everything)
            .warnings
            .len(),
        1
    );
}

#[test]
fn role_defaults_read_by_a_task_are_checked_where_nothing_else_defines_them() {
    let defaults = "url: \"http://{{ hots }}:{{ port | default(80) }}\"\nunused: \"{{ nowhere }}\"\nlisted:\n  - \"{{ in_list }}\"\nplayed: \"{{ in_played }}\"\n";
    let tasks = "- debug:\n    msg: \"{{ url }} {{ listed }} {{ played }}\"\n";
    let played = site("  vars:\n    played: 1\n");
    let report = check_files(
        &[
            ("site.yml", &played),
            ("roles/r/defaults/main.yml", defaults),
            ("roles/r/tasks/main.yml", tasks),
        ],
        &[],
    );
    // `unused` is not read, a list's items render when read, and `played`
    // may take the play's value.
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    let span = report.warnings[0].span.as_ref().expect("span");
    assert!(span.file.path.ends_with("roles/r/defaults/main.yml"));
    assert_eq!((span.line, span.col), (1, 17));
    assert!(report.warnings[0].message.contains("`hots`"));
    // Through a dependency's defaults, and from one variable to the next.
    let defaults = "url: \"{{ base }}/x\"\nbase: \"{{ hots }}\"\n";
    let tasks = "- debug:\n    msg: \"{{ url }}\"\n";
    let plain = site("");
    let files = [
        ("site.yml", plain.as_str()),
        ("roles/r/meta/main.yml", "dependencies: [d]\n"),
        ("roles/d/defaults/main.yml", defaults),
        ("roles/r/tasks/main.yml", tasks),
    ];
    assert_eq!(warned(&files, &[]), ["hots"]);
    // A role param of another value may stand in for it.
    let params = "- hosts: all\n  roles:\n    - role: r\n      url: x\n    - role: r\n";
    let files = [
        ("site.yml", params),
        ("roles/r/defaults/main.yml", defaults),
        ("roles/r/tasks/main.yml", tasks),
    ];
    assert_eq!(warned(&files, &[]), Vec::<String>::new());
}

#[test]
fn tasks_left_out_by_tags_are_not_checked() {
    let site = site("  tags: [web]\n");
    let tasks = "- debug:\n    msg: \"{{ the_var }}\"\n  tags: [tls]\n- debug:\n    msg: \"{{ templated_tag }}\"\n  tags: [\"{{ tag }}\"]\n";
    let files = [
        ("site.yml", site.as_str()),
        ("roles/r/tasks/main.yml", tasks),
    ];
    let skip_tls = |task: &[String], play: &[String]| {
        crate::exec::tags_select(task, play, &[], &["tls".to_string()])
    };
    let report = check_files_on(&files, &[], &|_| true, &skip_tls);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    // Selected with the play's tag; a templated tag is known only at run time.
    let only_web = |task: &[String], play: &[String]| {
        crate::exec::tags_select(task, play, &["web".to_string()], &[])
    };
    let report = check_files_on(&files, &[], &|_| true, &only_web);
    assert_eq!(report.warnings.len(), 1);
    assert!(report.warnings[0].message.contains("`the_var`"));
}

#[test]
fn strings_with_other_scripts_keep_offsets() {
    let expr = "'é\\ü' ~ x ~ \"ß\"";
    assert_eq!(blank_strings(expr).len(), expr.len());
    assert_eq!(first_use(expr, "x"), Some(expr.find('x').unwrap_or(0)));
    let site = site("");
    let tasks = "- debug:\n    msg: \"é {{ 'ü\\\\ö' ~ the_var }}\"\n";
    let report = check_files(
        &[("site.yml", &site), ("roles/r/tasks/main.yml", tasks)],
        &[],
    );
    let span = report.warnings[0].span.as_ref().expect("span");
    assert_eq!((span.line, span.col), (2, 25));
}
