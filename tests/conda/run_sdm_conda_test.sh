#!/usr/bin/env bash
# Snakemake's own conda deployment, for real: the `tiny` workflow with `--sdm conda`, each rule in
# the env its `conda:` names, built by the conda stand-in (tests/conda/bin/conda: venvs from the
# PyPI equivalents of the env's packages, then its `pip:` section with conda's semantics and
# --no-index). lesionbench reaches the envs as a wheel (PIP_FIND_LINKS), as a user without PyPI
# does. Snakemake runs from a host venv holding only snakemake and lesionbench's own dependencies,
# so a package missing from an env cannot be borrowed from the host (the script preamble appends
# the host's sys.path). Then a copy of the workflow whose sklearn env lacks scikit-learn must
# fail in train_method_sklearn with "No module named 'sklearn'".
#
#   bash tests/conda/run_sdm_conda_test.sh [VENV [REFERENCE_RUN_DIR]]
# VENV (default .venv) builds the wheel and pins the envs' other packages (a lock file); with
# REFERENCE_RUN_DIR (a plain run of the same configs) metrics.tsv and leaderboard.tsv must match.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
VENV=$(cd "${1:-$REPO/.venv}" && pwd)
REFERENCE=${2:-}
WORK=${LB_CONDA_WORK:-/tmp/lesionbench-sdm-conda-test}
CONFIGS=(--configfile "$REPO/config/config.yaml" "$REPO/tests/configs/tiny.yaml")
t0=$(date +%s)
stamp() { echo "$1 after $(($(date +%s) - t0)) s"; }

rm -rf "$WORK"
mkdir -p "$WORK/pkg" "$WORK/dist"
# the wheel, built from a copy so that the checkout gets no build/ folder
cp -r "$REPO/pyproject.toml" "$REPO/README.md" "$REPO/src" "$WORK/pkg/"
"$VENV/bin/pip" wheel --quiet --no-deps --no-build-isolation -w "$WORK/dist" "$WORK/pkg"
# the versions of the pinned venv stand in for a lock file of the envs' unpinned dependencies
"$VENV/bin/pip" freeze --exclude-editable | grep -v -i '^lesionbench' > "$WORK/lock.txt"
python3.11 -m venv "$WORK/host"
"$WORK/host/bin/pip" install --quiet -c "$REPO/requirements.txt" snakemake==9.15.0 "$WORK"/dist/lesionbench-*.whl \
    > "$WORK/host.log" 2>&1 || { tail -30 "$WORK/host.log"; exit 1; }
stamp "wheel and host venv"
for module in sklearn torch SimpleITK ants nilearn statsmodels; do
    if "$WORK/host/bin/python" -c "import $module" 2> /dev/null; then
        echo "the host venv must not have $module"; exit 1
    fi
done

export PATH="$REPO/tests/conda/bin:$WORK/host/bin:$PATH"
export STANDIN_CONDA_CHANNEL="${PIP_FIND_LINKS:-}" STANDIN_CONDA_CONSTRAINTS="$WORK/lock.txt"
export PIP_FIND_LINKS="$WORK/dist"
SMK=(snakemake --sdm conda --conda-prefix "$WORK/envs" --cores 2)

echo "== tiny with --sdm conda"
start=$(date +%s)
"${SMK[@]}" -s "$REPO/workflow/Snakefile" --directory "$WORK/run" "${CONFIGS[@]}" > "$WORK/run.log" 2>&1 \
    || { tail -80 "$WORK/run.log"; exit 1; }
envs=$(ls "$WORK"/envs/*.yaml | wc -l)
used=$(grep -o "Creating conda environment .*envs/[a-z-]*\.yaml" "$WORK/run.log" | sed 's|.*/||' | sort | tr '\n' ' ' || true)
echo "--sdm conda wall time: $(($(date +%s) - start)) s (env builds included); envs built: $envs ($used)"
for f in results/metrics/metrics.tsv results/ranking/leaderboard.tsv; do
    [ -s "$WORK/run/$f" ] || { echo "missing: $f"; exit 1; }
    if [ -n "$REFERENCE" ]; then
        cmp -s "$WORK/run/$f" "$REFERENCE/$f" && echo "identical to the plain run: $f" \
            || { echo "DIFFERENT from the plain run: $f"; exit 1; }
    fi
done
stamp "sdm conda run"

echo "== an env that lacks a module its script imports"
mkdir -p "$WORK/broken"
cp -r "$REPO/workflow" "$WORK/broken/"
sed -i '/scikit-learn=/d' "$WORK/broken/workflow/envs/sklearn.yaml"
# mtime only: the copied Snakefile counts as changed code, which would rerun the upstream jobs
if "${SMK[@]}" -s "$WORK/broken/workflow/Snakefile" --directory "$WORK/run" "${CONFIGS[@]}" \
    --forcerun train_method_sklearn --until train_method_sklearn --rerun-triggers mtime > "$WORK/broken.log" 2>&1; then
    echo "train_method_sklearn ran without scikit-learn in its env"; exit 1
fi
if grep -r -q "No module named 'sklearn'" "$WORK/broken.log" "$WORK/run/logs"; then
    echo "failed as it should: No module named 'sklearn'"
else
    tail -40 "$WORK/broken.log"; echo "failed, but not for the missing module"; exit 1
fi
stamp "sdm conda test done"
