"""lesionbench.metrics against independent references: medpy 0.5.2, MONAI 1.6.1, scipy, SimpleITK.

Random (reference, prediction) pairs of ellipsoids, irregular blobs, touching lesions and lesions
cut by the image edge, on isotropic and anisotropic grids. Volumes are small (< 50^3) to keep the
file fast on a shared 2-core machine.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from lesionbench.metrics import border_mask, compute_metrics, lesion_labels

medpy_binary = pytest.importorskip("medpy.metric.binary")
torch = pytest.importorskip("torch")
monai_metrics = pytest.importorskip("monai.metrics")

SHAPE = (38, 42, 30)
SPACINGS = [(1.0, 1.0, 1.0), (1.0, 1.0, 3.0), (0.5, 0.8, 1.2), (3.0, 0.9, 0.9)]
KINDS = ["ellipsoids", "blobs", "touching", "edge"]


def _ellipsoid(shape, centre, radii) -> np.ndarray:
    grids = np.ogrid[tuple(slice(0, s) for s in shape)]
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grids, centre, radii)) <= 1.0


def _ellipsoids(rng: np.random.Generator, shape, n: int, margin: int = 3) -> np.ndarray:
    out = np.zeros(shape, dtype=bool)
    for _ in range(n):
        radii = rng.uniform(1.0, 5.0, size=3)
        centre = [rng.uniform(margin, s - 1 - margin) for s in shape]
        out |= _ellipsoid(shape, centre, radii)
    return out


def _blobs(rng: np.random.Generator, shape) -> np.ndarray:
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=2.0)
    return noise > np.quantile(noise, 0.95)


def _perturb(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """A plausible prediction: shifted, randomly dilated or eroded, with some lesions added/removed."""
    shift = rng.integers(-1, 2, size=3)
    pred = np.roll(mask, shift=tuple(shift), axis=(0, 1, 2))
    op = rng.integers(0, 3)
    if op == 1:
        pred = ndimage.binary_dilation(pred)
    elif op == 2:
        pred = ndimage.binary_erosion(pred) | (pred & (rng.random(mask.shape) < 0.3))
    labels, n = ndimage.label(pred)
    if n > 1:
        pred &= labels != rng.integers(1, n + 1)  # drop one lesion (false negative)
    pred |= _ellipsoids(rng, mask.shape, 2)  # add lesions (false positives)
    return pred


def make_pair(kind: str, seed: int, shape=SHAPE) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "ellipsoids":
        ref = _ellipsoids(rng, shape, 6)
    elif kind == "blobs":
        ref = _blobs(rng, shape)
    elif kind == "touching":
        ref = np.zeros(shape, dtype=bool)
        for _ in range(3):
            c = np.array([rng.uniform(8, s - 8) for s in shape])
            ref |= _ellipsoid(shape, c, (3, 3, 3))
            ref |= _ellipsoid(shape, c + np.array([5.5, 0, 0]), (2.5, 3, 2))  # touches/overlaps the first
    elif kind == "edge":
        ref = _ellipsoids(rng, shape, 4, margin=-2)  # centres may sit outside: lesions cut by the edge
        ref[0, 5:12, 5:12] = True
        ref[:, -1, :4] = True
    else:  # pragma: no cover
        raise ValueError(kind)
    pred = _perturb(rng, ref)
    if kind == "edge":
        pred[-1, 20:30, 3:9] = True
    assert ref.any() and pred.any()
    return ref, pred


def _onehot(mask: np.ndarray):
    return torch.from_numpy(np.ascontiguousarray(mask)[None, None].astype(np.float32))


def _monai(fn, pred, ref, **kw) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(fn(_onehot(pred), _onehot(ref), include_background=True, **kw)[0, 0])


CASES = [(kind, seed, sp) for kind in KINDS for seed in range(3) for sp in SPACINGS[seed : seed + 2]]


@pytest.mark.parametrize(("kind", "seed", "spacing"), CASES)
def test_against_medpy_and_monai(kind, seed, spacing):
    ref, pred = make_pair(kind, seed)
    res = compute_metrics(ref, pred, spacing, nsd_tolerance_mm=2.0)

    # voxel overlap: plain counts
    inter, n_r, n_p = int((ref & pred).sum()), int(ref.sum()), int(pred.sum())
    assert res.dice == pytest.approx(2 * inter / (n_r + n_p), rel=1e-12)
    assert res.jaccard == pytest.approx(inter / (n_r + n_p - inter), rel=1e-12)
    assert res.sensitivity == pytest.approx(inter / n_r, rel=1e-12)
    assert res.precision == pytest.approx(inter / n_p, rel=1e-12)
    assert res.dice == pytest.approx(medpy_binary.dc(pred, ref), rel=1e-12)

    # medpy: pooled percentile and pooled mean; asd (directed mean) for MASD
    assert res.hausdorff95_pooled_mm == pytest.approx(medpy_binary.hd95(pred, ref, voxelspacing=spacing), rel=1e-9)
    assert res.assd_mm == pytest.approx(medpy_binary.assd(pred, ref, voxelspacing=spacing), rel=1e-9)
    masd = 0.5 * (medpy_binary.asd(pred, ref, voxelspacing=spacing) + medpy_binary.asd(ref, pred, voxelspacing=spacing))
    assert res.masd_mm == pytest.approx(masd, rel=1e-9)
    assert res.hausdorff_mm == pytest.approx(medpy_binary.hd(pred, ref, voxelspacing=spacing), rel=1e-9)

    # MONAI: max of directed percentiles, max, NSD, symmetric ASD (float32 inside MONAI)
    sp = list(spacing)
    assert res.hausdorff95_mm == pytest.approx(
        _monai(monai_metrics.compute_hausdorff_distance, pred, ref, percentile=95, spacing=sp), rel=1e-5
    )
    assert res.hausdorff_mm == pytest.approx(
        _monai(monai_metrics.compute_hausdorff_distance, pred, ref, spacing=sp), rel=1e-5
    )
    assert res.nsd == pytest.approx(
        _monai(monai_metrics.compute_surface_dice, pred, ref, class_thresholds=[2.0], spacing=sp), abs=1e-6
    )
    assert res.assd_mm == pytest.approx(
        _monai(monai_metrics.compute_average_surface_distance, pred, ref, symmetric=True, spacing=sp), rel=1e-5
    )


@pytest.mark.parametrize("tolerance", [0.0, 1.0, 1.5, 3.0])
def test_nsd_tolerances_match_monai(tolerance):
    ref, pred = make_pair("blobs", 11)
    res = compute_metrics(ref, pred, (1.0, 1.0, 3.0), nsd_tolerance_mm=tolerance)
    expected = _monai(monai_metrics.compute_surface_dice, pred, ref, class_thresholds=[tolerance], spacing=[1, 1, 3])
    assert res.nsd == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(("kind", "seed"), [(k, s) for k in KINDS for s in range(2)])
def test_border_matches_scipy_erosion_and_itk_contour(kind, seed):
    ref, _ = make_pair(kind, seed)
    cross = ndimage.generate_binary_structure(3, 1)
    # default: outside the image is background, as medpy/MONAI (scipy border_value=0)
    expected = ref & ~ndimage.binary_erosion(ref, cross, border_value=0)
    assert np.array_equal(border_mask(ref), expected)
    # ITK / Anima convention: outside the image is not background
    itk = sitk.BinaryContour(
        sitk.GetImageFromArray(ref.astype(np.uint8)), fullyConnected=False, backgroundValue=0, foregroundValue=1
    )
    expected_itk = sitk.GetArrayFromImage(itk).astype(bool)
    assert np.array_equal(border_mask(ref, edge_is_background=False), expected_itk)
    assert np.array_equal(expected_itk, ref & ~ndimage.binary_erosion(ref, cross, border_value=1))


@pytest.mark.parametrize(("kind", "seed"), [(k, s) for k in KINDS for s in range(2)])
def test_lesions_match_scipy_and_simpleitk(kind, seed):
    _, pred = make_pair(kind, seed)  # predictions have more, and smaller, components
    labels, n = lesion_labels(pred)
    expected, n_expected = ndimage.label(pred)  # default structure = 6-connectivity in 3-D
    assert n == n_expected
    assert np.array_equal(labels, expected)  # same numbering: raster order of the first voxel
    cc = sitk.ConnectedComponent(sitk.GetImageFromArray(pred.astype(np.uint8)), False)
    for n_min in (1, 4, 20):
        kept = sitk.RelabelComponent(cc, minimumObjectSize=n_min)
        n_itk = int(sitk.GetArrayFromImage(kept).max())
        sizes = np.bincount(labels.ravel())[1:]
        assert int((sizes >= n_min).sum()) == n_itk
    # kept-lesion count reported by the engine (1 mm: n_min = 4)
    res = compute_metrics(pred, pred, (1.0, 1.0, 1.0))
    assert res.n_reference_lesions == int(sitk.GetArrayFromImage(sitk.RelabelComponent(cc, minimumObjectSize=4)).max())


def test_image_edge_convention_is_explicit():
    """At the image edge the two border conventions differ; elsewhere they agree."""
    shape = (20, 20, 20)
    ref = np.zeros(shape, dtype=bool)
    ref[0:6, 5:12, 5:12] = True  # touches the x = 0 face
    pred = np.zeros(shape, dtype=bool)
    pred[0:8, 5:12, 5:12] = True
    bg = compute_metrics(ref, pred, (1, 1, 1))
    fg = compute_metrics(ref, pred, (1, 1, 1), edge_is_background=False)
    # medpy treats the x = 0 face as border: our default matches it, the ITK convention does not
    assert bg.assd_mm == pytest.approx(medpy_binary.assd(pred, ref))
    assert fg.assd_mm != pytest.approx(medpy_binary.assd(pred, ref))
    # with the face excluded, only the far faces (2 voxels apart) and the shifted rims remain
    assert fg.hausdorff_mm == pytest.approx(2.0)
    # same lesions moved off the edge: conventions agree
    ref2, pred2 = np.roll(ref, 3, axis=0), np.roll(pred, 3, axis=0)
    a = compute_metrics(ref2, pred2, (1, 1, 1)).as_dict()
    b = compute_metrics(ref2, pred2, (1, 1, 1), edge_is_background=False).as_dict()
    assert a == b


def test_anisotropic_spacing_axis_order():
    """Spacing is per array axis: a shift along axis 2 costs spacing[2] mm."""
    ref = np.zeros((12, 12, 12), dtype=bool)
    ref[3:8, 3:8, 3:8] = True
    pred = np.roll(ref, 1, axis=2)
    res = compute_metrics(ref, pred, (1.0, 1.0, 3.0))
    assert res.hausdorff_mm == pytest.approx(3.0)
    res = compute_metrics(ref, pred, (3.0, 1.0, 1.0))
    assert res.hausdorff_mm == pytest.approx(1.0)
