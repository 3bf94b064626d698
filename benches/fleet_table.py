#!/usr/bin/env python3
"""Summarises benches/fleet.sh's results.tsv as Markdown tables.

    fleet_table.py OUT_DIR

Medians over the repeated runs for times; maxima for memory and processes.
"""

import glob
import os
import statistics
import sys

TASKS = 16  # tasks of bench.yml that reach a host, plus fact gathering
ORDER = {"tend": 0, "ansible": 1, "pyinfra": 2}
SCEN = {"first": "first apply", "noop": "no-op re-apply", "check": "--check --diff"}


def main():
    out = sys.argv[1]
    with open(os.path.join(out, "results.tsv")) as f:
        head = f.readline().rstrip("\n").split("\t")
        rows = [dict(zip(head, line.rstrip("\n").split("\t"))) for line in f if line.strip()]
    groups = {}
    for r in rows:
        key = (r["tool"], int(r["hosts"]), int(r["lat_ms"]), r["scenario"])
        groups.setdefault(key, []).append(r)

    def med(rs, k):
        return statistics.median(float(r[k]) for r in rs)

    def state(tool, n, lat):
        def read(t):
            try:
                with open(os.path.join(out, f"state-{t}-{n}-{lat}.txt")) as f:
                    return f.read()
            except OSError:
                return None

        mine, ref = read(tool), read("tend")
        if mine is None:
            return "?"
        if tool == "tend" or ref is None:
            return f"{len(mine.splitlines())} paths"
        return "= tend" if mine == ref else "DIFFERS"

    summary = {}
    print("| tool | hosts | latency | scenario | wall s | CPU s | target CPU s | ctl MB | tree MB "
          "| ssh procs | conn/host | ch/host | ch/task/host | load | runs | exit | end state |")
    print("|" + "---|" * 17)
    scen_order = list(SCEN)
    for key in sorted(groups, key=lambda k: (k[1], k[2], ORDER.get(k[0], 9), scen_order.index(k[3]))):
        tool, n, lat, scen = key
        rs = groups[key]
        wall, cpu = med(rs, "wall_s"), med(rs, "cpu_s")
        known = [r for r in rs if r["rcpu_s"] != "-"]
        rcpu = f"{med(known, 'rcpu_s'):.1f}" if known else "-"
        ch = med(rs, "ch") / n
        conn = med(rs, "conn") / n
        summary[key] = (wall, cpu)
        loads = sorted(float(r["load"]) for r in rs)
        load = f"{loads[0]:.1f}" if len(loads) == 1 else f"{loads[0]:.1f}-{loads[-1]:.1f}"
        exits = ",".join(sorted({r["exit"] for r in rs}))
        walls = "/".join(f"{float(r['wall_s']):.1f}" for r in rs)
        print(f"| {tool} | {n} | {lat} ms | {SCEN[scen]} | {wall:.2f} | {cpu:.2f} | {rcpu} "
              f"| {max(float(r['ctl_MB']) for r in rs):.0f} | {max(float(r['tree_MB']) for r in rs):.0f} "
              f"| {max(int(r['ssh']) for r in rs)} | {conn:.1f} | {ch:.1f} | {ch / TASKS:.2f} "
              f"| {load} | {walls} | {exits} | {state(tool, n, lat) if scen == 'first' else ''} |")

    print()
    print("Ratios (how many times tend is faster / uses less controller CPU):")
    print()
    print("| hosts | latency | scenario | ansible/tend wall | ansible/tend CPU "
          "| pyinfra/tend wall | pyinfra/tend CPU |")
    print("|---|---|---|---|---|---|---|")
    for key in sorted(summary, key=lambda k: (k[1], k[2], scen_order.index(k[3]))):
        tool, n, lat, scen = key
        if tool != "tend":
            continue
        tw, tc = summary[key]
        cells = []
        for other in ("ansible", "pyinfra"):
            o = summary.get((other, n, lat, scen))
            if o:
                cells += [f"{o[0] / tw:.1f}x", f"{o[1] / tc:.1f}x"]
            else:
                cells += ["-", "-"]
        print(f"| {n} | {lat} ms | {SCEN[scen]} | " + " | ".join(cells) + " |")

    print()
    print("Round trips the added latency shows: (wall at L ms - wall at 0 ms) / (2 L ms),")
    print("i.e. sequential round trips per host, connection setup included:")
    print()
    print("| tool | hosts | latency | scenario | extra wall s | round trips | per task (T=16) |")
    print("|---|---|---|---|---|---|---|")
    for key in sorted(summary, key=lambda k: (k[1], ORDER.get(k[0], 9), scen_order.index(k[3]), k[2])):
        tool, n, lat, scen = key
        base = summary.get((tool, n, 0, scen))
        if lat == 0 or base is None:
            continue
        extra = summary[key][0] - base[0]
        rt = extra / (2 * lat / 1000)
        if rt < 0:
            print(f"| {tool} | {n} | {lat} ms | {SCEN[scen]} | {extra:.2f} | (noise) | |")
            continue
        print(f"| {tool} | {n} | {lat} ms | {SCEN[scen]} | {extra:.2f} | {rt:.0f} | {rt / TASKS:.1f} |")

    counted = sorted(glob.glob(os.path.join(out, "roundtrips-*.txt")))
    if counted:
        print()
        print("Round trips tend counts itself (`-v`) in a no-op run, per host:")
        print()
        print("| hosts | latency | round trips (min-max over hosts) | per task (T=16) | channels |")
        print("|---|---|---|---|---|")
        for path in counted:
            n, lat = os.path.basename(path)[len("roundtrips-"):-len(".txt")].split("-")
            rows = [line.split() for line in open(path) if line.strip()]
            if not rows:
                continue
            rts = sorted(int(r[1]) for r in rows)
            chs = sorted(int(r[2]) for r in rows)
            print(f"| {n} | {lat} ms | {rts[0]}-{rts[-1]} | {rts[-1] / TASKS:.2f} | {chs[0]}-{chs[-1]} |")


if __name__ == "__main__":
    main()
