#!/usr/bin/env bash
# Fleet benchmark (not a timed test): benches/bench.yml applied to N lab hosts
# over SSH by tend, ansible-playbook and pyinfra, side by side on the same
# machine: first apply, no-op re-apply, and --check --diff, at 0 and 10 ms of
# added latency each way (lab/lab up --latency-ms).
#
#   benches/fleet.sh                         (root, for the lab)
#   SIZES="10" LATENCIES="0 10" TOOLS="tend pyinfra" REPEAT=3 benches/fleet.sh
#
# Environment:
#   SIZES       host counts (default "10 50")
#   LATENCIES   added ms each way (default "0 10")
#   TOOLS       any of tend ansible pyinfra (default all three)
#   REPEAT      runs of the no-op and check scenarios, the median is shown
#               (default 3; first apply runs once per fresh lab)
#   TEND        tend binary (default: cargo build --release, target/release/tend)
#   ANSIBLE_PLAYBOOK  default /opt/ansible-ref/bin/ansible-playbook (ansible-core
#               in a venv: python3 -m venv /opt/ansible-ref && pip install ansible-core)
#   PYINFRA     default /opt/pyinfra-ref/bin/pyinfra (pip install pyinfra)
#   OUT         where logs and results.tsv go (default /tmp/tend-fleet-DATE)
#
# Every tool gets a fresh lab per (N, latency), so its first apply is a real
# first apply; afterwards the end state of host 1 and host N (paths, types,
# modes, owners, contents) is recorded, and the table says whether it matches
# tend's. Columns:
#   wall_s    elapsed time of the run
#   cpu_s     user+sys of the controller's whole process tree, ssh processes
#             and forks included (benches/measure.py: a subreaper that also
#             collects daemonised ssh masters when the run ends)
#   rcpu_s    CPU time spent on the target hosts (sshd, sessions and all they
#             ran: shells, sudo, ansible's python), from the lab's cpuacct
#             cgroup (`lab/lab cpu`)
#   ctl_MB    peak RSS of the largest controller process; tree_MB peak of the
#             summed RSS of the whole local tree (ansible: its forks)
#   ssh       most local ssh processes at once
#   conn/h    SSH connections per host (sshd "Accepted publickey")
#   ch/h      SSH session channels per host, counted by the hosts' sshd,
#             not by the tools: for ansible and pyinfra one per remote
#             command (each a round trip or more); for tend the runners (one
#             per login and become user, each serving every request of the
#             play); ch/task: the same per task, T=16 (15 tasks reach the
#             host, plus fact gathering)
#   load      1-minute load average before the run (the machine is shared)
# Then the ratios ansible/tend and pyinfra/tend (wall and CPU), and the
# round trips the added latency shows: (wall at 10 ms - wall at 0 ms) / 20 ms,
# the sequential round trips per host including connection setup.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
read -r -a sizes <<<"${SIZES:-10 50}"
read -r -a latencies <<<"${LATENCIES:-0 10}"
read -r -a tools <<<"${TOOLS:-tend ansible pyinfra}"
REPEAT=${REPEAT:-3}
ANSIBLE_PLAYBOOK=${ANSIBLE_PLAYBOOK:-/opt/ansible-ref/bin/ansible-playbook}
PYINFRA=${PYINFRA:-/opt/pyinfra-ref/bin/pyinfra}
OUT=${OUT:-/tmp/tend-fleet-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
if [ -z "${TEND:-}" ]; then
    cargo build --release -q
    TEND=$ROOT/target/release/tend
fi
LAB=$ROOT/lab/lab
# The system python, not a pyenv shim (which would add a shell per call).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
MEASURE=("$PY" "$ROOT/benches/measure.py")
TASKS=16
RESULTS=$OUT/results.tsv
[ -f "$RESULTS" ] || printf 'tool\thosts\tlat_ms\tscenario\trep\texit\twall_s\tcpu_s\tctl_MB\ttree_MB\tssh\trcpu_s\tconn\tch\tload\n' >"$RESULTS"

log_count() { # DIR PATTERN: total matching sshd log lines over the lab's hosts
    cat "$1"/hosts/*/sshd.log 2>/dev/null | grep -c "$2" || true
}

remote_cpu() { # DIR: CPU seconds the hosts have used so far ("-": unknown)
    "$LAB" cpu "$1"
}

state_of() { # DIR I: host I's end state, one line per path
    "$LAB" exec "$1" "$2" -- sh -c '
        for p in $(find /srv/shop /etc/shop /etc/profile.d/shop.sh | sort); do
            s=$(stat -c "%F %a %U:%G" "$p")
            if [ -f "$p" ]; then s="$s $(md5sum <"$p" | cut -c1-12)"; fi
            echo "$p $s"
        done'
}

pyinfra_inventory() { # DIR -> inventory.py from the lab's inventory.ini
    awk -v key="$1/client_key" -v kh="$1/known_hosts" '
        /^host[0-9]+ / {
            split($2, a, "="); split($3, b, "=")
            hosts = hosts sprintf("        (\"%s\", {\"ssh_hostname\": \"%s\", \"ssh_port\": %s}),\n", $1, a[2], b[2])
        }
        END {
            print "# pyinfra inventory, written by benches/fleet.sh from the lab inventory."
            printf "lab = (\n    [\n%s    ],\n", hosts
            printf "    {\"ssh_user\": \"deploy\", \"ssh_key\": \"%s\",\n", key
            printf "     \"ssh_known_hosts_file\": \"%s\", \"ssh_strict_host_key_checking\": \"yes\"},\n)\n", kh
        }' "$1/inventory.ini" >"$1/inventory.py"
}

run_tool() { # TOOL N DIR SCENARIO LOG
    local tool=$1 n=$2 dir=$3 scenario=$4 log=$5 extra=()
    case $tool in
        tend)
            [ "$scenario" = check ] && extra=(--check --diff)
            (cd "$ROOT/benches" && "${MEASURE[@]}" "$log.m" -- "$LAB" run "$dir" -- \
                "$TEND" playbook -i "$dir/inventory.ini" -f "$n" bench.yml "${extra[@]}")
            ;;
        ansible)
            [ "$scenario" = check ] && extra=(--check --diff)
            # A control path directory of this run's own: no master is shared
            # with another lab or run (measure.py ends the masters afterwards).
            local cp
            cp=$(mktemp -d /tmp/acp-XXXXXX)
            (cd "$ROOT/benches" && env ANSIBLE_PIPELINING=1 ANSIBLE_FORKS="$n" \
                ANSIBLE_SSH_CONTROL_PATH_DIR="$cp" ANSIBLE_HOST_KEY_CHECKING=True \
                ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 \
                "${MEASURE[@]}" "$log.m" -- "$LAB" run "$dir" -- \
                "$ANSIBLE_PLAYBOOK" -i "$dir/inventory.ini" -f "$n" \
                -e ansible_python_interpreter=/usr/bin/python3 bench.yml "${extra[@]}")
            rm -rf "$cp"
            ;;
        pyinfra)
            # -y would skip change detection: a dry run without it shows the changes.
            extra=(-y)
            [ "$scenario" = check ] && extra=(--dry --diff)
            (cd "$ROOT/benches" && "${MEASURE[@]}" "$log.m" -- "$LAB" run "$dir" -- \
                "$PYINFRA" --sudo --parallel "$n" "${extra[@]}" "$dir/inventory.py" bench_deploy.py)
            ;;
    esac
}

for n in "${sizes[@]}"; do
    for lat in "${latencies[@]}"; do
        for tool in "${tools[@]}"; do
            dir=$(mktemp -d "/tmp/tf-$tool-$n-$lat-XXXXXX")
            rmdir "$dir"
            "$LAB" up "$n" "$dir" --latency-ms "$lat" >/dev/null
            [ "$tool" = pyinfra ] && pyinfra_inventory "$dir"
            for scenario in first noop check; do
                reps=$REPEAT
                [ "$scenario" = first ] && reps=1
                for rep in $(seq 1 "$reps"); do
                    log=$OUT/$tool-$n-$lat-$scenario-$rep.log
                    load=$(cut -d' ' -f1 /proc/loadavg)
                    ch0=$(log_count "$dir" 'Starting session:')
                    co0=$(log_count "$dir" 'Accepted publickey')
                    rc0=$(remote_cpu "$dir")
                    set +e
                    run_tool "$tool" "$n" "$dir" "$scenario" "$log" >"$log" 2>&1
                    set -e
                    sleep 1 # let the hosts' sshd log and end the sessions that just closed
                    ch1=$(log_count "$dir" 'Starting session:')
                    co1=$(log_count "$dir" 'Accepted publickey')
                    rc1=$(remote_cpu "$dir")
                    read -r code wall cpu ctl tree ssh <"$log.m"
                    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
                        "$tool" "$n" "$lat" "$scenario" "$rep" "$code" "$wall" "$cpu" "$ctl" "$tree" "$ssh" \
                        "$(awk -v a="$rc0" -v b="$rc1" 'BEGIN{if (a == "-" || b == "-") print "-"; else printf "%.2f", b - a}')" "$((co1 - co0))" "$((ch1 - ch0))" "$load" >>"$RESULTS"
                    echo "$tool n=$n ${lat}ms $scenario #$rep: exit $code wall ${wall}s cpu ${cpu}s (load $load)" >&2
                done
            done
            { state_of "$dir" 1; state_of "$dir" "$n"; } >"$OUT/state-$tool-$n-$lat.txt"
            if [ "$tool" = tend ]; then
                # Round trips as tend counts them (-v), on one more no-op run
                # (not timed): "<hostN> SSH: R round trips, C channels".
                (cd "$ROOT/benches" && "$LAB" run "$dir" -- "$TEND" playbook -v \
                    -i "$dir/inventory.ini" -f "$n" bench.yml) 2>&1 |
                    sed -n 's/^<\(host[0-9]*\)> SSH: \([0-9]*\) round trips\{0,1\}, \([0-9]*\) channels\{0,1\}$/\1 \2 \3/p' \
                    >"$OUT/roundtrips-$n-$lat.txt" || true
            fi
            "$LAB" down "$dir"
        done
    done
done

"$PY" "$ROOT/benches/fleet_table.py" "$OUT" | tee "$OUT/table.txt"
