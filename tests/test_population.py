"""Lesion-frequency map: voxel-wise mean of masks, grid checks, and the figure is drawn."""

from __future__ import annotations

import numpy as np
import pytest
from nilearn import datasets

from lesionbench.consensus.population import frequency_map, plot_frequency_map
from lesionbench.errors import GridMismatchError


def test_frequency_is_the_fraction_of_cases():
    a = np.zeros((4, 4, 4), bool)
    b = np.zeros((4, 4, 4), bool)
    a[1, 1, 1] = b[1, 1, 1] = True
    b[2, 2, 2] = True
    freq = frequency_map([a, b, np.zeros_like(a), np.zeros_like(a)])
    assert (
        freq[1, 1, 1] == pytest.approx(0.5)
        and freq[2, 2, 2] == pytest.approx(0.25)
        and freq.sum() == pytest.approx(0.75)
    )


def test_interpolated_fractions_count_from_the_threshold():
    # a mask warped with linear interpolation holds fractions: a thin rim of partial voxels
    # must not count as lesion (hand-worked: only the 0.5 and 1.0 voxels count)
    warped = np.array([[[0.0, 0.1, 0.49, 0.5, 1.0]]], dtype=np.float32)
    assert frequency_map([warped]).tolist() == [[[0.0, 0.0, 0.0, 1.0, 1.0]]]
    assert frequency_map([warped], threshold=0.05).tolist() == [[[0.0, 1.0, 1.0, 1.0, 1.0]]]


def test_masks_on_different_grids_are_rejected():
    with pytest.raises(GridMismatchError):
        frequency_map([np.zeros((4, 4, 4)), np.zeros((4, 4, 5))])


def test_figure_is_written(tmp_path):
    template = datasets.load_mni152_template(resolution=2)
    mask = np.zeros(template.shape, bool)
    mask[40:50, 50:60, 40:45] = True
    plot_frequency_map(
        frequency_map([mask, mask, np.zeros_like(mask)]), template.affine, tmp_path / "f.png", n_cases=3, title="test"
    )
    assert (tmp_path / "f.png").stat().st_size > 10_000
