//! The provisioning example (`playbooks/provision/site.yml`) on three lab
//! hosts, as a new user would run it: a service account with its key, a
//! package from the site's apt repository, its configuration from a template
//! with a restart handler, the service running and enabled, a cron job and a
//! git checkout. Each host is then inspected directly; a second run changes
//! nothing; after a manual edit on one host, `tend plan` and `--check --diff`
//! show exactly that edit (and the restart it would cause) and change nothing.

mod lab;

use std::path::Path;

/// On each host: the `tendweb` package (a daemon with an init script) in a
/// local repository, every other apt source removed, and the site's bare git
/// repository.
const SETUP: &str = r#"set -e
rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*
d=/srv/build/tendweb
mkdir -p "$d/DEBIAN" "$d/etc/init.d" "$d/usr/sbin" /srv/repo
cat >"$d/DEBIAN/control" <<'EOC'
Package: tendweb
Version: 1.0
Architecture: all
Maintainer: tend <tend@example.invalid>
Description: tend example web server
EOC
cat >"$d/usr/sbin/tendweb" <<'EOC'
#!/bin/sh
[ "$1" = rotate ] && exit 0
cp /etc/tendweb.conf /run/tendweb.loaded
echo $$ >/run/tendweb.pid
exec sleep 100000
EOC
cat >"$d/etc/init.d/tendweb" <<'EOC'
#!/bin/sh
### BEGIN INIT INFO
# Provides:          tendweb
# Required-Start:
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: tend example web server
### END INIT INFO
PID=/run/tendweb.pid
running() { [ -s $PID ] && kill -0 "$(cat $PID)" 2>/dev/null; }
case "$1" in
    start)
        running && exit 0
        rm -f $PID
        setsid /usr/sbin/tendweb </dev/null >/dev/null 2>&1 &
        i=0; while [ ! -s $PID ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done ;;
    stop) if running; then kill "$(cat $PID)"; fi; rm -f $PID ;;
    restart) "$0" stop; "$0" start ;;
    status) running || exit 3 ;;
    *) exit 2 ;;
esac
EOC
chmod 755 "$d/usr/sbin/tendweb" "$d/etc/init.d/tendweb"
dpkg-deb --root-owner-group --build "$d" /srv/repo/tendweb_1.0_all.deb >/dev/null
cd /srv/repo
for f in *.deb; do
    dpkg-deb -f "$f"
    printf 'Filename: ./%s\nSize: %s\nSHA256: %s\n\n' "$f" "$(stat -c %s "$f")" "$(sha256sum <"$f" | cut -d' ' -f1)"
done >Packages
rm -rf /tmp/site && mkdir /tmp/site && cd /tmp/site
git init -q && git checkout -q -b main
echo "<h1>$(hostname)</h1>" >index.html
git add index.html && git -c user.name=tend -c user.email=tend@example.invalid commit -q -m site
rm -rf /srv/site.git && git clone -q --bare /tmp/site /srv/site.git
"#;

/// Stops the daemons whatever happens, so none outlives the test.
struct StopDaemons<'a>(&'a lab::Lab);

impl Drop for StopDaemons<'_> {
    fn drop(&mut self) {
        for i in 1..=self.0.n {
            let _ = self.0.sh(
                i,
                "[ -x /etc/init.d/tendweb ] && /etc/init.d/tendweb stop; true",
            );
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// A dry run after the manual edit on host2: the template and its restart
/// handler would change there, nothing elsewhere, and nothing was touched.
fn only_host2_would_change(lab: &lab::Lab, run: &lab::Run, pid2: &str) {
    assert_eq!(run.recap("host2", "changed"), 2, "{}", run.stdout);
    for h in ["host1", "host3"] {
        assert_eq!(run.recap(h, "changed"), 0, "{}", run.stdout);
    }
    assert!(
        lab.sh_ok(2, "cat /etc/tendweb.conf")
            .contains("workers = 64")
    );
    assert_eq!(
        lab.sh_ok(2, "cat /run/tendweb.pid"),
        pid2,
        "the dry run restarted the daemon"
    );
}

#[test]
fn a_host_is_provisioned_converges_and_drift_is_shown_exactly() {
    let lab = lab_or_skip!(3);
    let _stop = StopDaemons(&lab);
    for i in 1..=3 {
        lab.sh_ok(i, SETUP);
    }
    let proj = lab::project(&[
        ("web.ini", "[web:children]\nlab\n"),
        (
            "group_vars/web.yml",
            "web_repo_line: \"deb [trusted=yes] file:/srv/repo ./\"\nsite_repo: /srv/site.git\n",
        ),
        ("host_vars/host1.yml", "web_port: 8081\n"),
        ("host_vars/host2.yml", "web_port: 8082\nweb_workers: 4\n"),
        ("host_vars/host3.yml", "web_port: 8083\n"),
    ]);
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks/provision"),
        proj.path(),
    );
    let site = proj.path().join("site.yml");
    let web = proj.path().join("web.ini").display().to_string();

    let first = lab.playbook(&site, &["-i", &web]);
    first.assert_code(0);
    for i in 1..=3 {
        let h = format!("host{i}");
        assert_eq!(first.recap(&h, "failed"), 0, "{}", first.stdout);
        assert!(first.recap(&h, "changed") >= 9, "{}", first.stdout);
        // The account, its key, the package.
        assert_eq!(
            lab.sh_ok(i, "getent passwd webapp | cut -d: -f5-7"),
            "tendweb service account:/home/webapp:/bin/sh\n"
        );
        assert_eq!(
            lab.sh_ok(i, "stat -c '%U %a' /home/webapp/.ssh/authorized_keys; cut -d' ' -f3 /home/webapp/.ssh/authorized_keys"),
            "webapp 600\ndeploy@tend-example\n"
        );
        assert_eq!(
            lab.sh_ok(i, "dpkg-query -W -f '${Status} ${Version}' tendweb"),
            "install ok installed 1.0"
        );
        // The configuration, as the running daemon loaded it.
        let workers = if i == 2 { 4 } else { 2 };
        let conf = format!(
            "# Ansible managed\nlisten = 0.0.0.0:808{i}\nuser = webapp\nroot = /srv/www\nworkers = {workers}\n"
        );
        assert_eq!(lab.sh_ok(i, "cat /etc/tendweb.conf"), conf);
        assert_eq!(lab.sh_ok(i, "cat /run/tendweb.loaded"), conf);
        assert_eq!(
            lab.sh_ok(i, "stat -c '%U:%G %a' /etc/tendweb.conf"),
            "root:webapp 640\n"
        );
        assert_eq!(
            lab.sh_ok(i, "/etc/init.d/tendweb status && echo up"),
            "up\n"
        );
        assert_eq!(
            lab.sh_ok(i, "ls /etc/rc2.d | grep -c '^S..tendweb$'"),
            "1\n"
        );
        // The cron job and the checkout.
        assert_eq!(
            lab.sh_ok(i, "cat /etc/cron.d/tendweb"),
            "#Ansible: rotate tendweb logs\n17 3 * * * webapp /usr/sbin/tendweb rotate\n"
        );
        assert_eq!(
            lab.sh_ok(i, "cat /srv/www/index.html"),
            format!("<h1>host{i}</h1>\n")
        );
    }
    let pid2 = lab.sh_ok(2, "cat /run/tendweb.pid");

    // Nothing to do the second time.
    let again = lab.playbook(&site, &["-i", &web]);
    again.assert_code(0);
    for i in 1..=3 {
        assert_eq!(
            again.recap(&format!("host{i}"), "changed"),
            0,
            "{}",
            again.stdout
        );
    }

    // A manual edit on host2: the plan shows exactly that line and the
    // restart it would cause, and changes nothing.
    lab.sh_ok(
        2,
        "sed -i 's/^workers = 4$/workers = 64/' /etc/tendweb.conf",
    );
    let plan = lab.tend_in(
        proj.path(),
        &[
            "plan",
            "-i",
            &lab.inventory.display().to_string(),
            "-i",
            &web,
            "site.yml",
        ],
    );
    plan.assert_code(2);
    assert!(
        plan.stdout.contains("-workers = 64\n+workers = 4\n"),
        "{}",
        plan.stdout
    );
    only_host2_would_change(&lab, &plan, &pid2);

    // `--check --diff` shows the same: that one line on host2, nothing else.
    let check = lab.playbook(&site, &["-i", &web, "--check", "--diff"]);
    check.assert_code(0);
    let changed_lines: Vec<&str> = check
        .stdout
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    assert_eq!(
        changed_lines,
        ["-workers = 64", "+workers = 4"],
        "{}",
        check.stdout
    );
    only_host2_would_change(&lab, &check, &pid2);

    // Applying puts it back and restarts the daemon with the right config.
    let fix = lab.playbook(&site, &["-i", &web]);
    fix.assert_code(0);
    assert_eq!(fix.recap("host2", "changed"), 2, "{}", fix.stdout);
    assert!(
        lab.sh_ok(2, "cat /run/tendweb.loaded")
            .contains("workers = 4\n")
    );
    assert_ne!(lab.sh_ok(2, "cat /run/tendweb.pid"), pid2);
}
