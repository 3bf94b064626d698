#!/usr/bin/env bash
# Fleet benchmark (not a timed test): benches/bench.yml applied to N lab hosts
# over SSH: first apply, no-op re-apply, and --check --diff. Prints wall time,
# CPU time (tend and the ssh processes it waits for), peak memory of tend, and
# SSH channels (= remote commands = round trips) per host, counted by the lab
# hosts' sshd logs, not by tend.
#
#   benches/fleet.sh [N ...]      default: 10 50 (needs root for the lab)
#   TEND=/path/to/tend benches/fleet.sh 10
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10 50)
if [ -z "${TEND:-}" ]; then
    cargo build --release -q
    TEND=$PWD/target/release/tend
fi
LAB=$PWD/lab/lab
PLAY=$PWD/benches/bench.yml
# Tasks that reach the host (every task but `debug`) plus fact gathering.
REMOTE_TASKS=17

sessions_total() { "$LAB" sessions "$1" | awk '{s += $2} END {print s}'; }

printf '%-6s %-14s %8s %8s %9s %8s %10s %12s\n' hosts phase wall_s cpu_s peak_MB exit ch/host ch/task/host
for n in "${sizes[@]}"; do
    dir=$(mktemp -d /tmp/tend-bench-XXXXXX)
    t0=$(date +%s.%N)
    inv=$("$LAB" up "$n" "$dir")
    t1=$(date +%s.%N)
    printf '%-6s %-14s %8.2f\n' "$n" "lab up" "$(awk "BEGIN{print $t1 - $t0}")"
    for phase in first noop check; do
        extra=()
        [ "$phase" = check ] && extra=(--check --diff)
        before=$(sessions_total "$dir")
        set +e
        /usr/bin/time -o "$dir/time" -f '%e %U %S %M' \
            "$LAB" run "$dir" -- "$TEND" playbook -i "$inv" "$PLAY" "${extra[@]}" >"$dir/$phase.log" 2>&1
        code=$?
        set -e
        after=$(sessions_total "$dir")
        read -r wall user sys rss <"$dir/time"
        awk -v n="$n" -v p="$phase" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" \
            -v c="$code" -v d="$((after - before))" -v t="$REMOTE_TASKS" \
            'BEGIN{printf "%-6s %-14s %8.2f %8.2f %9.1f %8s %10.1f %12.2f\n", n, p, w, u + s, r / 1024, c, d / n, d / n / t}'
    done
    grep -A2 "PLAY RECAP" "$dir/noop.log" | tail -1 | sed 's/^/       no-op recap: /'
    "$LAB" down "$dir"
done
