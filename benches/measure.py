#!/usr/bin/env python3
"""Runs a command and measures its whole process tree (for benches/fleet.sh).

    measure.py OUT -- CMD ARGS...

Becomes a child subreaper first, so processes that daemonise (ssh
ControlMasters) stay in the tree and are counted. When CMD exits, whatever
it left running (ansible's ControlPersist masters) is terminated and reaped,
so every run starts cold and its CPU time is complete. Writes one line to OUT:
    exit wall_s cpu_s ctl_rss_mb tree_rss_mb max_ssh
cpu_s: user+sys of every process of the tree (getrusage RUSAGE_CHILDREN);
ctl_rss_mb: peak RSS of the largest single process (the controller: tend,
ansible-playbook or one of its forks, pyinfra); tree_rss_mb: peak of the sum of
RSS over the tree, sampled; max_ssh: most local ssh processes at one time.
CMD's stdout and stderr are inherited.
"""

import ctypes
import os
import resource
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def tree(root):
    """Pids of every descendant of root (children first found via /proc)."""
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def sample(me):
    rss, ssh = 0, 0
    for p in tree(me):
        try:
            with open(f"/proc/{p}/statm") as f:
                rss += int(f.read().split()[1])
            with open(f"/proc/{p}/comm") as f:
                if f.read().strip() == "ssh":
                    ssh += 1
        except OSError:
            pass
    return rss * os.sysconf("SC_PAGE_SIZE"), ssh


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__)
    out, cmd = sys.argv[1], sys.argv[3:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("measure: cannot become a subreaper")
    me = os.getpid()
    t0 = time.monotonic()
    child = subprocess.Popen(cmd)
    code, ctl_rss, tree_rss, max_ssh = None, 0, 0, 0
    while code is None:
        # Reap orphans as they come; note the command's own exit.
        while True:
            try:
                pid, status, ru = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                pid = 0
            if pid == 0:
                break
            ctl_rss = max(ctl_rss, ru.ru_maxrss)
            if pid == child.pid:
                code = os.waitstatus_to_exitcode(status)
                wall = time.monotonic() - t0
        if code is not None:
            break
        rss, ssh = sample(me)
        tree_rss, max_ssh = max(tree_rss, rss), max(max_ssh, ssh)
        elapsed = time.monotonic() - t0
        time.sleep(0.05 if elapsed < 2 else 0.2)
    # Leftovers (persisting ssh masters): terminate, then reap every one.
    left = tree(me)
    for p in left:
        try:
            os.kill(p, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + 5
    while True:
        try:
            pid, _, ru = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid:
            ctl_rss = max(ctl_rss, ru.ru_maxrss)
            continue
        if time.monotonic() > deadline:
            for p in tree(me):
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
        time.sleep(0.02)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as f:
        f.write(
            f"{code} {wall:.2f} {ru.ru_utime + ru.ru_stime:.2f} {ctl_rss / 1024:.1f} "
            f"{tree_rss / 2**20:.1f} {max_ssh}\n"
        )
    sys.exit(code)


if __name__ == "__main__":
    main()
