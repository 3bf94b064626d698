//! The real `tend` binary over SSH against real lab hosts: converge, re-run
//! all ok, check mode changes nothing and predicts drift, host vars differ per
//! host. Host state is read directly on each host, not through tend.

mod lab;

const PLAYBOOK: &str = r#"
- name: Configure the app
  hosts: lab
  gather_facts: yes
  become: yes
  vars:
    app_root: /srv/tendtest
  tasks:
    - name: Directories
      file:
        path: "{{ app_root }}/{{ item }}"
        state: directory
        mode: "0755"
      loop: [etc, www, log]

    - name: Landing page
      copy:
        dest: "{{ app_root }}/www/index.html"
        content: "<h1>{{ inventory_hostname }} is {{ ansible_facts.hostname }}</h1>\n"
        mode: "0644"

    - name: Static file
      copy:
        src: files/robots.txt
        dest: "{{ app_root }}/www/robots.txt"

    - name: Configuration
      template:
        src: templates/app.conf.j2
        dest: "{{ app_root }}/etc/app.conf"
        owner: app
        group: deploy
        mode: "0640"
      notify: Restart app

    - name: Environment
      lineinfile:
        path: /etc/environment
        regexp: '^APP_COLOR='
        line: "APP_COLOR={{ color }}"
        create: yes

    - name: Deploy once
      command: touch {{ app_root }}/log/deployed
      args:
        creates: "{{ app_root }}/log/deployed"

  handlers:
    - name: Restart app
      shell: echo restarted >> {{ app_root }}/log/restarts
"#;

const TEMPLATE: &str = "# managed by tend
name = {{ inventory_hostname }}
color = {{ color }}
port = {{ port }}
{% for f in features %}
feature.{{ f }} = on
{% endfor %}
";

fn project(n: usize) -> tempfile::TempDir {
    let mut files: Vec<(String, String)> = vec![
        ("site.yml".into(), PLAYBOOK.into()),
        ("templates/app.conf.j2".into(), TEMPLATE.into()),
        (
            "files/robots.txt".into(),
            "User-agent: *\nDisallow:\n".into(),
        ),
        (
            "group_vars/lab.yml".into(),
            "features: [gzip, cache]\n".into(),
        ),
    ];
    for i in 1..=n {
        files.push((
            format!("host_vars/host{i}.yml"),
            format!("color: color-{i}\nport: {}\n", 8000 + i),
        ));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    lab::project(&refs)
}

#[test]
fn converges_is_idempotent_and_check_mode_changes_nothing() {
    let n = 10;
    let lab = lab_or_skip!(n);
    let proj = project(n);
    let site = proj.path().join("site.yml");

    // Check mode on fresh hosts (the directories exist, with the wrong
    // mode, as Ansible's copy cannot predict into a missing directory):
    // predicts every change, changes nothing.
    let state = "stat -c '%a' /srv/tendtest/www; find /srv/tendtest -type f | wc -l; grep -c APP_COLOR /etc/environment || true";
    for i in 1..=n {
        lab.sh_ok(
            i,
            "mkdir -p -m 700 /srv/tendtest/etc /srv/tendtest/www /srv/tendtest/log",
        );
        assert_eq!(lab.sh_ok(i, state), "700\n0\n0\n");
    }
    let check = lab.playbook(&site, &["--check"]);
    check.assert_code(0);
    for i in 1..=n {
        // Directories, 2 copies, template, lineinfile, command (the
        // notified handler, a shell command, is skipped in check mode).
        assert_eq!(
            check.recap(&format!("host{i}"), "changed"),
            6,
            "{}",
            check.stdout
        );
        assert_eq!(
            lab.sh_ok(i, state),
            "700\n0\n0\n",
            "host{i}: check mode wrote"
        );
    }

    // Converge.
    let lab::Cost {
        run: first,
        requests: apply,
        channels: apply_channels,
    } = lab.playbook_cost(&site, &[]);
    first.assert_code(0);
    for i in 1..=n {
        let h = format!("host{i}");
        // The six tasks and the handler.
        assert_eq!(first.recap(&h, "changed"), 7, "{}", first.stdout);
        assert_eq!(first.recap(&h, "failed"), 0);
        let conf = lab.sh_ok(i, "cat /srv/tendtest/etc/app.conf");
        assert_eq!(
            conf,
            format!(
                "# managed by tend\nname = host{i}\ncolor = color-{i}\nport = {}\nfeature.gzip = on\nfeature.cache = on\n",
                8000 + i
            ),
            "host{i}"
        );
        assert_eq!(
            lab.sh_ok(i, "stat -c '%U:%G %a' /srv/tendtest/etc/app.conf")
                .trim(),
            "app:deploy 640"
        );
        assert_eq!(
            lab.sh_ok(i, "cat /srv/tendtest/www/index.html"),
            format!("<h1>host{i} is host{i}</h1>\n"),
            "facts come from the host itself"
        );
        assert_eq!(
            lab.sh_ok(i, "cat /srv/tendtest/www/robots.txt"),
            "User-agent: *\nDisallow:\n"
        );
        assert_eq!(
            lab.sh_ok(i, "grep '^APP_COLOR=' /etc/environment"),
            format!("APP_COLOR=color-{i}\n")
        );
        assert_eq!(
            lab.sh_ok(i, "cat /srv/tendtest/log/restarts"),
            "restarted\n"
        );
        lab.sh_ok(i, "test -f /srv/tendtest/log/deployed");
    }
    assert!(
        !std::path::Path::new("/srv/tendtest").exists(),
        "a lab host's change leaked onto the machine"
    );

    // Re-run: nothing to do.
    let lab::Cost {
        run: second,
        requests: noop,
        channels: noop_channels,
    } = lab.playbook_cost(&site, &[]);
    second.assert_code(0);
    for i in 1..=n {
        let h = format!("host{i}");
        assert_eq!(second.recap(&h, "changed"), 0, "{}", second.stdout);
        assert_eq!(second.recap(&h, "ok"), first.recap(&h, "ok") - 1);
    }
    // Requests: facts + 3 directory items + 2 copies + template +
    // lineinfile + command(creates) = 9 per host for a no-op run (the 3
    // items' probes go in one round trip), on one SSH channel: one shell
    // escalated once, for fact gathering (under the play's become, as
    // Ansible's setup) and every task.
    eprintln!(
        "requests per host: first apply {apply:?}, no-op re-run {noop:?}; \
         channels {apply_channels:?}, {noop_channels:?}"
    );
    for i in 0..n {
        assert_eq!(noop[i], 9, "host{}: requests of a no-op run", i + 1);
        // The directory items' probes go together: 7 round trips.
        let line = format!("<host{}> SSH: 7 round trips, 1 channel\n", i + 1);
        assert!(second.stdout.contains(&line), "{line}{}", second.stdout);
        assert_eq!(
            noop_channels[i],
            1,
            "host{}: channels of a no-op run",
            i + 1
        );
    }

    // Check mode after converging: all ok.
    let check = lab.playbook(&site, &["--check", "--diff"]);
    check.assert_code(0);
    for i in 1..=n {
        assert_eq!(check.recap(&format!("host{i}"), "changed"), 0);
    }

    // Drift on one host: check mode shows it and leaves it; apply repairs it.
    lab.sh_ok(2, "echo drift >> /srv/tendtest/etc/app.conf");
    let check = lab.playbook(&site, &["--check", "--diff"]);
    check.assert_code(0);
    assert_eq!(check.recap("host2", "changed"), 1, "{}", check.stdout);
    assert_eq!(check.recap("host1", "changed"), 0);
    assert!(check.stdout.contains("-drift"), "{}", check.stdout);
    assert!(
        lab.sh_ok(2, "cat /srv/tendtest/etc/app.conf")
            .contains("drift")
    );
    let fix = lab.playbook(&site, &[]);
    fix.assert_code(0);
    assert_eq!(fix.recap("host2", "changed"), 2, "template and handler");
    assert!(
        !lab.sh_ok(2, "cat /srv/tendtest/etc/app.conf")
            .contains("drift")
    );
    assert_eq!(
        lab.sh_ok(2, "cat /srv/tendtest/log/restarts"),
        "restarted\nrestarted\n"
    );
}

/// A loop's probes are sent ahead together; an item that changes the host
/// drops the answers kept for the items after it, which are probed again:
/// items that edit the same file each see the edits before them.
#[test]
fn loop_items_see_the_changes_of_the_items_before_them() {
    let lab = lab_or_skip!(2);
    let play = r#"
- hosts: lab
  gather_facts: no
  become: yes
  tasks:
    - lineinfile:
        path: /srv/ahead.conf
        line: "{{ item }}"
        create: yes
      loop: [a, b, c, d]
    - file:
        path: "/srv/ahead-{{ item }}"
        state: directory
      loop: [x, y, z]
"#;
    let proj = lab::project(&[("site.yml", play)]);
    let book = proj.path().join("site.yml");
    for i in 1..=2 {
        lab.sh_ok(
            i,
            "rm -rf /srv/ahead*; printf 'a\\n' > /srv/ahead.conf; mkdir /srv/ahead-y",
        );
    }
    let run = lab.playbook(&book, &[]);
    run.assert_code(0);
    for i in 1..=2 {
        let host = format!("host{i}");
        // b, c, d, then x and z: five changed items in two changed tasks.
        assert_eq!(run.recap(&host, "changed"), 2, "{host}");
        assert_eq!(lab.sh_ok(i, "cat /srv/ahead.conf"), "a\nb\nc\nd\n");
        assert_eq!(
            lab.sh_ok(i, "ls -d /srv/ahead-*"),
            "/srv/ahead-x\n/srv/ahead-y\n/srv/ahead-z\n"
        );
    }
    let again = lab.playbook(&book, &[]);
    again.assert_code(0);
    for i in 1..=2 {
        assert_eq!(again.recap(&format!("host{i}"), "changed"), 0);
    }
    assert!(
        again.stdout.contains("ok: [host1] => (item=d)"),
        "{}",
        again.stdout
    );
}

/// The read-only modules' requests are sent ahead too: a `stat` loop of
/// four items is one round trip (tend counts them at `-v`), and each item
/// still gets its own path's result.
#[test]
fn a_stat_loop_is_one_round_trip() {
    let lab = lab_or_skip!(1);
    let play = r#"
- hosts: lab
  gather_facts: no
  tasks:
    - stat:
        path: "{{ item }}"
      loop: [/etc/hostname, /etc/passwd, /nonexistent, /srv]
      register: st
    - copy:
        dest: /tmp/stat-loop.txt
        content: "{{ st.results | map(attribute='stat.exists') | list }} {{ st.results[3].stat.isdir }}\n"
"#;
    let proj = lab::project(&[("site.yml", play)]);
    let run = lab.playbook(&proj.path().join("site.yml"), &["-v"]);
    run.assert_code(0);
    assert_eq!(
        lab.sh_ok(1, "cat /tmp/stat-loop.txt"),
        "[True, True, False, True] True\n"
    );
    // One for the four stats, two for the copy (probe, then write).
    assert!(
        run.stdout
            .contains("<host1> SSH: 3 round trips, 1 channel\n"),
        "{}",
        run.stdout
    );
}
