# tend fact gathering. Prints raw data in sections introduced by
# "::tend-facts:: NAME" lines; tend parses them. POSIX sh; every probe is
# optional and failures just leave a section empty.
exec 2>/dev/null
s() { printf '\n::tend-facts:: %s\n' "$1"; }
has() { command -v "$1" >/dev/null; }
to() { if has timeout; then timeout "$@"; else shift; "$@"; fi; }
s 'begin 1'
if [ -r /proc/$$/environ ] && has od; then
  s env_hex; od -An -v -tx1 /proc/$$/environ
else
  s env; env
fi
# Every program below runs in the C locale: none prints anything a locale
# changes that tend reads, and each starts faster without loading one.
LC_ALL=C; export LC_ALL
s uname
# uname's five fields from the kernel's own files (a process fewer), when
# it has them all (`arch` since Linux 6.1).
k=/proc/sys/kernel
if [ -r $k/arch ] && read -r a <$k/ostype && read -r b <$k/hostname \
  && read -r c <$k/osrelease && read -r d <$k/version && read -r e <$k/arch; then
  printf '%s %s %s %s %s\n' "$a" "$b" "$c" "$d" "$e"
else uname -s -n -r -v -m; fi
s fqdn
# Python's socket.getfqdn(), as Ansible's: the host name resolved, then the
# address resolved back ("ADDRESS NAME ALIAS..."); `hostname -f` without
# getent.
n=; read -r n </proc/sys/kernel/hostname
if [ -n "$n" ] && has getent; then
  a=$(to 3 getent hosts "$n") && to 3 getent hosts "${a%%[ 	]*}"
elif has hostname; then to 3 hostname -f; fi
s id; t=${__tend_id:-$(id)}; printf '%s\n' "$t"
u=${t#uid=}; u=${u%%[!0-9]*}
s passwd
if [ -n "$u" ]; then
  if has getent; then getent passwd "$u"
  else grep "^[^:]*:[^:]*:$u:" /etc/passwd; fi
fi
s date; date '+%Y|%m|%d|%H|%M|%S|%s|%N|%z|%Z|%A|%w|%W'
s tzrule
case ${TZ-} in
  '') tail -n 1 /etc/localtime ;;
  :*|*/*) t=${TZ#:}; case $t in /*) ;; *) t=/usr/share/zoneinfo/$t ;; esac
    tail -n 1 "$t" ;;
  *) printf '%s\n' "$TZ" ;;
esac
s stat
# `/` against init's root: the shell's own test when it may look there
# (root), else the inode of `/`.
if [ -e /proc/1/root/. ]; then
  if [ / -ef /proc/1/root/. ]; then echo same; else echo differ; fi
else stat -c '%d:%i' /; fi
s statfs
set --
[ -r /proc/mounts ] && while read -r d m r; do
  case $d in /*|*:/*) case $m in *\\*) ;; *) set -- "$@" "$m" ;; esac ;; esac
done </proc/mounts
[ $# -gt 0 ] && to 5 stat -f -c '%S %s %b %f %a %c %d %n' "$@"
s exists
for p in /usr/bin/apt-get /usr/bin/dnf5 /usr/bin/dnf /usr/bin/yum /sbin/apk \
  /usr/bin/pacman /usr/bin/zypper /usr/bin/emerge /usr/bin/xbps-install \
  /run/systemd/system /dev/.run/systemd /dev/.systemd /sbin/openrc /etc/init.d \
  /etc/init /etc/arch-release /.dockerenv /run/.containerenv /proc/vz \
  /proc/lve /proc/bc /proc/xen /sys/kernel/security/apparmor \
  /sys/fs/selinux/enforce \
  /sys/class/net/*/bridge /sys/class/net/*/bonding; do
  [ -e "$p" ] && printf '%s\n' "$p"
done
for p in systemctl initctl lsb_release ip vgs; do has "$p" && printf 'cmd:%s\n' "$p"; done
[ -r /proc/1/comm ] || { [ -L /sbin/init ] && printf 'init:%s\n' "$(readlink /sbin/init)"; }
s files
o=/etc/os-release; [ -r $o ] || o=/usr/lib/os-release
d=/sys/class/dmi/id
set -- $o /etc/debian_version /etc/alpine-release /etc/redhat-release \
  /etc/lsb-release /etc/machine-id /etc/resolv.conf \
  /etc/selinux/config /proc/cpuinfo /proc/meminfo /proc/mounts /proc/uptime \
  /proc/loadavg /proc/cmdline /proc/1/comm /proc/1/cgroup /proc/self/status \
  /proc/xen/capabilities /proc/sys/crypto/fips_enabled /run/systemd/container \
  /sys/fs/selinux/enforce /sys/fs/selinux/policyvers /sys/hypervisor/type \
  /etc/ssh/ssh_host_dsa_key.pub /etc/ssh/ssh_host_rsa_key.pub \
  /etc/ssh/ssh_host_ecdsa_key.pub /etc/ssh/ssh_host_ed25519_key.pub \
  /etc/nvme/hostnqn /etc/iscsi/initiatorname.iscsi /sys/class/fc_host/*/port_name \
  $d/sys_vendor $d/product_name $d/product_version \
  $d/product_serial $d/product_uuid $d/bios_vendor $d/bios_version \
  $d/bios_date $d/board_vendor $d/board_name $d/board_version $d/board_serial \
  $d/board_asset_tag $d/chassis_vendor $d/chassis_version $d/chassis_serial \
  $d/chassis_asset_tag $d/chassis_type /sys/class/net/*/address \
  /sys/class/net/*/mtu /sys/class/net/*/type /sys/class/net/*/operstate \
  /sys/class/net/*/flags /sys/class/net/*/speed
# grep's own /proc/self/stat (where its stack starts: `userspace_bits`).
set -- "$@" /proc/self/stat
# Block devices (`devices`): each disk's attribute files, its partitions'
# (a name ending in a digit, with a `start`) and the names of the
# device-mapper holders; into L the directories whose order `ls` shows
# below (/sys/block, /dev/disk's links, the disks with partitions, the
# holder directories), into A what only the disk loop sees (`has:` a
# disk's `device`, each `slaves` entry of a device-mapper device).
L= A= H=
for p in /sys/block /dev/disk/by-id /dev/disk/by-uuid /dev/disk/by-label; do
  [ -d $p ] && L="$L $p/"
done
for b in /sys/block/*; do
  [ -e "$b" ] || continue
  q=$b/queue
  set -- "$@" "$b/size" "$b/removable" "$b/device/vendor" "$b/device/model" \
    "$b/device/sas_address" "$b/device/sas_device_handle" "$b/device/serial" \
    "$q/rotational" "$q/scheduler" "$q/logical_block_size" "$q/hw_sector_size" \
    "$q/discard_max_hw_bytes" "$q/discard_granularity"
  [ -e "$b/device" ] && A="$A has:$b/device"
  for p in "$b"/slaves/*; do [ -e "$p" ] || [ -h "$p" ] && A="$A has:$p"; done
  H="$H $b"
  for p in "$b"/*[0-9]; do
    [ -e "$p/start" ] || continue
    set -- "$@" "$p/start" "$p/size"; H="$H $p"
    case "$L " in *" $b/ "*) ;; *) L="$L $b/" ;; esac
  done
done
for p in $H; do
  for h in "$p"/holders/dm-*; do
    [ -e "$h" ] || [ -h "$h" ] || continue
    set -- "$@" "$p"/holders/dm-*/dm/name; L="$L $p/holders/"; break
  done
done
if has grep; then
  grep -s -v -e '^flags[[:space:]]*:' -e '^bugs[[:space:]]*:' /dev/null "$@"
else
  for f; do
    [ -r "$f" ] && while IFS= read -r l || [ -n "$l" ]; do
      printf '%s:%s\n' "$f" "$l"
    done <"$f"
  done
fi
s block
# One `ls` of the directories in L: in the kernel's order where `ls -f`
# keeps `-l` (GNU), else sorted (busybox); a file operand first, so that
# `ls` names even a single directory.
QUOTING_STYLE=literal ls -fln /dev/null $L || QUOTING_STYLE=literal ls -ln /dev/null $L
printf '%s\n' $A
# Tools Ansible runs when installed, found where its get_bin_path looks
# (into $c: a command substitution would cost a fork).
bin() {
  o=$IFS; IFS=:
  for c in $PATH /sbin /usr/sbin /usr/local/sbin; do
    c=$c/$1; [ -f "$c" ] && [ -x "$c" ] && { IFS=$o; return 0; }
  done
  IFS=$o; return 1
}
if bin capsh; then s caps; "$c" --print; echo "rc:$?"; fi
if bin lspci; then s lspci; "$c" -D; fi
if bin sg_inq; then
  for p in /sys/block/*; do
    [ -e "$p" ] || continue
    s "sg_inq ${p##*/}"; "$c" "/dev/${p##*/}"; echo "rc:$?"
  done
fi
s python
# The interpreter on PATH, for the `python` fact: its path and `--version`
# (no interpreter start-up: importing modules costs ~30 ms of target CPU).
for p in python3 python; do
  if has "$p"; then command -v "$p"; "$p" --version 2>&1; break; fi
done
if has ip; then
  # One process for these: the routes' answers start with the address, the
  # local table's lines with the route type.
  s ip; printf '%s\n' 'addr show' 'route get 8.8.8.8' \
    'route get 2404:6800:400a:800::1012' 'route show table local' | ip -force -batch -
  s ip_local6; ip -6 route show table local
fi
s cpuflags; has grep && grep -m 1 '^flags[[:space:]]*:' /proc/cpuinfo
s local
# Local facts (in fact_path, default Ansible's): executables run, others read.
for f in "${__tend_fact_path:-/etc/ansible/facts.d}"/*.fact; do
  [ -f "$f" ] || continue
  if [ -x "$f" ]; then
    o=$("$f" 2>/dev/null); r=$?
    printf '::tend-fact:: %s %s\n%s\n' "$r" "$f" "$o"
  else
    printf '::tend-fact:: 0 %s\n' "$f"; cat "$f"; echo
  fi
done
s end
