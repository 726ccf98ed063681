"""Per-center scanner protocols and per-field tissue relaxation values of the synthetic cohort.

The four centers mirror MS-SEG 2016 (Commowick et al., Sci Rep 8:13650, 2018): 01 Siemens
Verio 3 T, 03 GE Discovery 3 T (test split only), 07 Siemens Aera 1.5 T, 08 Philips Ingenia 3 T,
all on the OFSEP protocol (3-D sagittal FLAIR and T1, 2-D axial dual-echo T2/PD). The exact
MS-SEG sequence table was not available, so the parameters below are typical values for these
vendors from MS protocol guides (MS-SMART, BMJ Open Table 4; Mills et al., BJR 80:307, 2007;
CBU MPRAGE), listed per sequence in ``docs/synthetic-cohort.md`` ("Centres and scanners").

Relaxation values: BrainWeb PD, in-vivo T1/T2 from Stanisz 2005
(1.5 T) and Wansapura 1999 / Stanisz 2005 (3 T); CSF T1 is about field independent. Center 03
is made the hardest site on purpose (spoiled-GRE T1 with weak contrast, the strongest bias field,
the lowest SNR, coarsest voxels), as the unseen GE center was in the challenge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: Array-axis orientation codes (nibabel convention: the anatomical direction each array
#: axis increases towards).
AxCodes = tuple[str, str, str]


@dataclass(frozen=True)
class Tissue:
    """Proton density (relative to water) and relaxation times (ms) of one tissue."""

    pd: float
    t1: float
    t2: float
    t2s: float


#: Normal tissues per field strength (T).
RELAXATION: dict[float, dict[str, Tissue]] = {
    1.5: {
        "csf": Tissue(pd=1.00, t1=3800.0, t2=1200.0, t2s=400.0),
        "gm": Tissue(pd=0.86, t1=1150.0, t2=95.0, t2s=60.0),
        "wm": Tissue(pd=0.77, t1=720.0, t2=75.0, t2s=55.0),
    },
    3.0: {
        "csf": Tissue(pd=1.00, t1=4200.0, t2=900.0, t2s=300.0),
        "gm": Tissue(pd=0.86, t1=1450.0, t2=100.0, t2s=48.0),
        "wm": Tissue(pd=0.77, t1=900.0, t2=72.0, t2s=42.0),
    },
}

TISSUES: tuple[str, ...] = ("csf", "gm", "wm")


@dataclass(frozen=True)
class FlairParams:
    """Inversion-recovery TSE; ``te`` is the equivalent TE of a variable-flip 3-D readout."""

    tr: float
    te: float
    ti: float


@dataclass(frozen=True)
class T1Params:
    """MPRAGE/TFE (``kind='mprage'``: ``tr`` = shot interval, ``ti`` = inversion to k-space centre,
    ``n_readout`` pulses spaced ``echo_spacing``) or spoiled GRE (``kind='spgr'``: ``tr`` per pulse)."""

    kind: Literal["mprage", "spgr"]
    tr: float
    te: float
    flip_deg: float
    ti: float = 0.0
    echo_spacing: float = 0.0
    n_readout: int = 0


@dataclass(frozen=True)
class DualEchoParams:
    """2-D dual-echo (T)SE: PD at ``te_pd``, T2 at ``te_t2``, same TR and slices."""

    tr: float
    te_pd: float
    te_t2: float


@dataclass(frozen=True)
class ImageFormat:
    """How the scanner's converter stores an image.

    ``dtype`` is the on-disk type; ``scaled`` stores float data in that integer type with a
    header slope/intercept (Philips-style rescaling); ``wm_level`` is the stored value of
    normal white matter before bias and noise (vendor-specific intensity scale).
    """

    dtype: str
    scaled: bool
    wm_level: dict[str, float]


@dataclass(frozen=True)
class CenterProtocol:
    center: str
    flair: FlairParams
    t1: T1Params
    dual_echo: DualEchoParams
    #: Rician noise SD per modality as a fraction of the white-matter signal.
    noise: float
    #: Peak-to-peak log-range of the multiplicative bias field over the field of view.
    bias: float
    #: 3-D voxel (in-plane, slice) and 2-D voxel (in-plane, slice) relative to the preset's sizes.
    voxel_3d: tuple[float, float]
    voxel_2d: tuple[float, float]
    axcodes_3d: AxCodes
    axcodes_2d: AxCodes
    image_format: ImageFormat
    #: Scanner-frame position (mm) of the head centre: where the table puts the head.
    head_position_mm: tuple[float, float, float] = field(default=(0.0, 0.0, 0.0))
    #: Fraction of the k-space extent acquired along the phase-encode axes (the rest zero-filled,
    #: hence Gibbs ringing): 3-D series along AP and LR, the 2-D series along AP.
    phase_resolution_3d: float = 1.0
    phase_resolution_2d: float = 1.0
    #: FWHM of the 2-D slice profile relative to the nominal slice thickness.
    slice_profile_2d: float = 1.0
    #: Peak-to-peak log-range over the brain of the transmit (B1) central brightening.
    b1_log_range: float = 0.0


_WM_LEVEL_SIEMENS = {"flair": 300.0, "t1": 700.0, "t2": 250.0, "pd": 900.0}

CENTER_PROTOCOLS: dict[str, CenterProtocol] = {
    "01": CenterProtocol(
        center="01",
        flair=FlairParams(tr=5000.0, te=120.0, ti=1800.0),
        t1=T1Params(kind="mprage", tr=2300.0, te=2.98, flip_deg=9.0, ti=900.0, echo_spacing=7.0, n_readout=176),
        dual_echo=DualEchoParams(tr=3500.0, te_pd=12.0, te_t2=95.0),
        noise=0.025,
        bias=0.30,
        voxel_3d=(1.0, 1.0),
        voxel_2d=(1.0, 1.0),
        axcodes_3d=("P", "I", "R"),
        axcodes_2d=("L", "P", "S"),
        image_format=ImageFormat(dtype="int16", scaled=False, wm_level=_WM_LEVEL_SIEMENS),
        head_position_mm=(1.5, -12.0, 22.0),
        phase_resolution_3d=0.9,
        phase_resolution_2d=0.8,
        slice_profile_2d=1.2,
        b1_log_range=0.2,
    ),
    "07": CenterProtocol(
        center="07",
        flair=FlairParams(tr=5000.0, te=115.0, ti=1700.0),
        t1=T1Params(kind="mprage", tr=2000.0, te=3.1, flip_deg=8.0, ti=1000.0, echo_spacing=7.0, n_readout=160),
        dual_echo=DualEchoParams(tr=3000.0, te_pd=11.0, te_t2=90.0),
        noise=0.032,
        bias=0.25,
        voxel_3d=(1.0, 1.15),
        voxel_2d=(1.0, 1.0),
        axcodes_3d=("P", "I", "R"),
        axcodes_2d=("L", "P", "S"),
        image_format=ImageFormat(
            dtype="int16", scaled=False, wm_level={k: 0.8 * v for k, v in _WM_LEVEL_SIEMENS.items()}
        ),
        head_position_mm=(-2.0, 8.0, -35.0),
        phase_resolution_3d=0.9,
        phase_resolution_2d=0.75,
        slice_profile_2d=1.25,
        b1_log_range=0.06,
    ),
    "08": CenterProtocol(
        center="08",
        flair=FlairParams(tr=4800.0, te=125.0, ti=1700.0),
        t1=T1Params(kind="mprage", tr=2400.0, te=3.7, flip_deg=8.0, ti=900.0, echo_spacing=8.0, n_readout=150),
        dual_echo=DualEchoParams(tr=3200.0, te_pd=15.0, te_t2=100.0),
        noise=0.028,
        bias=0.35,
        voxel_3d=(0.95, 1.05),
        voxel_2d=(0.95, 1.0),
        axcodes_3d=("R", "A", "S"),
        axcodes_2d=("R", "A", "S"),
        image_format=ImageFormat(
            dtype="uint16", scaled=True, wm_level={"flair": 1.35, "t1": 2.1, "t2": 0.9, "pd": 2.6}
        ),
        head_position_mm=(0.0, 25.0, 10.0),
        phase_resolution_3d=0.85,
        phase_resolution_2d=0.8,
        slice_profile_2d=1.2,
        b1_log_range=0.2,
    ),
    "03": CenterProtocol(
        center="03",
        flair=FlairParams(tr=6000.0, te=130.0, ti=1950.0),
        t1=T1Params(kind="spgr", tr=8.0, te=3.2, flip_deg=12.0),
        dual_echo=DualEchoParams(tr=4000.0, te_pd=20.0, te_t2=105.0),
        noise=0.060,
        bias=0.60,
        voxel_3d=(1.05, 1.2),
        voxel_2d=(1.05, 1.1),
        axcodes_3d=("A", "S", "R"),
        axcodes_2d=("R", "P", "S"),
        image_format=ImageFormat(
            dtype="float32", scaled=False, wm_level={"flair": 1100.0, "t1": 1500.0, "t2": 600.0, "pd": 1800.0}
        ),
        head_position_mm=(-4.0, -30.0, 5.0),
        phase_resolution_3d=0.85,
        phase_resolution_2d=0.7,
        slice_profile_2d=1.35,
        b1_log_range=0.25,
    ),
}
