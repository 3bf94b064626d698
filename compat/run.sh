#!/usr/bin/env bash
# Differential test: run each compat/cases/*.yml with ansible-playbook and with
# tend, in fresh temp dirs, and compare exit code, PLAY RECAP, the per-task
# status trace, the registered values the case dumps to {{ work }}/results.json,
# and the files left under {{ work }} (content + mode).
#
#   compat/run.sh [CASE_NAME_OR_GLOB ...]      e.g. compat/run.sh copy 'file*'
#
# Case header comments (optional, anywhere in the first lines of the case):
#   # compat-args: --check --diff -t foo     extra CLI args for both tools
#   # compat-setup: printf 'x\n' > "$WORK/f" shell run before each tool (WORK set; CASES is
#                                            compat/cases, BASE the dir both tools' runs share)
#   # compat-output: yes                     also compare the whole normalized output
#   # compat-expect-error: yes               ansible is expected to stop before PLAY RECAP
#   # compat-ignore-keys: diff               result keys not to compare in results.json
#   # compat-inventory: inventory-3.ini      another inventory under compat/ (default inventory.ini)
#   # compat-trace: per-host                 compare each host's task/status sequence, not the
#                                            interleaving (free strategies)
# Env: ANSIBLE_PLAYBOOK (default /opt/ansible-ref/bin/ansible-playbook),
#      TEND (default target/debug/tend), KEEP=1 keeps the temp dirs,
#      VERBOSE=1 prints both outputs for failures.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
ANSIBLE_PLAYBOOK="${ANSIBLE_PLAYBOOK:-/opt/ansible-ref/bin/ansible-playbook}"
TEND="${TEND:-$root/target/debug/tend}"
export ANSIBLE_NOCOLOR=1 ANSIBLE_STDOUT_CALLBACK=default ANSIBLE_RETRY_FILES_ENABLED=0 \
       ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_DEPRECATION_WARNINGS=0 ANSIBLE_HOST_KEY_CHECKING=0
[ -x "$ANSIBLE_PLAYBOOK" ] || { echo "no ansible-playbook at $ANSIBLE_PLAYBOOK" >&2; exit 5; }
[ -x "$TEND" ] || { echo "no tend at $TEND (cargo build first)" >&2; exit 5; }

cases=()
if [ $# -eq 0 ]; then
  for c in "$here"/cases/*.yml; do cases+=("$c"); done
else
  for pat in "$@"; do
    for c in "$here"/cases/${pat%.yml}.yml; do [ -f "$c" ] && cases+=("$c"); done
  done
fi

header() { sed -n "s/^# $1: *//p" "$2" | head -1; }

pass=0 fail=0 failed_names=()
for case in "${cases[@]}"; do
  name="$(basename "$case" .yml)"
  base="$(mktemp -d /tmp/compat.XXXXXX)"
  eval "args=($(header compat-args "$case"))"   # shell-quoted, like a command line
  setup="$(header compat-setup "$case")"
  inventory="$here/$(header compat-inventory "$case")"
  [ -f "$inventory" ] || inventory="$here/inventory.ini"
  for tool in ansible tend___; do
    run="$base/$tool"; mkdir -p "$run/work"   # equal-length names (ansible/tend___) so path lengths match
    if [ -n "$setup" ]; then (cd "$run" && WORK="$run/work" CASES="$here/cases" BASE="$base" bash -c "$setup"); fi
    if [ "$tool" = ansible ]; then cmd=("$ANSIBLE_PLAYBOOK"); else cmd=("$TEND" playbook); fi
    (cd "$run" && timeout 300 "${cmd[@]}" -i "$inventory" "$case" -e "work=$run/work" "${args[@]}" \
        >"$run/out.txt" 2>"$run/err.txt" </dev/null; echo $? >"$run/rc")
  done
  # A server a setup started ("$BASE/pid") stops with its case.
  if [ -f "$base/pid" ]; then kill "$(cat "$base/pid")" 2>/dev/null; fi
  if python3 "$here/compare.py" "$base" "$case" >"$base/report.txt" 2>&1; then
    echo "PASS $name"; pass=$((pass+1))
  else
    echo "FAIL $name"; fail=$((fail+1)); failed_names+=("$name")
    sed 's/^/    /' "$base/report.txt"
    if [ "${VERBOSE:-0}" = 1 ]; then
      for tool in ansible tend___; do echo "    ---- $tool output ----"; sed 's/^/    | /' "$base/$tool/out.txt" "$base/$tool/err.txt"; done
    fi
  fi
  if [ "${KEEP:-0}" = 1 ]; then echo "    (kept $base)"; else rm -rf "$base"; fi
done
echo
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] || { printf '  failed: %s\n' "${failed_names[@]}"; exit 1; }
