#!/usr/bin/env bash
# Ansible Vault compatibility, both ways.
#
#   scripts/vault-vectors.sh            regenerate tests/fixtures/vault/ansible/
#                                       with the real ansible-vault, then check
#   scripts/vault-vectors.sh --check    only check that what tend encrypts
#                                       decrypts under ansible-vault
#
# ansible-vault comes from $ANSIBLE_BIN (default /opt/ansible-ref/bin, an
# ansible-core venv: `python3 -m venv /opt/ansible-ref && /opt/ansible-ref/bin/pip install ansible-core`).
# `cargo test --test vault` checks that the committed vectors decrypt under tend.
set -euo pipefail
cd "$(dirname "$0")/.."
ANSIBLE_BIN=${ANSIBLE_BIN:-/opt/ansible-ref/bin}
VAULT="$ANSIBLE_BIN/ansible-vault"
DIR=tests/fixtures/vault
export ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0
[ -x "$VAULT" ] || { echo "ansible-vault not found at $VAULT (set ANSIBLE_BIN)" >&2; exit 2; }

plain() {
  mkdir -p "$DIR/plain"
  printf 'secret_user: admin\nsecret_password: "S3cr3t!"\nnested:\n  list: [1, 2, 3]\n' >"$DIR/plain/multiline.yml"
  : >"$DIR/plain/empty.txt"
  printf 'h\303\251llo \342\234\223 \346\227\245\346\234\254\n\000\001\002\377\376 binary tail\r\n' >"$DIR/plain/binary.bin"
  # One longer than a few 80-column lines, no final newline.
  for i in $(seq 1 40); do printf 'line %02d of a longer text, to wrap the hex body many times\n' "$i"; done >"$DIR/plain/long.txt"
  printf 'no newline at the end' >>"$DIR/plain/long.txt"
}

regenerate() {
  mkdir -p "$DIR"
  printf 'default-password\n' >"$DIR/default.pw"
  printf 'prod p\303\244ssword\n' >"$DIR/prod.pw"
  plain
  rm -rf "$DIR/ansible"; mkdir -p "$DIR/ansible"
  for f in "$DIR"/plain/*; do
    n=$(basename "$f")
    "$VAULT" encrypt --vault-password-file "$DIR/default.pw" --output "$DIR/ansible/$n.v11.vault" "$f" 2>/dev/null
    "$VAULT" encrypt --vault-id "prod@$DIR/prod.pw" --output "$DIR/ansible/$n.v12-prod.vault" "$f" 2>/dev/null
  done
  local version
  version=$("$VAULT" --version | sed -n '1s/.*core \([0-9.]*\).*/\1/p')
  {
    echo "# made by: ansible-vault encrypt_string (ansible-core $version)"
    "$VAULT" encrypt_string --vault-password-file "$DIR/default.pw" --name simple 'a plain value' 2>/dev/null; echo
    "$VAULT" encrypt_string --vault-id "prod@$DIR/prod.pw" --name unicode 'päss wörd ✓ 日本' 2>/dev/null; echo
    printf 'first line\nsecond line\n' | "$VAULT" encrypt_string --vault-id "prod@$DIR/prod.pw" --stdin-name multiline 2>/dev/null; echo
  } >"$DIR/ansible/strings.yml"
  cat >"$DIR/ansible/strings.expected.json" <<'JSON'
{"simple": "a plain value", "unicode": "päss wörd ✓ 日本", "multiline": "first line\nsecond line\n"}
JSON
  echo "regenerated $DIR/ansible with ansible-core $version"
}

check() {
  cargo build --quiet --bin tend
  local tend=target/debug/tend
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  for f in "$DIR"/plain/*; do
    n=$(basename "$f")
    "$tend" vault encrypt --vault-password-file "$DIR/default.pw" --output "$tmp/$n.v11" "$f" 2>/dev/null
    "$tend" vault encrypt --vault-id "prod@$DIR/prod.pw" --output "$tmp/$n.v12" "$f" 2>/dev/null
    head -1 "$tmp/$n.v11" | grep -qx '$ANSIBLE_VAULT;1.1;AES256'
    head -1 "$tmp/$n.v12" | grep -qx '$ANSIBLE_VAULT;1.2;AES256;prod'
    "$VAULT" decrypt --vault-password-file "$DIR/default.pw" --output - "$tmp/$n.v11" 2>/dev/null | cmp - "$f"
    "$VAULT" decrypt --vault-id "prod@$DIR/prod.pw" --output - "$tmp/$n.v12" 2>/dev/null | cmp - "$f"
    echo "ok: ansible-vault decrypts tend's $n (1.1 and 1.2)"
  done
  # Inline values: tend's encrypt_string output, read by Ansible as variables.
  {
    "$tend" vault encrypt_string --vault-password-file "$DIR/default.pw" --name simple 'a plain value' 2>/dev/null; echo
    "$tend" vault encrypt_string --vault-id "prod@$DIR/prod.pw" --name unicode 'päss wörd ✓ 日本' 2>/dev/null; echo
    printf 'first line\nsecond line\n' | "$tend" vault encrypt_string --vault-id "prod@$DIR/prod.pw" --stdin-name multiline 2>/dev/null; echo
  } >"$tmp/strings.yml"
  "$ANSIBLE_BIN/ansible" localhost -c local -e "@$tmp/strings.yml" \
    --vault-password-file "$DIR/default.pw" --vault-id "prod@$DIR/prod.pw" \
    -m copy -a "content={{ {'simple': simple, 'unicode': unicode, 'multiline': multiline} | to_json }} dest=$tmp/out.json" >/dev/null
  python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(a!=b)' \
    "$tmp/out.json" "$DIR/ansible/strings.expected.json"
  echo "ok: Ansible reads tend's encrypt_string values"
  # And the committed vectors decrypt under tend.
  cargo test --quiet --test vault committed_vectors >/dev/null
  echo "ok: tend decrypts the committed ansible-vault vectors"
}

case "${1:-}" in
  --check) check ;;
  "") regenerate; check ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
