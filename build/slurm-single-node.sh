#!/usr/bin/env bash
# A throwaway single-node Slurm cluster on this machine, for trying and testing `moelab sweep
# --backend slurm`. Needs root and Debian's packages: apt-get install -y slurm-wlm munge
#
#   build/slurm-single-node.sh start    # munged + slurmctld + slurmd; waits until `sinfo` shows the node idle
#   build/slurm-single-node.sh status   # prints sinfo, or says it is not running (exit 1)
#   build/slurm-single-node.sh stop     # stops the daemons by their pid files (munged only if start started it),
#                                       # removes the config link
#
# Idempotent: start on a running cluster and stop on a stopped one do nothing. Everything Slurm
# writes (config, state, spool, pid and log files) lives in $MOELAB_SLURM_DIR (default
# /tmp/moelab-slurm). The client commands (sbatch, squeue, sinfo, scancel) read
# /etc/slurm/slurm.conf; the script links it to its own config when that file is absent (and
# removes the link on stop); when another slurm.conf is there it is left alone and you must
# `export SLURM_CONF=$MOELAB_SLURM_DIR/slurm.conf`.
#
# Node: NodeName=localhost with every CPU of this machine and 90 % of its memory; one partition
# `debug` (default, no time limit). Jobs run as the submitting user (root here).
set -euo pipefail

dir="${MOELAB_SLURM_DIR:-/tmp/moelab-slurm}"
conf="$dir/slurm.conf"
etc_conf=/etc/slurm/slurm.conf
say() { echo "slurm-single-node: $*" >&2; }

pid_alive() { # pid_alive <pidfile>
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

munge_ok() { command -v munge >/dev/null && munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
  if munge_ok; then return; fi
  if [ ! -s /etc/munge/munge.key ]; then
    say "creating /etc/munge/munge.key (1024 random bytes)"
    install -d -o munge -g munge -m 700 /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
  install -d -o munge -g munge -m 755 /run/munge
  install -d -o munge -g munge -m 700 /var/lib/munge /var/log/munge
  say "starting munged"
  mkdir -p "$dir"
  runuser -u munge -- /usr/sbin/munged
  touch "$dir/munged.ours"   # stop ends it again (only when this script started it)
  for _ in $(seq 50); do munge_ok && return; sleep 0.1; done
  say "munged did not come up (see /var/log/munge/munged.log)"; exit 1
}

write_conf() {
  local cpus mem_mb
  cpus=$(nproc)
  mem_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
  mkdir -p "$dir/state" "$dir/spool" "$dir/log"
  cat > "$conf.tmp" <<EOF
# Written by build/slurm-single-node.sh: a throwaway one-node cluster.
ClusterName=moelab
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
MinJobAge=300
KillWait=30
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
NodeName=localhost CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$conf.tmp" "$conf"
  if [ -L "$etc_conf" ] && [ "$(readlink "$etc_conf")" = "$conf" ]; then :
  elif [ ! -e "$etc_conf" ]; then
    mkdir -p /etc/slurm
    ln -s "$conf" "$etc_conf"
  else
    say "$etc_conf exists and is not this script's: left alone; export SLURM_CONF=$conf before using sbatch/squeue"
  fi
}

client_env() { if [ ! -L "$etc_conf" ] || [ "$(readlink "$etc_conf")" != "$conf" ]; then export SLURM_CONF="$conf"; fi; }

start() {
  for c in slurmctld slurmd sbatch sinfo munged; do
    command -v "$c" >/dev/null || [ -x "/usr/sbin/$c" ] || { say "$c not found: apt-get install -y slurm-wlm munge"; exit 1; }
  done
  [ "$(id -u)" = 0 ] || { say "needs root (the daemons run as root)"; exit 1; }
  start_munge
  if pid_alive "$dir/slurmctld.pid" && pid_alive "$dir/slurmd.pid"; then
    say "already running ($dir)"
  else
    write_conf
    client_env
    pid_alive "$dir/slurmctld.pid" || { say "starting slurmctld"; /usr/sbin/slurmctld -f "$conf"; }
    pid_alive "$dir/slurmd.pid" || { say "starting slurmd"; /usr/sbin/slurmd -f "$conf" -N localhost; }
  fi
  client_env
  for _ in $(seq 150); do
    state=$(sinfo -h -n localhost -o '%t' 2>/dev/null || true)
    case "$state" in
      idle|mix|alloc) say "up: node localhost is $state (config $conf)"; return ;;
      drain*|down*) scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true ;;
    esac
    sleep 0.2
  done
  say "the node did not become idle within 30 s; logs in $dir/log"; sinfo >&2 || true; exit 1
}

stop() {
  for d in slurmd slurmctld; do
    if pid_alive "$dir/$d.pid"; then
      pid=$(cat "$dir/$d.pid")
      say "stopping $d (pid $pid)"
      kill "$pid"
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" || true
    fi
  done
  if [ -L "$etc_conf" ] && [ "$(readlink "$etc_conf")" = "$conf" ]; then rm -f "$etc_conf"; fi
  if [ -f "$dir/munged.ours" ] && pid_alive /run/munge/munged.pid; then
    say "stopping munged (pid $(cat /run/munge/munged.pid))"
    kill "$(cat /run/munge/munged.pid)" || true
  fi
  rm -f "$dir/munged.ours"
}

status() {
  if pid_alive "$dir/slurmctld.pid" && pid_alive "$dir/slurmd.pid"; then client_env; sinfo; else say "not running"; exit 1; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
