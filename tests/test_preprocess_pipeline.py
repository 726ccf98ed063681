"""End-to-end preprocessing of a small subject built from the MNI template, and ANTs determinism.

Kept apart from tests/test_preprocess.py so each file stays well under a minute. References:
the true rigid transforms and brain mask used to build the subject.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from lesionbench.io import Volume
from lesionbench.metrics.overlap import dice
from lesionbench.preprocess.pipeline import PreprocessSettings, preprocess_case
from lesionbench.preprocess.quality import transform_error_mm
from lesionbench.preprocess.spatial import world_points
from test_preprocess import mni_3mm, moving_copy, oblique_affine, rigid

DETERMINISM_SCRIPT = r"""
import sys, tempfile, numpy as np
sys.path.insert(0, sys.argv[1])
from test_preprocess import mni_3mm, moving_copy, oblique_affine, rigid
from lesionbench.preprocess.registration import estimate_rigid
t1, a3 = mni_3mm()["t1"]
grid = oblique_affine(spacing=(3.0, 3.0, 3.0), origin=(100.0, -140.0, -80.0))
moving = moving_copy(t1, a3, rigid([3, 2, -4], [4.0, 2.0, -3.0]), grid, (70, 80, 60))
out = [estimate_rigid(t1, a3, moving, grid, outprefix=tempfile.mkdtemp() + "/r_", work_mm=3.0, seed=7).fixed_to_moving for _ in range(2)]
print("IDENTICAL" if np.array_equal(out[0], out[1]) else "DIFFERENT")
"""


def test_rigid_registration_is_bit_identical_with_one_thread_and_a_seed():
    # ITK reads the thread count when first loaded: a fresh process is the only clean way.
    env = dict(os.environ, ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS="1")
    here = os.path.dirname(__file__)
    out = subprocess.run(
        [sys.executable, "-c", DETERMINISM_SCRIPT, here], env=env, capture_output=True, text=True, timeout=300
    )
    assert "IDENTICAL" in out.stdout, out.stderr[-2000:]


def test_template_brain_mask_and_coregistration_end_to_end(tmp_path):
    """A 'subject' = the MNI template moved rigidly and resampled to 3 mm, FLAIR-like and T1 images."""
    maps = mni_3mm()
    t1, a3 = maps["t1"]
    brain = maps["brain_mask"][0] > 0.5
    subject_pose = rigid([4, -3, 5], [6.0, -4.0, 8.0])
    flair_grid = oblique_affine(spacing=(3.0, 3.0, 3.0), origin=(95.0, -130.0, -85.0))
    shape = (72, 82, 66)
    # FLAIR-like contrast: dark CSF, WM darker than GM.
    flair_src = 1000.0 * (0.3 * maps["wm"][0] + 0.45 * maps["gm"][0] + 0.02 * maps["csf"][0])
    rng = np.random.default_rng(5)
    flair = moving_copy(flair_src, a3, subject_pose, flair_grid, shape) + np.abs(rng.normal(0, 8, shape)).astype(
        np.float32
    )
    t1_pose = rigid([2, 1, -2], [2.0, 1.0, -3.0]) @ subject_pose
    t1_grid = oblique_affine(spacing=(3.0, 3.0, 3.0), flips=(1, 1, 1), origin=(-95.0, -130.0, -85.0))
    t1_img = moving_copy(1000.0 * t1, a3, t1_pose, t1_grid, shape) + np.abs(rng.normal(0, 8, shape)).astype(np.float32)
    images = {"flair": Volume(flair, flair_grid, "flair.nii.gz"), "t1": Volume(t1_img, t1_grid, "t1.nii.gz")}
    result = preprocess_case(
        images,
        case="c01_train_p01",
        transforms_dir=tmp_path / "transforms",
        settings=PreprocessSettings(registration_mm=3.0, template_mm=3.0),
    )
    truth_brain = moving_copy(brain.astype(np.float32), a3, subject_pose, flair_grid, shape) >= 0.5
    assert dice(result.brain_mask, truth_brain) >= 0.95
    true_flair_to_t1 = t1_pose @ np.linalg.inv(subject_pose)
    mean, worst = transform_error_mm(
        result.rigid["t1"].fixed_to_moving, true_flair_to_t1, world_points(shape, flair_grid, truth_brain, step=4)
    )
    assert worst < 3.0  # under one voxel
    assert set(result.images) == {"flair", "t1"}
    assert all(v.dtype == np.float32 and v.shape == shape for v in result.images.values())
    wm_true = moving_copy(maps["wm"][0], a3, subject_pose, flair_grid, shape)
    assert np.corrcoef(result.priors["wm"].ravel(), wm_true.ravel())[0, 1] > 0.85
    # FLAIR-grid mask -> template space lands on the template's own brain mask.
    from lesionbench.preprocess.registration import subject_to_template

    back, back_affine = subject_to_template(
        result.brain_mask.astype(np.float32), flair_grid, result.template, template_shape=t1.shape, template_affine=a3
    )
    np.testing.assert_allclose(back_affine, a3, atol=1e-5)
    assert dice(back >= 0.5, brain) >= 0.93
