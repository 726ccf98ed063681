"""Shared fixtures: small NIfTI volumes and dataset trees built on the fly."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import nibabel as nib
import numpy as np
import pytest

if TYPE_CHECKING:
    from lesionbench.methods.inputs import CaseArrays

AFFINE = np.diag([1.0, 1.0, 1.0, 1.0])

#: The repository root.
REPO = Path(__file__).resolve().parents[1]
#: ``python -m snakemake`` on this repository's workflow: the prefix of every workflow run in the tests.
#: The tests run in temporary folders, where Snakemake's search for ``profiles/default`` (the
#: current folder, then the Snakefile's, ``workflow/``) would not find the workstation profile that
#: ``make demo`` gets from the repository root, so it is named.
SNAKEMAKE = [
    sys.executable,
    "-m",
    "snakemake",
    "-s",
    str(REPO / "workflow" / "Snakefile"),
    "--workflow-profile",
    str(REPO / "profiles" / "default"),
]


def write_nifti(path: Path, data: np.ndarray, affine: np.ndarray = AFFINE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(data), affine), str(path))
    return path


def small_image(seed: int = 0, shape: tuple[int, int, int] = (12, 10, 8)) -> np.ndarray:
    return np.random.default_rng(seed).normal(100.0, 10.0, size=shape).astype(np.float32)


def small_mask(shape: tuple[int, int, int] = (12, 10, 8), offset: int = 0) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    mask[3 + offset : 6 + offset, 3:6, 2:5] = 1
    return mask


def make_msseg_tree(root: Path, layout: dict[str, dict[str, int]], n_raters: int = 7, ext: str = ".nii.gz") -> Path:
    """Build ``Training|Testing/Center_XX/Patient_YY`` with raw images and rater masks.

    ``layout`` maps split folder -> {center: number of patients}.
    """
    for split_dir, centers in layout.items():
        for center, n_patients in centers.items():
            for patient in range(1, n_patients + 1):
                case = root / split_dir / f"Center_{center}" / f"Patient_{patient:02d}"
                for i, stem in enumerate(("3DFLAIR", "3DT1", "T2", "DP")):
                    write_nifti(case / "Raw_Data" / f"{stem}{ext}", small_image(i))
                for k in range(1, n_raters + 1):
                    write_nifti(case / "Masks" / f"ManualSegmentation_{k}{ext}", small_mask(offset=k % 2))
                write_nifti(case / "Masks" / f"Consensus{ext}", small_mask())
    return root


@pytest.fixture
def msseg_tree(tmp_path: Path) -> Path:
    return make_msseg_tree(
        tmp_path / "msseg",
        {"Training": {"01": 2, "07": 1, "08": 1}, "Testing": {"01": 1, "03": 2, "07": 1, "08": 1}},
    )


def synthetic_case(seed: int, shape=(24, 24, 20), contrast: float = 2.5, spacing=(1.0, 1.0, 1.0)) -> CaseArrays:
    """Blocks of lesion in 'white matter' with FLAIR raised by ``contrast`` noise SDs (T1 lowered):
    a small case of the built-in methods' tests."""
    from lesionbench.methods.inputs import CaseArrays

    rng = np.random.default_rng(seed)
    label = np.zeros(shape, bool)
    for _ in range(4):
        c = rng.integers(5, np.array(shape) - 5)
        label[c[0] - 2 : c[0] + 2, c[1] - 2 : c[1] + 2, c[2] - 1 : c[2] + 2] = True
    brain = np.zeros(shape, bool)
    brain[1:-1, 1:-1, 1:-1] = True
    wm = np.full(shape, 0.95, np.float32)
    priors = np.stack([wm, 1 - wm, np.zeros(shape, np.float32)])
    flair = rng.normal(50.0, 2.0, shape).astype(np.float32) + contrast * 2.0 * label
    t1 = rng.normal(70.0, 2.0, shape).astype(np.float32) - 2.0 * label
    images = np.stack([flair * brain, t1 * brain])
    label &= brain
    return CaseArrays(case=f"case{seed}", images=images, brain_mask=brain, spacing=spacing, priors=priors, label=label)
