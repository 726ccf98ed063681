"""Closed-form MR signal equations used to turn tissue parameters into image contrast.

Magnitude signals, proportional to PD, for one voxel of a pure tissue (partial-volume mixing is
done by the caller, BrainWeb style: Kwan, Evans & Pike, IEEE TMI 18:1085, 1999):

* spin echo / TSE: ``PD (1 - exp(-TR/T1)) exp(-TE/T2)`` (T2w and PDw dual echo);
* FLAIR (inversion-recovery TSE, magnitude): ``PD |1 - 2 exp(-TI/T1) + exp(-TR/T1)| exp(-TE/T2)``;
* spoiled GRE (FLASH/SPGR): ``PD sin a (1 - E1) / (1 - cos a E1) exp(-TE/T2*)``, ``E1 = exp(-TR/T1)``;
* MPRAGE: longitudinal magnetisation in the periodic steady state of the inversion / free
  recovery / RF-train / recovery cycle, read at the k-space centre echo (Deichmann et al.,
  NeuroImage 12:112, 2000). Each segment is affine in the starting magnetisation, so the
  steady state is the fixed point of one affine map and is solved exactly.

All functions broadcast over numpy arrays of PD, T1, T2 (ms).
"""

from __future__ import annotations

import numpy as np

from .protocols import DualEchoParams, FlairParams, T1Params


def spin_echo(pd: np.ndarray, t1: np.ndarray, t2: np.ndarray, tr: float, te: float) -> np.ndarray:
    pd, t1, t2 = np.asarray(pd), np.asarray(t1), np.asarray(t2)
    return pd * (1.0 - np.exp(-tr / t1)) * np.exp(-te / t2)


def flair(pd: np.ndarray, t1: np.ndarray, t2: np.ndarray, params: FlairParams) -> np.ndarray:
    pd, t1, t2 = np.asarray(pd), np.asarray(t1), np.asarray(t2)
    longitudinal = 1.0 - 2.0 * np.exp(-params.ti / t1) + np.exp(-params.tr / t1)
    return pd * np.abs(longitudinal) * np.exp(-params.te / t2)


def csf_null_ti(t1_csf: float, tr: float) -> float:
    """Inversion time that nulls a tissue of longitudinal relaxation ``t1_csf`` at repetition ``tr``."""
    return float(t1_csf * (np.log(2.0) - np.log1p(np.exp(-tr / t1_csf))))


def spoiled_gre(pd: np.ndarray, t1: np.ndarray, t2s: np.ndarray, tr: float, te: float, flip_deg: float) -> np.ndarray:
    pd, t1, t2s = np.asarray(pd), np.asarray(t1), np.asarray(t2s)
    alpha = np.deg2rad(flip_deg)
    e1 = np.exp(-tr / t1)
    return pd * np.sin(alpha) * (1.0 - e1) / (1.0 - np.cos(alpha) * e1) * np.exp(-te / t2s)


def mprage(
    pd: np.ndarray,
    t1: np.ndarray,
    t2s: np.ndarray,
    params: T1Params,
    inversion_efficiency: float = 0.96,
) -> np.ndarray:
    """Steady-state MPRAGE signal at the centre echo (linear phase-encode order)."""
    pd, t1, t2s = np.asarray(pd, dtype=float), np.asarray(t1, dtype=float), np.asarray(t2s, dtype=float)
    n = int(params.n_readout)
    centre = n // 2
    tau = params.echo_spacing
    t_before = params.ti - centre * tau
    t_after = params.tr - t_before - n * tau
    if t_before < 0 or t_after < 0:
        raise ValueError("MPRAGE timing impossible: TI/TR too short for the readout train")
    alpha = np.deg2rad(params.flip_deg)
    e_tau = np.exp(-tau / t1)
    q = np.cos(alpha) * e_tau
    # Mz under repeated pulses relaxes geometrically towards m_train (M0 = 1 here; PD scales at the end).
    m_train = (1.0 - e_tau) / (1.0 - q)

    def recover(m: np.ndarray, t: float) -> np.ndarray:
        return 1.0 - (1.0 - m) * np.exp(-t / t1)

    def one_cycle(m_start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = recover(-inversion_efficiency * m_start, t_before)
        m_centre = m_train + (m - m_train) * q**centre
        m_end = m_train + (m - m_train) * q**n
        return recover(m_end, t_after), m_centre

    # The cycle is affine in the starting Mz: f(m) = f(0) + slope*m; its fixed point is the steady state.
    f0, _ = one_cycle(np.zeros_like(t1))
    f1, _ = one_cycle(np.ones_like(t1))
    steady = f0 / (1.0 - (f1 - f0))
    _, m_centre = one_cycle(steady)
    return pd * np.sin(alpha) * np.abs(m_centre) * np.exp(-params.te / t2s)


def t1_weighted(pd: np.ndarray, t1: np.ndarray, t2s: np.ndarray, params: T1Params) -> np.ndarray:
    if params.kind == "mprage":
        return mprage(pd, t1, t2s, params)
    return spoiled_gre(pd, t1, t2s, params.tr, params.te, params.flip_deg)


def modality_signal(
    modality: str,
    pd: np.ndarray,
    t1: np.ndarray,
    t2: np.ndarray,
    t2s: np.ndarray,
    flair_params: FlairParams,
    t1_params: T1Params,
    dual_echo: DualEchoParams,
) -> np.ndarray:
    """Signal of one of ``flair``, ``t1``, ``t2``, ``pd`` for tissue parameter arrays."""
    if modality == "flair":
        return flair(pd, t1, t2, flair_params)
    if modality == "t1":
        return t1_weighted(pd, t1, t2s, t1_params)
    if modality == "t2":
        return spin_echo(pd, t1, t2, dual_echo.tr, dual_echo.te_t2)
    if modality == "pd":
        return spin_echo(pd, t1, t2, dual_echo.tr, dual_echo.te_pd)
    raise ValueError(f"unknown modality {modality!r}")
