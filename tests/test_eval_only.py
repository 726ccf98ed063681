"""Evaluation-only runs: the dataset's shipped consensus is the reference (``consensus.reference:
shipped``) and every method is a submission, so the DAG holds no preprocessing, harmonization,
consensus or training job; the run scores, ranks and reports against the shipped masks."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, SNAKEMAKE, write_nifti
from lesionbench.errors import SheetError

SHAPE = (20, 18, 14)
CASES = ("p01", "p02", "p03", "p04")
#: rule names that must never appear in an evaluation-only DAG
HEAVY_RULES = re.compile(r"preprocess|harmoni|consensus|train|infer|ensemble|synthesize|lesion_frequency")


def blocks(case_index: int, *, shift: int = 0, drop_last: bool = False) -> np.ndarray:
    """Two or three cuboid lesions whose place depends on the case; ``shift`` moves them along
    the first axis, ``drop_last`` leaves out the last one (a missed lesion)."""
    mask = np.zeros(SHAPE, dtype=np.uint8)
    starts = [(3, 3, 3), (10, 9, 6), (14, 3, 9)][: 2 + case_index % 2]
    if drop_last:
        starts = starts[:-1]
    for x, y, z in starts:
        mask[x + shift : x + shift + 3, y : y + 3 + case_index % 2, z : z + 3] = 1
    return mask


def build_challenge(root: Path, *, missing_reference: str = "", bad_grid: str = "") -> dict[str, Path]:
    """A sheet dataset (FLAIR, shipped consensus, 2 raters per case) and two submission folders."""
    data = root / "data"
    rng = np.random.default_rng(7)
    rows, raters = [], []
    for k, case in enumerate(CASES):
        write_nifti(data / case / "flair.nii.gz", rng.normal(100, 10, SHAPE).astype(np.float32))
        reference = blocks(k)
        if case == bad_grid:
            reference = np.zeros((SHAPE[0] + 2, *SHAPE[1:]), dtype=np.uint8)
        write_nifti(data / case / "consensus.nii.gz", reference)
        for r, shift in (("r1", 0), ("r2", 1)):
            write_nifti(data / case / f"{r}.nii.gz", blocks(k, shift=shift, drop_last=r == "r2" and k == 3))
            raters.append({"case_id": case, "rater": r, "path": f"{case}/{r}.nii.gz"})
        rows.append(
            {
                "case_id": case,
                "center": "01" if k < 2 else "07",
                "scanner": "",
                "field_strength": "",
                "split": "test",
                "flair": f"{case}/flair.nii.gz",
                "consensus": "" if case == missing_reference else f"{case}/consensus.nii.gz",
            }
        )
    pd.DataFrame(rows).to_csv(data / "cases.tsv", sep="\t", index=False)
    pd.DataFrame(raters).to_csv(data / "raters.tsv", sep="\t", index=False)
    teams = {"team_a": {"shift": 1, "drop_last": False}, "team_b": {"shift": 0, "drop_last": True}}
    for team, how in teams.items():
        for k, case in enumerate(CASES):
            write_nifti(root / "submissions" / team / f"{case}.nii.gz", blocks(k, **how))
    config = {
        "dataset": {
            "source": "sheet",
            "root": str(data),
            "cases": str(data / "cases.tsv"),
            "raters": str(data / "raters.tsv"),
        },
        "consensus": {"reference": "shipped"},
        "ranking": {"bootstrap": 50},
        "methods": [{"name": team, "kind": "submission", "folder": str(root / "submissions" / team)} for team in teams],
    }
    config_file = root / "challenge.yaml"
    config_file.write_text(yaml.safe_dump(config))
    work = root / "run"
    work.mkdir()
    return {"config": config_file, "work": work, "data": data, "root": root}


def snakemake(challenge: dict[str, Path], *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    cmd = SNAKEMAKE + ["--directory", str(challenge["work"]), "--configfile", str(challenge["config"]), *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=challenge["work"], timeout=timeout)


def job_counts(dry_run_output: str) -> dict[str, int]:
    """``job  count`` lines of Snakemake's job stats."""
    counts = {}
    for line in dry_run_output.splitlines():
        match = re.match(r"^([a-z_]+)\s+(\d+)$", line.strip())
        if match:
            counts[match.group(1)] = int(match.group(2))
    return counts


@pytest.fixture(scope="module")
def challenge(tmp_path_factory) -> dict[str, Path]:
    return build_challenge(tmp_path_factory.mktemp("eval_only"))


def test_dry_run_has_no_preprocessing_consensus_or_training_job(challenge):
    done = snakemake(challenge, "-n", "--quiet", "rules")
    assert done.returncode == 0, done.stderr[-3000:]
    counts = job_counts(done.stdout + done.stderr)
    assert counts, done.stdout[-2000:]
    assert not [rule for rule in counts if HEAVY_RULES.search(rule)], counts
    assert counts["qc_case"] == len(CASES)
    assert counts["evaluate_batch"] == len(CASES)  # metrics.batch_size auto: one case per batch here
    assert counts["collect_submission"] == 2 * len(CASES)
    assert counts["ranking"] == 1


@pytest.mark.slow
def test_runs_and_ranks_against_the_shipped_reference(challenge):
    from lesionbench.metrics import compute_metrics

    done = snakemake(challenge, "--cores", "2")
    assert done.returncode == 0, done.stderr[-5000:]
    work = challenge["work"]
    qc = pd.read_csv(work / "results/qc/inputs.tsv", sep="\t", dtype={"case_id": str})
    # QC opened the FLAIR and the masks only (the sheet has no other image)
    assert set(qc.loc[qc["status"] != "absent", "role"]) == {"flair", "consensus", "r1", "r2"}
    assert (qc.loc[qc["role"] == "consensus", "status"] == "ok").all()
    metrics = pd.read_csv(work / "results/metrics/metrics.tsv", sep="\t", dtype={"case_id": str})
    assert "loo" not in set(metrics["reference"])
    # methods and raters against the shipped consensus, raters against each other
    by_ref = metrics.groupby("reference")["entry"].unique()
    assert set(by_ref["consensus_shipped"]) == {"team_a", "team_b", "r1", "r2"}
    assert set(by_ref["rater:r2"]) == {"r1"} and set(by_ref["rater:r1"]) == {"r2"}
    # one pair against a direct computation of the library on the same arrays
    case, k = "p02", 1
    direct = compute_metrics(
        blocks(k),
        blocks(k, shift=1),
        (1.0, 1.0, 1.0),
        nsd_tolerance_mm=1.0,
        min_lesion_volume_mm3=3.0,
        match_threshold=0.1,
    )
    got = metrics[
        (metrics["case_id"] == case) & (metrics["entry"] == "team_a") & (metrics["reference"] == "consensus_shipped")
    ].set_index("metric")["value"]
    assert got["dice"] == pytest.approx(direct.dice, abs=1e-6)
    assert got["lesion_f1"] == pytest.approx(direct.lesion_f1, abs=1e-6)
    assert got["hausdorff95_mm"] == pytest.approx(direct.hausdorff95_mm, abs=1e-6)
    board = pd.read_csv(work / "results/ranking/leaderboard.tsv", sep="\t")
    assert set(board["reference"]) == {"consensus_shipped"}
    ranked = board.dropna(subset=["rank"]).sort_values("rank")
    assert list(ranked["entry"]) == ["team_a", "team_b"] or list(ranked["entry"]) == ["team_b", "team_a"]
    # the raters beside the methods, against the same shipped reference (r1 drew it exactly)
    raters = board[board["entry_kind"] == "rater"].set_index("entry")
    assert set(raters.index) == {"r1", "r2"}
    assert raters.loc["r1", "dice_mean"] == pytest.approx(1.0)
    assert raters.loc["r2", "dice_mean"] < 1.0
    assert not (work / "results/preprocessed").exists()
    assert not (work / "results/consensus").exists()


def test_missing_shipped_reference_is_refused_at_parse_time(tmp_path):
    challenge = build_challenge(tmp_path, missing_reference="p03")
    done = snakemake(challenge, "-n")
    assert done.returncode != 0
    line = next(x for x in (done.stdout + done.stderr).splitlines() if "shipped reference" in x)
    assert "case p03" in line and "cases.tsv" in line and "'consensus' column" in line


def test_missing_shipped_reference_names_every_case(tmp_path):
    from lesionbench.workflow.config import cohort_from_config

    challenge = build_challenge(tmp_path, missing_reference="p01")
    config = yaml.safe_load(challenge["config"].read_text())
    cases = pd.read_csv(challenge["data"] / "cases.tsv", sep="\t", dtype=str, keep_default_na=False)
    cases.loc[cases["case_id"] == "p04", "consensus"] = ""
    cases.to_csv(challenge["data"] / "cases.tsv", sep="\t", index=False)
    with pytest.raises(SheetError, match=r"2 case\(s\) have no shipped reference mask .*: p01, p04$"):
        cohort_from_config(config)


@pytest.mark.slow
def test_shipped_reference_on_a_wrong_grid_stops_qc_naming_case_and_file(tmp_path):
    challenge = build_challenge(tmp_path, bad_grid="p02")
    done = snakemake(challenge, "--cores", "1", "results/qc/inputs.tsv")
    assert done.returncode != 0
    log = (challenge["work"] / "logs/qc_case/p02.log").read_text()
    line = next(x for x in log.splitlines() if "consensus.nii.gz" in x)
    assert "case p02" in line and "p02/consensus.nii.gz" in line and "grid" in line.lower()


def test_shipped_mask_qc_refuses_a_non_binary_mask(tmp_path):
    from lesionbench.cohort.qc import first_error, inspect_case

    flair = write_nifti(tmp_path / "flair.nii.gz", np.ones(SHAPE, dtype=np.float32))
    labels = blocks(0) * 2
    labels[0, 0, 0] = 1
    shipped = write_nifti(tmp_path / "consensus.nii.gz", labels)
    error = first_error(inspect_case("p01", {"flair": flair}, {"consensus": shipped}))
    assert error is not None and error.case == "p01" and error.path == str(shipped)
    assert "\n" not in str(error)


def test_evaluation_only_needs_a_shipped_reference_and_no_preprocessed_input():
    from lesionbench.errors import ConfigError
    from lesionbench.methods.registry import needs_preprocessing, parse_method
    from lesionbench.workflow.config import evaluation_only, required_modalities

    submission = {"name": "a", "kind": "submission", "folder": "/subs/a"}
    raw_command = {"name": "b", "kind": "command", "inputs": ["raw/flair", "raw/t1"], "command": "x {output}"}
    raw_command["sandbox"] = "none"
    harmonized_command = {**raw_command, "name": "c", "inputs": ["nyul/flair"]}
    assert not needs_preprocessing(parse_method(submission))
    assert not needs_preprocessing(parse_method(raw_command))
    assert needs_preprocessing(parse_method(harmonized_command))
    with pytest.raises(ConfigError, match="raw/<modality> inputs are for command methods only"):
        parse_method({"name": "d", "kind": "flair_hyperintensity", "inputs": ["raw/flair"]})

    shipped = {"consensus": {"reference": "shipped"}, "modalities": {"required": ["flair", "t1", "t2", "pd"]}}
    assert evaluation_only({**shipped, "methods": [submission, raw_command]})
    assert required_modalities({**shipped, "methods": [submission, raw_command]}) == ["flair", "t1"]
    assert not evaluation_only({**shipped, "methods": [submission, harmonized_command]})
    assert required_modalities({**shipped, "methods": [harmonized_command]}) == ["flair", "t1", "t2", "pd"]
    assert not evaluation_only({**shipped, "consensus": {"reference": "majority"}, "methods": [submission]})


def test_command_on_raw_images_keeps_the_dag_evaluation_only(tmp_path):
    challenge = build_challenge(tmp_path)
    config = yaml.safe_load(challenge["config"].read_text())
    config["methods"].append(
        {
            "name": "tool",
            "kind": "command",
            "inputs": ["raw/flair"],
            "command": "tool {flair} {output}",
            "sandbox": "none",
        }
    )
    challenge["config"].write_text(yaml.safe_dump(config))
    done = snakemake(challenge, "-n", "--quiet", "rules")
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    counts = job_counts(done.stdout + done.stderr)
    assert not [rule for rule in counts if HEAVY_RULES.search(rule)], counts
    assert counts["run_method_command"] == len(CASES)


def test_shipped_reference_with_built_in_methods_trains_on_it_and_fuses_nothing(tmp_path):
    from conftest import make_msseg_tree

    root = make_msseg_tree(tmp_path / "msseg", {"Training": {"01": 2}, "Testing": {"01": 1, "07": 1}}, n_raters=3)
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())  # its built-in methods
    config["dataset"] = {"source": "msseg2016", "root": str(root)}
    config["consensus"]["reference"] = "shipped"
    (tmp_path / "run").mkdir()
    (tmp_path / "shipped.yaml").write_text(yaml.safe_dump(config))
    challenge = {"config": tmp_path / "shipped.yaml", "work": tmp_path / "run"}
    done = snakemake(challenge, "-n", "--quiet", "rules")
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    counts = job_counts(done.stdout + done.stderr)
    assert not [rule for rule in counts if "consensus" in rule], counts
    assert counts["preprocess_case"] == 4 and counts["train_method_sklearn"] == 2
    assert counts["lesion_frequency_map"] == 1
