#!/usr/bin/awk -f
# Keeps the parts of the fact script's output that the device, capability
# and userspace facts read (`uname`, the `block`, `holders`, `caps`, `lspci` and
# `sg_inq` sections; /sys/block and /proc/self/stat lines of `files`):
# fixtures without the host's environment.
/^::tend-facts:: / {
  name = $2
  keep = (name ~ /^(begin|end|uname|block|holders|caps|lspci|sg_inq|files)$/)
  if (keep) { print ""; print }
  next
}
keep && name == "files" { if ($0 ~ /^\/sys\/block\// || $0 ~ /^\/proc\/self\/stat:/) print; next }
keep && $0 != "" { print }
