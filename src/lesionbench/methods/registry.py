"""The method registry: what the ``methods:`` list of the workflow config means.

A challenge runs many segmentation methods over the same cases (MS-SEG 2016: 13 pipelines run by
the organizers on every test case, Commowick et al., Sci Rep 8:13650, 2018). Each entry names a
method, its kind, the harmonized images it reads (``scheme/modality``, e.g. ``nyul/flair``),
whether it is trained on the training split, its compute needs and its parameters. Entries are
checked here, once, so that a bad registry fails at parse time with a message naming the method
and the key, not inside a job.

Kinds:

- ``flair_hyperintensity``, ``random_forest``, ``unet3d``: the built-in baselines (trained);
- ``subtraction``: the new-lesion track's baseline (:mod:`.newlesions`; trained);
- ``ensemble``: a fusion of other methods' masks (majority vote or STAPLE);
- ``command``: a participant's tool run per case from a shell command template;
- ``submission``: a folder of precomputed masks named by case.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..cohort.layout import MODALITIES
from ..errors import ConfigError
from ..preprocess.options import HARMONIZATION_SCHEMES
from ..workflow import paths

BUILTIN_KINDS: tuple[str, ...] = ("flair_hyperintensity", "random_forest", "unet3d", "subtraction")
KINDS: tuple[str, ...] = (*BUILTIN_KINDS, "ensemble", "command", "submission")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
#: Kinds whose jobs may ask the scheduler for a GPU (``gpu: true`` or ``device: cuda``).
GPU_KINDS: tuple[str, ...] = ("unet3d", "command")
FUSIONS: tuple[str, ...] = ("majority", "staple")
#: How a ``command`` method's process is isolated (:mod:`lesionbench.methods.sandbox`): ``auto``
#: picks apptainer for a ``container``, podman for an ``image``, bubblewrap otherwise; ``none``
#: runs it unsandboxed (unsafe: it can read the answers).
SANDBOXES: tuple[str, ...] = ("auto", "bwrap", "apptainer", "podman", "none")
#: Tissue priors the classical and forest methods read, in channel order
#: (``prior_<name>`` of :func:`lesionbench.workflow.paths.preprocessed`).
PRIOR_NAMES: tuple[str, ...] = ("wm", "gm", "csf")
#: The input scheme of a ``command`` method that reads a raw image as the dataset ships it
#: (``raw/flair``), so that it needs no preprocessing job.
RAW_SCHEME = "raw"

#: The kinds each task can run (:data:`lesionbench.cohort.layout.TASKS`). A new-lesion method
#: reads both visits of each of its inputs (``zscore/flair``: the two harmonized FLAIRs; a
#: command's placeholders ``{flair_time01}``, ``{flair_time02}``).
TASK_KINDS: dict[str, tuple[str, ...]] = {
    "cross_sectional": ("flair_hyperintensity", "random_forest", "unet3d", "ensemble", "command", "submission"),
    "new_lesions": ("subtraction", "unet3d", "ensemble", "command", "submission"),
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

Device = Literal["auto", "cpu", "cuda"]


@dataclass(frozen=True)
class ImageInput:
    """One harmonized image a method reads (:func:`lesionbench.workflow.paths.harmonized`)."""

    scheme: str
    modality: str

    @property
    def key(self) -> str:
        return f"{self.scheme}/{self.modality}"

    def path(self, case: str) -> str:
        return paths.harmonized(self.scheme, case, self.modality)


@dataclass(frozen=True)
class MethodSpec:
    """One checked entry of the registry."""

    name: str
    kind: str
    inputs: tuple[ImageInput, ...] = ()
    trains: bool = False
    device: Device = "auto"
    gpu: bool = False
    threads: int = 1
    inference_threads: int = 1
    mem_mb: int = 2000
    runtime: int = 30
    params: Mapping[str, Any] = field(default_factory=dict)
    members: tuple[str, ...] = ()
    fusion: str = "majority"
    command: str = ""
    conda_env: str = ""
    container: str = ""
    image: str = ""
    sandbox: str = "auto"
    folder: str = ""
    pattern: str = "{case}.nii.gz"
    probabilities: bool = False
    threshold: float = 0.5
    has_probability: bool = False

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(i.modality for i in self.inputs)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready record (saved next to a trained model)."""
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "inputs": [i.key for i in self.inputs],
            "trains": self.trains,
            "device": self.device,
            "gpu": self.gpu,
            "threads": self.threads,
            "inference_threads": self.inference_threads,
            "params": dict(self.params),
        }
        if self.kind == "ensemble":
            out.update(members=list(self.members), fusion=self.fusion)
        return out


def _fail(name: str, problem: str) -> ConfigError:
    return ConfigError(f"methods entry {name!r}: {problem}")


def _parse_gpu(entry: Mapping[str, Any], name: str, kind: str, device: str) -> bool:
    """Whether the method's jobs request a GPU: ``gpu: true``, or ``device: cuda`` (which implies it).

    Decided from the config alone, never from the machine that parses the workflow: on a cluster
    that is a submit host without a GPU, while the job runs on a GPU node.
    """
    gpu = entry.get("gpu", False)
    if not isinstance(gpu, bool):
        raise _fail(name, f"gpu must be true or false, not {gpu!r}")
    if gpu and kind not in GPU_KINDS:
        raise _fail(name, f"gpu: true is for {' and '.join(GPU_KINDS)} methods; {kind} runs on the CPU")
    if gpu and device == "cpu":
        raise _fail(name, "gpu: true contradicts device: cpu (use device: auto or cuda)")
    return gpu or (kind == "unet3d" and device == "cuda")


def parse_input(text: str, name: str = "?") -> ImageInput:
    """``"nyul/flair"`` -> ImageInput("nyul", "flair"); ``"raw/flair"``: the raw image."""
    scheme, sep, modality = str(text).partition("/")
    schemes = (*HARMONIZATION_SCHEMES, RAW_SCHEME)
    if not sep or scheme not in schemes or modality not in MODALITIES:
        raise _fail(
            name,
            f"input {text!r} is not scheme/modality with scheme in {', '.join(schemes)} "
            f"and modality in {', '.join(MODALITIES)}",
        )
    return ImageInput(scheme, modality)


def _parse_sandbox(entry: Mapping[str, Any], name: str, kind: str) -> str:
    """The entry's ``sandbox`` (``auto`` when absent); only ``command`` methods run a process."""
    sandbox = str(entry.get("sandbox", "auto") or "auto")
    if sandbox not in SANDBOXES:
        raise _fail(name, f"sandbox {sandbox!r} is not one of {', '.join(SANDBOXES)}")
    if sandbox != "auto" and kind != "command":
        raise _fail(name, f"sandbox is for command methods; a {kind} method runs no participant process")
    if entry.get("image") and kind != "command":
        raise _fail(name, "image is for command methods")
    return sandbox


def _check_sandbox(spec: MethodSpec) -> None:
    """The sandbox must be able to run the method's environment (checked for ``command`` only)."""
    name, sandbox = spec.name, spec.sandbox
    if sandbox == "bwrap" and (spec.container or spec.image):
        raise _fail(name, "sandbox: bwrap runs a command or a conda_env, not a container or image")
    if sandbox == "apptainer" and not spec.container:
        raise _fail(name, "sandbox: apptainer needs container (an Apptainer/Singularity image)")
    if sandbox == "podman" and not spec.image:
        raise _fail(name, "sandbox: podman needs image (an OCI image reference)")
    if sandbox == "none" and spec.image:
        raise _fail(name, "an image runs in podman (sandbox: auto or podman); sandbox: none cannot run it")


def resolved_sandbox(spec: MethodSpec) -> str:
    """The tool that isolates the method's process: ``auto`` resolved from ``container``/``image``."""
    if spec.sandbox != "auto":
        return spec.sandbox
    if spec.container:
        return "apptainer"
    if spec.image:
        return "podman"
    return "bwrap"


_DEFAULT_PROBABILITY = {"flair_hyperintensity": True, "random_forest": True, "unet3d": True, "subtraction": True}


def parse_method(entry: Mapping[str, Any]) -> MethodSpec:
    """Check one registry entry (already schema-validated in the workflow, checked again here)."""
    name = str(entry.get("name", ""))
    if not _NAME.match(name):
        raise ConfigError(f"methods entry has an invalid name {name!r} (letters, digits, _ . - only)")
    kind = str(entry.get("kind", ""))
    if kind not in KINDS:
        raise _fail(name, f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    inputs = tuple(parse_input(t, name) for t in entry.get("inputs", []) or [])
    if (kind in BUILTIN_KINDS or kind == "command") and not inputs:
        raise _fail(name, f"a {kind} method needs inputs (scheme/modality list)")
    if kind != "command" and any(i.scheme == RAW_SCHEME for i in inputs):
        raise _fail(name, f"{RAW_SCHEME}/<modality> inputs are for command methods only")
    if kind == "flair_hyperintensity" and not any(i.modality == "flair" for i in inputs):
        raise _fail(name, "flair_hyperintensity needs a FLAIR input (e.g. nyul/flair)")
    if kind == "subtraction" and [i.modality for i in inputs] != ["flair"]:
        raise _fail(name, "subtraction reads one FLAIR input (e.g. zscore/flair: the two visits' harmonized FLAIRs)")
    device = str(entry.get("device", "auto"))
    if device not in DEVICES:
        raise _fail(name, f"device {device!r} is not one of {', '.join(DEVICES)}")
    gpu = _parse_gpu(entry, name, kind, device)
    resources = entry.get("resources", {}) or {}
    trains = bool(entry.get("trains", kind in BUILTIN_KINDS))
    if kind in ("random_forest", "unet3d") and not trains:
        raise _fail(name, f"a {kind} method must train (trains: true)")
    if kind in ("ensemble", "command", "submission") and trains:
        raise _fail(name, f"a {kind} method does not train here (trains: false)")
    spec = MethodSpec(
        name=name,
        kind=kind,
        inputs=inputs,
        trains=trains,
        device=device,  # type: ignore[arg-type]
        gpu=gpu,
        threads=int(entry.get("threads", 1)),
        inference_threads=int(entry.get("inference_threads", 1)),
        mem_mb=int(resources.get("mem_mb", 2000)),
        runtime=int(resources.get("runtime", 30)),
        params=dict(entry.get("params", {}) or {}),
        members=tuple(str(m) for m in entry.get("members", []) or []),
        fusion=str(entry.get("fusion", "majority")),
        command=str(entry.get("command", "") or ""),
        conda_env=str(entry.get("conda_env", "") or ""),
        container=str(entry.get("container", "") or ""),
        image=str(entry.get("image", "") or ""),
        sandbox=_parse_sandbox(entry, name, kind),
        folder=str(entry.get("folder", "") or ""),
        pattern=str(entry.get("pattern", "{case}.nii.gz") or "{case}.nii.gz"),
        probabilities=bool(entry.get("probabilities", False)),
        threshold=float(entry.get("threshold", 0.5)),
        has_probability=bool(
            _DEFAULT_PROBABILITY.get(kind, False) or (kind == "submission" and entry.get("probabilities", False))
        ),
    )
    if spec.threads < 1 or spec.inference_threads < 1:
        raise _fail(name, "threads and inference_threads must be at least 1")
    if kind == "ensemble":
        if len(spec.members) < 2:
            raise _fail(name, "an ensemble needs at least two members")
        if spec.fusion not in FUSIONS:
            raise _fail(name, f"fusion {spec.fusion!r} is not one of {', '.join(FUSIONS)}")
    if kind == "command":
        if "{output}" not in spec.command:
            raise _fail(name, "the command template must contain {output} (where the tool writes its mask)")
        if sum(bool(x) for x in (spec.conda_env, spec.container, spec.image)) > 1:
            raise _fail(name, "give at most one of conda_env, container and image")
        _check_sandbox(spec)
    if kind == "submission":
        if not spec.folder:
            raise _fail(name, "a submission needs folder (the folder of masks named by case)")
        if "{case}" not in spec.pattern:
            raise _fail(name, "the submission pattern must contain {case}")
        if not 0.0 < spec.threshold < 1.0:
            raise _fail(name, "threshold must be strictly between 0 and 1")
    return spec


def parse_methods(entries: Sequence[Mapping[str, Any]]) -> list[MethodSpec]:
    """Check the whole registry: each entry, unique names, ensemble members that exist and are
    not themselves ensembles."""
    specs = [parse_method(e) for e in entries or []]
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"methods: duplicate names {', '.join(duplicates)}")
    by_name = {s.name: s for s in specs}
    for spec in specs:
        for member in spec.members:
            if member not in by_name:
                raise _fail(spec.name, f"ensemble member {member!r} is not a configured method")
            if by_name[member].kind == "ensemble":
                raise _fail(spec.name, f"ensemble member {member!r} is itself an ensemble")
    return specs


def check_task_kinds(specs: Sequence[MethodSpec], task: str) -> None:
    """Refuse a method whose kind the ``task`` cannot run (:data:`TASK_KINDS`), naming it."""
    allowed = TASK_KINDS.get(task, ())
    for spec in specs:
        if spec.kind not in allowed:
            raise _fail(spec.name, f"a {spec.kind} method does not run in task: {task} (kinds: {', '.join(allowed)})")


def needs_preprocessing(spec: MethodSpec) -> bool:
    """Whether the method reads anything the preprocessing stage writes: False for a submission
    and for a command whose inputs are all raw images (``raw/<modality>``)."""
    if spec.kind == "submission":
        return False
    if spec.kind == "command":
        return any(i.scheme != RAW_SCHEME for i in spec.inputs)
    return True


def wants_gpu(spec: MethodSpec) -> bool:
    """Whether the method's jobs declare the Snakemake resource ``gpu=1`` (from the config only).

    ``device: auto`` is resolved inside the job (:func:`lesionbench.methods.unet.resolve_device`),
    on the node the job runs on; whether the job asks the scheduler for a GPU is ``spec.gpu``.
    """
    return spec.gpu
