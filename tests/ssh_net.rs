//! The network and transfer modules (`get_url`, `uri`, `unarchive`, `git`,
//! `fetch`, `script`) through the real `tend` binary on lab hosts. HTTP is
//! served by a small server started inside the lab's network namespace, on
//! its loopback; host state is checked directly on each host.

mod lab;

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A tiny HTTP server (GET of files, POST echoing the request as JSON, a
/// redirect, a basic-auth protected path), run with the machine's python3.
const SERVER: &str = r#"
import base64, http.server, json, os, sys
root = sys.argv[2]
class H(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)
    def log_message(self, *a):
        pass
    def do_GET(self):
        if self.path == '/redirect':
            self.send_response(302)
            self.send_header('Location', '/hello.txt')
            self.end_headers()
            return
        if self.path == '/secret.txt':
            want = 'Basic ' + base64.b64encode(b'me:s3cr3t pw').decode()
            if self.headers.get('Authorization') != want:
                self.send_response(401)
                self.send_header('WWW-Authenticate', 'Basic realm="x"')
                self.end_headers()
                return
        return super().do_GET()
    def do_POST(self):
        n = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(n).decode()
        out = json.dumps({'method': 'POST', 'path': self.path, 'body': body,
                          'content_type': self.headers.get('Content-Type'),
                          'token': self.headers.get('X-Token')}).encode()
        self.send_response(201)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(out)))
        self.send_header('Set-Cookie', 'sid=abc; Path=/')
        self.end_headers()
        self.wfile.write(out)
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
"#;

/// The server, stopped (by its pid) when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// How many `mktemp` entries the host itself has in /tmp: as root, a lab
/// host's /tmp is an overlay whose lower layer is this machine's /tmp, where
/// other tests come and go, so only its upper layer (what the host wrote)
/// is counted.
const HOST_TMP_ENTRIES: &str =
    "d=/run/st/u/tmp; [ -d $d ] || d=/tmp; ls -A $d | grep -c '^tmp\\.' || true";

fn serve(lab: &lab::Lab, root: &Path, port: u16) -> Option<Server> {
    if !Path::new("/usr/bin/python3").exists() {
        eprintln!("SKIPPED: /usr/bin/python3 is needed for the test HTTP server");
        return None;
    }
    let script = root.parent().unwrap().join("server.py");
    std::fs::write(&script, SERVER).unwrap();
    let child = Command::new(lab::lab_script())
        .arg("run")
        .arg(lab.dir())
        .arg("--")
        .arg("/usr/bin/python3")
        .arg(&script)
        .arg(port.to_string())
        .arg(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the HTTP server");
    let server = Server(child);
    // Wait until it answers (from host 1, which shares the lab's network).
    for _ in 0..100 {
        let r = lab.sh(1, &format!("curl -s -o /dev/null http://127.0.0.1:{port}/"));
        if r.code == Some(0) {
            return Some(server);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the test HTTP server did not start");
}

fn sha256(data: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn get_url_and_uri_against_a_local_http_server() {
    let lab = lab_or_skip!(2);
    let proj = tempfile::tempdir().unwrap();
    let www = proj.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let hello = b"hello from the lab\n".to_vec();
    std::fs::write(www.join("hello.txt"), &hello).unwrap();
    let blob: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(www.join("blob.bin"), &blob).unwrap();
    std::fs::write(
        www.join("SHA256SUMS"),
        format!(
            "{}  hello.txt\n{} *blob.bin\n",
            sha256(&hello),
            sha256(&blob)
        ),
    )
    .unwrap();
    std::fs::write(www.join("secret.txt"), b"top secret\n").unwrap();
    std::fs::write(www.join("api.json"), br#"{"name": "lab", "items": [1, 2]}"#).unwrap();
    let Some(_server) = serve(&lab, &www, 8080) else {
        return;
    };
    let base = "http://127.0.0.1:8080";
    let playbook = format!(
        r#"
- hosts: lab
  become: yes
  tasks:
    - name: Directory
      file: path=/srv/dl state=directory mode=0755
    - name: A file with its checksum
      get_url:
        url: {base}/hello.txt
        dest: /srv/dl/hello.txt
        checksum: "sha256:{sum}"
        mode: "0640"
        owner: app
    - name: Into a directory
      get_url:
        url: {base}/blob.bin
        dest: /srv/dl/
    - name: Checked against a checksum file
      get_url:
        url: {base}/blob.bin
        dest: /srv/dl/blob2.bin
        checksum: "sha256:{base}/SHA256SUMS"
    - name: With credentials
      get_url:
        url: {base}/secret.txt
        dest: /srv/dl/secret.txt
        url_username: me
        url_password: "s3cr3t pw"
    - name: Read JSON
      uri:
        url: {base}/api.json
        return_content: yes
      register: api
    - name: Post JSON
      uri:
        url: {base}/items
        method: POST
        body_format: json
        body:
          name: web
          n: 2
        headers:
          X-Token: abc
        status_code: [200, 201]
      register: posted
    - name: Follow a redirect
      uri:
        url: {base}/redirect
        return_content: yes
      register: redir
    - name: Save a response (If-Modified-Since on later runs)
      uri:
        url: {base}/hello.txt
        dest: /srv/dl/uri.txt
        status_code: [200, 304]
    - name: Only once
      uri:
        url: {base}/hello.txt
        creates: /srv/dl/hello.txt
    - assert:
        that:
          - api.status == 200
          - api.json.name == 'lab'
          - api.json['items'] == [1, 2]
          - api.content_type == 'application/json'
          - api.msg.startswith('OK (')
          - posted.status == 201
          - "posted.json.body == '{{\"name\": \"web\", \"n\": 2}}'"
          - posted.json.content_type == 'application/json'
          - posted.json.token == 'abc'
          - posted.cookies.sid == 'abc'
          - redir.redirected
          - redir.url == '{base}/hello.txt'
          - redir.content | trim == 'hello from the lab'
          - redir.content | length == 19
      when: not ansible_check_mode
"#,
        sum = sha256(&hello)
    );
    let site = proj.path().join("site.yml");
    std::fs::write(&site, playbook).unwrap();

    // Check mode on fresh hosts (the directory exists with another mode,
    // as Ansible's get_url cannot predict into a missing directory).
    for i in 1..=2 {
        lab.sh_ok(i, "mkdir -m 700 /srv/dl");
    }
    let check = lab.playbook(&site, &["--check"]);
    check.assert_code(0);
    for i in 1..=2 {
        assert_eq!(
            check.recap(&format!("host{i}"), "changed"),
            5,
            "{}",
            check.stdout
        );
        assert_eq!(
            lab.sh_ok(i, "ls -A /srv/dl | wc -l; stat -c %a /srv/dl"),
            "0\n700\n",
            "check mode changed the host"
        );
    }

    let run = lab.playbook(&site, &["--diff"]);
    run.assert_code(0);
    for i in 1..=2 {
        let host = format!("host{i}");
        // directory, four downloads, the saved response
        assert_eq!(run.recap(&host, "changed"), 6, "{}", run.stdout);
        assert_eq!(
            lab.sh_ok(i, "sha256sum < /srv/dl/blob2.bin | cut -d' ' -f1"),
            format!("{}\n", sha256(&blob))
        );
        assert_eq!(lab.sh_ok(i, "cat /srv/dl/uri.txt"), "hello from the lab\n");
        assert_eq!(run.recap(&host, "failed"), 0);
        assert_eq!(
            lab.sh_ok(
                i,
                "sha256sum < /srv/dl/hello.txt | cut -d' ' -f1; stat -c '%a %U' /srv/dl/hello.txt"
            ),
            format!("{}\n640 app\n", sha256(&hello))
        );
        assert_eq!(
            lab.sh_ok(i, "sha256sum < /srv/dl/blob.bin | cut -d' ' -f1"),
            format!("{}\n", sha256(&blob))
        );
        assert_eq!(lab.sh_ok(i, "cat /srv/dl/secret.txt"), "top secret\n");
        // No temporary files left behind.
        assert_eq!(lab.sh_ok(i, "ls -A /srv/dl | grep -c tend || true"), "0\n");
    }
    // The password never reached a command line or the output.
    assert!(!run.stdout.contains("s3cr3t"), "{}", run.stdout);

    let again = lab.playbook(&site, &[]);
    again.assert_code(0);
    for i in 1..=2 {
        // The directory download runs again but changes nothing.
        assert_eq!(
            again.recap(&format!("host{i}"), "changed"),
            0,
            "{}",
            again.stdout
        );
    }

    // Drift: a changed file is downloaded again (checksum mismatch); check
    // mode predicts that and changes nothing. A download into a directory
    // is always predicted as a change, as Ansible's HEAD request does (the
    // file's name is only known from the response).
    lab.sh_ok(1, "echo tampered > /srv/dl/hello.txt");
    let check = lab.playbook(&site, &["--check", "--diff"]);
    check.assert_code(0);
    assert_eq!(check.recap("host1", "changed"), 2, "{}", check.stdout);
    assert_eq!(check.recap("host2", "changed"), 1, "{}", check.stdout);
    assert_eq!(lab.sh_ok(1, "cat /srv/dl/hello.txt"), "tampered\n");
    let fix = lab.playbook(&site, &[]);
    fix.assert_code(0);
    assert_eq!(fix.recap("host1", "changed"), 1);
    assert_eq!(
        lab.sh_ok(
            1,
            "cat /srv/dl/hello.txt; stat -c '%a %U' /srv/dl/hello.txt"
        ),
        "hello from the lab\n640 app\n"
    );
}

#[test]
fn get_url_and_uri_failures_are_clear() {
    let lab = lab_or_skip!(1);
    let proj = tempfile::tempdir().unwrap();
    let www = proj.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("f.txt"), b"content\n").unwrap();
    let Some(_server) = serve(&lab, &www, 8081) else {
        return;
    };
    let playbook = r#"
- hosts: lab
  tasks:
    - get_url:
        url: http://127.0.0.1:8081/missing
        dest: /tmp/missing
      register: missing
      ignore_errors: yes
    - get_url:
        url: http://127.0.0.1:8081/f.txt
        dest: /tmp/f.txt
        checksum: "sha256:0000000000000000000000000000000000000000000000000000000000000000"
      register: badsum
      ignore_errors: yes
    - uri:
        url: http://127.0.0.1:8081/nothere
      register: notfound
      ignore_errors: yes
    - uri:
        url: http://127.0.0.1:9/
      register: refused
      ignore_errors: yes
    - assert:
        that:
          - missing is failed
          - missing.msg == 'Request failed'
          - missing.status_code == 404
          - badsum is failed
          - "'did not match' in badsum.msg"
          - notfound.status == 404
          - notfound.msg.startswith('Status code was 404 and not [200]')
          - refused.status == -1
          - "'Request failed' in refused.msg"
"#;
    let site = proj.path().join("site.yml");
    std::fs::write(&site, playbook).unwrap();
    let run = lab.playbook(&site, &[]);
    run.assert_code(0);
    assert_eq!(run.recap("host1", "ignored"), 4, "{}", run.stdout);
    assert_eq!(
        lab.sh_ok(
            1,
            "ls /tmp/missing /tmp/f.txt 2>/dev/null | wc -l; ls -A /tmp | grep -c '^.tend' || true"
        ),
        "0\n0\n"
    );
}

#[test]
fn fetch_and_script() {
    let lab = lab_or_skip!(2);
    let proj = lab::project(&[
        (
            "files/setup.sh",
            "#!/bin/sh\necho \"args: $1|$2\"\necho \"in $(pwd)\"\necho oops >&2\ntouch /srv/setup.done\n",
        ),
        ("files/fail.sh", "#!/bin/sh\necho failing\nexit 3\n"),
        (
            "site.yml",
            r#"
- hosts: lab
  become: yes
  tasks:
    - name: Run the setup script once
      script: setup.sh "first arg" {{ inventory_hostname }}
      args:
        chdir: /tmp
        creates: /srv/setup.done
      register: setup
    - name: A failing script
      script:
        cmd: fail.sh
        executable: /bin/sh
      register: failing
      failed_when: false
      when: not ansible_check_mode
    - assert:
        that:
          - "setup.stdout_lines == ['args: first arg|' ~ inventory_hostname, 'in /tmp']"
          - setup.stderr | trim == 'oops'
          - setup.rc == 0
          - failing.rc == 3
          - failing.stdout | trim == 'failing'
      when: setup is changed and not ansible_check_mode
    - name: Collect a file per host
      fetch:
        src: /etc/hostname
        dest: collected
    - name: One flat file
      fetch:
        src: /srv/report.txt
        dest: "reports/{{ inventory_hostname }}.txt"
        flat: yes
    - name: Missing files can be ignored
      fetch:
        src: /nope
        dest: collected
        fail_on_missing: no
"#,
        ),
    ]);
    let site = proj.path().join("site.yml");
    for i in 1..=2 {
        lab.sh_ok(
            i,
            &format!("printf 'report of host{i}\\n' > /srv/report.txt"),
        );
    }
    // Check mode: the script would run (creates decides), fetch is skipped.
    let check = lab.playbook(&site, &["--check"]);
    check.assert_code(0);
    for i in 1..=2 {
        assert_eq!(
            check.recap(&format!("host{i}"), "changed"),
            1,
            "{}",
            check.stdout
        );
        assert_eq!(
            lab.sh_ok(i, "ls /srv/setup.done 2>/dev/null | wc -l"),
            "0\n"
        );
    }
    assert!(!proj.path().join("collected").exists());

    let tmp_before: Vec<String> = (1..=2).map(|i| lab.sh_ok(i, HOST_TMP_ENTRIES)).collect();
    let run = lab.playbook(&site, &[]);
    run.assert_code(0);
    for i in 1..=2 {
        let host = format!("host{i}");
        // script, failing script, two fetches
        assert_eq!(run.recap(&host, "changed"), 4, "{}", run.stdout);
        assert_eq!(lab.sh_ok(i, "ls /srv/setup.done"), "/srv/setup.done\n");
        // The uploaded script is gone.
        assert_eq!(lab.sh_ok(i, HOST_TMP_ENTRIES), tmp_before[i - 1]);
        let hostname = lab.sh_ok(i, "cat /etc/hostname");
        assert_eq!(
            std::fs::read_to_string(proj.path().join(format!("collected/{host}/etc/hostname")))
                .unwrap(),
            hostname
        );
        assert_eq!(
            std::fs::read_to_string(proj.path().join(format!("reports/{host}.txt"))).unwrap(),
            format!("report of {host}\n")
        );
    }
    let again = lab.playbook(&site, &[]);
    again.assert_code(0);
    for i in 1..=2 {
        // Only the failing script runs again (changed); the rest is ok.
        assert_eq!(
            again.recap(&format!("host{i}"), "changed"),
            1,
            "{}",
            again.stdout
        );
    }
    // A changed source is fetched again.
    lab.sh_ok(2, "echo new > /srv/report.txt");
    let third = lab.playbook(&site, &[]);
    assert_eq!(third.recap("host1", "changed"), 1);
    assert_eq!(third.recap("host2", "changed"), 2);
    assert_eq!(
        std::fs::read_to_string(proj.path().join("reports/host2.txt")).unwrap(),
        "new\n"
    );
}

fn sh_here(dir: &Path, script: &str) {
    let st = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(st.success(), "`{script}` failed");
}

#[test]
fn unarchive_tar_gz_from_the_controller_and_zip_on_the_host() {
    let lab = lab_or_skip!(2);
    if !Path::new("/usr/bin/zip").exists() {
        eprintln!("SKIPPED: zip is needed to build the test archive");
        return;
    }
    let proj = lab::project(&[
        ("src/app/bin/run", "#!/bin/sh\necho run\n"),
        ("src/app/etc/app.conf", "port = 80\n"),
        ("site/index.html", "<h1>hi</h1>\n"),
        ("src/tools/bin/tool", "tool\n"),
        ("src/tools/README", "readme\n"),
        ("site/docs/readme.txt", "docs\n"),
        (
            "site.yml",
            r#"
- hosts: lab
  become: yes
  gather_facts: no
  tasks:
    - name: Release from the controller
      unarchive:
        src: app.tar.gz
        dest: /opt/app
        owner: app
    - name: Site already on the host
      unarchive:
        src: /srv/site.zip
        dest: /srv/www
        remote_src: yes
        exclude: ["docs/*"]
        list_files: yes
      register: site
    - name: xz, one member, first path component stripped
      unarchive:
        src: /srv/tools.tar.xz
        dest: /srv/tools
        remote_src: yes
        include: [tools/bin/tool]
        extra_opts: [--strip-components=1]
        mode: "0750"
    - assert:
        that:
          - site.handler == 'ZipArchive'
          - "'index.html' in site.files"
          - "'docs/readme.txt' not in site.files"
"#,
        ),
    ]);
    let dir = proj.path();
    sh_here(
        dir,
        "chmod +x src/app/bin/run && mkdir files && tar czf files/app.tar.gz -C src app && (cd site && zip -qr ../site.zip .) && tar cJf tools.tar.xz -C src tools",
    );
    let zip = dir.join("site.zip");
    for i in 1..=2 {
        lab.sh_ok(
            i,
            &format!(
                "mkdir -p /opt/app /srv/www /srv/tools && cp {} /srv/site.zip && cp {} /srv/",
                zip.display(),
                dir.join("tools.tar.xz").display()
            ),
        );
    }
    let site = dir.join("site.yml");
    let check = lab.playbook(&site, &["--check"]);
    check.assert_code(0);
    for i in 1..=2 {
        // The zip is predicted; the tar archives are skipped, as Ansible's
        // gtar handler has no check mode.
        assert_eq!(
            check.recap(&format!("host{i}"), "changed"),
            1,
            "{}",
            check.stdout
        );
        assert_eq!(
            check.recap(&format!("host{i}"), "skipped"),
            2,
            "{}",
            check.stdout
        );
        assert_eq!(
            lab.sh_ok(i, "ls -A /opt/app /srv/www /srv/tools | grep -vc : || true"),
            "2\n"
        );
    }
    let run = lab.playbook(&site, &["--diff"]);
    run.assert_code(0);
    for i in 1..=2 {
        assert_eq!(
            run.recap(&format!("host{i}"), "changed"),
            3,
            "{}",
            run.stdout
        );
        assert_eq!(
            lab.sh_ok(i, "cd /srv/tools && find . -type f; stat -c %a bin/tool"),
            "./bin/tool\n750\n"
        );
        assert_eq!(
            lab.sh_ok(i, "cat /opt/app/app/etc/app.conf; stat -c %U /opt/app/app/bin/run; /opt/app/app/bin/run"),
            "port = 80\napp\nrun\n"
        );
        assert_eq!(
            lab.sh_ok(
                i,
                "cat /srv/www/index.html; ls /srv/www/docs 2>/dev/null | wc -l"
            ),
            "<h1>hi</h1>\n0\n"
        );
    }
    let lab::Cost {
        run: again,
        requests,
        channels,
    } = lab.playbook_cost(&site, &[]);
    again.assert_code(0);
    for i in 1..=2 {
        assert_eq!(
            again.recap(&format!("host{i}"), "changed"),
            0,
            "{}",
            again.stdout
        );
        // One probe per unarchive task (the archive travels with it).
        assert_eq!(requests[i - 1], 3, "round trips of an unchanged run");
        assert_eq!(channels[i - 1], 1, "one SSH channel for the whole run");
    }
    // Drift on host 2: a changed file and a changed owner.
    lab.sh_ok(
        2,
        "echo 'port = 81' > /opt/app/app/etc/app.conf; echo x > /srv/www/index.html; chmod 644 /srv/tools/bin/tool",
    );
    let check = lab.playbook(&site, &["--check", "--diff"]);
    check.assert_code(0);
    // Check mode sees the zip's drift; the tar archives are skipped there.
    assert_eq!(check.recap("host1", "changed"), 0, "{}", check.stdout);
    assert_eq!(check.recap("host2", "changed"), 1, "{}", check.stdout);
    assert_eq!(check.recap("host2", "skipped"), 2, "{}", check.stdout);
    assert!(
        check.stdout.contains("index.html: Contents differ"),
        "{}",
        check.stdout
    );
    assert_eq!(lab.sh_ok(2, "cat /opt/app/app/etc/app.conf"), "port = 81\n");
    let fix = lab.playbook(&site, &[]);
    assert_eq!(fix.recap("host2", "changed"), 3);
    assert_eq!(
        lab.sh_ok(
            2,
            "cat /opt/app/app/etc/app.conf /srv/www/index.html; stat -c %a /srv/tools/bin/tool"
        ),
        "port = 80\n<h1>hi</h1>\n750\n"
    );
}

const MAKE_REPO: &str = "set -e
g='git -c user.name=t -c user.email=t@example.com -c init.defaultBranch=main'
rm -rf /srv/repo.git /tmp/work && $g init -q --bare /srv/repo.git && $g -C /srv/repo.git symbolic-ref HEAD refs/heads/main
$g clone -q /srv/repo.git /tmp/work 2>/dev/null && cd /tmp/work && $g checkout -q -b main
echo one > file.txt && $g add file.txt && $g commit -qm one && $g tag -a v1 -m v1
echo two > file.txt && $g commit -qam two && $g push -q origin main v1
";

fn rev(lab: &lab::Lab, i: usize, repo: &str, what: &str) -> String {
    lab.sh_ok(i, &format!("git -C {repo} rev-parse {what}"))
}

#[test]
fn git_clones_updates_and_checks_out_versions() {
    let lab = lab_or_skip!(2);
    for i in 1..=2 {
        lab.sh_ok(i, MAKE_REPO);
    }
    let proj = lab::project(&[(
        "site.yml",
        r#"
- hosts: lab
  become: yes
  gather_facts: no
  tasks:
    - git:
        repo: file:///srv/repo.git
        dest: /srv/app
        version: "{{ ver | default('main') }}"
        force: "{{ force | default(false) }}"
      register: g
    - copy:
        content: "{{ g.after }}\n"
        dest: /srv/git.result
      when: not ansible_check_mode
"#,
    )]);
    let site = proj.path().join("site.yml");
    let check = lab.playbook(&site, &["--check"]);
    check.assert_code(0);
    for i in 1..=2 {
        assert_eq!(
            check.recap(&format!("host{i}"), "changed"),
            1,
            "{}",
            check.stdout
        );
        assert_eq!(lab.sh_ok(i, "ls /srv/app 2>/dev/null | wc -l"), "0\n");
    }
    let run = lab.playbook(&site, &[]);
    run.assert_code(0);
    for i in 1..=2 {
        // git and the copy of its result
        assert_eq!(
            run.recap(&format!("host{i}"), "changed"),
            2,
            "{}",
            run.stdout
        );
        let main = rev(&lab, i, "/srv/repo.git", "main");
        assert_eq!(rev(&lab, i, "/srv/app", "HEAD"), main);
        assert_eq!(lab.sh_ok(i, "cat /srv/app/file.txt"), "two\n");
        assert_eq!(lab.sh_ok(i, "cat /srv/git.result"), main);
    }
    let lab::Cost {
        run: again,
        requests,
        channels,
    } = lab.playbook_cost(&site, &[]);
    again.assert_code(0);
    for i in 1..=2 {
        assert_eq!(
            again.recap(&format!("host{i}"), "changed"),
            0,
            "{}",
            again.stdout
        );
        // One round trip for git (its probe asks the remote too), one for copy.
        assert_eq!(requests[i - 1], 2, "round trips of an unchanged run");
        assert_eq!(channels[i - 1], 1, "one SSH channel for the whole run");
    }

    // A new commit upstream on host 1: check mode predicts exactly that.
    lab.sh_ok(
        1,
        "cd /tmp/work && echo three > file.txt && git -c user.name=t -c user.email=t@x commit -qam three && git push -q origin main",
    );
    let check = lab.playbook(&site, &["--check", "--diff"]);
    check.assert_code(0);
    assert_eq!(check.recap("host1", "changed"), 1, "{}", check.stdout);
    assert_eq!(check.recap("host2", "changed"), 0, "{}", check.stdout);
    let new = rev(&lab, 1, "/srv/repo.git", "main");
    assert!(check.stdout.contains(new.trim()), "{}", check.stdout);
    assert_eq!(lab.sh_ok(1, "cat /srv/app/file.txt"), "two\n");
    let run = lab.playbook(&site, &[]);
    assert_eq!(run.recap("host1", "changed"), 2);
    assert_eq!(rev(&lab, 1, "/srv/app", "HEAD"), new);

    // A tag (annotated: its commit is checked out).
    let tag = lab.playbook(&site, &["-e", "ver=v1"]);
    tag.assert_code(0);
    for i in 1..=2 {
        assert_eq!(
            tag.recap(&format!("host{i}"), "changed"),
            2,
            "{}",
            tag.stdout
        );
        assert_eq!(
            rev(&lab, i, "/srv/app", "HEAD"),
            rev(&lab, i, "/srv/repo.git", "v1^{commit}")
        );
        assert_eq!(lab.sh_ok(i, "cat /srv/app/file.txt"), "one\n");
    }
    let again = lab.playbook(&site, &["-e", "ver=v1"]);
    assert_eq!(again.recap("host1", "changed"), 0, "{}", again.stdout);

    // Local modifications fail the task, unless force discards them.
    lab.sh_ok(2, "echo local > /srv/app/file.txt");
    let refused = lab.playbook(&site, &["-e", "ver=main"]);
    assert_eq!(refused.recap("host2", "failed"), 1, "{}", refused.stdout);
    assert!(
        refused
            .stdout
            .contains("Local modifications exist in the destination: /srv/app (force=no).")
    );
    assert_eq!(lab.sh_ok(2, "cat /srv/app/file.txt"), "local\n");
    let forced = lab.playbook(&site, &["-e", "ver=main", "-e", "force=true"]);
    forced.assert_code(0);
    assert_eq!(
        lab.sh_ok(
            2,
            "cat /srv/app/file.txt; git -C /srv/app status --porcelain | wc -l"
        ),
        "two\n0\n"
    );
}

#[test]
fn get_url_falls_back_to_wget_and_says_when_neither_is_there() {
    let lab = lab_or_skip!(2);
    if !Path::new("/usr/bin/wget").exists() {
        eprintln!("SKIPPED: wget is not installed here");
        return;
    }
    let proj = tempfile::tempdir().unwrap();
    let www = proj.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("secret.txt"), b"top secret\n").unwrap();
    std::fs::write(www.join("plain.txt"), b"plain\n").unwrap();
    let Some(_server) = serve(&lab, &www, 8082) else {
        return;
    };
    // Host 1 has wget only; host 2 neither (each host's /usr is its own overlay).
    lab.sh_ok(1, "rm -f /usr/bin/curl");
    lab.sh_ok(2, "rm -f /usr/bin/curl /usr/bin/wget");
    let site = proj.path().join("site.yml");
    std::fs::write(
        &site,
        r#"
- hosts: lab
  tasks:
    - get_url:
        url: http://127.0.0.1:8082/secret.txt
        dest: /tmp/secret.txt
        url_username: me
        url_password: "s3cr3t pw"
        mode: "0600"
    - get_url:
        url: http://127.0.0.1:8082/plain.txt
        dest: /tmp/
"#,
    )
    .unwrap();
    let run = lab.playbook(&site, &[]);
    assert_eq!(run.recap("host1", "changed"), 2, "{}", run.stdout);
    assert_eq!(run.recap("host2", "failed"), 1, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("neither curl nor wget is installed on the target"),
        "{}",
        run.stdout
    );
    assert_eq!(
        lab.sh_ok(
            1,
            "cat /tmp/secret.txt /tmp/plain.txt; stat -c %a /tmp/secret.txt"
        ),
        "top secret\nplain\n600\n"
    );
    assert!(!run.stdout.contains("s3cr3t"));
    let lab::Cost {
        run: again,
        requests,
        channels,
    } = lab.playbook_cost(&site, &["--limit", "host1"]);
    again.assert_code(0);
    // Facts (1), the existing file's probe (1), and for the directory
    // download, whose file name only the response gives, probe and fetch (2).
    assert_eq!(requests[0], 4, "round trips of an unchanged run");
    assert_eq!(channels[0], 1, "one SSH channel for the whole run");
    assert_eq!(again.recap("host1", "changed"), 0, "{}", again.stdout);
}

#[test]
fn git_over_ssh_with_a_key_and_an_unknown_host_key() {
    let lab = lab_or_skip!(2);
    // Host 2 serves the repository over SSH; host 1 clones it as root with
    // the lab's client key, accepting host 2's key it has never seen.
    lab.sh_ok(2, MAKE_REPO);
    let addr = std::fs::read_to_string(lab.dir().join("hosts/2/address")).unwrap();
    let mut words = addr.split_whitespace();
    let (ip, port) = (words.next().unwrap(), words.next().unwrap());
    let key = lab.dir().join("client_key");
    let proj = lab::project(&[(
        "site.yml",
        &format!(
            r#"
- hosts: host1
  become: yes
  gather_facts: no
  tasks:
    - git:
        repo: ssh://root@{ip}:{port}/srv/repo.git
        dest: /srv/app
        version: main
        accept_hostkey: yes
        key_file: {key}
        ssh_opts: -o UserKnownHostsFile=/root/lab_known_hosts
"#,
            key = key.display()
        ),
    )]);
    let site = proj.path().join("site.yml");
    let run = lab.playbook(&site, &[]);
    run.assert_code(0);
    assert_eq!(run.recap("host1", "changed"), 1, "{}", run.stdout);
    assert_eq!(
        rev(&lab, 1, "/srv/app", "HEAD"),
        rev(&lab, 2, "/srv/repo.git", "main")
    );
    assert_eq!(lab.sh_ok(1, "cat /srv/app/file.txt"), "two\n");
    // The accepted key was recorded (hashed or not, as ssh is configured).
    assert_eq!(lab.sh_ok(1, "wc -l < /root/lab_known_hosts"), "1\n");
    let again = lab.playbook(&site, &[]);
    again.assert_code(0);
    assert_eq!(again.recap("host1", "changed"), 0, "{}", again.stdout);
}
