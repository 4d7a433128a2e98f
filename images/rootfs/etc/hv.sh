# Shell functions of the guest side of the hypervisor, sourced by /etc/profile
# into the login shell. Builtins only: every process a shell starts costs tens
# of ms in an emulated CPU, and these run on every boot and every clone.

# hv_ready [SUFFIX]: the machine-readable ready line the hypervisor waits for.
hv_ready() {
  local host rel up k v rest
  read -r host < /proc/sys/kernel/hostname
  read -r rel < /proc/sys/kernel/osrelease
  read -r up rest < /proc/uptime
  while read -r k v rest; do [ "$k" = MemTotal: ] && break; done < /proc/meminfo
  echo "HV-READY name=$host mem_kib=$v kernel=$rel uptime_s=$up$1"
}

# hv_identity NAME SEED [MAC|-] [EPOCH]: a guest restored from a template
# takes its own identity: hostname, a fresh entropy seed, its own NIC MAC
# address, and the wall clock (a restored clock lags by the time since the
# save). Ends with a clean screen and the ready line, like a fresh boot.
hv_identity() {
  local name=$1 seed=$2 mac=$3 epoch=$4
  [ "$mac" = - ] && mac=
  if [ -z "$name" ] || [ -z "$seed" ]; then
    echo "usage: hv-identity NAME SEED [MAC|-] [EPOCH]" >&2
    return 2
  fi
  echo "$name" > /proc/sys/kernel/hostname
  echo "$seed" > /dev/urandom
  echo "$seed" > /run/hv-seed
  [ -n "$epoch" ] && date -s "@$epoch" > /dev/null 2>&1
  if [ -n "$mac" ] && [ -e /sys/class/net/eth0 ]; then
    # The template never brought eth0 up; an interface that is up goes down for the change.
    ip link set dev eth0 address "$mac" 2> /dev/null ||
      { ip link set dev eth0 down && ip link set dev eth0 address "$mac" && ip link set dev eth0 up; } ||
      echo "hv-identity: could not set MAC $mac" >&2
  fi
  printf '\033[H\033[2J'
  hv_ready ' clone=1'
}
