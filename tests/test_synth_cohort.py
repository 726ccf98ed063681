"""End-to-end tests on the ``tiny`` preset: files, headers, truth consistency, contrast, SNR, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from lesionbench.cli import main
from lesionbench.errors import MissingFileError
from lesionbench.io import load_mask, load_volume
from lesionbench.synth import case_files, generate_case, plan_cohort, plot_cohort_overview
from lesionbench.synth.anatomy import load_template_anatomy, read_template_anatomy, save_template_anatomy
from lesionbench.synth.plan import get_preset
from lesionbench.synth.protocols import CENTER_PROTOCOLS

SEED = 4
N_RATERS = 3


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    assert main(["synth", "--preset", "tiny", "--seed", str(SEED), "--out", str(root), "--raters", str(N_RATERS)]) == 0
    plans = plan_cohort("tiny", SEED, N_RATERS)
    return root, plans


def _paths(root: Path, plan) -> dict[str, Path]:
    return {k: root / v for k, v in case_files(plan, N_RATERS).items()}


def test_layout_headers_and_masks(cohort):
    root, plans = cohort
    for plan in plans:
        files = _paths(root, plan)
        assert all(p.is_file() for p in files.values()), plan.case_id
        masks = root / plan.relative_dir / "Masks"
        assert not (masks / "Consensus.nii.gz").exists() and not (masks / "Brain_Mask.nii.gz").exists()
        flair = load_volume(files["flair"], case=plan.case_id)
        for k in range(1, N_RATERS + 1):
            img = nib.load(str(files[f"rater{k}"]))
            assert img.get_data_dtype() == np.uint8
            load_mask(files[f"rater{k}"], case=plan.case_id, reference=flair)  # same grid, binary
        load_mask(files["truth_lesions"], case=plan.case_id, reference=flair)
        proto = CENTER_PROTOCOLS[plan.center]
        for modality in ("flair", "t1", "t2", "pd"):
            img = nib.load(str(files[modality]))
            assert img.get_data_dtype() == np.dtype(proto.image_format.dtype)
            codes = proto.axcodes_2d if modality in ("t2", "pd") else proto.axcodes_3d
            assert nib.aff2axcodes(img.affine) == codes
            # nibabel moves the header scaling onto the array proxy when loading.
            if proto.image_format.scaled:
                assert img.dataobj.slope != 1.0
            else:
                assert img.dataobj.slope == 1.0 and img.dataobj.inter == 0.0
        t2 = nib.load(str(files["t2"]))
        # 2-D axial: thick slices along S/I.
        zooms = dict(zip(nib.aff2axcodes(t2.affine), t2.header.get_zooms()))
        assert zooms.get("S", zooms.get("I")) > 1.4 * min(zooms.values())


def _lesion_and_nawm_world_points(files, case):
    flair = load_volume(files["flair"], case=case)
    truth = load_mask(files["truth_lesions"], case=case, reference=flair).data
    wm = load_volume(files["truth_tissue_wm"], case=case).data
    # Lesion cores and normal-appearing WM well away from lesions, to limit partial volume.
    core = ndimage.binary_erosion(truth)
    if core.sum() < 5:
        core = truth
    nawm = (wm > 0.9) & ~ndimage.binary_dilation(truth, iterations=2)
    to_world = lambda idx: flair.affine[:3, :3] @ idx.T + flair.affine[:3, 3:4]  # noqa: E731
    return flair, to_world(np.argwhere(core).astype(float)), to_world(np.argwhere(nawm).astype(float))


def _sample_world(path, case, world, pose_from, pose_to):
    """Intensity of image ``path`` at FLAIR-scanner points, moved through the true poses."""
    vol = load_volume(path, case=case)
    to_img = np.linalg.inv(vol.affine) @ np.asarray(pose_to) @ np.linalg.inv(np.asarray(pose_from))
    idx = to_img[:3, :3] @ world + to_img[:3, 3:4]
    return ndimage.map_coordinates(vol.data, idx, order=1, mode="nearest")


def test_lesion_contrast_sign_per_modality(cohort):
    root, plans = cohort
    ratios = {m: [] for m in ("flair", "t1", "t2", "pd")}
    for plan in plans:
        files = _paths(root, plan)
        transforms = json.loads(files["truth_transforms"].read_text())["images"]
        _, lesion_pts, nawm_pts = _lesion_and_nawm_world_points(files, plan.case_id)
        pose_flair = transforms["flair"]["pose_subject_to_scanner"]
        for m in ratios:
            pose = transforms[m]["pose_subject_to_scanner"]
            les = _sample_world(files[m], plan.case_id, lesion_pts, pose_flair, pose)
            nawm = _sample_world(files[m], plan.case_id, nawm_pts, pose_flair, pose)
            ratios[m].append(float(np.median(les) / np.median(nawm)))
    assert min(ratios["flair"]) > 1.2, ratios
    assert min(ratios["t2"]) > 1.2, ratios
    assert max(ratios["t1"]) < 1.02, ratios  # dark or iso
    assert np.median(ratios["t1"]) < 0.95, ratios


def test_truth_transforms_map_template_lesion_centres_onto_flair_lesions(cohort):
    root, plans = cohort
    for plan in plans:
        files = _paths(root, plan)
        table = pd.read_csv(files["truth_lesion_table"], sep="\t")
        transforms = json.loads(files["truth_transforms"].read_text())
        warp = nib.load(str(files["truth_warp"]))
        field = np.asarray(warp.dataobj, dtype=float)
        flair = nib.load(str(files["flair"]))
        pose = np.array(transforms["images"]["flair"]["pose_subject_to_scanner"])
        compact = table[(table["shape"] == "ovoid") & (table["n_voxels"] >= 8)]
        for _, row in compact.iterrows():
            q = np.array([row.template_x_mm, row.template_y_mm, row.template_z_mm])
            vox = np.linalg.inv(warp.affine) @ np.append(q, 1.0)
            u = np.array(
                [ndimage.map_coordinates(field[..., c], vox[:3, None], order=1, mode="nearest")[0] for c in range(3)]
            )
            world = pose @ np.append(q + u, 1.0)
            idx = (np.linalg.inv(flair.affine) @ world)[:3]
            centroid = np.array([row.centroid_i, row.centroid_j, row.centroid_k])
            assert np.linalg.norm((idx - centroid) * flair.header.get_zooms()) < 3.5, (plan.case_id, row.lesion_id)


def test_lesion_table_matches_the_truth_mask(cohort):
    root, plans = cohort
    for plan in plans:
        files = _paths(root, plan)
        table = pd.read_csv(files["truth_lesion_table"], sep="\t")
        labels = np.asarray(nib.load(str(files["truth_lesion_labels"])).dataobj)
        truth = np.asarray(nib.load(str(files["truth_lesions"])).dataobj) > 0
        assert np.array_equal(labels > 0, truth)
        counts = np.bincount(labels.ravel())
        assert list(table["n_voxels"]) == [int(counts[i]) for i in table["lesion_id"]]
        assert set(table["region"]) <= {"periventricular", "deep", "juxtacortical", "infratentorial"}
        summary = json.loads(files["truth_summary"].read_text())
        voxel = float(np.prod(nib.load(str(files["flair"])).header.get_zooms()))
        assert summary["lesion_load_ml"] == pytest.approx(truth.sum() * voxel / 1000.0, rel=1e-3)


def _flair_snr(files, case) -> float:
    flair = load_volume(files["flair"], case=case)
    wm = load_volume(files["truth_tissue_wm"], case=case).data
    brain = load_mask(files["truth_brain_mask"], case=case).data
    background = ~ndimage.binary_dilation(brain, iterations=3)
    # Rayleigh background: E[M^2] = 2 sigma^2.
    sigma = np.sqrt(np.mean(flair.data[background] ** 2) / 2.0)
    return float(np.median(flair.data[wm > 0.9]) / sigma)


def test_center_03_has_the_lowest_snr(cohort):
    root, plans = cohort
    snr = {plan.center: _flair_snr(_paths(root, plan), plan.case_id) for plan in plans}
    assert set(snr) == {"01", "03", "07", "08"}
    assert min(snr, key=snr.get) == "03", snr
    assert snr["03"] < 0.8 * min(v for c, v in snr.items() if c != "03"), snr


def test_raw_images_are_not_aligned_with_each_other_or_the_template(cohort):
    root, plans = cohort
    transforms = json.loads(_paths(root, plans[0])["truth_transforms"].read_text())["images"]
    poses = {m: np.array(t["pose_subject_to_scanner"]) for m, t in transforms.items()}
    for m, pose in poses.items():
        angle = np.degrees(np.arccos(np.clip((np.trace(pose[:3, :3]) - 1) / 2, -1, 1)))
        assert angle > 0.5 or np.linalg.norm(pose[:3, 3]) > 5.0, m
    assert not np.allclose(poses["flair"], poses["t1"])
    assert np.allclose(poses["t2"], poses["pd"])  # dual echo: one series


def test_same_seed_gives_identical_bytes_and_other_seeds_differ(cohort, tmp_path):
    root, plans = cohort
    plan = plans[2]
    generate_case(plan, "tiny", N_RATERS, tmp_path / "again")
    # the workflow builds the template anatomy once and every case job reads it back: same bytes
    save_template_anatomy(load_template_anatomy(get_preset("tiny").anatomy_mm), tmp_path / "anatomy.npz")
    anatomy = read_template_anatomy(tmp_path / "anatomy.npz", get_preset("tiny").anatomy_mm)
    generate_case(plan, "tiny", N_RATERS, tmp_path / "read", anatomy)
    for key, rel in case_files(plan, N_RATERS).items():
        assert (root / rel).read_bytes() == (tmp_path / "again" / rel).read_bytes(), key
        assert (root / rel).read_bytes() == (tmp_path / "read" / rel).read_bytes(), key
    with pytest.raises(ValueError, match="3 mm grid"):
        read_template_anatomy(tmp_path / "anatomy.npz", get_preset("demo").anatomy_mm)
    other = next(p for p in plan_cohort("tiny", SEED + 1, N_RATERS) if p.case_id == plan.case_id)
    generate_case(other, "tiny", N_RATERS, tmp_path / "other")
    files = case_files(plan, N_RATERS)
    for key in ("flair", "t1", "truth_lesions", "rater1"):
        assert (root / files[key]).read_bytes() != (tmp_path / "other" / files[key]).read_bytes(), key


def test_overview_figure(cohort, tmp_path):
    root, plans = cohort
    cases = [(p, _paths(root, p)) for p in plans]
    out = tmp_path / "overview.png"
    plot_cohort_overview(cases, out)
    assert out.stat().st_size > 20_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_overview_figure_names_case_and_file_when_an_image_is_missing(cohort, tmp_path):
    root, plans = cohort
    files = _paths(root, plans[0])
    files["t2"] = tmp_path / "missing_T2.nii.gz"
    with pytest.raises(MissingFileError) as info:
        plot_cohort_overview([(plans[0], files)], tmp_path / "x.png")
    assert plans[0].case_id in str(info.value) and "missing_T2.nii.gz" in str(info.value)


def test_cli_rejects_unknown_case_and_bad_jobs(tmp_path, capsys):
    assert main(["synth", "--preset", "tiny", "--out", str(tmp_path), "--cases", "c99_test_p01"]) == 2
    assert "c99_test_p01" in capsys.readouterr().err
    assert main(["synth", "--preset", "tiny", "--out", str(tmp_path), "--jobs", "0"]) == 2
    assert "--jobs" in capsys.readouterr().err
    assert main(["synth", "--preset", "tiny", "--out", str(tmp_path), "--raters", "0"]) == 2
    assert "raters" in capsys.readouterr().err
