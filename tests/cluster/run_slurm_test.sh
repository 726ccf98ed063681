#!/usr/bin/env bash
# Real cluster test: run the `tiny` workflow locally and through SLURM (snakemake-executor-plugin-slurm
# on a single-node cluster started here), and check both give the same results/metrics/metrics.tsv
# (and leaderboard). Prints the SLURM run's wall time and job count. Needs root (apt-get, daemons).
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
echo "local wall time: $(( $(date +%s) - start )) s"

echo "== SLURM run"
start=$(date +%s)
# the workflow profile for SLURM; no accounting daemon here, so no account and squeue for status
"${SMK[@]}" --directory "$WORK/slurm" --workflow-profile "$REPO/profiles/slurm" \
    --slurm-no-account --slurm-init-seconds-before-status-checks 2 --jobs 4 --latency-wait 10 \
    > "$WORK/slurm.log" 2>&1 || { tail -80 "$WORK/slurm.log"; exit 1; }
wall=$(( $(date +%s) - start ))
jobs=$(grep -c "has been submitted with SLURM jobid" "$WORK/slurm.log" || true)
echo "SLURM wall time: ${wall} s, jobs submitted: ${jobs}"

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
exit $status
