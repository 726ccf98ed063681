"""Empty-mask conventions, the metric registry, scoring statuses, bad inputs and determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lesionbench.errors import ConfigError, DimensionError, GridMismatchError, NonBinaryMaskError
from lesionbench.metrics import (
    DISTANCE_CAP_MM,
    METRIC_INFO,
    METRIC_KEYS,
    compute_metrics,
    ranking_value,
)

SHAPE = (10, 12, 14)
SURFACE = ("hausdorff_mm", "hausdorff95_mm", "hausdorff95_pooled_mm", "assd_mm", "masd_mm", "asd_anima_mm")


def _cube():
    m = np.zeros(SHAPE, dtype=bool)
    m[3:6, 3:6, 3:6] = True
    return m


def test_both_empty():
    empty = np.zeros(SHAPE, dtype=bool)
    d = compute_metrics(empty, empty, (1, 1, 1)).as_dict()
    for key in (
        "dice",
        "jaccard",
        "sensitivity",
        "precision",
        "relative_volume_error_pct",
        "nsd",
        *SURFACE,
        "lesion_sensitivity",
        "lesion_precision",
        "lesion_f1",
        "lesion_matched_sensitivity",
        "lesion_matched_precision",
        "lesion_matched_f1",
        "lesion_matched_dice_mean",
    ):
        assert d[key] is None, key
    assert d["specificity"] == 1.0
    assert d["volume_reference_ml"] == d["volume_prediction_ml"] == 0.0
    assert d["n_reference_lesions"] == d["n_prediction_lesions"] == 0
    assert (d["lesion_matched_tp"], d["lesion_matched_fp"], d["lesion_matched_fn"]) == (0, 0, 0)
    json.dumps(d, allow_nan=False)


def test_prediction_empty():
    d = compute_metrics(_cube(), np.zeros(SHAPE, bool), (1, 1, 1)).as_dict()
    assert (d["dice"], d["jaccard"], d["sensitivity"]) == (0.0, 0.0, 0.0)
    assert d["precision"] is None
    assert d["specificity"] == 1.0
    assert d["relative_volume_error_pct"] == -100.0  # Anima
    assert d["nsd"] == 0.0
    assert all(d[k] is None for k in SURFACE)
    # Anima: PPVL = 0 and F1 = 0 when nothing is segmented
    assert (d["lesion_sensitivity"], d["lesion_precision"], d["lesion_f1"]) == (0.0, 0.0, 0.0)
    assert (d["lesion_matched_tp"], d["lesion_matched_fp"], d["lesion_matched_fn"]) == (0, 0, 1)
    assert (d["lesion_matched_sensitivity"], d["lesion_matched_precision"], d["lesion_matched_f1"]) == (0.0, 0.0, 0.0)


def test_reference_empty():
    d = compute_metrics(np.zeros(SHAPE, bool), _cube(), (1, 1, 1)).as_dict()
    assert (d["dice"], d["jaccard"], d["precision"]) == (0.0, 0.0, 0.0)
    assert d["sensitivity"] is None
    assert d["relative_volume_error_pct"] is None
    assert d["specificity"] == pytest.approx(1 - 27 / np.prod(SHAPE))
    assert d["nsd"] == 0.0
    assert all(d[k] is None for k in SURFACE)
    assert d["lesion_sensitivity"] is None
    assert (d["lesion_precision"], d["lesion_f1"]) == (0.0, 0.0)
    assert (d["lesion_matched_tp"], d["lesion_matched_fp"], d["lesion_matched_fn"]) == (0, 1, 0)
    assert d["lesion_matched_sensitivity"] is None
    assert d["lesion_matched_f1"] == 0.0


def test_only_sub_threshold_lesions():
    """Voxels present but every lesion below the minimum volume: voxel metrics defined, lesion-wise null."""
    tiny = np.zeros(SHAPE, dtype=bool)
    tiny[2, 2, 2:4] = True
    d = compute_metrics(tiny, tiny, (1, 1, 1)).as_dict()
    assert d["dice"] == 1.0 and d["hausdorff_mm"] == 0.0 and d["nsd"] == 1.0
    assert d["n_reference_lesions"] == 0 and d["lesion_f1"] is None


def test_identical_masks_are_perfect():
    d = compute_metrics(_cube(), _cube(), (1, 1, 3)).as_dict()
    for key in (
        "dice",
        "jaccard",
        "sensitivity",
        "precision",
        "specificity",
        "nsd",
        "lesion_sensitivity",
        "lesion_precision",
        "lesion_f1",
        "lesion_matched_f1",
        "lesion_matched_dice_mean",
    ):
        assert d[key] == 1.0, key
    assert all(d[k] == 0.0 for k in SURFACE)
    assert d["relative_volume_error_pct"] == 0.0
    assert d["volume_reference_ml"] == pytest.approx(27 * 3 / 1000)


def test_metric_info_covers_every_key():
    d = compute_metrics(_cube(), _cube(), (1, 1, 1)).as_dict()
    assert tuple(d) == METRIC_KEYS
    required = {
        "dice",
        "jaccard",
        "sensitivity",
        "precision",
        "specificity",
        "relative_volume_error_pct",
        "volume_reference_ml",
        "volume_prediction_ml",
        "hausdorff_mm",
        "hausdorff95_mm",
        "hausdorff95_pooled_mm",
        "assd_mm",
        "masd_mm",
        "nsd",
        "lesion_sensitivity",
        "lesion_precision",
        "lesion_f1",
        "n_reference_lesions",
        "n_prediction_lesions",
    }
    assert required <= set(METRIC_INFO)
    for key, info in METRIC_INFO.items():
        assert info.key == key
        assert info.direction in ("higher", "lower", "zero", "none")
        assert info.definition and info.unit
        if info.unit == "mm" and info.direction == "lower":
            assert info.worst == DISTANCE_CAP_MM


def test_statuses_and_ranking_values():
    # one side empty: defined values stay, undefined ones are "undefined" (left to na_treat)
    one_empty = compute_metrics(_cube(), np.zeros(SHAPE, bool), (1, 1, 1))
    st, d = one_empty.statuses(), one_empty.as_dict()
    assert st["dice"] == "ok" and st["precision"] == "undefined" and st["hausdorff95_mm"] == "undefined"
    assert st["lesion_f1"] == "ok" and d["lesion_f1"] == 0.0
    assert st["n_tested_lesions"] == "not_applicable" and d["n_tested_lesions"] is None
    assert np.isnan(ranking_value("hausdorff95_mm", "undefined", float("nan")))
    # both empty: every ranked metric is both_empty and ranks at its best
    both = compute_metrics(np.zeros(SHAPE, bool), np.zeros(SHAPE, bool), (1, 1, 1))
    st = both.statuses()
    expected_best = {
        "dice": 1.0,
        "jaccard": 1.0,
        "nsd": 1.0,
        "hausdorff95_mm": 0.0,
        "assd_mm": 0.0,
        "relative_volume_error_pct": 0.0,
        "lesion_f1": 1.0,
        "lesion_sensitivity": 1.0,
        "lesion_matched_f1": 1.0,
        "n_tested_lesions": 0.0,
    }
    for key, best in expected_best.items():
        status = st[key]
        if key == "n_tested_lesions":
            assert status == "ok" and both.as_dict()[key] == 0
        else:
            assert status == "both_empty", key
            assert ranking_value(key, status, float("nan")) == best, key
    assert st["volume_reference_ml"] == "ok"  # descriptive metrics are never both_empty


def test_empty_reference_convention():
    """Reference without kept lesion, prediction with one: detection scores 0 (empty_reference),
    n_tested_lesions / tested_lesion_volume_mm3 count the predicted lesions (Anima, MSSEG-2)."""
    res = compute_metrics(np.zeros(SHAPE, bool), _cube(), (1, 1, 2))
    st, d = res.statuses(), res.as_dict()
    for key in ("lesion_f1", "lesion_precision", "lesion_sensitivity", "lesion_matched_f1"):
        assert st[key] == "empty_reference", key
        assert ranking_value(key, st[key], float("nan") if d[key] is None else d[key]) == 0.0
    assert d["n_tested_lesions"] == 1 and st["n_tested_lesions"] == "ok"
    assert d["tested_lesion_volume_mm3"] == 27 * 2.0
    assert st["sensitivity"] == "undefined" and st["dice"] == "ok"


def test_distance_cap_is_the_sri24_diagonal():
    # 240 x 240 x 155 mm box: sqrt(240^2 + 240^2 + 155^2) = 373.13 mm, rounded down to 373
    assert DISTANCE_CAP_MM == 373.0
    assert abs(np.sqrt(240**2 + 240**2 + 155**2) - DISTANCE_CAP_MM) < 0.2


# ---- bad inputs: type and message naming the case -------------------------------------------------


def test_rejects_2d_mask():
    with pytest.raises(DimensionError, match=r"case 07.*reference mask is 2-D"):
        compute_metrics(np.zeros((4, 4), bool), np.zeros((4, 4), bool), (1, 1, 1), case="07")


def test_rejects_shape_mismatch():
    with pytest.raises(GridMismatchError, match=r"case 07.*prediction shape \(10, 12, 15\)"):
        compute_metrics(_cube(), np.zeros((10, 12, 15), bool), (1, 1, 1), case="07")


@pytest.mark.parametrize("bad", [0.5, 2.0, np.nan, 255.0])
def test_rejects_non_binary_values(bad):
    pred = _cube().astype(np.float32)
    pred[0, 0, 0] = bad
    with pytest.raises(NonBinaryMaskError, match=r"case 07.*prediction mask is not binary") as err:
        compute_metrics(_cube(), pred, (1, 1, 1), case="07")
    assert err.value.case == "07"


def test_accepts_integer_zero_one():
    d = compute_metrics(_cube().astype(np.uint8), _cube().astype(np.int16), (1, 1, 1)).as_dict()
    assert d["dice"] == 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"spacing": (1, 1)}, "spacing"),
        ({"spacing": (1, 0, 1)}, "spacing"),
        ({"spacing": (1, np.inf, 1)}, "spacing"),
        ({"nsd_tolerance_mm": -1}, "NSD tolerance"),
        ({"min_lesion_volume_mm3": -3}, "minimum lesion volume"),
        ({"alpha": 0}, "alpha"),
        ({"beta": 1.5}, "beta"),
        ({"gamma": 0}, "gamma"),
        ({"match_threshold": 1.0}, "match threshold"),
    ],
)
def test_rejects_bad_parameters(kwargs, message):
    args = {"spacing": (1, 1, 1), **kwargs}
    spacing = args.pop("spacing")
    with pytest.raises(ConfigError, match=f"case 07: {message}"):
        compute_metrics(_cube(), _cube(), spacing, case="07", **args)


# ---- determinism ----------------------------------------------------------------------------------


def test_deterministic_and_layout_independent():
    rng = np.random.default_rng(5)
    ref = rng.random((20, 22, 18)) < 0.08
    pred = rng.random((20, 22, 18)) < 0.08
    a = compute_metrics(ref, pred, (1, 1, 2))
    b = compute_metrics(ref.copy(), pred.copy(), (1, 1, 2))
    c = compute_metrics(np.asfortranarray(ref), np.asfortranarray(pred), (1, 1, 2))
    assert a.as_dict() == b.as_dict() == c.as_dict()
    assert a.lesion_rows() == c.lesion_rows()


def test_swapping_roles_swaps_directed_metrics():
    ref = _cube()
    pred = np.roll(ref, 2, axis=0)
    pred[8:10, 0:3, 0:3] = True
    a = compute_metrics(ref, pred, (1, 1, 1))
    b = compute_metrics(pred, ref, (1, 1, 1))
    for key in (
        "dice",
        "jaccard",
        "hausdorff_mm",
        "hausdorff95_mm",
        "hausdorff95_pooled_mm",
        "assd_mm",
        "masd_mm",
        "nsd",
    ):
        assert getattr(a, key) == pytest.approx(getattr(b, key)), key
    assert a.sensitivity == pytest.approx(b.precision)
    assert a.lesion_sensitivity == b.lesion_precision


# ---- Anima SurfaceDistance compatibility value -----------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "anima", "intended", "hausdorff"),
    [((1, 0), 0.03125, 0.5, 1.0), ((10, 10), 9.62, 11.43, 14.14)],
)
def test_asd_anima_reproduces_protocol_examples(offset, anima, intended, hausdorff):
    """Anima's SurfaceDistance as coded: 5x5 squares, Anima's never-reset running minimum."""
    a = np.zeros((30, 30, 1), dtype=bool)
    a[2:7, 2:7, 0] = True
    b = np.roll(a, offset, axis=(0, 1))
    res = compute_metrics(a, b, (1, 1, 1), edge_is_background=False)  # Anima's (ITK) contour convention
    assert res.asd_anima_mm == pytest.approx(anima, abs=5e-3)
    assert res.assd_mm == pytest.approx(intended, abs=5e-3)
    assert res.hausdorff_mm == pytest.approx(hausdorff, abs=5e-3)
    # the compatibility value always uses ITK contours, whatever the border convention chosen
    assert compute_metrics(a, b, (1, 1, 1)).asd_anima_mm == res.asd_anima_mm
