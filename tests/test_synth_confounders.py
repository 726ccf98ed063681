"""Realistic difficulty on ``tiny``: each confounder where expected, with its contrast sign per
modality, absent from the truth and from the raters; heterogeneous lesions; scanner artifacts
only where and how intended (``lesionbench.synth.confounders``)."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from lesionbench.errors import ConfigError
from lesionbench.synth import plan_cohort, simulate_case
from lesionbench.synth.anatomy import load_template_anatomy
from lesionbench.synth.confounders import (
    MIMICS,
    apply_lesion_rims,
    b1_field,
    lateral_ventricles,
    mimic_signals,
    mimic_weights,
    psf_voxels,
    truncate_kspace,
)
from lesionbench.synth.lesions import Lesion, LesionMaps
from lesionbench.synth.plan import PRESETS, Difficulty
from lesionbench.synth.protocols import CENTER_PROTOCOLS
from lesionbench.synth.raters import BAND_MM

SEED = 4
N_RATERS = 3
OFF = Difficulty.off()
FULL = Difficulty()


def _only(name: str) -> Difficulty:
    return dataclasses.replace(OFF, **{name: getattr(FULL, name)})


@pytest.fixture(scope="module")
def anatomy():
    return load_template_anatomy(PRESETS["tiny"].anatomy_mm)


@pytest.fixture(scope="module")
def plan():
    return next(p for p in plan_cohort("tiny", SEED, N_RATERS) if p.center == "01")


@pytest.fixture(scope="module")
def cases(plan, anatomy):
    """The 3 T case with every effect off, and with each effect alone (cached per name)."""
    cache = {"off": simulate_case(plan, "tiny", N_RATERS, anatomy, difficulty=OFF)}

    def get(name: str):
        if name not in cache:
            cache[name] = simulate_case(plan, "tiny", N_RATERS, anatomy, difficulty=_only(name))
        return cache[name]

    return get


def _mni(anatomy):
    idx = np.indices(anatomy.shape).reshape(3, -1).astype(float)
    return (anatomy.affine[:3, :3] @ idx + anatomy.affine[:3, 3:4]).T.reshape(*anatomy.shape, 3)


def _nawm(case):
    return (case.tissues["wm"] > 0.9) & ~ndimage.binary_dilation(case.truth_mask, iterations=2)


def test_presets_switch_every_effect_on_and_off_switches_them_off():
    for preset in PRESETS.values():
        assert all(v > 0 for v in vars(preset.difficulty).values()), preset.name
    assert all(v == 0 for v in vars(OFF).values())
    with pytest.raises(ConfigError, match="dirty_wm"):
        Difficulty(dirty_wm=-1.0)
    with pytest.raises(ConfigError, match="faint_fraction"):
        Difficulty(faint_fraction=1.5)


def test_confounders_lie_where_the_anatomy_puts_them(anatomy):
    w = mimic_weights(anatomy, FULL, np.random.default_rng(0))
    assert set(w) == {"ependymal", "septum", "choroid", "csf_inflow", "cortex", "dirty_wm"}
    assert not mimic_weights(anatomy, OFF, np.random.default_rng(0))
    mni = _mni(anatomy)
    x, y, z = mni[..., 0], mni[..., 1], mni[..., 2]
    lateral = lateral_ventricles(anatomy)
    dist = ndimage.distance_transform_edt(~lateral, sampling=(anatomy.spacing_mm,) * 3)
    # Ependymal lining: around the lateral ventricles (not in them), deepest at the horn tips.
    epe = w["ependymal"]
    assert epe[lateral].max() == 0 and epe[dist > 10.0].max() == 0
    ring = (dist > 0) & (dist <= 6.0)
    ys = y[lateral]
    horns = ring & ((y > ys.max() - 8.0) | (y < ys.min() + 8.0))
    body = ring & (np.abs(y - 0.5 * (ys.max() + ys.min())) < 10.0)
    assert epe[horns].mean() > 1.3 * epe[body].mean()
    # Septum: a midline sheet; choroid plexus: inside the lateral ventricles, posterior, both sides.
    septum, choroid = w["septum"] > 0.3, w["choroid"] > 0.3
    assert septum.any() and np.abs(x[septum]).max() <= 1.5 * anatomy.spacing_mm
    assert choroid.any() and np.all(lateral[choroid])
    assert y[choroid].mean() < y[lateral].mean() and (x[choroid] < 0).any() and (x[choroid] > 0).any()
    # Inflow: the third and fourth ventricles, on the midline, below the lateral ventricles' bodies.
    inflow = w["csf_inflow"] > 0.2
    assert inflow.any() and np.abs(x[inflow]).max() <= 10.0
    assert ((z[inflow] < -20.0) & (y[inflow] < -35.0)).any() and ((z[inflow] > -8.0) & (y[inflow] > -25.0)).any()
    # Cortex: a smooth field that only grey matter sees; dirty white matter mostly deep.
    gains = mimic_signals(
        anatomy,
        np.zeros(anatomy.shape, np.float32),
        CENTER_PROTOCOLS["01"],
        3.0,
        _only("cortex"),
        np.random.default_rng(0),
    )
    gm_gain = gains.flair_gain > 0.02
    assert gm_gain.any() and np.median(anatomy.gm[gm_gain]) > 0.5
    dawm = w["dirty_wm"] > 0.2
    assert dawm.any() and np.median(anatomy.ventricle_distance_mm[dawm]) < np.median(
        anatomy.ventricle_distance_mm[anatomy.wm > 0.5]
    )


#: Expected sign of the change per modality (FLAIR, T1, T2, PD) of each confounder, from the
#: sequence equations: prolonged T1/T2 tissue is FLAIR/T2/PD-brighter and T1-darker; the septum
#: and choroid plexus replace CSF (T1 and PD up: CSF recovers little in TR; T2 down); inflow
#: shows on FLAIR only.
SIGNS = {
    "ependymal": {"flair": 1, "t1": -1, "t2": 1, "pd": 1},
    "septum_choroid": {"flair": 1, "t1": 1, "t2": -1, "pd": 1},
    "csf_inflow": {"flair": 1, "t1": 0, "t2": 0, "pd": 0},
    "cortex": {"flair": 1, "t1": -1, "t2": 1, "pd": 1},
    "dirty_wm": {"flair": 1, "t1": -1, "t2": 1, "pd": 1},
}


@pytest.mark.parametrize("name", MIMICS)
def test_each_confounder_has_its_contrast_sign_per_modality(name, anatomy):
    for center, field in (("01", 3.0), ("07", 1.5)):
        mimics = mimic_signals(
            anatomy,
            np.zeros(anatomy.shape, np.float32),
            CENTER_PROTOCOLS[center],
            field,
            _only(name),
            np.random.default_rng(1),
        )
        for modality, sign in SIGNS[name].items():
            total = float(mimics.delta[modality].sum())
            if sign == 0:
                assert total == 0.0, (name, modality)
            else:
                assert np.sign(total) == sign, (name, center, modality, total)


@pytest.mark.parametrize("name", MIMICS)
def test_each_confounder_brightens_flair_in_the_image_but_not_the_truth_or_raters(name, cases):
    off, on = cases("off"), cases(name)
    assert np.array_equal(on.truth_mask, off.truth_mask) and np.array_equal(on.lesion_labels, off.lesion_labels)
    assert off.mimic_gain is not None and on.mimic_gain is not None
    assert float(np.abs(off.mimic_gain).max()) == 0.0
    region = (on.mimic_gain > 0.1) & ~ndimage.binary_dilation(on.truth_mask, iterations=2)
    assert region.sum() >= 3, name
    f_on, f_off = (c.images["flair"].data.astype(float) for c in (on, off))
    nawm = _nawm(off) & (on.mimic_gain < 0.02)
    ratio_on = np.mean(f_on[region]) / np.median(f_on[nawm])
    ratio_off = np.mean(f_off[region]) / np.median(f_off[nawm])
    assert ratio_on > ratio_off + 0.05, (name, ratio_on, ratio_off)
    # Same noise draws: the images differ where the confounder is, and only by its sign.
    for modality, sign in SIGNS[name].items():
        diff = on.images[modality].data.astype(float) - off.images[modality].data.astype(float)
        if sign == 0:
            assert not diff.any(), (name, modality)
        else:
            assert np.sign(diff.sum()) == sign, (name, modality)
    # No rater outlines a confounder away from the true lesions.
    spacing = np.abs(np.diag(on.flair_affine)[:3])
    far = ndimage.distance_transform_edt(~on.truth_mask, sampling=spacing) > BAND_MM + 1.0
    for k, mask in enumerate(on.raters):
        assert not np.any(mask & far & (on.mimic_gain > 0.12)), (name, k)


@pytest.fixture(scope="module")
def cohort_pairs(anatomy):
    """Every tiny case with 7 raters, every effect off and every effect on."""
    return [
        (simulate_case(p, "tiny", 7, anatomy, difficulty=OFF), simulate_case(p, "tiny", 7, anatomy))
        for p in plan_cohort("tiny", SEED, 7)
    ]


def test_all_confounders_together_put_flair_bright_voxels_outside_lesions(cohort_pairs):
    counts = np.zeros(2, int)
    for pair in cohort_pairs:
        for i, case in enumerate(pair):
            flair = case.images["flair"].data.astype(float)
            outside = case.brain_mask & ~ndimage.binary_dilation(case.truth_mask, iterations=1)
            threshold = np.percentile(flair[case.truth_mask], 25)  # finds three quarters of the lesion voxels
            counts[i] += int(np.sum(outside & (flair > threshold)))
    assert counts[1] > 2 * counts[0] + 20, counts


def test_raters_keep_their_calibrated_agreement_with_everything_on(cohort_pairs):
    pairwise = [on.summary["rater_pairwise_dice_mean"] for _, on in cohort_pairs]
    assert 0.55 <= np.mean(pairwise) <= 0.8, pairwise
    to_truth = [d for _, on in cohort_pairs for d in on.summary["rater_dice_vs_truth"]]
    assert 0.55 <= np.median(to_truth) <= 0.9, to_truth


def test_lesion_contrast_is_heterogeneous_faint_and_lower_off_the_deep_white_matter(cohort_pairs, anatomy):
    t_off = pd.concat([off.lesion_table for off, _ in cohort_pairs])
    t_on = pd.concat([on.lesion_table for _, on in cohort_pairs])
    assert list(t_on["lesion_id"]) == list(t_off["lesion_id"])  # same lesions, other contrast
    spread = lambda t: float(t["contrast_flair"].std() / t["contrast_flair"].mean())  # noqa: E731
    assert spread(t_on) > spread(t_off) + 0.03, (spread(t_on), spread(t_off))
    # As measured in the images: each lesion's median FLAIR over normal-appearing white matter.
    measured = []
    for pair in cohort_pairs:
        ratios = []
        for case in pair:
            flair = case.images["flair"].data.astype(float)
            nawm = np.median(flair[_nawm(case)])
            ids = np.unique(case.lesion_labels[case.lesion_labels > 0])
            ratios.append([np.median(flair[case.lesion_labels == i]) / nawm for i in ids])
        measured.append(np.array(ratios))
    per_lesion = np.concatenate(measured, axis=1)
    cv = per_lesion.std(axis=1) / per_lesion.mean(axis=1)
    assert cv[1] > cv[0] + 0.02 and np.percentile(per_lesion[1], 10) < 1.2, (cv, per_lesion)
    assert t_on["faint"].any() and not t_off["faint"].any()
    assert (t_on["rim"] < 1.0).all() and (t_off["rim"] == 1.0).all()
    faint = t_on["faint"].to_numpy()
    kept = (t_on["contrast_flair"].to_numpy() - 1.0) / (t_off["contrast_flair"].to_numpy() - 1.0)
    assert np.all(kept[faint] < 0.7) and np.median(kept[~faint]) > 0.8, kept
    assert not (t_on["faint"] & t_on["black_hole"]).any()
    # Juxtacortical lesions fainter on every modality, infratentorial ones fainter on FLAIR than on
    # T2 (each lesion against itself with the effect off); other regions unchanged.
    rows = []
    for plan in plan_cohort("tiny", SEED + 1, N_RATERS):
        a = simulate_case(plan, "tiny", N_RATERS, anatomy, difficulty=OFF).lesion_table
        b = simulate_case(plan, "tiny", N_RATERS, anatomy, difficulty=_only("region_contrast")).lesion_table
        rows.append(a.merge(b, on="lesion_id", suffixes=("_off", "_on")))
    merged = pd.concat(rows)
    region = merged["region_off"].to_numpy()
    flair_off, flair_on = merged["contrast_flair_off"].to_numpy(), merged["contrast_flair_on"].to_numpy()
    t2_off, t2_on = merged["contrast_t2_off"].to_numpy(), merged["contrast_t2_on"].to_numpy()
    assert {"juxtacortical", "infratentorial"} <= set(region)
    for kind in ("juxtacortical", "infratentorial"):
        sel = region == kind
        assert np.all(flair_on[sel] < flair_off[sel]), kind
    other = ~np.isin(region, ["juxtacortical", "infratentorial"])
    np.testing.assert_allclose(flair_on[other], flair_off[other], rtol=1e-5)
    infra = region == "infratentorial"
    flair_kept = (flair_on[infra] - 1) / (flair_off[infra] - 1)
    t2_kept = (t2_on[infra] - 1) / (t2_off[infra] - 1)
    assert np.all(flair_kept < t2_kept)


def test_lesion_rims_fade_the_prolongation_towards_the_border():
    shape = (9, 1, 1)
    depth = np.linspace(0.0, 1.0, 9, dtype=np.float32).reshape(shape)
    labels = np.ones(shape, np.int32)
    maps = LesionMaps(
        fraction=np.ones(shape, np.float32),
        labels=labels,
        t1_factor=np.full(shape, 1.5, np.float32),
        t2_factor=np.full(shape, 2.5, np.float32),
        pd=np.full(shape, 0.85, np.float32),
        depth=depth,
    )
    lesion = Lesion(1, 1, "deep", "ovoid", np.zeros(3), np.ones(3), np.eye(3), 10.0, 1.5, 2.5, 0.85, False, rim=0.4)
    out = apply_lesion_rims(maps, [lesion])
    t2 = out.t2_factor.ravel()
    assert t2[0] == pytest.approx(1.0 + 1.5 * 0.4) and t2[-1] == pytest.approx(2.5)
    assert np.all(np.diff(t2) >= 0)
    lesion.rim = 1.0
    assert apply_lesion_rims(maps, [lesion]) is maps


def test_gibbs_ringing_overshoots_at_edges_and_keep_one_is_identity():
    profile = np.zeros((1, 1, 128), np.float32)
    profile[..., 40:88] = 1.0
    assert np.array_equal(truncate_kspace(profile, (2,), 1.0), profile)
    rung = truncate_kspace(profile, (2,), 0.5).ravel()
    assert rung.max() > 1.05  # the ~9 % Gibbs overshoot next to the edge
    assert abs(rung[64] - 1.0) < 0.03 and abs(rung[5]) < 0.03  # far from edges: close to the object
    assert truncate_kspace(profile, (0, 1), 0.5).shape == profile.shape


def test_artifacts_change_only_what_they_should(cases):
    off = cases("off")
    # Slice profile: only the 2-D series, only through the slices.
    sp = cases("slice_profile")
    for m in ("flair", "t1"):
        assert np.array_equal(sp.images[m].data, off.images[m].data), m
    assert not np.array_equal(sp.images["t2"].data, off.images["t2"].data)
    voxels = {"flair": (1.0, 1.0, 1.0), "t1": (1.0, 1.0, 1.0), "t2pd": (1.0, 1.0, 3.0)}
    axcodes = {"flair": ("P", "I", "R"), "t1": ("P", "I", "R"), "t2pd": ("L", "P", "S")}
    wide = psf_voxels(voxels, axcodes, CENTER_PROTOCOLS["03"], FULL)
    assert wide["flair"] == voxels["flair"] and wide["t2pd"][:2] == (1.0, 1.0)
    assert wide["t2pd"][2] == pytest.approx(3.0 * CENTER_PROTOCOLS["03"].slice_profile_2d)
    # Gibbs: changes concentrate at sharp edges, not in flat white matter.
    gi = cases("gibbs")
    flair_off = off.images["flair"].data.astype(float)
    diff = np.abs(gi.images["flair"].data.astype(float) - flair_off)
    grad = np.linalg.norm(np.stack(np.gradient(ndimage.gaussian_filter(flair_off, 1.0))), axis=0)
    edges = grad > np.percentile(grad, 95)
    flat = ndimage.binary_erosion(off.tissues["wm"] > 0.9)
    assert diff[edges].mean() > 2.0 * diff[flat].mean()
    # B1: brighter in the centre of the brain than at its rim, the truth unchanged.
    b1 = cases("b1")
    assert np.array_equal(b1.truth_mask, off.truth_mask)
    ratio = b1.images["flair"].data.astype(float) / np.maximum(flair_off, 1.0)
    wm = _nawm(off)
    depth = ndimage.distance_transform_edt(off.brain_mask)
    assert np.median(ratio[wm & (depth > np.percentile(depth[wm], 80))]) > np.median(
        ratio[wm & (depth < np.percentile(depth[wm], 20))]
    )
    for case in (sp, gi, b1):
        assert np.array_equal(case.truth_mask, off.truth_mask)


def test_b1_field_range_and_field_strength(anatomy):
    rng = np.random.default_rng(3)
    f3 = b1_field(anatomy, CENTER_PROTOCOLS["01"].b1_log_range, rng)
    log = np.log(f3[anatomy.brain])
    assert log.max() - log.min() == pytest.approx(CENTER_PROTOCOLS["01"].b1_log_range, rel=1e-3)
    assert abs(log.mean()) < 1e-3
    assert CENTER_PROTOCOLS["07"].b1_log_range < min(CENTER_PROTOCOLS[c].b1_log_range for c in ("01", "03", "08"))
    assert np.all(b1_field(anatomy, 0.0, rng) == 1.0)


def test_effects_are_deterministic_and_independent(plan, anatomy, cases):
    a = simulate_case(plan, "tiny", N_RATERS, anatomy, difficulty=_only("dirty_wm"))
    assert np.array_equal(a.images["flair"].data, cases("dirty_wm").images["flair"].data)
    # Switching one effect on leaves the lesions and the other streams alone.
    for x, y in itertools.combinations([cases("off"), cases("b1"), cases("cortex")], 2):
        assert np.array_equal(x.lesion_labels, y.lesion_labels)
