"""The workflow's ``consensus`` settings: which fusions run, with which options.

:class:`ConsensusOptions` holds the config section's fusion settings (regions, thresholds, the
MAP-STAPLE and LOP-STAPLE options, the empty-consensus guard's policy), :func:`workflow_methods`
the fusions a run computes and :func:`method_params` the keyword arguments each one gets from
:func:`.fusion.fuse`. Standard library only: the workflow reads these when it is parsed, which
happens once per cluster job, so this module must not pull in numpy or scipy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from ..errors import ConfigError
from .options import DEFAULT_REFERENCE, MAP_MODE_NAMES, METHODS, REGIONS, SHIPPED_REFERENCE

#: Failure policies of the empty-consensus guard (config ``on_failure.consensus``).
ON_FAILURE: tuple[str, ...] = ("stop", "flag")
LOP_WEIGHTS: tuple[str, ...] = ("local-agreement", "uniform")


@dataclass(frozen=True)
class MapStapleOptions:
    """MAP-STAPLE settings; the defaults are those of Anima's ``animaMultiThreadedSTAPLE``
    command line (``-d 0.99 -a 5 -b 1.5 -w 0.5 -t 1e-8 -i 100 -D``)."""

    init: float = 0.99
    alpha: float = 5.0
    beta: float = 1.5
    weight: float = 0.5
    tolerance: float = 1e-8
    max_iterations: int = 100
    mode: str = "diag"


@dataclass(frozen=True)
class LopOptions:
    """LOP-STAPLE settings: ``weights`` ``local-agreement`` (each rater's agreement with the
    others in a window, :func:`lesionbench.consensus.agreement_weights`) or ``uniform`` (one equal
    weight per rater: the renormalized pool then gives STAPLE's consensus on the same region);
    ``window``: half-size (voxels) of those windows and of local-lop-staple's (2: 5x5x5, CRKit's
    ``crlLocalLOPSTAPLE`` default)."""

    weights: str = "local-agreement"
    window: int = 2


@dataclass(frozen=True)
class ConsensusOptions:
    """The workflow's ``consensus`` settings that shape a fusion (see ``config/README.md``):
    ``posterior_threshold`` binarizes the STAPLE family, ``majority_threshold`` the vote;
    ``on_failure`` is the guard's policy (config ``on_failure.consensus``)."""

    region: str = "union"
    region_dilation: int = 2
    regions: Mapping[str, str] = field(default_factory=dict)
    posterior_threshold: float = 0.5
    majority_threshold: float = 0.5
    map_staple: MapStapleOptions = field(default_factory=MapStapleOptions)
    lop: LopOptions = field(default_factory=LopOptions)
    on_failure: str = "stop"

    def __post_init__(self) -> None:
        for method, kind in {"(all)": self.region, **dict(self.regions)}.items():
            if kind not in REGIONS:
                raise ConfigError(f"consensus region of {method}: {kind!r} is not one of {', '.join(REGIONS)}")
        unknown = sorted(set(self.regions) - set(METHODS))
        if unknown:
            raise ConfigError(f"consensus.regions names unknown method(s) {unknown}; known: {', '.join(METHODS)}")
        if int(self.region_dilation) < 0:
            raise ConfigError(f"consensus.region_dilation must be >= 0 voxels; got {self.region_dilation}")
        if self.on_failure not in ON_FAILURE:
            raise ConfigError(f"on_failure.consensus must be one of {', '.join(ON_FAILURE)}; got {self.on_failure!r}")
        if self.map_staple.mode not in MAP_MODE_NAMES:
            raise ConfigError(
                f"consensus.map_staple.mode must be one of {', '.join(MAP_MODE_NAMES)}; got {self.map_staple.mode!r}"
            )
        if self.lop.weights not in LOP_WEIGHTS:
            raise ConfigError(
                f"consensus.lop.weights must be one of {', '.join(LOP_WEIGHTS)}; got {self.lop.weights!r}"
            )

    def region_of(self, method: str) -> str:
        """The computation region of ``method`` (its entry in ``regions``, else ``region``)."""
        return str(self.regions.get(method, self.region))

    @classmethod
    def from_config(cls, section: Mapping[str, Any], *, on_failure: str = "stop") -> ConsensusOptions:
        """Options from the workflow's ``consensus`` config section (keys it does not know, such
        as ``methods`` and ``reference``, are ignored) and the guard's ``on_failure`` policy (the
        config's ``on_failure.consensus``)."""
        known = {f.name for f in fields(cls)} - {"on_failure"}
        kwargs: dict[str, Any] = {k: v for k, v in section.items() if k in known}
        kwargs["on_failure"] = on_failure
        if "map_staple" in kwargs:
            kwargs["map_staple"] = MapStapleOptions(**dict(kwargs["map_staple"]))
        if "lop" in kwargs:
            kwargs["lop"] = LopOptions(**dict(kwargs["lop"]))
        if "regions" in kwargs:
            kwargs["regions"] = dict(kwargs["regions"] or {})
        return cls(**kwargs)


def check_methods(methods: Sequence[str]) -> list[str]:
    """``methods`` as a list, or a :class:`ConfigError` naming the unknown one(s)."""
    methods = list(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ConfigError(f"unknown consensus method(s) {unknown}; choose among {', '.join(METHODS)}")
    if not methods:
        raise ConfigError("consensus.methods is empty: name at least one fusion method")
    return methods


def workflow_methods(section: Mapping[str, Any]) -> list[str]:
    """The fusions the workflow computes: ``methods`` plus ``reference`` when it is not listed;
    none when the reference is the dataset's shipped consensus (``reference: shipped``: the
    raters are then scored against it and against each other, never fused). Checks the names and
    the options (a bad config fails when the workflow is parsed)."""
    methods = check_methods(section.get("methods", METHODS))
    reference = str(section.get("reference", DEFAULT_REFERENCE))
    ConsensusOptions.from_config(section)
    if reference == SHIPPED_REFERENCE:
        return []
    if reference not in METHODS:
        raise ConfigError(
            f"unknown consensus.reference {reference!r}; choose among {', '.join(METHODS)} or {SHIPPED_REFERENCE!r}"
        )
    return methods + ([reference] if reference not in methods else [])


def needs_brain_mask(methods: Sequence[str], options: ConsensusOptions) -> bool:
    """True when one of ``methods`` runs in the ``brain`` region (the workflow then waits for
    the preprocessing brain mask; otherwise consensus does not depend on preprocessing)."""
    return any(options.region_of(m) == "brain" for m in methods)


def method_params(method: str, options: ConsensusOptions) -> dict[str, Any]:
    """Keyword arguments of :func:`lesionbench.consensus.fuse` for ``method`` (besides votes,
    region and case)."""
    if method == "majority":
        return {"threshold": float(options.majority_threshold)}
    params: dict[str, Any] = {"threshold": float(options.posterior_threshold)}
    if method == "map-staple":
        m = options.map_staple
        params.update(
            init=float(m.init),
            alpha=float(m.alpha),
            beta=float(m.beta),
            map_weight=float(m.weight),
            tolerance=float(m.tolerance),
            max_iterations=int(m.max_iterations),
            map_mode=None if m.mode == "ml" else str(m.mode),
        )
    elif method in ("lop-staple", "local-lop-staple"):
        if options.lop.weights == "uniform":
            params["weights"] = "uniform"
        params["weight_half_size"] = int(options.lop.window)
        if method == "local-lop-staple":
            params["half_size"] = int(options.lop.window)
    return params
