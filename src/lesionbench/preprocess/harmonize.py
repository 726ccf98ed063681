"""Per-modality intensity harmonization schemes, computed inside the brain mask.

* ``zscore``: ``(x - mean) / sd`` over brain voxels (nnU-Net's MR normalization; MONAI
  ``NormalizeIntensity(nonzero=True)``).
* ``whitestripe``: Shinohara et al., NeuroImage Clin 6:9, 2014. The normal-appearing white-matter
  mode of the smoothed brain histogram is found (T1: the last peak; T2/FLAIR: the largest; PD:
  the first, as in intensity-normalization's ``MODALITY_PEAKS``); the voxels whose quantile lies
  within +-``width`` of the mode's quantile form the stripe, whose mean and SD z-score the image.
* ``nyul``: Nyul & Udupa, MRM 42:1072, 1999 (piecewise-linear standardization). Landmarks =
  brain percentiles ``(p_low, 10, ..., 90, p_high)``; each training image's ``[p_low, p_high]``
  maps linearly onto ``[s_min, s_max]`` and the mapped landmarks are averaged into the standard
  scale. Applying it maps an image's own landmarks to the scale piecewise-linearly,
  extrapolating the end segments. Fitted on the training split only and saved as JSON.
  Same algorithm as ``medpy.filter.IntensityRangeStandardization`` with a fixed ``stdrange``
  (the test uses it as the reference).
* ``histmatch``: SimpleITK ``HistogramMatchingImageFilter`` to one reference image, on brain
  voxels only (1024 levels, 7 match points; the filter's defaults of 256/1 are too coarse).
* ``none``: identity.

Every scheme returns 0 outside the brain mask, so harmonized images share one background value.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage, signal

from ..errors import ConfigError, InputError
from .options import HARMONIZATION_SCHEMES

#: Which histogram peak is normal-appearing white matter, per modality (Shinohara et al. 2014).
WHITESTRIPE_PEAK: dict[str, str] = {"t1": "last", "t1gd": "last", "t2": "largest", "flair": "largest", "pd": "first"}

DEFAULT_NYUL_PERCENTILES: tuple[float, ...] = (1.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 99.0)


class HarmonizationError(InputError):
    kind = "harmonization"


def _brain_values(image: np.ndarray, mask: np.ndarray, case: str | None = None) -> np.ndarray:
    values = np.asarray(image, dtype=np.float64)[np.asarray(mask, dtype=bool)]
    if values.size < 10:
        raise HarmonizationError(f"brain mask holds only {values.size} voxels; cannot harmonize", case=case)
    return values


def _masked(image: np.ndarray, mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.zeros(np.shape(image), dtype=np.float32)
    out[np.asarray(mask, dtype=bool)] = values.astype(np.float32)
    return out


def zscore(image: np.ndarray, mask: np.ndarray, *, case: str | None = None) -> np.ndarray:
    values = _brain_values(image, mask, case)
    sd = float(values.std())
    if sd <= 0:
        raise HarmonizationError("brain intensities are constant; z-score is undefined", case=case)
    return _masked(image, mask, (values - values.mean()) / sd)


@dataclass(frozen=True)
class WhiteStripe:
    mode: float
    mode_quantile: float
    mean: float
    sd: float
    n_voxels: int


def whitestripe_stripe(
    image: np.ndarray,
    mask: np.ndarray,
    modality: str,
    *,
    width: float = 0.05,
    bins: int = 2000,
    case: str | None = None,
) -> WhiteStripe:
    """The white stripe of an image (see module docstring)."""
    values = _brain_values(image, mask, case)
    peak = WHITESTRIPE_PEAK.get(modality)
    if peak is None:
        raise ConfigError(f"WhiteStripe has no white-matter peak rule for modality {modality!r}")
    lo, hi = np.percentile(values, [0.5, 99.5])
    hist, edges = np.histogram(values, bins=bins, range=(lo, hi))
    centres = 0.5 * (edges[:-1] + edges[1:])
    # Smoothing stands in for the original penalised-spline/KDE fit; 1 % of the range keeps
    # tissue modes and removes binning noise.
    smooth = ndimage.gaussian_filter1d(hist.astype(float), sigma=bins / 100.0, mode="nearest")
    peaks, _props = signal.find_peaks(smooth, prominence=0.05 * smooth.max())
    if peaks.size == 0:
        peaks = np.array([int(np.argmax(smooth))])
    if peak == "last":
        chosen = peaks[-1]
    elif peak == "first":
        chosen = peaks[0]
    else:
        chosen = peaks[np.argmax(smooth[peaks])]
    mode = float(centres[chosen])
    q = float(np.mean(values < mode))
    lower, upper = np.quantile(values, [max(q - width, 0.0), min(q + width, 1.0)])
    stripe = values[(values > lower) & (values < upper)]
    if stripe.size < 2 or stripe.std() <= 0:
        raise HarmonizationError("WhiteStripe found no usable white-matter stripe", case=case)
    return WhiteStripe(
        mode=mode, mode_quantile=q, mean=float(stripe.mean()), sd=float(stripe.std()), n_voxels=int(stripe.size)
    )


def whitestripe(
    image: np.ndarray, mask: np.ndarray, modality: str, *, width: float = 0.05, case: str | None = None
) -> np.ndarray:
    ws = whitestripe_stripe(image, mask, modality, width=width, case=case)
    values = _brain_values(image, mask, case)
    return _masked(image, mask, (values - ws.mean) / ws.sd)


@dataclass(frozen=True)
class NyulScale:
    """A fitted Nyul standard scale: ``percentiles`` (landmark percentiles) -> ``standard`` intensities."""

    modality: str
    percentiles: tuple[float, ...]
    standard: tuple[float, ...]
    scale_range: tuple[float, float]
    cases: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        payload = {"method": "Nyul & Udupa 1999 piecewise-linear standardization", **asdict(self)}
        Path(path).write_text(json.dumps(payload, indent=1) + "\n")

    @classmethod
    def from_json(cls, path: str | Path) -> NyulScale:
        try:
            d = json.loads(Path(path).read_text())
            return cls(
                modality=str(d["modality"]),
                percentiles=tuple(float(v) for v in d["percentiles"]),
                standard=tuple(float(v) for v in d["standard"]),
                scale_range=(float(d["scale_range"][0]), float(d["scale_range"][1])),
                cases=tuple(d.get("cases", ())),
            )
        except FileNotFoundError:
            raise HarmonizationError(
                "Nyul standard scale file does not exist (fit it on the training split first)", path=path
            ) from None
        except (KeyError, ValueError, TypeError, json.JSONDecodeError) as exc:
            raise HarmonizationError(
                f"not a Nyul standard scale file ({type(exc).__name__}: {exc})", path=path
            ) from exc


def _landmarks(values: np.ndarray, percentiles: Sequence[float], case: str | None) -> np.ndarray:
    marks = np.percentile(values, list(percentiles))
    if np.any(np.diff(marks) <= 0):
        raise HarmonizationError(
            "Nyul landmarks are not strictly increasing (many voxels share one intensity; is the background masked out?)",
            case=case,
        )
    return marks


def fit_nyul(
    images: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    *,
    modality: str,
    percentiles: Sequence[float] = DEFAULT_NYUL_PERCENTILES,
    scale_range: tuple[float, float] = (1.0, 100.0),
    cases: Sequence[str] | None = None,
) -> NyulScale:
    """Average standard scale of the training images (one image per case of the training split)."""
    if len(images) == 0:
        raise ConfigError(f"Nyul standardization of {modality} needs at least one training image")
    if len(images) != len(masks):
        raise ValueError("images and masks differ in number")
    pct = [float(p) for p in percentiles]
    if any(b <= a for a, b in itertools.pairwise(pct)) or pct[0] < 0 or pct[-1] > 100:
        raise ConfigError(f"Nyul percentiles must increase within [0, 100], not {pct}")
    s_min, s_max = float(scale_range[0]), float(scale_range[1])
    mapped = []
    names: list[str | None] = list(cases) if cases is not None else [None] * len(images)
    for image, mask, name in zip(images, masks, names):
        marks = _landmarks(_brain_values(image, mask, name), pct, name)
        mapped.append(s_min + (marks - marks[0]) * (s_max - s_min) / (marks[-1] - marks[0]))
    standard = np.mean(mapped, axis=0)
    return NyulScale(
        modality=modality,
        percentiles=tuple(pct),
        standard=tuple(float(v) for v in standard),
        scale_range=(s_min, s_max),
        cases=tuple(str(c) for c in cases) if cases is not None else (),
    )


def apply_nyul(image: np.ndarray, mask: np.ndarray, scale: NyulScale, *, case: str | None = None) -> np.ndarray:
    values = _brain_values(image, mask, case)
    marks = _landmarks(values, scale.percentiles, case)
    std = np.asarray(scale.standard)
    out = np.interp(values, marks, std)
    # np.interp clamps; Nyul extrapolates the first and last segments linearly.
    low = values < marks[0]
    high = values > marks[-1]
    out[low] = std[0] + (values[low] - marks[0]) * (std[1] - std[0]) / (marks[1] - marks[0])
    out[high] = std[-1] + (values[high] - marks[-1]) * (std[-1] - std[-2]) / (marks[-1] - marks[-2])
    return _masked(image, mask, out)


def histogram_match(
    image: np.ndarray,
    mask: np.ndarray,
    reference: np.ndarray,
    reference_mask: np.ndarray,
    *,
    levels: int = 1024,
    match_points: int = 7,
    case: str | None = None,
) -> np.ndarray:
    """Match the brain histogram of ``image`` to that of ``reference`` (SimpleITK)."""
    import SimpleITK as sitk

    values = _brain_values(image, mask, case)
    ref = _brain_values(reference, reference_mask, case)
    # Brain voxels only, as 1-voxel-wide 2-D images: the filter's histograms then ignore the
    # background without relying on its threshold-at-mean heuristic.
    src = sitk.GetImageFromArray(values.astype(np.float32)[:, None])
    dst = sitk.GetImageFromArray(ref.astype(np.float32)[:, None])
    f = sitk.HistogramMatchingImageFilter()
    f.SetNumberOfHistogramLevels(int(levels))
    f.SetNumberOfMatchPoints(int(match_points))
    f.SetThresholdAtMeanIntensity(False)
    matched = sitk.GetArrayFromImage(f.Execute(src, dst))[:, 0]
    return _masked(image, mask, matched)


def harmonize(
    scheme: str,
    image: np.ndarray,
    mask: np.ndarray,
    *,
    modality: str,
    nyul_scale: NyulScale | None = None,
    reference: tuple[np.ndarray, np.ndarray] | None = None,
    whitestripe_width: float = 0.05,
    case: str | None = None,
) -> np.ndarray:
    """Dispatch one scheme (see :data:`.options.HARMONIZATION_SCHEMES`)."""
    if scheme == "zscore":
        return zscore(image, mask, case=case)
    if scheme == "whitestripe":
        return whitestripe(image, mask, modality, width=whitestripe_width, case=case)
    if scheme == "nyul":
        if nyul_scale is None:
            raise ConfigError("the nyul scheme needs a fitted standard scale")
        if nyul_scale.modality != modality:
            raise ConfigError(f"Nyul scale is for {nyul_scale.modality}, not {modality}")
        return apply_nyul(image, mask, nyul_scale, case=case)
    if scheme == "histmatch":
        if reference is None:
            raise ConfigError("the histmatch scheme needs a reference image and mask")
        return histogram_match(image, mask, reference[0], reference[1], case=case)
    if scheme == "none":
        return _masked(image, mask, _brain_values(image, mask, case))
    raise ConfigError(f"unknown harmonization scheme {scheme!r}; choose from {', '.join(HARMONIZATION_SCHEMES)}")
