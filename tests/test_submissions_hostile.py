"""Hostile participants' files: each is recorded ``failed`` for its case with a one-line reason
naming the case and the file, without being loaded whole, and the other cases are unaffected.

One test per hostile submission (symbolic link out of the folder, pattern escaping it, a header
declaring 10^12 voxels, a small gzip inflating to 3 GB, a file that is not NIfTI, NaN/inf voxels,
probabilities outside [0, 1]), at the library level through
:func:`lesionbench.methods.jobs.collect_submission_case`, then once through the workflow on the
``tiny`` cohort, where an honest submission in the same run is ``ok`` and ranked.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import subprocess
import time
import tracemalloc
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, SNAKEMAKE, write_nifti
from lesionbench.errors import OversizeImageError, PathEscapeError, UnreadableImageError
from lesionbench.io import load_volume
from lesionbench.methods.jobs import collect_submission_case
from lesionbench.methods.participants import submission_path
from lesionbench.methods.untrusted import check_pattern, load_untrusted_volume

SHAPE = (12, 10, 8)
AFFINE = np.diag([1.0, 1.0, 1.0, 1.0])


def honest_mask(shape=SHAPE) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    mask[3:6, 3:6, 2:5] = 1
    return mask


@pytest.fixture
def flair(tmp_path) -> Path:
    return write_nifti(tmp_path / "flair.nii.gz", np.random.default_rng(0).normal(100, 10, SHAPE).astype(np.float32))


@pytest.fixture
def folder(tmp_path) -> Path:
    folder = tmp_path / "submission"
    folder.mkdir()
    write_nifti(folder / "c2.nii.gz", honest_mask())  # the honest case beside every hostile one
    return folder


def collect(
    tmp_path: Path, folder: Path, flair: Path, case: str, *, pattern="{case}.nii.gz", limits=None, **entry
) -> dict:
    """Collect ``case`` (and the honest ``c2``) and return ``case``'s status.json."""
    full = {"name": "sub", "kind": "submission", "folder": str(folder), "pattern": pattern, **entry}
    out = tmp_path / "predictions" / "sub"
    for name in (case, "c2"):
        collect_submission_case(full, name, flair=flair, output=out / name, limits=limits)
    if pattern == "{case}.nii.gz":
        honest = json.loads((out / "c2" / "status.json").read_text())
        assert honest["status"] == "ok", honest["error"]
        assert nib.load(str(out / "c2" / "mask.nii.gz")).get_fdata().sum() == honest_mask().sum()
    return json.loads((out / case / "status.json").read_text())


def assert_failed(status: dict, case: str, file_name: str, *words: str) -> None:
    assert status["status"] == "failed", status
    error = status["error"]
    assert "\n" not in error
    assert error.startswith(f"case {case}, file ") and file_name in error, error
    for word in words:
        assert word in error, error


def nifti_header(shape, dtype=np.uint8, affine=AFFINE) -> bytes:
    """A single-file NIfTI-1 header (348 bytes + 4-byte extension flag) declaring ``shape``."""
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(dtype)
    header.set_qform(affine, code=1)
    header.set_sform(affine, code=1)
    header["vox_offset"] = 352
    return header.binaryblock + b"\x00" * 4


# --- symbolic links and patterns that leave the folder ---------------------------------------


def test_symlink_out_of_the_folder_is_refused(tmp_path, folder, flair):
    answers = tmp_path / "results" / "consensus"
    write_nifti(answers / "c1.nii.gz", honest_mask())  # the answer a dishonest entry points at
    (folder / "c1.nii.gz").symlink_to(answers / "c1.nii.gz")
    status = collect(tmp_path, folder, flair, "c1")
    assert_failed(status, "c1", "submission/c1.nii.gz", "symbolic link", "outside the folder")
    assert str(answers) not in status["error"]  # where the link points is not echoed


def test_symlinked_folder_on_the_way_out_is_refused(tmp_path, folder, flair):
    outside = tmp_path / "dataset" / "c1"
    write_nifti(outside / "seg.nii.gz", honest_mask())
    (folder / "c1").symlink_to(outside, target_is_directory=True)
    status = collect(tmp_path, folder, flair, "c1", pattern="{case}/seg.nii.gz")
    assert_failed(status, "c1", "c1/seg.nii.gz", "outside the folder")


def test_symlink_inside_the_folder_is_accepted_and_a_loop_fails(tmp_path, folder, flair):
    (folder / "c1.nii.gz").symlink_to(folder / "c2.nii.gz")
    assert collect(tmp_path, folder, flair, "c1")["status"] == "ok"
    (folder / "c3.nii.gz").symlink_to(folder / "c3.nii.gz")
    assert_failed(collect(tmp_path, folder, flair, "c3"), "c3", "c3.nii.gz")


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("../answers/{case}.nii.gz", "leaves its folder"),
        ("/etc/{case}.nii.gz", "leaves its folder"),
        ("{case}/../../answers/{case}.nii.gz", "leaves its folder"),
        ("{case}{case.__class__}.nii.gz", "only hold the placeholder"),
    ],
)
def test_pattern_escaping_the_folder_is_refused(tmp_path, folder, flair, pattern, words):
    write_nifti(tmp_path / "answers" / "c1.nii.gz", honest_mask())
    status = collect(tmp_path, folder, flair, "c1", pattern=pattern)
    assert_failed(status, "c1", f"submission/{pattern}", "submission pattern", words)
    with pytest.raises(PathEscapeError):
        check_pattern(pattern)


def test_dag_lookup_never_follows_a_hostile_name(tmp_path, folder):
    """What the workflow's input function calls at DAG-build time: names only, no crash."""
    (folder / "c1.nii.gz").symlink_to("/etc/passwd")
    with pytest.raises(PathEscapeError):
        submission_path(folder, "{case}.nii.gz", "c1")
    (folder / "c3.nii.gz").symlink_to(folder / "c3.nii.gz")  # a loop: found, not a regular file
    found = submission_path(folder, "{case}.nii.gz", "c3")
    assert found is not None and not found.is_file()
    assert submission_path(folder, "{case}.nii.gz", "c4") is None


def test_fifo_is_refused_without_blocking(tmp_path, folder, flair):
    os.mkfifo(folder / "c1.nii.gz")  # opening a FIFO would block: it is refused from its stat
    assert_failed(collect(tmp_path, folder, flair, "c1"), "c1", "c1.nii.gz", "not a regular file")


# --- sizes: declared and inflated ------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii"])
def test_header_declaring_a_trillion_voxels_is_refused_without_allocating(tmp_path, folder, flair, suffix):
    blob = nifti_header((10_000, 10_000, 10_000)) + b"\x00" * 64
    path = folder / f"c1{suffix}"
    path.write_bytes(gzip.compress(blob) if suffix == ".nii.gz" else blob)
    status = collect(tmp_path, folder, flair, "c1", pattern="{case}" + suffix)
    assert_failed(status, "c1", f"c1{suffix}", "10000, 10000, 10000", "participants.max_image_mb", "nothing was loaded")
    tracemalloc.start()
    with pytest.raises(OversizeImageError):
        load_untrusted_volume(path, folder=folder, case="c1")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2 * 2**20, f"{peak} bytes traced for a 10^12-voxel header"


def test_header_with_a_far_voxel_offset_is_refused(tmp_path, folder, flair):
    block = bytearray(nifti_header(SHAPE))
    block[108:112] = struct.pack("<f", 3.0e9)  # vox_offset: the voxels 3 GB into the stream
    (folder / "c1.nii.gz").write_bytes(gzip.compress(bytes(block) + b"\x00" * 960))
    assert_failed(collect(tmp_path, folder, flair, "c1"), "c1", "c1.nii.gz", "byte offset 3000000000")


def gzip_bomb(path: Path, header: bytes, payload: bytes, inflated_gb: float) -> Path:
    """``header`` + ``payload`` as one gzip member, then identical members of 64 MiB of zeros
    until the stream inflates to ``inflated_gb`` GB (a few MB on disk; gzip readers read on
    across members)."""
    zeros = gzip.compress(b"\x00" * (64 << 20), compresslevel=9)
    with open(path, "wb") as out:
        out.write(gzip.compress(header + payload))
        for _ in range(int(inflated_gb * 2**30) // (64 << 20)):
            out.write(zeros)
    return path


def test_small_gzip_inflating_to_3_gb_fails_fast_in_little_memory(tmp_path, folder, flair):
    payload = honest_mask().astype(np.uint8).tobytes(order="F")
    bomb = gzip_bomb(folder / "c1.nii.gz", nifti_header(SHAPE), payload, inflated_gb=3)
    assert bomb.stat().st_size < 8 * 2**20
    start = time.perf_counter()
    status = collect(tmp_path, folder, flair, "c1")
    assert time.perf_counter() - start < 60  # generous: it stops after ~1 MB of inflation
    assert_failed(status, "c1", "c1.nii.gz", "inflates past", "header declares")
    tracemalloc.start()
    with pytest.raises(OversizeImageError):
        load_untrusted_volume(bomb, folder=folder, case="c1", reference=load_volume(flair))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 * 2**20, f"{peak} bytes traced while refusing a 3 GB gzip stream"


def test_gzip_inflating_past_the_configured_cap_is_refused(tmp_path):
    """A small max_inflated_mb (as a test config sets it): an honest-looking 4 MB float image
    compressed to a few KB is refused at the 1 MB cap."""
    shape = (128, 128, 64)
    flair = write_nifti(tmp_path / "flair.nii.gz", np.ones(shape, np.float32))
    folder = tmp_path / "submission"
    write_nifti(folder / "c1.nii.gz", np.zeros(shape, np.float32))
    write_nifti(folder / "c2.nii.gz", np.zeros(shape, np.uint8)[:64])  # off-grid but tiny: another reason
    entry = {"name": "sub", "kind": "submission", "folder": str(folder)}
    for case in ("c1", "c2"):
        collect_submission_case(entry, case, flair=flair, output=tmp_path / case, limits={"max_inflated_mb": 1})
    status = json.loads((tmp_path / "c1" / "status.json").read_text())
    assert_failed(status, "c1", "c1.nii.gz", "participants.max_inflated_mb cap of 1 MB")
    other = json.loads((tmp_path / "c2" / "status.json").read_text())
    assert_failed(other, "c2", "c2.nii.gz", "not on the case's FLAIR grid")
    # the declared-size cap the same way
    collect_submission_case(entry, "c1", flair=flair, output=tmp_path / "c1", limits={"max_image_mb": 1})
    status = json.loads((tmp_path / "c1" / "status.json").read_text())
    assert_failed(status, "c1", "c1.nii.gz", "participants.max_image_mb cap of 1 MB")


# --- files that are not NIfTI ----------------------------------------------------------------


def png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff" * 4 for _ in range(4))
    ihdr = struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (png_bytes(), "without a NIfTI-1/NIfTI-2 header"),
        (b"these are my lesions\n" * 50, "without a NIfTI-1/NIfTI-2 header"),
        (gzip.compress(b"a text file, gzipped\n" * 50), "gzip stream without a NIfTI"),
        (b"\x1f\x8b\x08\x00garbage", "not a readable gzip stream"),
        (b"", "is empty"),
    ],
    ids=["png", "text", "gzipped-text", "broken-gzip", "empty"],
)
def test_a_file_that_is_not_nifti_is_refused(tmp_path, folder, flair, content, words):
    (folder / "c1.nii.gz").write_bytes(content)
    assert_failed(collect(tmp_path, folder, flair, "c1"), "c1", "c1.nii.gz", words)


def test_analyze_pair_header_and_odd_voxel_types_are_refused(tmp_path, folder, flair):
    block = bytearray(nifti_header(SHAPE))
    block[344:348] = b"ni1\x00"
    (folder / "c1.nii").write_bytes(bytes(block) + honest_mask().tobytes(order="F"))
    assert_failed(collect(tmp_path, folder, flair, "c1", pattern="{case}.nii"), "c1", "c1.nii", "magic ni1")
    (folder / "c3.nii.gz").write_bytes(gzip.compress(nifti_header(SHAPE, np.complex64) + b"\x00" * 8 * 960))
    assert_failed(collect(tmp_path, folder, flair, "c3"), "c3", "c3.nii.gz", "voxel type complex64")
    (folder / "c4.nii.gz").write_bytes(gzip.compress(nifti_header((12, 10, 8, 2)) + b"\x00" * 1920))
    assert_failed(collect(tmp_path, folder, flair, "c4"), "c4", "c4.nii.gz", "3-D volume is required")


# --- values ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("probabilities", [False, True])
def test_nan_and_inf_voxels_are_refused(tmp_path, folder, flair, bad, probabilities):
    data = honest_mask().astype(np.float32)
    data[0, 0, 0] = bad
    write_nifti(folder / "c1.nii.gz", data)
    if probabilities:
        write_nifti(folder / "c2.nii.gz", honest_mask().astype(np.float32) * 0.9)
    status = collect(tmp_path, folder, flair, "c1", probabilities=probabilities)
    assert_failed(status, "c1", "c1.nii.gz", "NaN or infinite")


@pytest.mark.parametrize("value", [1.5, -0.25])
def test_probabilities_outside_0_1_are_refused(tmp_path, folder, flair, value):
    data = honest_mask().astype(np.float32) * 0.8
    data[0, 0, 0] = value
    write_nifti(folder / "c1.nii.gz", data)
    write_nifti(folder / "c2.nii.gz", honest_mask().astype(np.float32) * 0.9)
    status = collect(tmp_path, folder, flair, "c1", probabilities=True)
    assert_failed(status, "c1", "c1.nii.gz", "declared a probability map", "not [0, 1]")


def test_nifti2_is_accepted(tmp_path, folder, flair):
    nib.save(nib.Nifti2Image(honest_mask(), AFFINE), str(folder / "c1.nii.gz"))
    assert collect(tmp_path, folder, flair, "c1")["status"] == "ok"


def test_unreadable_error_is_an_input_error_with_case_and_path(tmp_path, folder):
    (folder / "c1.nii.gz").write_text("not an image")
    with pytest.raises(UnreadableImageError) as info:
        load_untrusted_volume(folder / "c1.nii.gz", folder=folder, case="c1")
    assert info.value.case == "c1" and info.value.path == str(folder / "c1.nii.gz")


# --- through the workflow --------------------------------------------------------------------


def run_workflow(workdir: Path, config: Path, *targets: str) -> subprocess.CompletedProcess:
    cmd = SNAKEMAKE + ["--directory", str(workdir), "--configfile", str(REPO / "config/config.yaml"), str(config)]
    return subprocess.run([*cmd, "--cores", "2", *targets], capture_output=True, text=True, cwd=workdir, timeout=1500)


@pytest.mark.slow
def test_hostile_submissions_through_the_workflow(tmp_path):
    """Tiny cohort, submissions only: per test case, one hostile file per entry; every hostile
    entry is failed (or missing where it has no file) with its reason, the run completes, and
    the honest entry is ok on every case and ranked."""
    work = tmp_path / "run"
    work.mkdir()
    answers_hint = work / "results" / "cohort"
    entries = {
        "honest": {},
        "escaping_link": {},
        "escaping_pattern": {"pattern": "../answers/{case}.nii.gz"},
        "trillion": {},
        "bomb": {},
        "not_nifti": {},
        "non_finite": {},
        "prob_range": {"probabilities": True},
    }
    config = yaml.safe_load((REPO / "tests/configs/tiny.yaml").read_text())
    config.update(
        methods=[
            {"name": name, "kind": "submission", "folder": str(tmp_path / name), "pattern": "{case}.nii.gz", **extra}
            for name, extra in entries.items()
        ],
        participants={"max_inflated_mb": 64},
        on_failure={"methods": "flag"},
    )
    config["ranking"].update(bootstrap=0, strata=[])
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    first = run_workflow(work, config_file, "results/cohort/cases.tsv")
    assert first.returncode == 0, first.stderr[-3000:]
    cases = pd.read_csv(answers_hint / "cases.tsv", sep="\t", dtype=str).set_index("case_id")
    raters = pd.read_csv(answers_hint / "raters.tsv", sep="\t", dtype=str)
    test_cases = sorted(cases.index[cases["split"] == "test"])
    for case in test_cases:
        flair = nib.load(str(work / cases.loc[case, "flair"]))
        data = np.asarray(flair.dataobj, dtype=np.float32)
        mask = (data > np.percentile(data[data > 0], 99)).astype(np.uint8)
        for name in entries:
            (tmp_path / name).mkdir(exist_ok=True)
        write_nifti(tmp_path / "honest" / f"{case}.nii.gz", mask, flair.affine)
        rater_mask = work / raters.loc[raters["case_id"] == case, "path"].iloc[0]
        assert rater_mask.is_file()
        (tmp_path / "escaping_link" / f"{case}.nii.gz").symlink_to(rater_mask)  # an answer, on the grid
        (tmp_path / "trillion" / f"{case}.nii.gz").write_bytes(gzip.compress(nifti_header((10_000,) * 3) + b"\0" * 8))
        gzip_bomb(tmp_path / "bomb" / f"{case}.nii.gz", nifti_header(flair.shape, affine=flair.affine), b"", 1)
        (tmp_path / "not_nifti" / f"{case}.nii.gz").write_bytes(png_bytes())
        bad = mask.astype(np.float32)
        bad[0, 0, 0] = np.nan
        write_nifti(tmp_path / "non_finite" / f"{case}.nii.gz", bad, flair.affine)
        write_nifti(tmp_path / "prob_range" / f"{case}.nii.gz", mask.astype(np.float32) * 2.0, flair.affine)
    result = run_workflow(work, config_file)
    assert result.returncode == 0, result.stderr[-5000:]
    status = pd.read_csv(work / "results/methods/status.tsv", sep="\t", dtype=str).set_index(["method", "case_id"])
    reasons = {
        "escaping_link": "outside the folder",
        "escaping_pattern": "leaves its folder",
        "trillion": "participants.max_image_mb",
        "bomb": "inflates past",
        "not_nifti": "without a NIfTI-1/NIfTI-2 header",
        "non_finite": "NaN or infinite",
        "prob_range": "not [0, 1]",
    }
    for case in test_cases:
        assert status.loc[("honest", case), "status"] == "ok", status.loc[("honest", case), "error"]
        for name, reason in reasons.items():
            row = status.loc[(name, case)]
            assert row["status"] == "failed" and f"case {case}" in row["error"] and reason in row["error"], (name, row)
    board = pd.read_csv(work / "results/ranking/leaderboard.tsv", sep="\t")
    ranked = board.dropna(subset=["rank"]).set_index("entry")
    assert ranked.loc["honest", "rank"] == 1 and set(reasons) <= set(ranked.index)
    assert not (tmp_path / "answers").exists()
