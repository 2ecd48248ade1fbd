#!/bin/bash
# A real one-node Slurm cluster on localhost (Debian's slurm-wlm and munge), started as root in a
# temporary directory with a generated slurm.conf: submits a sweep as a two-task array job plus
# the dependent merge job (the script `headscope sweep slurm` prints), waits, and checks the
# merged results equal a single local run. Exit 0: pass; 77: skipped (the reason on stdout);
# anything else: failure. Bounded (about 3 minutes at most); the daemons are always stopped.
# Usage: tests/slurm_local.sh HEADSCOPE_BINARY MODEL_DIR TEXT_FILE
set -u
BIN=$1 MODEL=$2 TEXT=$3
skip() { echo "SKIPPED: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "the local Slurm test starts slurmctld/slurmd/munged and needs root"
for c in munged slurmctld slurmd sbatch squeue sinfo scontrol; do
  command -v $c >/dev/null || skip "$c not installed (apt-get install slurm-wlm munge; scripts/setup.sh does)"
done
T=$(mktemp -d /tmp/headscope_slurm.XXXXXX)
chmod 700 "$T"
cleanup() {
  for p in slurmd slurmctld munged; do
    [ -s "$T/$p.pid" ] && kill "$(cat "$T/$p.pid")" 2>/dev/null
  done
  sleep 1
  for p in slurmd slurmctld munged; do
    [ -s "$T/$p.pid" ] && kill -9 "$(cat "$T/$p.pid")" 2>/dev/null
  done
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAILED: $*"; for f in "$T"/*.log "$T"/sweep/slurm/*.out; do [ -f "$f" ] && { echo "== $f"; tail -20 "$f"; }; done; exit 1; }

# munge: a fresh key, its own socket
dd if=/dev/urandom of="$T/munge.key" bs=1024 count=1 2>/dev/null
chmod 400 "$T/munge.key"
munged --force --key-file="$T/munge.key" --socket="$T/munge.sock" --pid-file="$T/munged.pid" \
  --log-file="$T/munged.log" --seed-file="$T/munged.seed" >/dev/null 2>&1 ||
  skip "munged does not start here: $(tail -1 "$T/munged.log" 2>/dev/null)"

# slurm.conf: this host as controller and only node (its real CPUs/memory from slurmd -C)
NODE=$(slurmd -C 2>/dev/null | head -1 | sed 's/ UpTime=.*//')
[ -n "$NODE" ] || skip "slurmd -C does not report this node"
NAME=$(echo "$NODE" | sed 's/^NodeName=\([^ ]*\).*/\1/')
mkdir -p "$T/state" "$T/spool"
cat > "$T/slurm.conf" <<CONF
ClusterName=headscope
SlurmctldHost=$NAME(127.0.0.1)
SlurmctldPort=26817
SlurmdPort=26818
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$T/munge.sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SlurmdTimeout=30
$NODE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$T/slurm.conf"
slurmctld -c -f "$SLURM_CONF" >"$T/slurmctld.out" 2>&1 || skip "slurmctld does not start: $(tail -1 "$T/slurmctld.log" 2>/dev/null)"
slurmd -f "$SLURM_CONF" >"$T/slurmd.out" 2>&1 || skip "slurmd does not start: $(tail -1 "$T/slurmd.log" 2>/dev/null)"
ok=
for i in $(seq 1 30); do
  state=$(sinfo -h -o %T 2>/dev/null | head -1)
  [ "$state" = idle ] && { ok=1; break; }
  sleep 1
done
[ -n "$ok" ] || skip "the local Slurm node did not come up within 30 s (state '${state:-none}'): $(tail -1 "$T/slurmd.log" 2>/dev/null)"

# the sweep: 2 documents x (dense + 2 configurations), as an array of 2 tasks + merge
mkdir -p "$T/docs"
head -c 1500 "$TEXT" > "$T/docs/a.txt"
tail -c 1500 "$TEXT" > "$T/docs/b.txt"
cat > "$T/ablation.toml" <<'TOML'
[[group]]
id = "B"
builder = "uniform"
sink = 4
configs = [ { name = "B_w16", window = 16 }, { name = "B_w32", window = 32 } ]
TOML
cat > "$T/spec.toml" <<TOML
[[model]]
path = "$MODEL"
[[dataset]]
path = "$T/docs"
[evaluation]
max_tokens = 96
threads = 1
[ablation]
config = "$T/ablation.toml"
TOML
"$BIN" sweep plan "$T/spec.toml" --out "$T/sweep" >/dev/null || fail "sweep plan"
"$BIN" sweep plan "$T/spec.toml" --out "$T/local" >/dev/null || fail "sweep plan (local)"
"$BIN" sweep slurm "$T/sweep" --array 2 --time 00:05:00 > "$T/submit.sh" || fail "sweep slurm"
ids=$(sh "$T/submit.sh") || fail "submitting: $ids"
echo "$ids"
for i in $(seq 1 150); do
  [ -z "$(squeue -h 2>/dev/null)" ] && [ -f "$T/sweep/merged.json" ] && break
  sleep 1
done
[ -f "$T/sweep/merged.json" ] || fail "no merged.json after 150 s (squeue: $(squeue -h 2>&1 | head -3))"
"$BIN" sweep run "$T/local" >/dev/null || fail "local run"
"$BIN" sweep merge "$T/local" >/dev/null || fail "local merge"
shards=$(cat "$T"/sweep/units/*.json | grep -o '"shard": "[0-9]*/[0-9]*"' | sort -u | tr '\n' ' ')
[ "$shards" = '"shard": "0/2" "shard": "1/2" ' ] || fail "units were not run by two array tasks: $shards"
a=$(grep -o '"results_sha256": "[0-9a-f]*"' "$T/sweep/merged.json")
b=$(grep -o '"results_sha256": "[0-9a-f]*"' "$T/local/merged.json")
[ -n "$a" ] && [ "$a" = "$b" ] || fail "merged results differ: slurm $a, local $b"
echo "OK: Slurm array (2 tasks) + merge == local run ($a)"
