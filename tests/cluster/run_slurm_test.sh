#!/usr/bin/env bash
# Real cluster test: run the `tiny` workflow locally and through SLURM (snakemake-executor-plugin-slurm
# on a single-node cluster started here), and check both give the same results/metrics/metrics.tsv
# (and leaderboard). Prints both wall times and their ratio (target <= 1.5; wall times on a shared
# machine are noisy, so it fails on the ratio only when LB_SLURM_MAX_RATIO is set)
# and the number of SLURM jobs; then checks that a U-Net asking for a GPU (tests/cluster/gpu.yaml)
# is submitted with --gpus=1 to the `gpu` partition. Needs root (apt-get, daemons).
# Settings for this test cluster only (no accounting daemon, so squeue for status; a 2-CPU node)
# are given here on the command line, not in profiles/slurm.
#
#   bash tests/cluster/run_slurm_test.sh [VENV]      (default VENV: .venv)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${1:-$REPO/.venv}
WORK=${LB_SLURM_WORK:-/tmp/lesionbench-slurm-test}
CLUSTER="$REPO/tests/cluster/slurm_cluster.sh"
SMK=("$VENV/bin/python" -m snakemake -s "$REPO/workflow/Snakefile" --configfile "$REPO/config/config.yaml" "$REPO/tests/configs/tiny.yaml")

rm -rf "$WORK"
mkdir -p "$WORK/local" "$WORK/slurm"
bash "$CLUSTER" start
trap 'bash "$CLUSTER" stop' EXIT
eval "$(bash "$CLUSTER" env)"

echo "== local run"
start=$(date +%s)
"${SMK[@]}" --directory "$WORK/local" --cores 2 --quiet rules > "$WORK/local.log" 2>&1 || { tail -50 "$WORK/local.log"; exit 1; }
local_wall=$(( $(date +%s) - start ))
echo "local wall time: ${local_wall} s"

echo "== SLURM run"
# The profile's `jobs: 100` stays: Snakemake counts its local rules against --jobs too, so a
# small limit holds a ready cluster job back while summary tables run on this host.
TEST_FLAGS=(--slurm-no-account --slurm-status-command squeue --slurm-init-seconds-before-status-checks 2
    --latency-wait 10)
# once a second: how many SLURM jobs are pending or running (the seconds with none are the
# cluster's idle time: the executor's status polling, submission, and the submit host's local rules)
( while sleep 1; do echo "$(squeue -h 2>/dev/null | wc -l)"; done ) > "$WORK/squeue.trace" &
tracer=$!
start=$(date +%s)
"${SMK[@]}" --directory "$WORK/slurm" --workflow-profile "$REPO/profiles/slurm" "${TEST_FLAGS[@]}" \
    > "$WORK/slurm.log" 2>&1 || { kill "$tracer"; tail -80 "$WORK/slurm.log"; exit 1; }
wall=$(( $(date +%s) - start ))
kill "$tracer" 2> /dev/null || true
jobs=$(grep -c "has been submitted with SLURM jobid" "$WORK/slurm.log" || true)
idle=$(grep -c "^0$" "$WORK/squeue.trace" || true)
ratio=$(awk -v s="$wall" -v l="$local_wall" 'BEGIN { printf "%.2f", s / l }')
echo "SLURM wall time: ${wall} s, jobs submitted: ${jobs}, SLURM/local: ${ratio}"
echo "seconds with no SLURM job pending or running: ${idle} of ${wall} (status polling, submission, local rules)"

status=0
for f in results/metrics/metrics.tsv results/ranking/leaderboard.tsv; do
    if [ -f "$WORK/local/$f" ] || [ -f "$WORK/slurm/$f" ]; then
        if cmp -s "$WORK/local/$f" "$WORK/slurm/$f"; then
            echo "identical: $f"
        else
            echo "DIFFERENT: $f"; status=1
        fi
    fi
done
[ -f "$WORK/slurm/results/metrics/metrics.tsv" ] || { echo "no metrics.tsv from the SLURM run"; status=1; }
if [ -n "${LB_SLURM_MAX_RATIO:-}" ] && awk -v r="$ratio" -v m="$LB_SLURM_MAX_RATIO" 'BEGIN { exit !(r > m) }'; then
    echo "SLURM/local ${ratio} is above ${LB_SLURM_MAX_RATIO}"; status=1
elif awk -v r="$ratio" 'BEGIN { exit !(r > 1.5) }'; then
    echo "warning: SLURM/local ${ratio} is above the 1.5 target"
fi

echo "== GPU job on SLURM (device: auto, gpu: true; this host has no GPU)"
case_dir=$(ls "$WORK/slurm/results/predictions/random_forest" | head -n 1)
# the profile asks for 4 CPUs per GPU; this node has 2 (a command-line --set-resources replaces
# the profile's, so the partition is repeated; tests/test_cluster_profile.py checks the profile's)
"${SMK[@]}" "$REPO/tests/cluster/gpu.yaml" --directory "$WORK/slurm" "results/predictions/unet3d/$case_dir" \
    --workflow-profile "$REPO/profiles/slurm" "${TEST_FLAGS[@]}" --rerun-triggers mtime --forcerun infer_method_unet_gpu \
    --set-resources infer_method_unet_gpu:slurm_partition=gpu infer_method_unet_gpu:cpus_per_gpu=1 \
    > "$WORK/gpu.log" 2>&1 || { tail -40 "$WORK/gpu.log"; status=1; }
gpu_job=$(grep -oE "rule_infer_method_unet_gpu/[^ ]*/[0-9]+[.]log" "$WORK/gpu.log" | grep -oE "[0-9]+" | tail -n 1)
details=$(scontrol show job "$gpu_job" 2>/dev/null || true)
if grep -q "Partition=gpu" <<<"$details" && grep -qE "TresPerJob=gres/gpu:1|TresPerJob=gres:gpu:1" <<<"$details"; then
    echo "GPU job $gpu_job: partition gpu, --gpus=1"
else
    echo "GPU job ${gpu_job:-?} not submitted with --gpus=1 to partition gpu:"; grep -E "Partition|Tres" <<<"$details" || true
    status=1
fi
exit $status
