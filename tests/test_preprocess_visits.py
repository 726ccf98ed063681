"""The baseline visit onto the follow-up grid (lesionbench.preprocess.visits).

References: the known rigid world transform and grid used to build the baseline from the
follow-up (the MNI template at 3 mm, as in tests/test_preprocess.py), not the function's output.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from lesionbench.io import Volume, save_volume
from lesionbench.metrics.overlap import dice
from lesionbench.preprocess.pipeline import MissingModalityError, PreprocessSettings
from lesionbench.preprocess.quality import transform_error_mm
from lesionbench.preprocess.spatial import world_points
from lesionbench.preprocess.visits import coregister_visit_files, coregister_visits
from test_preprocess import mni_3mm, moving_copy, oblique_affine, rigid

SETTINGS = PreprocessSettings(registration_mm=3.0, seed=1)


def followup() -> tuple[Volume, np.ndarray]:
    """A FLAIR-like follow-up visit (dark CSF, WM darker than GM) on the template's 3 mm grid, and its brain."""
    maps = mni_3mm()
    flair = 1000.0 * (0.3 * maps["wm"][0] + 0.45 * maps["gm"][0] + 0.02 * maps["csf"][0])
    return Volume(flair.astype(np.float32), maps["t1"][1]), maps["brain_mask"][0] > 0.5


def test_a_moved_baseline_on_another_grid_comes_back_onto_the_followup_grid():
    fu, brain = followup()
    true = rigid([8, -5, 6], [10.0, -8.0, 6.0])  # follow-up point -> baseline point
    grid = oblique_affine(spacing=(3.0, 3.0, 3.0), origin=(100.0, -140.0, -80.0))
    shape = (70, 80, 60)
    baseline = {
        "flair": Volume(moving_copy(fu.data, fu.affine, true, grid, shape), grid, "/data/013/flair_time01.nii.gz"),
        "t1": Volume(moving_copy(brain.astype(np.float32), fu.affine, true, grid, shape), grid),
    }
    # before: the headers' alignment leaves the brains apart
    assert dice(moving_copy(baseline["t1"].data, grid, np.eye(4), fu.affine, fu.shape) > 0.5, brain) < 0.85
    result = coregister_visits(baseline, fu, case="013", settings=SETTINGS)
    assert set(result.images) == {"flair", "t1"} and np.array_equal(result.affine, fu.affine)
    assert all(image.shape == fu.shape for image in result.images.values())
    estimated = np.asarray(result.record["followup_to_baseline"])
    mean_mm, _ = transform_error_mm(estimated, true, world_points(fu.shape, fu.affine, brain, step=3))
    assert mean_mm < 1.0  # a third of a voxel
    # the brain carried by the second image (the same world transform) lands on the follow-up's
    # brain: two linear resamplings blur a 3 mm mask's edge by about a voxel, so Dice stays > 0.95
    assert dice(result.images["t1"] > 0.5, brain) > 0.95
    assert result.record["nmi_after"] > result.record["nmi_before"]
    assert result.record["rotation_deg"] == pytest.approx(
        np.degrees(np.arccos((np.trace(true[:3, :3]) - 1) / 2)), abs=0.5
    )


def test_visits_already_on_one_grid_are_left_almost_untouched(tmp_path):
    fu, brain = followup()
    save_volume(tmp_path / "time01.nii.gz", fu.data, fu.affine)
    save_volume(tmp_path / "time02.nii.gz", fu.data, fu.affine)
    record = coregister_visit_files(
        "020",
        {"flair": tmp_path / "time01.nii.gz"},
        tmp_path / "time02.nii.gz",
        {"flair": tmp_path / "out/flair.nii.gz"},
        record_path=tmp_path / "out/record.json",
        settings=SETTINGS,
    )
    assert record["rotation_deg"] < 0.5 and record["centre_displacement_mm"] < 0.5
    assert json.loads((tmp_path / "out/record.json").read_text())["case_id"] == "020"
    from lesionbench.io import load_volume

    out = load_volume(tmp_path / "out/flair.nii.gz")
    assert np.array_equal(out.affine, fu.affine)
    inside = fu.data[brain]
    assert np.mean(np.abs(out.data[brain] - inside)) < 0.02 * np.mean(inside)


def test_a_baseline_without_flair_names_the_case():
    fu, _ = followup()
    with pytest.raises(MissingModalityError, match=r"case 013: co-registration of the visits needs modality flair"):
        coregister_visits({"t1": fu}, fu, case="013")
