"""Benchmark of the workflow's cost as the challenge grows.

Two measurements, each on inputs generated once and cached under ``benchmarks/results/scale/``:

``dag``: a case sheet of N cases (7 raters each, every file a symbolic link to one tiny mask, since
only the DAG matters) run through ``snakemake -n`` with the shipped config (the full pipeline:
preprocessing, harmonization, consensus, the built-in methods, metrics, ranking). Prints the jobs
in the DAG and the wall time of the dry run.

``challenge``: a synthetic challenge of N cases x M submissions (lesions drawn as blobs on a small
1 mm grid, each submission a perturbed copy of the shipped reference: lesions missed, false
positives added, boundaries eroded or dilated), scored through the workflow in evaluation-only
mode (``consensus.reference: shipped``, every method a submission). Prints the wall time, the
jobs, the peak memory of the process tree (``resource.getrusage`` of the children) and the pairs
scored per second; optionally (``--panoptica``) the per-pair time of panoptica's evaluator on a
sample of the same pairs.

``imports``: the cumulative import time (``python -X importtime``, median of fresh interpreters)
of every workflow script's imports, module level and inside ``main``.

Usage:
  .venv/bin/python benchmarks/bench_scale.py dag --cases 53 200 1000
  .venv/bin/python benchmarks/bench_scale.py challenge --cases 50 --submissions 20 [--cores 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "scale"
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "workflow" / "Snakefile")]
CENTERS = ("01", "03", "07", "08")
MODALITIES = ("flair", "t1", "t2", "pd")


def _tiny_nifti(path: Path, shape: tuple[int, int, int] = (8, 8, 8)) -> Path:
    import nibabel as nib
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.zeros(shape, np.uint8)
    data[2:4, 2:4, 2:4] = 1
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))
    return path


def _link(target: Path, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_symlink():
        path.symlink_to(target)
    return str(path)


def dag_sheet(n_cases: int, n_raters: int = 7) -> Path:
    """A sheet of ``n_cases`` (about a third train, centers in turn) whose files all link to one
    tiny mask; returns its folder (``cases.tsv``, ``raters.tsv``, ``config.yaml``). Cached."""
    folder = RESULTS / f"dag_{n_cases}"
    config = folder / "config.yaml"
    if config.exists():
        return folder
    source = _tiny_nifti(folder / "source.nii.gz")
    cases = ["case_id\tcenter\tsplit\t" + "\t".join(MODALITIES)]
    raters = ["case_id\trater\tpath"]
    for k in range(n_cases):
        case = f"case{k:04d}"
        center = CENTERS[k % len(CENTERS)]
        split = "train" if (k % 3 == 0 and center != "03") else "test"
        files = [_link(source, folder / "data" / case / f"{m}.nii.gz") for m in MODALITIES]
        cases.append("\t".join([case, center, split, *(os.path.relpath(f, folder) for f in files)]))
        for r in range(1, n_raters + 1):
            mask = _link(source, folder / "data" / case / f"rater{r}.nii.gz")
            raters.append(f"{case}\trater{r}\t{os.path.relpath(mask, folder)}")
    (folder / "cases.tsv").write_text("\n".join(cases) + "\n")
    (folder / "raters.tsv").write_text("\n".join(raters) + "\n")
    write_config(config, {"source": "sheet", "cases": str(folder / "cases.tsv"), "raters": str(folder / "raters.tsv")})
    return folder


def write_config(path: Path, dataset: dict, **sections: object) -> None:
    """The shipped config (``config/config.yaml``) with ``dataset`` and ``sections`` replaced."""
    import yaml

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["dataset"] = dataset
    config.update(sections)
    path.write_text(json.dumps(config, indent=1))


def time_dry_run(folder: Path, extra: list[str] | None = None) -> tuple[int, float]:
    """(jobs in the DAG, wall seconds) of ``snakemake -n`` on a sheet folder."""
    command = [*SNAKEMAKE, "-n", "-q", "rules", "--cores", "2", "--configfile", str(folder / "config.yaml")]
    command += list(extra or [])
    t0 = time.perf_counter()
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"snakemake -n failed in {folder}:\n{done.stderr[-3000:]}{done.stdout[-3000:]}")
    total = re.search(r"^total\s+(\d+)", done.stdout + done.stderr, re.MULTILINE)
    return (int(total.group(1)) if total else -1), wall


def run_dag(args: argparse.Namespace) -> None:
    print("| cases | jobs in the DAG | `snakemake -n` |")
    print("|---:|---:|---:|")
    for n in args.cases:
        folder = dag_sheet(n)
        jobs, wall = time_dry_run(folder)
        print(f"| {n} | {jobs} | {wall:.1f} s |", flush=True)


CHALLENGE_SHAPE = (96, 112, 80)  # 1 mm, a brain-sized box trimmed to what holds lesions


def _lesions(rng, shape, n: int):
    """A mask of ``n`` ellipsoid lesions (radii 1-4 mm) at random places."""
    import numpy as np

    mask = np.zeros(shape, np.uint8)
    grid = np.ogrid[tuple(slice(0, s) for s in shape)]
    for _ in range(n):
        center = [rng.integers(8, s - 8) for s in shape]
        radii = rng.uniform(1.0, 4.0, 3)
        inside = sum(((g - c) / r) ** 2 for g, c, r in zip(grid, center, radii)) <= 1.0
        mask[inside] = 1
    return mask


def _perturbed(reference, rng):
    """A submission made from the reference: each lesion missed with probability 0.2, boundaries
    dilated or eroded by one voxel (or kept), 0-4 false-positive lesions added."""
    import numpy as np
    from scipy import ndimage

    labels, n = ndimage.label(reference)
    keep = np.concatenate([[False], rng.random(n) >= 0.2])
    mask = keep[labels]
    change = rng.integers(-1, 2)
    if change > 0:
        mask = ndimage.binary_dilation(mask)
    elif change < 0:
        mask = ndimage.binary_erosion(mask)
    mask |= _lesions(rng, reference.shape, int(rng.integers(0, 5))).astype(bool)
    return mask.astype(np.uint8)


def challenge_dataset(n_cases: int, n_submissions: int, n_raters: int = 2, seed: int = 2016) -> Path:
    """A synthetic challenge of ``n_cases`` x ``n_submissions`` (and ``n_raters`` raters per case),
    written once under benchmarks/results/scale/ and reused: the sheet (FLAIR, shipped consensus),
    the submission folders and the evaluation-only config. Returns its folder."""
    import nibabel as nib
    import numpy as np

    folder = RESULTS / f"challenge_{n_cases}x{n_submissions}"
    config = folder / "config.yaml"
    if config.exists():
        return folder
    data = folder / "data"
    affine = np.eye(4)
    cases = ["case_id\tcenter\tsplit\tflair\tconsensus"]
    raters = ["case_id\trater\tpath"]
    for k in range(n_cases):
        case = f"case{k:04d}"
        rng = np.random.default_rng([seed, k])
        reference = _lesions(rng, CHALLENGE_SHAPE, int(rng.integers(5, 30)))
        (data / case).mkdir(parents=True, exist_ok=True)
        flair = rng.normal(100, 10, CHALLENGE_SHAPE).astype(np.float32)
        nib.save(nib.Nifti1Image(flair, affine), str(data / case / "flair.nii.gz"))
        nib.save(nib.Nifti1Image(reference, affine), str(data / case / "consensus.nii.gz"))
        cases.append(f"{case}\t{CENTERS[k % len(CENTERS)]}\ttest\t{case}/flair.nii.gz\t{case}/consensus.nii.gz")
        for r in range(1, n_raters + 1):
            nib.save(nib.Nifti1Image(_perturbed(reference, rng), affine), str(data / case / f"rater{r}.nii.gz"))
            raters.append(f"{case}\trater{r}\t{case}/rater{r}.nii.gz")
        for t in range(n_submissions):
            team = folder / "submissions" / f"team{t:02d}"
            team.mkdir(parents=True, exist_ok=True)
            mask = _perturbed(reference, np.random.default_rng([seed, k, t + 1]))
            nib.save(nib.Nifti1Image(mask, affine), str(team / f"{case}.nii.gz"))
    (data / "cases.tsv").write_text("\n".join(cases) + "\n")
    (data / "raters.tsv").write_text("\n".join(raters) + "\n")
    write_config(
        config,
        {"source": "sheet", "root": str(data), "cases": str(data / "cases.tsv"), "raters": str(data / "raters.tsv")},
        consensus={"reference": "shipped"},
        methods=[
            {"name": f"team{t:02d}", "kind": "submission", "folder": str(folder / "submissions" / f"team{t:02d}")}
            for t in range(n_submissions)
        ],
    )
    return folder


def run_challenge(args: argparse.Namespace) -> None:
    """Score the cached challenge from scratch in evaluation-only mode and print one table row."""
    import shutil

    print("| cases | submissions | jobs | wall (s) | peak memory of a job (MB) | pairs | pairs/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.cases:
        folder = challenge_dataset(n, args.submissions)
        work = folder / "run"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        command = [*SNAKEMAKE, "--directory", str(work), "--configfile", str(folder / "config.yaml")]
        command += ["--cores", str(args.cores)]
        jobs, _ = time_dry_run(folder, ["--directory", str(work)])
        t0 = time.perf_counter()
        done = subprocess.run(command, cwd=work, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            raise SystemExit(f"the challenge run failed:\n{done.stderr[-4000:]}")
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        import pandas as pd

        table = pd.read_csv(
            work / "results" / "metrics" / "metrics.tsv", sep="\t", usecols=["case_id", "entry", "reference"]
        )
        pairs = len(table.drop_duplicates())
        print(
            f"| {n} | {args.submissions} | {jobs} | {wall:.0f} | {peak_mb:.0f} | {pairs} | {pairs / wall:.1f} |",
            flush=True,
        )


def script_imports(script: Path) -> list[str]:
    """The import statements of a workflow script (its module level and its ``main``), as code."""
    import ast

    tree = ast.parse(script.read_text())
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            lines.append(ast.unparse(node))
    return lines


def import_seconds(statements: list[str]) -> float:
    """Cumulative import time (s, ``python -X importtime``) of ``statements`` in a fresh interpreter,
    the interpreter's own start-up imports left out."""
    code = "; ".join(statements) or "pass"
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True)
    total = 0
    for line in done.stderr.splitlines():
        parts = line.split("|")
        # top-level entries only (no indentation before the module name)
        if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2].startswith("  "):
            total += int(parts[1])
    baseline = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "pass"], capture_output=True, text=True, check=True
    )
    base = sum(
        int(p[1])
        for p in (line.split("|") for line in baseline.stderr.splitlines())
        if len(p) == 3 and p[1].strip().isdigit() and not p[2].startswith("  ")
    )
    return max(0, total - base) / 1e6


def run_imports(args: argparse.Namespace) -> None:
    print("| workflow script | imports (s) |")
    print("|---|---:|")
    for script in sorted((REPO / "workflow" / "scripts").glob("*.py")):
        seconds = sorted(import_seconds(script_imports(script)) for _ in range(args.runs))[args.runs // 2]
        print(f"| {script.name} | {seconds:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    dag = sub.add_parser("dag", help="time snakemake -n on sheets of N cases")
    dag.add_argument("--cases", type=int, nargs="+", default=[53, 200, 1000])
    dag.set_defaults(run=run_dag)
    challenge = sub.add_parser("challenge", help="score a synthetic challenge of N cases x M submissions")
    challenge.add_argument("--cases", type=int, nargs="+", default=[50])
    challenge.add_argument("--submissions", type=int, default=20)
    challenge.add_argument("--cores", type=int, default=2)
    challenge.set_defaults(run=run_challenge)
    imports = sub.add_parser("imports", help="import time of every workflow script (python -X importtime)")
    imports.add_argument("--runs", type=int, default=3, help="fresh interpreters per script (median)")
    imports.set_defaults(run=run_imports)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
