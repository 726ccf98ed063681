"""Each bad image/mask input gives its own error type, naming the case and the file."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from conftest import small_image, small_mask, write_nifti
from lesionbench.errors import (
    AffineError,
    DimensionError,
    GridMismatchError,
    MissingFileError,
    NonBinaryMaskError,
    NonFiniteError,
    UnreadableImageError,
)
from lesionbench.io import load_mask, load_volume, save_volume


def assert_names(exc: pytest.ExceptionInfo, case: str, path: Path) -> None:
    message = str(exc.value)
    assert f"case {case}" in message
    assert str(path) in message
    assert exc.value.case == case and exc.value.path == str(path)


def test_reads_volume_with_spacing_and_orientation(tmp_path):
    affine = np.diag([0.9, 1.1, 3.0, 1.0])
    path = write_nifti(tmp_path / "a.nii.gz", small_image(), affine)
    vol = load_volume(path, case="c1")
    assert vol.shape == (12, 10, 8)
    assert vol.spacing == pytest.approx((0.9, 1.1, 3.0))
    assert vol.orientation == "RAS"
    assert vol.data.dtype == np.float32


def test_missing_file(tmp_path):
    path = tmp_path / "nope.nii.gz"
    with pytest.raises(MissingFileError) as exc:
        load_volume(path, case="c1")
    assert_names(exc, "c1", path)


def test_truncated_gzip(tmp_path):
    path = write_nifti(tmp_path / "t.nii.gz", small_image())
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(UnreadableImageError) as exc:
        load_volume(path, case="c2")
    assert_names(exc, "c2", path)


def test_not_an_image(tmp_path):
    path = tmp_path / "x.nii.gz"
    path.write_bytes(gzip.compress(b"this is not nifti"))
    with pytest.raises(UnreadableImageError) as exc:
        load_volume(path, case="c3")
    assert_names(exc, "c3", path)


def test_four_d_image(tmp_path):
    path = write_nifti(tmp_path / "f.nii.gz", np.zeros((5, 5, 5, 3), np.float32))
    with pytest.raises(DimensionError) as exc:
        load_volume(path, case="c4")
    assert_names(exc, "c4", path)
    assert "4-D" in str(exc.value)


def test_four_d_with_singleton_is_accepted(tmp_path):
    path = write_nifti(tmp_path / "f.nii.gz", np.zeros((5, 5, 5, 1), np.float32))
    assert load_volume(path).shape == (5, 5, 5)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_voxels(tmp_path, bad):
    data = small_image()
    data[1, 2, 3] = bad
    data[2, 2, 3] = bad
    path = write_nifti(tmp_path / "n.nii.gz", data)
    with pytest.raises(NonFiniteError) as exc:
        load_volume(path, case="c5")
    assert_names(exc, "c5", path)
    assert "2 voxels" in str(exc.value)


def test_singular_affine(tmp_path):
    # nibabel refuses to write a singular affine, so edit the header's sform rows directly.
    header = nib.Nifti1Header()
    header.set_data_dtype(np.float32)
    header["sform_code"] = 1
    header["srow_x"], header["srow_y"], header["srow_z"] = [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]
    path = tmp_path / "s.nii.gz"
    nib.save(nib.Nifti1Image(small_image(), None, header=header), str(path))
    with pytest.raises(AffineError) as exc:
        load_volume(path, case="c6")
    assert_names(exc, "c6", path)


def test_mask_on_other_grid(tmp_path):
    ref = load_volume(write_nifti(tmp_path / "flair.nii.gz", small_image()))
    shifted = np.eye(4)
    shifted[0, 3] = 2.0
    path = write_nifti(tmp_path / "m.nii.gz", small_mask(), shifted)
    with pytest.raises(GridMismatchError) as exc:
        load_mask(path, case="c7", reference=ref)
    assert_names(exc, "c7", path)
    other_shape = write_nifti(tmp_path / "m2.nii.gz", np.zeros((12, 10, 9), np.uint8))
    with pytest.raises(GridMismatchError, match="shape"):
        load_mask(other_shape, case="c7", reference=ref)


def test_mask_within_tolerance_is_same_grid(tmp_path):
    ref = load_volume(write_nifti(tmp_path / "flair.nii.gz", small_image()))
    nudged = np.eye(4)
    nudged[0, 3] = 1e-5
    path = write_nifti(tmp_path / "m.nii.gz", small_mask(), nudged)
    assert load_mask(path, reference=ref).data.sum() == 27


def test_non_binary_mask(tmp_path):
    mask = small_mask() * 255
    path = write_nifti(tmp_path / "m.nii.gz", mask)
    with pytest.raises(NonBinaryMaskError) as exc:
        load_mask(path, case="c8")
    assert_names(exc, "c8", path)
    assert "255" in str(exc.value)
    assert load_mask(path, case="c8", policy="nonzero").data.sum() == 27


def test_probability_map_is_not_binary(tmp_path):
    path = write_nifti(tmp_path / "p.nii.gz", small_mask().astype(np.float32) * 0.7)
    with pytest.raises(NonBinaryMaskError, match="not binary") as exc:
        load_mask(path, case="c9")
    assert exc.value.case == "c9" and exc.value.path == str(path)
    assert str(exc.value).startswith(f"case c9, file {path}: ")
    assert "0.7" in str(exc.value)  # the offending value is shown


def test_save_roundtrip_keeps_grid(tmp_path):
    affine = np.array([[0, 0, 1.2, -10], [-1.0, 0, 0, 20], [0, -1.0, 0, 5], [0, 0, 0, 1]])
    save_volume(tmp_path / "o.nii.gz", small_mask().astype(bool), affine)
    vol = load_mask(tmp_path / "o.nii.gz")
    np.testing.assert_allclose(vol.affine, affine)
    assert vol.data.dtype == bool and vol.data.sum() == 27
