"""The synthetic longitudinal (MSSEG-2-style) cohort on the ``tiny`` preset: plan, lesion fates,
grids of the two variants, raters of new lesions, atrophy, layout and determinism."""

from __future__ import annotations

import dataclasses
import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from lesionbench.cli import main
from lesionbench.cohort.importers import import_msseg2
from lesionbench.errors import ConfigError
from lesionbench.synth.anatomy import load_template_anatomy
from lesionbench.synth.longitudinal import simulate_patient
from lesionbench.synth.longitudinal_plan import (
    LONGITUDINAL_PRESETS,
    patient_files,
    plan_longitudinal,
)

SEED = 5


@pytest.fixture(scope="module")
def anatomy():
    return load_template_anatomy(3.0)


@pytest.fixture(scope="module")
def plans():
    return plan_longitudinal("tiny", SEED)


@pytest.fixture(scope="module")
def with_new(plans, anatomy):
    """A tiny patient with new lesions, simulated in both variants."""
    plan = next(p for p in plans if p.n_new >= 2)
    return {v: simulate_patient(plan, "tiny", v, anatomy) for v in ("middle", "raw")}


def test_demo_plan_has_msseg2_proportions_and_about_a_third_empty():
    spec = LONGITUDINAL_PRESETS["demo"]
    assert dict(spec.counts) == {"train": 8, "test": 12}  # 40 / 60 per cent, as MSSEG-2
    empty_shares = []
    for seed in range(5):
        plans = plan_longitudinal("demo", seed)
        assert [p.patient_id for p in plans] == [f"P{k:03d}" for k in range(1, 21)]
        for split, n in spec.counts:
            in_split = [p for p in plans if p.split == split]
            assert len(in_split) == n
            assert sum(p.n_new == 0 for p in in_split) == round(n / 3)
        empty_shares.append(np.mean([p.n_new == 0 for p in plans]))
        assert all(p.n_new >= 1 for p in plans if p.n_new != 0)
        assert any(p.scanner_changed for p in plans) and not all(p.scanner_changed for p in plans)
        # Vollmer et al. 2015: -0.69 %/year; intervals of 1-3 years.
        assert all(0.001 <= p.atrophy_fraction / p.interval_years <= 0.03 for p in plans)
    assert 0.3 <= float(np.mean(empty_shares)) <= 0.36
    assert plan_longitudinal("demo", 3) == plan_longitudinal("demo", 3)
    assert plan_longitudinal("demo", 3) != plan_longitudinal("demo", 4)


def test_new_lesions_only_at_follow_up_and_stable_ones_at_both(with_new):
    patient = with_new["middle"]
    first, second = patient.visits
    new = patient.new_lesion_mask
    table = patient.lesion_table
    assert new.any() and len(patient.new_ids) == patient.plan.n_new
    # No new lesion has a voxel at baseline, none touches a baseline lesion at follow-up.
    assert not np.isin(first.labels, patient.new_ids).any()
    components, n = ndimage.label(second.lesion_mask, structure=ndimage.generate_binary_structure(3, 1))
    for k in np.unique(components[new]):
        assert not (first.lesion_mask & (components == k)).any()
    # Every voxel of a lesion whose id is new is in the new-lesion truth.
    assert np.array_equal(new, second.lesion_mask & np.isin(second.labels, table.loc[table.fate == "new", "lesion_id"]))
    # Stable lesions: seen at both visits, at the same place, never in the new-lesion truth.
    stable = table[(table.fate == "stable") & (table.volume_mm3_time01 > 0)]
    assert len(stable) >= 1
    for lid in stable.lesion_id:
        at1, at2 = first.labels == lid, second.labels == lid
        assert at1.any() and at2.any() and not (at2 & new).any()
        assert (at1 & at2).sum() >= 0.5 * min(at1.sum(), at2.sum())
    grown = table[table.fate == "grown"]
    shrunk = table[table.fate == "shrunk"]
    assert (grown.target_volume_mm3_time02 > grown.target_volume_mm3_time01).all()
    assert (shrunk.target_volume_mm3_time02 < shrunk.target_volume_mm3_time01).all()


def test_no_new_lesion_patient_has_empty_new_truth(plans, anatomy):
    plan = next(p for p in plans if p.n_new == 0)
    patient = simulate_patient(plan, "tiny", "middle", anatomy)
    assert not patient.new_lesion_mask.any() and patient.visits[1].lesion_mask.any()
    assert (patient.lesion_table.fate != "new").all()
    assert not patient.consensus.any()


def test_middle_variant_shares_a_grid_and_raw_does_not(with_new):
    middle, raw = with_new["middle"], with_new["raw"]
    a, b = middle.visits
    assert a.images["flair"].data.shape == b.images["flair"].data.shape
    assert np.allclose(a.flair_affine, b.flair_affine)
    a, b = raw.visits
    assert not np.allclose(a.flair_affine, b.flair_affine)
    # Same patient either way: the baseline is identical, the follow-up lesions are the same ones.
    assert np.array_equal(middle.visits[0].images["flair"].data, raw.visits[0].images["flair"].data)
    assert middle.lesion_table.fate.tolist() == raw.lesion_table.fate.tolist()
    # Raters and consensus lie on the follow-up grid in both variants.
    for patient in (middle, raw):
        assert all(m.shape == patient.visits[1].labels.shape for m in [*patient.raters, patient.consensus])


def test_raters_miss_more_small_than_large_new_lesions(plans, anatomy):
    plan = dataclasses.replace(next(p for p in plans if p.n_new >= 1), n_new=16)
    patient = simulate_patient(plan, "tiny", "middle", anatomy)
    new = patient.lesion_table[(patient.lesion_table.fate == "new") & (patient.lesion_table.volume_mm3_time02 > 0)]
    assert len(new) >= 12
    order = new.sort_values("volume_mm3_time02")
    half = len(order) // 2
    small = order.n_raters_detected.iloc[:half].mean() / 4
    large = order.n_raters_detected.iloc[half:].mean() / 4
    assert small < large - 0.15, (small, large)
    assert large >= 0.8


def test_atrophy_shrinks_parenchyma_by_the_configured_fraction(plans, anatomy):
    plan = plans[0]
    volumes = {}
    for fraction in (0.0, 0.05):
        patient = simulate_patient(plan, "tiny", "middle", anatomy, atrophy_fraction=fraction)
        # Measured on the images' own truth: parenchyma fractions summed over the FLAIR grid.
        volumes[fraction] = [float(v.parenchyma.sum()) * float(np.prod(v.spacing)) for v in patient.visits]
    assert volumes[0.0][0] == pytest.approx(volumes[0.05][0])  # the baseline does not depend on it
    assert volumes[0.05][1] / volumes[0.05][0] == pytest.approx(0.95, abs=0.003)
    # Ventricle enlargement alone (no shrink) moves parenchyma by well under the fraction.
    assert volumes[0.0][1] / volumes[0.0][0] == pytest.approx(1.0, abs=0.003)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("long")
    argv = ["synth-longitudinal", "--preset", "tiny", "--seed", str(SEED), "--out", str(root)]
    assert main([*argv, "--patients", "P001", "P002", "--t1"]) == 0
    return root


def test_written_layout_imports_as_msseg2_with_four_raters(written):
    plans = plan_longitudinal("tiny", SEED)[:2]
    for plan in plans:
        files = patient_files(plan, "middle", 4, t1=True)
        assert all((written / rel).is_file() for rel in files.values()), plan.patient_id
        folder = written / ("Training" if plan.split == "train" else "Testing") / plan.patient_id
        visible = {p.name for p in folder.iterdir()}
        assert visible == {
            "flair_time01_on_middle_space.nii.gz",
            "flair_time02_on_middle_space.nii.gz",
            "t1_time01_on_middle_space.nii.gz",
            "t1_time02_on_middle_space.nii.gz",
            "ground_truth.nii.gz",
            *(f"ground_truth_expert{k}.nii.gz" for k in range(1, 5)),
        }
        summary = json.loads((written / files["truth_summary"]).read_text())
        assert summary["n_new_planned"] == plan.n_new
        flair = nib.load(str(written / files["flair_time02"]))
        for key in ("consensus", "rater1", "flair_time01", "t1_time01", "t1_time02"):
            other = nib.load(str(written / files[key]))
            assert other.shape == flair.shape and np.allclose(other.affine, flair.affine), key
    sheet = import_msseg2(written)
    assert sorted(sheet.cases.case_id) == ["P001", "P002"]
    assert dict(zip(sheet.cases.case_id, sheet.cases.split)) == {p.patient_id: p.split for p in plans}
    assert sheet.raters.groupby("case_id").size().tolist() == [4, 4]
    table = pd.read_csv(written / "truth" / "P001" / "lesions.tsv", sep="\t")
    assert set(table.fate) <= {"stable", "grown", "shrunk", "new"}


def test_same_seed_gives_identical_files(written, tmp_path):
    argv = ["synth-longitudinal", "--preset", "tiny", "--seed", str(SEED), "--patients", "P002"]
    assert main([*argv, "--out", str(tmp_path / "again")]) == 0
    plan = plan_longitudinal("tiny", SEED)[1]
    for key, rel in patient_files(plan, "middle", 4).items():
        assert (written / rel).read_bytes() == (tmp_path / "again" / rel).read_bytes(), key


def test_bad_preset_variant_or_patient_is_a_clear_error(capsys, tmp_path):
    with pytest.raises(ConfigError, match="unknown longitudinal preset 'huge'"):
        plan_longitudinal("huge", 1)
    with pytest.raises(ConfigError, match="unknown longitudinal variant 'warped'"):
        patient_files(plan_longitudinal("tiny", 1)[0], "warped", 4)
    argv = ["synth-longitudinal", "--preset", "tiny", "--out", str(tmp_path), "--patients", "P999"]
    assert main(argv) == 2
    assert "unknown patient id(s) P999" in capsys.readouterr().err


def test_middle_variant_passes_two_visit_qc_and_raw_needs_co_registration(written, tmp_path, capsys):
    raw = tmp_path / "raw"
    argv = ["synth-longitudinal", "--preset", "tiny", "--seed", str(SEED), "--patients", "P001"]
    assert main([*argv, "--variant", "raw", "--out", str(raw)]) == 0
    folder = raw / ("Training" if plan_longitudinal("tiny", SEED)[0].split == "train" else "Testing") / "P001"
    assert sorted(p.name for p in folder.glob("flair_*")) == ["flair_time01.nii.gz", "flair_time02.nii.gz"]
    for root, code in ((written, 0), (raw, 2)):
        cases, raters = str(tmp_path / f"{root.name}_cases.tsv"), str(tmp_path / f"{root.name}_raters.tsv")
        sheet_args = ["--root", str(root), "--cases-out", cases, "--raters-out", raters]
        assert main(["import", "--layout", "msseg2", *sheet_args]) == 0
        assert main(["qc", "--cases", cases, "--raters", raters, "--root", str(root)]) == code
    err = capsys.readouterr().err
    assert "case P001, file" in err and "flair_time02.nii.gz" in err and "not on one grid" in err
