# Shell functions of the guest side of the hypervisor, sourced by /etc/profile
# into the login shell. Builtins only: every process a shell starts costs tens
# of ms in an emulated CPU, and these run on every boot and every clone.

# hv_ready [SUFFIX]: the machine-readable ready line the hypervisor waits for.
hv_ready() {
  hv_ready_line "$1"
  echo "$hv_line"
}

# hv_ready_line [SUFFIX]: that line, in hv_line.
hv_ready_line() {
  local host rel up k v rest
  read -r host < /proc/sys/kernel/hostname
  read -r rel < /proc/sys/kernel/osrelease
  read -r up rest < /proc/uptime
  while read -r k v rest; do [ "$k" = MemTotal: ] && break; done < /proc/meminfo
  hv_line="HV-READY name=$host mem_kib=$v kernel=$rel uptime_s=$up$1"
}

# hv_identity NAME SEED [MAC|-] [EPOCH]: a guest restored from a template
# takes its own identity: hostname, a fresh entropy seed, its own NIC MAC
# address, and the wall clock (a restored clock lags by the time since the
# save). Ends with a clean screen and the ready line, like a fresh boot.
hv_identity() {
  local name=$1 seed=$2 mac=$3 epoch=$4
  if [ -z "$name" ] || [ -z "$seed" ]; then
    echo "usage: hv-identity NAME SEED [MAC|-] [EPOCH]" >&2
    return 2
  fi
  echo "$name" > /proc/sys/kernel/hostname
  echo "$seed" > /run/hv-seed
  # The RNG reseeded with the seed, the clock and the MAC: one small process.
  hv-clone-setup "$seed" "${epoch:--}" "${mac:--}"
  # One write: the clean screen and the ready line reach the host together.
  hv_ready_line ' clone=1'
  printf '\033[H\033[2J%s\n' "$hv_line"
}

# hv_await_identity: a template's login shell (booted with hv.template=1)
# waits here, without echo, for the line each clone is given ("hv_identity
# NAME SEED MAC EPOCH", the same line works at a prompt). At a prompt, the
# shell's line editor would echo it character by character: ~60 ms of an
# interpreted guest, most of a clone's identity.
hv_await_identity() {
  local cmd name seed mac epoch
  # The host saves the template's state once it has seen this line.
  echo HV-AWAIT-IDENTITY
  read -rs cmd name seed mac epoch
  hv_identity "$name" "$seed" "$mac" "$epoch"
}
