"""``lesionbench metrics``: JSON output, file checks, binarization flags, oblique affines."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from lesionbench.cli import main
from lesionbench.io import save_volume
from lesionbench.metrics import METRIC_KEYS, compute_metrics

SHAPE = (16, 18, 12)
AFFINE = np.diag([1.0, 1.0, 3.0, 1.0])


def _masks():
    ref = np.zeros(SHAPE, dtype=np.uint8)
    ref[3:8, 4:9, 2:6] = 1
    ref[11:14, 12:15, 7:9] = 1
    pred = np.zeros(SHAPE, dtype=np.uint8)
    pred[4:9, 4:9, 2:6] = 1
    pred[1:3, 14:17, 9:11] = 1
    return ref, pred


@pytest.fixture
def pair(tmp_path):
    ref, pred = _masks()
    save_volume(tmp_path / "ref.nii.gz", ref, AFFINE)
    save_volume(tmp_path / "pred.nii.gz", pred, AFFINE)
    return tmp_path / "ref.nii.gz", tmp_path / "pred.nii.gz"


def _run(capsys, *argv):
    code = main(["metrics", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_prints_one_json_object(pair, capsys):
    code, out, _ = _run(capsys, *pair, "--nsd-tolerance", "2", "--min-lesion-volume", "3")
    assert code == 0
    d = json.loads(out)
    assert tuple(d) == METRIC_KEYS
    ref, pred = _masks()
    expected = compute_metrics(ref.astype(bool), pred.astype(bool), (1.0, 1.0, 3.0), nsd_tolerance_mm=2.0).as_dict()
    assert d == pytest.approx(expected)


def test_writes_lesion_table(pair, tmp_path, capsys):
    out_tsv = tmp_path / "out" / "lesions.tsv"
    code, _, _ = _run(capsys, *pair, "--lesions-tsv", out_tsv)
    assert code == 0
    with open(out_tsv) as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert [r["status"] for r in rows] == ["TP", "FN", "FP"]


def test_grid_mismatch_is_one_line_error(tmp_path, capsys):
    ref, pred = _masks()
    save_volume(tmp_path / "ref.nii.gz", ref, AFFINE)
    shifted = AFFINE.copy()
    shifted[0, 3] = 2.0
    save_volume(tmp_path / "pred.nii.gz", pred, shifted)
    code, out, err = _run(capsys, tmp_path / "ref.nii.gz", tmp_path / "pred.nii.gz", "--case", "c01")
    assert code == 2 and out == ""
    assert "case c01" in err and "pred.nii.gz" in err and "not on the reference image grid" in err
    assert len(err.strip().splitlines()) == 1


def test_missing_file(tmp_path, pair, capsys):
    code, out, err = _run(capsys, pair[0], tmp_path / "nope.nii.gz", "--case", "c01")
    assert code == 2 and out == ""
    assert "case c01" in err and "nope.nii.gz" in err and "does not exist" in err
    assert len(err.strip().splitlines()) == 1


def test_probability_map_rejected_by_default_and_thresholded_on_request(tmp_path, pair, capsys):
    ref, pred = _masks()
    prob = pred.astype(np.float32) * 0.8 + 0.1  # 0.1 background, 0.9 lesion
    save_volume(tmp_path / "prob.nii.gz", prob, AFFINE, dtype=np.float32)
    code, _, err = _run(capsys, pair[0], tmp_path / "prob.nii.gz", "--case", "c01")
    assert code == 2 and "not binary" in err and "prob.nii.gz" in err and "case c01" in err
    code, out, _ = _run(capsys, pair[0], tmp_path / "prob.nii.gz", "--binarize", "threshold", "--threshold", "0.5")
    assert code == 0
    expected = compute_metrics(ref.astype(bool), pred.astype(bool), (1.0, 1.0, 3.0)).as_dict()
    assert json.loads(out) == pytest.approx(expected)


def test_binarize_nonzero_reads_255_masks(tmp_path, pair, capsys):
    ref, pred = _masks()
    save_volume(tmp_path / "pred255.nii.gz", pred * 255, AFFINE)
    code, out, _ = _run(capsys, pair[0], tmp_path / "pred255.nii.gz", "--binarize", "nonzero")
    assert code == 0
    assert json.loads(out)["dice"] == pytest.approx(compute_metrics(ref, pred, (1.0, 1.0, 3.0)).dice)


def test_oblique_affine_gives_the_same_distances(tmp_path, capsys):
    ref, pred = _masks()
    linear = Rotation.from_euler("xyz", [20, -35, 50], degrees=True).as_matrix() @ np.diag([0.9, 1.1, 3.0])
    oblique = np.eye(4)
    oblique[:3, :3] = linear
    oblique[:3, 3] = [-40.0, 12.0, 7.5]
    save_volume(tmp_path / "r.nii.gz", ref, oblique)
    save_volume(tmp_path / "p.nii.gz", pred, oblique)
    code, out, _ = _run(capsys, tmp_path / "r.nii.gz", tmp_path / "p.nii.gz")
    assert code == 0
    d = json.loads(out)
    # brute force in scanner coordinates: border voxel centres mapped through the affine
    from lesionbench.metrics import border_mask

    def world(mask):
        idx = np.argwhere(border_mask(mask.astype(bool)))
        return idx @ linear.T + oblique[:3, 3]

    a, b = world(pred), world(ref)
    dist = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    d_ab, d_ba = dist.min(axis=1), dist.min(axis=0)
    assert d["hausdorff_mm"] == pytest.approx(max(d_ab.max(), d_ba.max()), rel=1e-5)
    assert d["assd_mm"] == pytest.approx(np.concatenate([d_ab, d_ba]).mean(), rel=1e-5)
    assert d["hausdorff95_mm"] == pytest.approx(max(np.percentile(d_ab, 95), np.percentile(d_ba, 95)), rel=1e-5)


def test_sheared_affine_rejected(tmp_path, capsys):
    ref, pred = _masks()
    sheared = AFFINE.copy()
    sheared[0, 1] = 0.5
    save_volume(tmp_path / "r.nii.gz", ref, sheared)
    save_volume(tmp_path / "p.nii.gz", pred, sheared)
    code, _, err = _run(capsys, tmp_path / "r.nii.gz", tmp_path / "p.nii.gz", "--case", "c02")
    assert code == 2 and "shear" in err and "r.nii.gz" in err and "case c02" in err


def test_image_edge_flag(tmp_path, capsys):
    """Masks filling the whole y-z cross-section of an 8x3x3 grid touch the image edge.

    Reference x = 0..2, prediction x = 0..4 (1 mm). Edge as background (default): every voxel on
    the grid's side faces is border; the reference has 26 border voxels (all but the centre of
    x = 1), the prediction 42; the directed distances are 25 zeros and one 1 (ref -> pred) and 25
    zeros, eight 1s and nine 2s (pred -> ref): ASSD = 27/68, HD = 2. Edge as foreground (ITK,
    Anima): only the x = 2 and x = 4 faces are border (9 voxels each), all 2 mm apart: ASSD = HD = 2.
    """
    ref = np.zeros((8, 3, 3), dtype=np.uint8)
    ref[0:3] = 1
    pred = np.zeros((8, 3, 3), dtype=np.uint8)
    pred[0:5] = 1
    save_volume(tmp_path / "r.nii.gz", ref, np.eye(4))
    save_volume(tmp_path / "p.nii.gz", pred, np.eye(4))
    _, out_bg, _ = _run(capsys, tmp_path / "r.nii.gz", tmp_path / "p.nii.gz")
    code, out_fg, _ = _run(capsys, tmp_path / "r.nii.gz", tmp_path / "p.nii.gz", "--image-edge", "foreground")
    assert code == 0
    bg, fg = json.loads(out_bg), json.loads(out_fg)
    assert bg["assd_mm"] == pytest.approx(27 / 68)
    assert fg["assd_mm"] == pytest.approx(2.0)
    assert bg["hausdorff_mm"] == fg["hausdorff_mm"] == pytest.approx(2.0)
    assert bg["dice"] == fg["dice"] == pytest.approx(2 * 27 / (27 + 45))  # voxel metrics ignore the flag
