#!/usr/bin/env bash
# A throw-away single-node SLURM cluster on this machine, for lesionbench's cluster test.
#
#   tests/cluster/slurm_cluster.sh start   # apt-get slurm-wlm + munge if needed, write config, start
#   tests/cluster/slurm_cluster.sh env     # print exports (SLURM_CONF, PATH with client wrappers)
#   tests/cluster/slurm_cluster.sh stop    # stop the daemons this script started
#
# Needs root and Debian's slurm-wlm and munge. Everything lives under $LB_SLURM_ROOT
# (default /tmp/lesionbench-slurm); nothing is written to /etc. Design notes (learned the hard
# way):
# - no cgroups in a container: proctrack/linuxproc and task/none;
# - GPUs are faked as GRES backed by character devices (slurmd ignores GPUs without a device
#   file), so rules with resources gpu=1 are scheduled with --gpus and get CUDA_VISIBLE_DEVICES;
# - a `gpu` partition (the same node) for profiles/slurm's GPU rules;
# - no accounting daemon: Snakemake must poll with `--slurm-status-command squeue`, and finished
#   jobs stay visible to squeue for MinJobAge seconds;
# - the jobstep plugin drops SLURM_CONF before srun inside a job, so the client commands are
#   wrapped to default it.
set -euo pipefail

ROOT=${LB_SLURM_ROOT:-/tmp/lesionbench-slurm}
GPUS=${LB_SLURM_GPUS:-1}
CONF=$ROOT/etc/slurm.conf
SOCKET=$ROOT/run/munge.sock
HOST=$(hostname -s)

say() { echo "[slurm_cluster] $*" >&2; }

ensure_packages() {
    local want=() p
    for p in slurm-wlm munge; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || want+=("$p")
    done
    if [ ${#want[@]} -gt 0 ]; then
        say "installing ${want[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}" >/dev/null
    fi
}

running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

configure() {
    mkdir -p "$ROOT"/{etc,run,log,bin,dev,state,spool,munge}
    if [ ! -s "$ROOT/munge/key" ]; then
        head -c 1024 /dev/urandom > "$ROOT/munge/key"
    fi
    chown -R munge:munge "$ROOT/munge"
    chmod 700 "$ROOT/munge"
    chmod 400 "$ROOT/munge/key"
    chown munge:munge "$ROOT/run"
    # slurmd -C reports the topology it will check the node against
    local detected cpus_line memory
    detected=$(slurmd -C | head -n 1)
    cpus_line=$(grep -oE 'CPUs=[0-9]+ Boards=[0-9]+ SocketsPerBoard=[0-9]+ CoresPerSocket=[0-9]+ ThreadsPerCore=[0-9]+' <<<"$detected")
    memory=$(grep -oE 'RealMemory=[0-9]+' <<<"$detected" | cut -d= -f2)
    memory=$((memory * 85 / 100))
    local gpu_node="" i
    if [ "$GPUS" -gt 0 ]; then
        gpu_node="Gres=gpu:$GPUS"
        : > "$ROOT/etc/gres.conf"
        for ((i = 0; i < GPUS; i++)); do
            [ -c "$ROOT/dev/gpu$i" ] || mknod "$ROOT/dev/gpu$i" c 1 3
            echo "NodeName=$HOST Name=gpu File=$ROOT/dev/gpu$i" >> "$ROOT/etc/gres.conf"
        done
    fi
    cat > "$CONF" <<CONF
ClusterName=lesionbench
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
ReturnToService=2
MinJobAge=900
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SlurmctldPidFile=$ROOT/run/slurmctld.pid
SlurmdPidFile=$ROOT/run/slurmd.pid
SlurmctldLogFile=$ROOT/log/slurmctld.log
SlurmdLogFile=$ROOT/log/slurmd.log
SlurmdSpoolDir=$ROOT/spool
StateSaveLocation=$ROOT/state
GresTypes=gpu
NodeName=$HOST NodeAddr=127.0.0.1 $cpus_line RealMemory=$memory $gpu_node State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=ALL Default=NO MaxTime=INFINITE State=UP
CONF
    local tool
    for tool in sbatch srun squeue scancel scontrol sinfo sacct; do
        printf '#!/bin/sh\nexport SLURM_CONF="${SLURM_CONF:-%s}"\nexec /usr/bin/%s "$@"\n' "$CONF" "$tool" > "$ROOT/bin/$tool"
        chmod +x "$ROOT/bin/$tool"
    done
}

start() {
    [ "$(id -u)" -eq 0 ] || { say "must run as root"; exit 1; }
    ensure_packages
    configure
    export SLURM_CONF=$CONF
    if ! running "$ROOT/run/munged.pid"; then
        runuser -u munge -- /usr/sbin/munged --key-file="$ROOT/munge/key" --socket="$SOCKET" \
            --pid-file="$ROOT/run/munged.pid" --log-file="$ROOT/munge/munged.log" --seed-file="$ROOT/munge/seed"
    fi
    # -c: start with no jobs left over from an earlier, interrupted test (their allocations would
    # hold the node's CPUs and skew the wall times this cluster is used to measure)
    running "$ROOT/run/slurmctld.pid" || /usr/sbin/slurmctld -f "$CONF" -c -i
    local n
    for n in $(seq 30); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 1; done
    running "$ROOT/run/slurmd.pid" || /usr/sbin/slurmd -f "$CONF" -N "$HOST"
    for n in $(seq 30); do
        case "$(sinfo -h -N -o %T 2>/dev/null | head -n 1)" in
            idle | mixed | allocated) break ;;
            drain* | down* | inval*) scontrol update NodeName="$HOST" State=RESUME 2>/dev/null || true ;;
        esac
        sleep 1
    done
    sinfo -N -o '%N %T %c %m %G' >&2
}

stop() {
    local pidfile
    for pidfile in "$ROOT/run/slurmd.pid" "$ROOT/run/slurmctld.pid" "$ROOT/run/munged.pid"; do
        if running "$pidfile"; then
            kill "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null || true
            for _ in $(seq 20); do running "$pidfile" || break; sleep 0.5; done
        fi
        rm -f "$pidfile"
    done
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    env) echo "export SLURM_CONF=$CONF PATH=$ROOT/bin:\$PATH" ;;
    *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
