"""Geometry bridges, rigid registration, N4 and template brain extraction, on small volumes derived
from the nilearn MNI template (rotated/shifted/resampled, biased, Rician noise).

References: SimpleITK (resampling, transform points, index->physical mapping), nibabel
(orientation), ANTs N4 (bias recovery), known true transforms and masks.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from lesionbench.io import Volume
from lesionbench.preprocess.bias import n4_correct
from lesionbench.preprocess.itk_bridge import affine_of_ants, from_sitk, to_ants, to_sitk
from lesionbench.preprocess.pipeline import MissingModalityError, PreprocessSettings, check_rigid, preprocess_case
from lesionbench.preprocess.quality import transform_error_mm
from lesionbench.preprocess.registration import RegistrationError, RigidResult, estimate_rigid, mni_template
from lesionbench.preprocess.spatial import itk_affine_to_matrix, reorient_canonical, resample_rigid, world_points

VOX = 3.0


def rigid(angles_deg, shift_mm) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = Rotation.from_euler("xyz", angles_deg, degrees=True).as_matrix()
    m[:3, 3] = shift_mm
    return m


def oblique_affine(spacing=(3.0, 3.5, 4.0), flips=(-1, 1, 1), origin=(90.0, -120.0, -70.0)) -> np.ndarray:
    a = np.diag([*(f * s for f, s in zip(flips, spacing)), 1.0])
    a[:3, 3] = origin
    return rigid([0, 0, 10], [0, 0, 0]) @ a


@lru_cache(maxsize=1)
def mni_3mm() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The template maps on a 3 mm grid (identity world transform, linear interpolation)."""
    maps = mni_template()
    t1, aff = maps["t1"]
    a3 = aff.copy()
    a3[:3, :3] *= VOX
    shape = tuple(int(n // VOX) for n in t1.shape)
    return {k: (resample_rigid(v, a, np.eye(4), shape, a3), a3) for k, (v, a) in maps.items()}


def moving_copy(
    image: np.ndarray, affine: np.ndarray, fixed_to_moving: np.ndarray, grid_affine: np.ndarray, shape
) -> np.ndarray:
    """The image as seen on another grid when fixed point x shows up at moving point T x."""
    return resample_rigid(image, affine, np.linalg.inv(fixed_to_moving), shape, grid_affine)


def test_index_to_world_agrees_with_simpleitk_and_ants():
    import SimpleITK as sitk

    affine = oblique_affine()
    data = np.arange(5 * 6 * 7, dtype=np.float32).reshape(5, 6, 7)
    img = to_sitk(data, affine)
    for index in [(0, 0, 0), (4, 5, 6), (1, 3, 2)]:
        ras = affine @ np.array([*index, 1.0])
        lps = np.asarray(img.TransformIndexToPhysicalPoint(tuple(int(i) for i in index)))
        np.testing.assert_allclose(lps, ras[:3] * [-1, -1, 1], atol=1e-6)
        assert img[tuple(int(i) for i in index)] == data[index]
    np.testing.assert_array_equal(from_sitk(img), data)
    np.testing.assert_allclose(affine_of_ants(to_ants(data, affine)), affine, atol=1e-5)
    np.testing.assert_array_equal(to_ants(data, affine).numpy(), data)
    assert sitk.GetArrayFromImage(img).shape == (7, 6, 5)


def test_itk_matrix_conversion_matches_simpleitk_transform_point():
    import SimpleITK as sitk

    tx = sitk.Euler3DTransform()
    tx.SetCenter((10.0, -20.0, 5.0))
    tx.SetRotation(0.1, -0.2, 0.05)
    tx.SetTranslation((3.0, -4.0, 7.0))
    affine = sitk.AffineTransform(3)
    affine.SetMatrix(tx.GetMatrix())
    affine.SetTranslation(tx.GetTranslation())
    affine.SetCenter(tx.GetCenter())
    matrix = itk_affine_to_matrix(affine.GetParameters(), affine.GetFixedParameters())
    for lps in [(0.0, 0.0, 0.0), (50.0, -30.0, 12.0)]:
        ras = np.array([-lps[0], -lps[1], lps[2], 1.0])
        expected = np.asarray(tx.TransformPoint(lps)) * [-1, -1, 1]
        np.testing.assert_allclose((matrix @ ras)[:3], expected, atol=1e-9)


def test_resample_rigid_matches_simpleitk_resample():
    import SimpleITK as sitk

    rng = np.random.default_rng(0)
    moving = rng.random((20, 22, 18)).astype(np.float32)
    moving_affine = oblique_affine(spacing=(2.0, 2.0, 2.5))
    fixed_affine = oblique_affine(spacing=(2.5, 2.2, 2.0), flips=(1, -1, 1), origin=(-10.0, 20.0, -60.0))
    centre = moving_affine @ np.array([10.0, 11.0, 9.0, 1.0])
    fixed_affine[:3, 3] += centre[:3] - (fixed_affine @ np.array([8.0, 9.0, 10.0, 1.0]))[:3]
    t = rigid([5, -3, 8], [1.0, -2.0, 0.5])
    ours = resample_rigid(moving, moving_affine, t, (16, 18, 20), fixed_affine, order=1)
    ref_tx = sitk.AffineTransform(3)
    lps_t = np.diag([-1.0, -1, 1, 1]) @ t @ np.diag([-1.0, -1, 1, 1])
    ref_tx.SetMatrix(tuple(lps_t[:3, :3].ravel()))
    ref_tx.SetTranslation(tuple(lps_t[:3, 3]))
    ref = sitk.Resample(
        to_sitk(moving, moving_affine),
        to_sitk(np.zeros((16, 18, 20), np.float32), fixed_affine),
        ref_tx,
        sitk.sitkLinear,
        0.0,
    )
    ref_arr = from_sitk(ref)
    # Compare where the sampled point lies well inside the moving grid (the two differ only in
    # how they treat the outermost half voxel).
    vox = np.linalg.inv(moving_affine) @ t @ fixed_affine
    idx = np.indices((16, 18, 20)).reshape(3, -1)
    cont = vox[:3, :3] @ idx + vox[:3, 3:4]
    inside = np.all((cont >= 0.5) & (cont <= np.array([[19.5], [21.5], [17.5]]) - 1.0), axis=0).reshape(16, 18, 20)
    assert inside.sum() > 500
    np.testing.assert_allclose(ours[inside], ref_arr[inside], atol=1e-4)


def test_reorient_canonical_keeps_world_positions():
    import nibabel as nib

    affine = oblique_affine(spacing=(2.0, 3.0, 4.0), flips=(-1, -1, 1))
    affine = affine[:, [1, 2, 0, 3]]  # permuted axes, e.g. a sagittal acquisition
    data = np.random.default_rng(1).random((6, 5, 4)).astype(np.float32)
    out, out_affine = reorient_canonical(data, affine)
    assert "".join(nib.aff2axcodes(out_affine)) == "RAS"
    index = (3, 2, 1)
    world = affine @ np.array([*index, 1.0])
    new_index = np.rint(np.linalg.solve(out_affine, world)[:3]).astype(int)
    assert out[tuple(new_index)] == data[index]


def test_estimate_rigid_recovers_a_known_transform(tmp_path):
    t1, a3 = mni_3mm()["t1"]
    true = rigid([6, -4, 3], [5.0, -7.0, 3.0])
    grid = oblique_affine(spacing=(3.0, 3.0, 3.0), origin=(100.0, -140.0, -80.0))
    moving = moving_copy(t1, a3, true, grid, (70, 80, 60))
    result = estimate_rigid(t1, a3, moving, grid, outprefix=tmp_path / "t1_to_flair_", work_mm=VOX, seed=1)
    mean, worst = transform_error_mm(result.fixed_to_moving, true, world_points(t1.shape, a3, t1 > 0.2, step=5))
    assert worst < 1.0  # under a third of a voxel
    assert result.rotation_deg == pytest.approx(np.degrees(Rotation.from_matrix(true[:3, :3]).magnitude()), abs=0.5)


def test_failed_registration_names_case_and_file():
    bad = RigidResult(fixed_to_moving=rigid([40, 0, 0], [0, 0, 0]), transform_file="x.mat")
    with pytest.raises(RegistrationError, match=r"case c08_test_p02, file /data/T2.nii.gz: .*rotated by 40.0 deg"):
        check_rigid(bad, PreprocessSettings(max_rotation_deg=20.0), case="c08_test_p02", path="/data/T2.nii.gz")
    check_rigid(RigidResult(rigid([3, 0, 0], [1, 2, 3]), "x.mat"), PreprocessSettings(), case="c", path=None)


def test_preprocess_case_without_flair_names_the_case(tmp_path):
    t1, a3 = mni_3mm()["t1"]
    with pytest.raises(MissingModalityError, match=r"case c01_train_p03: .*needs modality flair"):
        preprocess_case({"t1": Volume(t1, a3)}, case="c01_train_p03", transforms_dir=tmp_path)


def biased_phantom(seed: int):
    t1, a3 = mni_3mm()["t1"]
    brain = mni_3mm()["brain_mask"][0] > 0.5
    wm = mni_3mm()["wm"][0] > 0.9
    rng = np.random.default_rng(seed)
    x, y, z = np.meshgrid(*[np.linspace(-1, 1, n) for n in t1.shape], indexing="ij")
    log_bias = 0.25 * x - 0.2 * y + 0.15 * z * z + 0.1 * x * y
    clean = 1000.0 * t1 * np.exp(log_bias)
    noisy = np.sqrt((clean + rng.normal(0, 20, t1.shape)) ** 2 + rng.normal(0, 20, t1.shape) ** 2).astype(np.float32)
    return noisy, a3, brain, wm, log_bias


def test_n4_recovers_a_known_bias_field_like_ants_n4():
    import ants

    image, affine, brain, wm, log_bias = biased_phantom(0)
    result = n4_correct(image, brain, (VOX,) * 3)

    def cv(d):
        return float(d[wm].std() / d[wm].mean())

    assert cv(result.corrected) < 0.6 * cv(image)
    assert np.corrcoef(result.log_bias[brain], log_bias[brain])[0, 1] > 0.75
    ref = ants.n4_bias_field_correction(
        to_ants(image, affine), mask=to_ants(brain.astype(np.float32), affine), shrink_factor=2
    ).numpy()
    # At least as good as ANTs' own N4 (within 15 %).
    assert cv(result.corrected) < 1.15 * cv(ref)
    with pytest.raises(ValueError):
        n4_correct(image, np.zeros_like(brain), (VOX,) * 3)
