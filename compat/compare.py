#!/usr/bin/env python3
"""Compare one case's ansible run with its tend run (see run.sh). Exit 1 on a difference."""
import difflib, hashlib, json, os, re, stat, sys

base, case = sys.argv[1], sys.argv[2]
A, T = os.path.join(base, "ansible"), os.path.join(base, "tend___")

def header(key):
    with open(case) as f:
        for line in f:
            m = re.match(r"#\s*%s:\s*(.*)" % re.escape(key), line)
            if m:
                return m.group(1).strip()
    return ""

def read(p):
    try:
        with open(p, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return None

BACKUP = re.compile(r"\.\d+\.\d{4}-\d{2}-\d{2}@\d{2}:\d{2}:\d{2}~")
TS = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?")
# A command's run time, as printed in a result ("delta": "0:00:00.004240").
DELTA = re.compile(r'"delta": "\d+:\d{2}:\d{2}\.\d+"')
# tend names where a failing condition or undefined variable was written,
# after Ansible's message: " (in site.yml:7:13)".
TEND_LOCATION = re.compile(r" \(in [^()\s]+:\d+:\d+\)")
# What `pause` measured ("Paused for 1.01 seconds").
PAUSED = re.compile(r"Paused for \d+(?:\.\d+)? (seconds|minutes)")
# A file's access or modification time in a file module's diff.
FILE_TIME = re.compile(r'"(atime|mtime)": \d+(\.\d+)?')
TMPNAME = re.compile(r"(/|^)(\.?tmp[\w.-]*|ansible[\w.-]*tmp[\w.-]*|\.ansible_tmp\w*)")

# The file a copy's content went through on the target, gone since (its
# `src`): Ansible's upload in its remote temp dir, tend's temp file beside
# the destination.
COPY_TEMP = re.compile(r"\S*/\.ansible/tmp/ansible-tmp-[^/\s\"]+/\.source(\.\w+)?|\S*/\.tend\.[A-Za-z0-9]{6}\b")
# A template rendered into the controller's temp dir before the copy (the
# `after_header` of its diff): Ansible names the temp copy, tend the template.
TEMPLATE_TEMP = re.compile(r"\S*/\.ansible/tmp/ansible-local-[^/\s]+/tmp[^/\s]+/")

def norm_str(s, run):
    s = s.replace(os.path.join(run, "work"), "WORK").replace(run, "RUN")
    s = BACKUP.sub(".BACKUP~", s)
    s = COPY_TEMP.sub("COPY_TEMP", s)
    s = PAUSED.sub(r"Paused for N \1", s)
    s = TEND_LOCATION.sub("", s)
    s = TEMPLATE_TEMP.sub("", s)
    return s

DROP = {"invocation", "start", "end", "stop", "delta", "uid", "gid", "atime", "mtime", "ctime",
        "inode", "dev", "device_type", "blocks", "block_size", "attributes", "version",
        # ansible 2.19 puts a placeholder "(traceback unavailable)" on every failed module result
        "exception", "failed_when_suppressed_exception"}

DROP |= set(header("compat-ignore-keys").replace(",", " ").split())

def norm(v, run):
    if isinstance(v, dict):
        return {k: norm(x, run) for k, x in sorted(v.items())
                if k not in DROP and not k.startswith("_ansible")}
    if isinstance(v, list):
        return [norm(x, run) for x in v]
    if isinstance(v, str):
        return norm_str(v, run)
    return v

def udiff(a, b, what):
    return "".join(difflib.unified_diff(a.splitlines(True), b.splitlines(True),
                                        "ansible/" + what, "tend/" + what, n=3))

problems = []

# (a) exit codes
ra, rt = read(A + "/rc").strip(), read(T + "/rc").strip()
if ra != rt:
    problems.append("exit code: ansible=%s tend=%s" % (ra, rt))

out_a, out_t = read(A + "/out.txt") or "", read(T + "/out.txt") or ""
err_a, err_t = read(A + "/err.txt") or "", read(T + "/err.txt") or ""

if "PLAY RECAP" not in out_a and header("compat-expect-error").lower() not in ("yes", "true", "1"):
    problems.append("CASE BROKEN: ansible-playbook did not run the playbook (rc=%s):\n%s" % (
        ra, "\n".join("  " + l for l in err_a.splitlines()[:15])))

# (b) recap
def recap(out):
    res, on = {}, False
    for line in out.splitlines():
        if line.startswith("PLAY RECAP"):
            on = True
            continue
        if on:
            m = re.match(r"^(\S+)\s*:\s*(.*)$", line)
            if m:
                res[m.group(1)] = dict(re.findall(r"(\w+)=(\d+)", m.group(2)))
    return res
ca, ct = recap(out_a), recap(out_t)
if ca != ct:
    problems.append("recap: ansible=%s\n       tend   =%s" % (ca, ct))

# per-task status trace (task headers and status lines, no payloads)
STATUS = re.compile(r"^(ok|changed|skipping|fatal|failed|included|ignoring|\.\.\.ignoring|"
                    r"rescued|unreachable)\b")
def trace(out, run):
    lines = []
    for line in out.splitlines():
        line = norm_str(line, run)
        m = re.match(r"^(PLAY|TASK|RUNNING HANDLER) \[(.*)\] \**$", line)
        if m:
            lines.append("%s [%s]" % (m.group(1), m.group(2)))
        elif STATUS.match(line):
            line = re.sub(r"\s*=> \{.*$", "", line)   # drop JSON payloads
            line = re.sub(r"\s*=> \{$", "", line)
            lines.append(line.rstrip())
    return "\n".join(lines) + "\n"
# Free strategies: hosts' lines interleave as they run; compare each host's
# own sequence of (task, status) instead (`# compat-trace: per-host`).
HOSTS = re.compile(r"\[([^\]]+)\]")
def per_host(trace_text):
    seqs, banner, play = {}, None, 0
    for line in trace_text.splitlines():
        if line.startswith("PLAY ["):
            play, banner = play + 1, None
            continue
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            banner = line
            continue
        m = HOSTS.search(line)
        hosts = [m.group(1)] if m else ["?"]
        if line.startswith("included:"):
            hosts = [h.strip() for h in re.sub(r"^included: \S+ for ", "", line).split("=>")[0].split(",")]
        for h in hosts:
            seqs.setdefault(h, []).append("play %d %s: %s" % (play, banner, line))
    return "".join("== %s\n%s\n" % (h, "\n".join(seqs[h])) for h in sorted(seqs))
# Linear strategy: every host ends a task before any starts the next, but
# Ansible prints a task's hosts in the order they finish, which varies from
# run to run; tend prints them in inventory order. Within each task, order
# the lines by host (stable: one host's loop items keep their order).
def by_host_within_task(trace_text):
    out, block = [], []
    def flush():
        key = lambda l: (HOSTS.search(l).group(1) if HOSTS.search(l) and not l.startswith("included:") else "")
        out.extend(sorted(block, key=key))
        block.clear()
    for line in trace_text.splitlines():
        if line.startswith(("PLAY [", "TASK [", "RUNNING HANDLER [")):
            flush()
            out.append(line)
        else:
            block.append(line)
    flush()
    return "\n".join(out) + "\n"
ta, tt = trace(out_a, A), trace(out_t, T)
if header("compat-trace") == "per-host":
    ta, tt = per_host(ta), per_host(tt)
else:
    ta, tt = by_host_within_task(ta), by_host_within_task(tt)
if ta != tt:
    problems.append("task trace differs:\n" + udiff(ta, tt, "trace"))

# full output, for cases that ask for it (diff/check output)
if header("compat-output").lower() in ("yes", "true", "1"):
    def full(out, run):
        keep = []
        skip_json = False
        in_warning = False
        for line in out.splitlines():
            # A warning and its continuation lines (details, Origin, the
            # source snippet) up to the next status line or header.
            if line.startswith("[WARNING]") or line.startswith("[DEPRECATION"):
                in_warning = True
                continue
            if in_warning:
                if not re.match(r"(ok|changed|fatal|failed|skipping|included|TASK|PLAY|RUNNING|\[)", line):
                    continue
                in_warning = False
            line = norm_str(line, run)
            line = re.sub(r" \*+$", "", line)
            line = TS.sub("TIMESTAMP", line)
            line = DELTA.sub(r'"delta": "DELTA"', line)
            line = FILE_TIME.sub(r'"\1": TIME', line)
            keep.append(line.rstrip())
        return "\n".join(keep).strip() + "\n"
    fa, ft = full(out_a, A), full(out_t, T)
    if fa != ft:
        problems.append("output differs:\n" + udiff(fa, ft, "stdout"))

# (c) registered values
def results(run):
    p = os.path.join(run, "work", "results.json")
    s = read(p)
    if s is None:
        return None
    try:
        return json.dumps(norm(json.loads(s), run), indent=2, sort_keys=True) + "\n"
    except ValueError as e:
        return "UNPARSABLE JSON (%s):\n%s" % (e, s)
ja, jt = results(A), results(T)
if ja != jt:
    if ja is None or jt is None:
        problems.append("results.json: ansible %s, tend %s" % ("missing" if ja is None else "present",
                                                              "missing" if jt is None else "present"))
    else:
        problems.append("results.json differs:\n" + udiff(ja, jt, "results.json"))

# (d) files under work
def tree(run):
    w = os.path.join(run, "work")
    rows = []
    for d, dirs, files in os.walk(w):
        dirs.sort()
        for n in sorted(dirs + files):
            p = os.path.join(d, n)
            rel = BACKUP.sub(".BACKUP~", os.path.relpath(p, w))
            if rel == "results.json":
                continue
            st = os.lstat(p)
            mode = "%04o" % stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                rows.append("%s link -> %s" % (rel, norm_str(os.readlink(p), run)))
            elif stat.S_ISDIR(st.st_mode):
                rows.append("%s dir %s" % (rel, mode))
            else:
                with open(p, "rb") as f:
                    data = f.read()
                try:
                    txt = data.decode()
                    body = "".join("    |" + l + "\n" for l in txt.split("\n"))
                    if len(txt) > 4000:
                        body = "    sha256 " + hashlib.sha256(data).hexdigest() + "\n"
                except UnicodeDecodeError:
                    body = "    sha256 " + hashlib.sha256(data).hexdigest() + "\n"
                rows.append("%s file %s\n%s" % (rel, mode, norm_str(body.rstrip("\n"), run)))
    return "\n".join(rows) + "\n"
fa, ft = tree(A), tree(T)
if fa != ft:
    problems.append("files under work differ:\n" + udiff(fa, ft, "files"))

# tend compile errors / crashes are worth seeing verbatim
if rt not in ("0", "2") and ra in ("0", "2"):
    problems.append("tend stderr/stdout (head):\n" + "\n".join(
        ("  " + l) for l in (err_t + out_t).splitlines()[:25]))

if problems:
    print("\n".join(problems))
    sys.exit(1)
