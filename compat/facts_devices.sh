#!/usr/bin/env bash
# Block device facts on a made-up machine: in a private mount namespace,
# tmpfs over /sys and /dev holds a fake sysfs (a SATA disk with partitions
# under LVM, an NVMe disk, device-mapper volumes, a disk whose /sys/block
# entry is a directory) and /dev/disk/by-{id,uuid,label} links; a fake
# `lspci` (and, with SG_INQ=1, a fake `sg_inq`) sits first on PATH. Then
# ansible-core's `setup` and tend gather facts there and the device facts
# (`devices`, `device_links`) are compared.
#
#   compat/facts_devices.sh            # compare; exit 1 on a difference
#   SG_INQ=1 compat/facts_devices.sh   # the same with sg_inq installed
#   OUT=DIR compat/facts_devices.sh    # also keep DIR/gather.out (the script's
#                                      # output, device parts only) and
#                                      # DIR/ansible.json: the parser's fixtures
#
# Needs root (unshare -m). Env: ANSIBLE (default /opt/ansible-ref/bin/ansible),
# TEND (default target/debug/tend), PY (default /usr/bin/python3).
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
export ANSIBLE="${ANSIBLE:-/opt/ansible-ref/bin/ansible}" TEND="${TEND:-$root/target/debug/tend}"
export PY="${PY:-/usr/bin/python3}" GATHER="$root/src/exec/facts/gather.sh"
export root WORK="$(mktemp -d /tmp/facts_devices.XXXXXX)" SG_INQ="${SG_INQ:-0}" OUT="${OUT:-}"
trap 'rm -rf "$WORK"' EXIT
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 5; }

unshare -m --propagation private bash -euc '
mkdir -p "$WORK/dev" "$WORK/bin"
mount --rbind /dev "$WORK/dev"
mount -t tmpfs tmpfs /sys
mount -t tmpfs tmpfs /dev
for n in null zero full random urandom tty; do touch /dev/$n; mount --bind "$WORK/dev/$n" /dev/$n; done
mkdir /dev/pts /dev/shm; mount --bind "$WORK/dev/pts" /dev/pts; ln -s /proc/self/fd /dev/fd

w() { mkdir -p "$(dirname "$1")"; printf "%s\n" "$2" > "$1"; }
queue() { # DIR ROTATIONAL SCHEDULER LBS DISCARD_MAX GRANULARITY
  w "$1/queue/rotational" "$2"; w "$1/queue/scheduler" "$3"
  w "$1/queue/logical_block_size" "$4"; w "$1/queue/hw_sector_size" "$4"
  w "$1/queue/discard_max_hw_bytes" "$5"; w "$1/queue/discard_granularity" "$6"
}
D=/sys/devices
mkdir -p /sys/block

# A SATA disk: sda1 (EFI), sda2 (an LVM physical volume: dm-1 and dm-0).
sata=$D/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0
sda=$sata/block/sda
w $sata/vendor "ATA     "; w $sata/model "Samsung SSD 860 "
w $sda/size 1953525168; w $sda/removable 0
queue $sda 0 "mq-deadline kyber [bfq] none" 512 2147450880 512
ln -s ../../../0:0:0:0 $sda/device
mkdir -p $sda/holders $sda/slaves $sda/power
w $sda/sda1/start 2048; w $sda/sda1/size 1048576; mkdir -p $sda/sda1/holders
w $sda/sda2/start 1050624; w $sda/sda2/size 1952474511
mkdir -p $sda/sda2/holders
ln -s ../../../../../../../../../../virtual/block/dm-1 $sda/sda2/holders/dm-1
ln -s ../../../../../../../../../../virtual/block/dm-0 $sda/sda2/holders/dm-0
ln -s ../devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda /sys/block/sda

# An NVMe disk behind a bridge: one partition, a serial in sysfs.
ctl=$D/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0
nv=$ctl/nvme0n1
w $ctl/model "Samsung SSD 970 EVO Plus 1TB"; w $ctl/serial "S4EWNX0R123456 "
w $nv/size 1953525168; w $nv/removable 0
queue $nv 0 "[none] mq-deadline" 512 2199023255040 512
ln -s ../../nvme0 $nv/device
mkdir -p $nv/holders $nv/slaves
w $nv/nvme0n1p1/start 2048; w $nv/nvme0n1p1/size 204800
mkdir -p $nv/nvme0n1p1/holders
ln -s ../devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1 /sys/block/nvme0n1

# Device-mapper volumes on sda2; dm-1 without a name.
for dm in dm-0 dm-1; do
  v=$D/virtual/block/$dm
  w $v/size 41943040; w $v/removable 0; queue $v 0 none 4096 0 0
  mkdir -p $v/holders $v/slaves $v/dm
  ln -s ../../../../pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda2 $v/slaves/sda2
  ln -s ../devices/virtual/block/$dm /sys/block/$dm
done
w $D/virtual/block/dm-0/dm/name vg-root; : > $D/virtual/block/dm-1/dm/name

# A loop device, and an old-style disk directory (no link) with a device.
lp=$D/virtual/block/loop0
w $lp/size 0; w $lp/removable 0; queue $lp 0 "[none] mq-deadline kyber bfq" 512 0 0
mkdir -p $lp/holders $lp/slaves $lp/loop
ln -s ../devices/virtual/block/loop0 /sys/block/loop0
hd=/sys/block/hda
w $hd/size 4096; w $hd/removable 1; w $hd/device/model "OLD DISK"
mkdir -p $hd/holders

mkdir -p /dev/disk/by-id /dev/disk/by-uuid /dev/disk/by-label
cd /dev/disk/by-id
ln -s ../../sda ata-Samsung_SSD_860_S3Z9NB0K123456A
ln -s ../../sda1 ata-Samsung_SSD_860_S3Z9NB0K123456A-part1
ln -s ../../sda2 ata-Samsung_SSD_860_S3Z9NB0K123456A-part2
ln -s ../../sda wwn-0x5002538e40a1b2c3
ln -s ../../sda1 wwn-0x5002538e40a1b2c3-part1
ln -s ../../nvme0n1 nvme-Samsung_SSD_970_EVO_Plus_1TB_S4EWNX0R123456
ln -s ../../nvme0n1p1 nvme-Samsung_SSD_970_EVO_Plus_1TB_S4EWNX0R123456-part1
ln -s ../../dm-0 dm-name-vg-root
ln -s ../../dm-0 dm-uuid-LVM-Xa1b2c3
cd /dev/disk/by-uuid
ln -s ../../sda1 7A1B-2C3D; ln -s ../../dm-0 0b1c2d3e-aaaa-bbbb-cccc-123456789abc
ln -s ../../nvme0n1p1 5f6e7d8c-1111-2222-3333-444455556666
cd /dev/disk/by-label
ln -s ../../sda1 EFI; ln -s ../../nvme0n1p1 "data\x20disk"
cd /

cat > "$WORK/bin/lspci" <<EOF
#!/bin/sh
[ "\$1" = -D ] || exit 2
echo "0000:00:1d.0 PCI bridge: Intel Corporation Device a330 (rev f0)"
echo "0000:00:1f.2 SATA controller: Intel Corporation Device a352 (rev 10)"
echo "0000:3d:00.0 Non-Volatile memory controller: Samsung Electronics Co Ltd NVMe SSD Controller SM981/PM981/PM983"
EOF
if [ "$SG_INQ" = 1 ]; then cat > "$WORK/bin/sg_inq" <<EOF
#!/bin/sh
case \$1 in
  /dev/sda) printf "standard INQUIRY:\n  Vendor identification: ATA\n  Unit serial number: S3Z9NB0K123456A\n" ;;
  /dev/nvme0n1) printf "NVMe device\n  Serial number:\n     S4EWNX0R123456\n" ;;
  /dev/hda) printf "  Unit serial number: \n" ;;
  *) echo "sg_inq: not supported" >&2; exit 99 ;;
esac
EOF
fi
chmod +x "$WORK/bin"/*
export PATH="$WORK/bin:$PATH"

cat > "$WORK/play.yml" <<EOF
- hosts: localhost
  connection: local
  gather_facts: yes
  tasks:
    - copy:
        dest: "{{ out }}"
        content: "{{ {\"devices\": ansible_facts.devices, \"device_links\": ansible_facts.device_links} | to_nice_json(sort_keys=true) }}\n"
    - copy:
        dest: "{{ out }}.order"
        content: |
          {% for name, d in ansible_facts.devices.items() %}
          {{ name }}: {{ d.keys() | join(" ") }} {{ d.links.keys() | join(" ") }}
          {% for part, p in d.partitions.items() %}
          - {{ part }}: {{ p.keys() | join(" ") }} holders={{ p.holders | join(" ") }}
          {% endfor %}
          {% endfor %}
          {% for kind, links in ansible_facts.device_links.items() %}
          {{ kind }}: {{ links.keys() | join(" ") }}
          {% endfor %}
EOF
ANSIBLE_PLAYBOOK="$(dirname "$ANSIBLE")/ansible-playbook"
"$ANSIBLE_PLAYBOOK" -i localhost, -e ansible_python_interpreter="$PY" -e out="$WORK/ansible.json" \
  "$WORK/play.yml" > "$WORK/ansible.log" 2>&1 || { cat "$WORK/ansible.log"; exit 3; }
"$TEND" playbook -i localhost, -e out="$WORK/tend.json" "$WORK/play.yml" > "$WORK/tend.log" 2>&1 \
  || { cat "$WORK/tend.log"; exit 3; }
if [ -n "$OUT" ]; then
  mkdir -p "$OUT"; sh "$GATHER" | "$root/compat/facts_devices_only.awk" > "$OUT/gather.out"
  cp "$WORK/ansible.json" "$OUT/ansible.json"
fi
diff -u "$WORK/ansible.json" "$WORK/tend.json" && diff -u -B "$WORK/ansible.json.order" "$WORK/tend.json.order" \
  && echo "devices: tend and ansible agree, in the same order"
'
