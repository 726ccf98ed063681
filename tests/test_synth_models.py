"""Unit tests of the synthetic-cohort science: plan, physics, anatomy/warps, lesions, acquisition.

References are hand-worked values, closed-form properties, SciPy and SimpleITK, never earlier
output of this code.
"""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from nibabel.orientations import aff2axcodes
from scipy import optimize, stats

from lesionbench.cohort.layout import case_id_for, relative_case_dir
from lesionbench.errors import ConfigError
from lesionbench.synth import case_files, physics, plan_cohort
from lesionbench.synth.acquisition import bias_field, make_grid, psf_sigma_vox, rician_noise
from lesionbench.synth.anatomy import exponentiate, load_template_anatomy, min_jacobian, random_subject_warp
from lesionbench.synth.lesions import LesionModel, render_lesions, sample_lesions
from lesionbench.synth.protocols import CENTER_PROTOCOLS, RELAXATION, FlairParams, T1Params


# ---------------------------------------------------------------- plan
def test_plan_counts_match_msseg2016_and_layout():
    plans = plan_cohort("msseg2016", 0)
    assert len(plans) == 53
    assert sum(p.split == "train" for p in plans) == 15
    test_counts = {c: sum(p.split == "test" and p.center == c for p in plans) for c in ("01", "03", "07", "08")}
    assert test_counts == {"01": 10, "03": 8, "07": 10, "08": 10}
    assert not any(p.center == "03" and p.split == "train" for p in plans)
    for p in plans:
        assert p.case_id == case_id_for(p.split, p.center, p.patient)
        assert p.relative_dir == relative_case_dir(p.split, p.center, p.patient)
    assert len({p.seed for p in plans}) == 53


def test_demo_and_tiny_presets():
    demo = plan_cohort("demo", 1)
    assert len(demo) == 14
    assert {p.center for p in demo if p.split == "train"} == {"01", "07", "08"}
    assert {p.center for p in demo if p.split == "test"} == {"01", "03", "07", "08"}
    assert sum(p.split == "train" for p in demo) == 6
    tiny = plan_cohort("tiny", 1)
    assert sum(p.split == "train" for p in tiny) == 2 and sum(p.split == "test" for p in tiny) == 2
    assert any(p.center == "03" for p in tiny)


def test_plan_is_deterministic_and_seed_dependent():
    assert plan_cohort("demo", 5) == plan_cohort("demo", 5)
    assert [p.seed for p in plan_cohort("demo", 5)] != [p.seed for p in plan_cohort("demo", 6)]


def test_case_files_layout():
    plan = plan_cohort("tiny", 0)[0]
    files = case_files(plan, 3)
    assert files["flair"] == f"{plan.relative_dir}/Raw_Data/3DFLAIR.nii.gz"
    assert files["pd"] == f"{plan.relative_dir}/Raw_Data/DP.nii.gz"
    assert files["rater3"] == f"{plan.relative_dir}/Masks/ManualSegmentation_3.nii.gz"
    assert "rater4" not in files
    assert all(v.startswith(f"truth/{plan.relative_dir}/") for k, v in files.items() if k.startswith("truth_"))
    assert not any("Consensus" in v or "Brain_Mask" in v for v in files.values())
    assert set(case_files(plan, 1, modalities=("flair",))) >= {"flair", "rater1", "truth_lesions"}


@pytest.mark.parametrize(
    "call, text",
    [
        (lambda: plan_cohort("huge", 0), "huge"),
        (lambda: plan_cohort("tiny", -1), "seed"),
        (lambda: plan_cohort("tiny", 0, n_raters=0), "raters"),
        (lambda: case_files(plan_cohort("tiny", 0)[0], 2, modalities=("t1gd",)), "t1gd"),
    ],
)
def test_bad_configuration_raises_config_error(call, text):
    with pytest.raises(ConfigError, match=text):
        call()


# ---------------------------------------------------------------- physics
def test_flair_nulls_csf_at_the_null_inversion_time():
    csf = RELAXATION[3.0]["csf"]
    ti = physics.csf_null_ti(csf.t1, 5000.0)
    # Hand-worked: T1 ln2 for TR >> T1; here TR is finite so TI is a bit shorter.
    assert ti < csf.t1 * np.log(2)
    signal = physics.flair(csf.pd, csf.t1, csf.t2, FlairParams(tr=5000.0, te=120.0, ti=ti))
    assert signal == pytest.approx(0.0, abs=1e-9)


def test_spin_echo_limits():
    assert physics.spin_echo(0.8, 900.0, 80.0, tr=1e7, te=0.0) == pytest.approx(0.8)
    assert physics.spin_echo(0.8, 900.0, 80.0, tr=1e7, te=80.0) == pytest.approx(0.8 / np.e)


def test_spoiled_gre_peaks_at_the_ernst_angle():
    t1, tr = 900.0, 8.0
    best = optimize.minimize_scalar(
        lambda a: -physics.spoiled_gre(1.0, t1, 50.0, tr, 0.0, a), bounds=(0.1, 90), method="bounded"
    ).x
    assert best == pytest.approx(np.degrees(np.arccos(np.exp(-tr / t1))), abs=0.05)


def _mprage_brute_force(t1: float, p: T1Params, shots: int = 40, eff: float = 0.96) -> float:
    """Pulse-by-pulse Bloch recursion, independent of the closed form."""
    m = 1.0
    a = np.radians(p.flip_deg)
    centre = p.n_readout // 2
    t_before = p.ti - centre * p.echo_spacing
    t_after = p.tr - t_before - p.n_readout * p.echo_spacing
    sample = 0.0
    for _ in range(shots):
        m = -eff * m
        m = 1 - (1 - m) * np.exp(-t_before / t1)
        for k in range(p.n_readout):
            if k == centre:
                sample = m
            m = m * np.cos(a)
            m = 1 - (1 - m) * np.exp(-p.echo_spacing / t1)
        m = 1 - (1 - m) * np.exp(-t_after / t1)
    return abs(sample) * np.sin(a)


@pytest.mark.parametrize("center", ["01", "07", "08"])
def test_mprage_steady_state_matches_pulse_by_pulse_simulation(center):
    params = CENTER_PROTOCOLS[center].t1
    for t1 in (700.0, 1400.0, 4000.0):
        closed = physics.mprage(1.0, t1, 1e9, params)
        assert closed == pytest.approx(_mprage_brute_force(t1, params), rel=1e-6)


@pytest.mark.parametrize("center", sorted(CENTER_PROTOCOLS))
def test_tissue_contrast_ordering_per_center(center):
    prot = CENTER_PROTOCOLS[center]
    field = 1.5 if center == "07" else 3.0
    t = RELAXATION[field]

    def sig(mod, k):
        return float(
            physics.modality_signal(mod, t[k].pd, t[k].t1, t[k].t2, t[k].t2s, prot.flair, prot.t1, prot.dual_echo)
        )

    assert sig("t1", "wm") > sig("t1", "gm") > sig("t1", "csf")
    assert sig("t2", "csf") > sig("t2", "gm") > sig("t2", "wm")
    assert sig("flair", "csf") < 0.5 * sig("flair", "wm")


# ---------------------------------------------------------------- anatomy and warps
def test_template_volumes_match_the_documented_mni_figures():
    anat = load_template_anatomy(3.0)
    voxel_ml = 27.0 / 1000.0
    # docs/synthetic-cohort.md (Anatomy): mask 1883 mL, GM 1008, WM 670, CSF 216.
    assert anat.brain.sum() * voxel_ml == pytest.approx(1883, rel=0.05)
    assert anat.gm.sum() * voxel_ml == pytest.approx(1008, rel=0.05)
    assert anat.wm.sum() * voxel_ml == pytest.approx(670, rel=0.05)
    assert anat.csf.sum() * voxel_ml == pytest.approx(216, rel=0.10)
    assert anat.ventricles.sum() * voxel_ml > 10
    assert all(v.size > 0 for v in anat.candidates.values())


def test_exponential_of_constant_velocity_is_a_translation():
    v = np.zeros((6, 7, 8, 3))
    v[..., 0] = 2.5
    v[..., 2] = -1.0
    np.testing.assert_allclose(exponentiate(v, 4.0), v, atol=1e-9)
    np.testing.assert_allclose(exponentiate(np.zeros_like(v), 4.0), 0.0)


def test_random_warp_is_diffeomorphic_and_invertible():
    anat = load_template_anatomy(3.0)
    warp = random_subject_warp(anat, np.random.default_rng(3), amplitude_mm=3.0, ventricle_enlargement=0.25)
    field = warp.to_template.field.astype(np.float64)
    spacing = float(warp.to_template.affine[0, 0])
    img = sitk.GetImageFromArray(np.transpose(field, (2, 1, 0, 3)), isVector=True)
    img.SetSpacing((spacing,) * 3)
    jac = sitk.GetArrayFromImage(sitk.DisplacementFieldJacobianDeterminant(img))
    assert jac.min() > 0
    assert min_jacobian(field, spacing) == pytest.approx(float(jac.min()), abs=0.05)
    pts = np.random.default_rng(0).uniform(-60, 60, (3, 500))
    moved = warp.to_template.apply(pts)
    assert np.abs(moved - pts).max() > 1.0
    back = warp.to_subject.apply(moved)
    assert np.abs(back - pts).max() < 0.5


# ---------------------------------------------------------------- lesions
def test_lesion_counts_are_overdispersed_and_loads_span_the_target_range():
    anat = load_template_anatomy(3.0)
    model = LesionModel(count_mean=22.0, volume_median_mm3=50.0)
    rng = np.random.default_rng(11)
    counts, loads, regions = [], [], []
    for _ in range(150):
        lesions, _ = sample_lesions(anat, model, rng)
        counts.append(len(lesions))
        loads.append(sum(lesion.target_volume_mm3 for lesion in lesions) / 1000.0)
        regions += [lesion.region for lesion in lesions]
    counts = np.array(counts)
    assert counts.var() > 2 * counts.mean()
    assert min(loads) < 1.0 and max(loads) > 15.0
    share = {r: regions.count(r) / len(regions) for r in set(regions)}
    assert share["periventricular"] == pytest.approx(0.35, abs=0.1)
    assert share["infratentorial"] == pytest.approx(0.10, abs=0.06)


def test_lesion_load_floor_adds_lesions_only_to_subjects_below_it():
    anat = load_template_anatomy(3.0)
    plain = LesionModel(count_mean=22.0, volume_median_mm3=50.0)
    floored = LesionModel(count_mean=22.0, volume_median_mm3=50.0, min_load_mm3=1000.0)
    below = above = 0
    for seed in range(40):
        base, _ = sample_lesions(anat, plain, np.random.default_rng(seed))
        more, _ = sample_lesions(anat, floored, np.random.default_rng(seed))
        load = sum(lesion.target_volume_mm3 for lesion in base)
        new_load = sum(lesion.target_volume_mm3 for lesion in more)
        assert new_load >= 1000.0
        # the sampled lesions come first, unchanged
        assert [les.target_volume_mm3 for les in more[: len(base)]] == [les.target_volume_mm3 for les in base]
        if load >= 1000.0:
            above += 1
            assert len(more) == len(base)
        else:
            below += 1
            # drawing stops at the first lesion that reaches the floor
            assert new_load - more[-1].target_volume_mm3 < 1000.0
    assert below > 0 and above > 0


def test_rendered_lesions_have_their_volume_soft_edges_and_stay_in_parenchyma():
    anat = load_template_anatomy(3.0)
    model = LesionModel(count_mean=10.0, volume_median_mm3=400.0)
    rng = np.random.default_rng(5)
    lesions, _ = sample_lesions(anat, model, rng)
    maps = render_lesions(lesions, anat, model, rng)
    assert maps.fraction.max() <= 1.0
    assert np.all(maps.fraction <= anat.gm + anat.wm + 1e-6)
    soft = (maps.fraction > 0.05) & (maps.fraction < 0.95)
    assert soft.sum() > 0.2 * (maps.fraction > 0.5).sum()
    total = maps.fraction.sum() * 27.0
    assert total == pytest.approx(sum(lesion.target_volume_mm3 for lesion in lesions), rel=0.35)
    inside = maps.labels > 0
    assert np.all(maps.t2_factor[inside] > 1.3) and np.all(maps.t1_factor[inside] > 1.1)


# ---------------------------------------------------------------- acquisition
def test_grid_orientation_voxels_and_coverage():
    centre = np.array([3.0, -10.0, 20.0])
    grid = make_grid(("P", "I", "R"), (1.0, 1.0, 1.2), (150.0, 180.0, 140.0), centre)
    assert "".join(aff2axcodes(grid.affine)) == "PIR"
    assert grid.shape == (180, 140, 125)  # P: 180/1, I: 140/1, R: 150/1.2
    middle = grid.affine @ np.append((np.array(grid.shape) - 1) / 2.0, 1.0)
    np.testing.assert_allclose(middle[:3], centre)
    with pytest.raises(ValueError):
        make_grid(("P", "A", "R"), (1, 1, 1), (10, 10, 10), centre)


def test_psf_blurs_only_the_thick_axis():
    sigma = psf_sigma_vox(("L", "P", "S"), (1.0, 1.0, 3.0), 1.0)
    assert sigma[0] == 0.0 and sigma[1] == 0.0
    assert sigma[2] == pytest.approx(np.sqrt(8.0) / 2.355)


def test_bias_field_has_the_requested_log_range():
    field = bias_field((20, 30, 25), 0.4, np.random.default_rng(0))
    assert np.log(field.max()) - np.log(field.min()) == pytest.approx(0.4, rel=1e-4)


def test_rician_noise_matches_scipy_rice_distribution():
    rng = np.random.default_rng(2)
    for nu in (0.0, 3.0):
        sample = rician_noise(np.full(200_000, nu, np.float32), 1.0, rng)
        ref = stats.rice(b=nu, scale=1.0)
        assert sample.mean() == pytest.approx(ref.mean(), rel=0.01)
        assert sample.std() == pytest.approx(ref.std(), rel=0.02)


def test_one_pass_resampling_matches_simpleitk_resample():
    """Warp + pose + raw grid with map_coordinates vs SimpleITK's composite-transform Resample."""
    from lesionbench.synth.acquisition import rigid_pose, sample_on_grid

    anat = load_template_anatomy(3.0)
    rng = np.random.default_rng(7)
    warp = random_subject_warp(anat, rng, 3.0, 0.2)
    centre = anat.brain_centre_mm()
    pose = rigid_pose(rng, centre, 8.0, 5.0, np.array([3.0, -20.0, 15.0]))
    lo, hi = anat.brain_extent_mm()
    grid = make_grid(("L", "P", "S"), (2.5, 2.5, 4.0), (hi - lo) + 20.0, (pose @ np.append(centre, 1.0))[:3])
    volume = (anat.wm + 0.6 * anat.gm + 0.2 * anat.csf).astype(np.float32)
    support = anat.outside_distance_mm <= warp.max_displacement_mm + 4.0
    (ours,) = sample_on_grid([volume], [1], anat.affine, grid, pose, warp.to_template, support)

    flip = np.diag([-1.0, -1.0, 1.0, 1.0])  # RAS (NIfTI) <-> LPS (ITK)

    def image(array, affine, vector=False):
        img = sitk.GetImageFromArray(
            np.ascontiguousarray(np.transpose(array, (2, 1, 0, 3) if vector else (2, 1, 0))), isVector=vector
        )
        lps = flip @ affine
        spacing = np.linalg.norm(lps[:3, :3], axis=0)
        img.SetSpacing(tuple(spacing))
        img.SetOrigin(tuple(lps[:3, 3]))
        img.SetDirection(tuple((lps[:3, :3] / spacing).ravel()))
        return img

    field = warp.to_template.field.astype(np.float64) * np.array([-1.0, -1.0, 1.0])
    disp = sitk.DisplacementFieldTransform(image(field, warp.to_template.affine, vector=True))
    inv_pose = flip @ np.linalg.inv(pose) @ flip
    rigid = sitk.AffineTransform(3)
    rigid.SetMatrix(tuple(inv_pose[:3, :3].ravel()))
    rigid.SetTranslation(tuple(inv_pose[:3, 3]))
    out = sitk.Resample(
        image(volume, anat.affine),
        image(np.zeros(grid.shape, np.float32), grid.affine),
        sitk.CompositeTransform([disp, rigid]),
        sitk.sitkLinear,
        0.0,
    )
    reference = np.transpose(sitk.GetArrayFromImage(out), (2, 1, 0))
    assert (reference > 0.3).sum() > 1000
    np.testing.assert_allclose(ours, reference, atol=1e-4)
