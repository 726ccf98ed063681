"""Participants' methods: a packaged tool run per case (``command``) and precomputed results
(``submission``).

MS-SEG 2016 received pipelines as containers run by the organizers on every test case, and
most challenges receive a folder of masks named by case (Commowick et al., Sci Rep 8:13650,
2018; docs/data-and-preprocessing.md section 1). Either way the result must be a binary mask
on the case's raw FLAIR grid (Anima's evaluation rejects other grids). A submitted mask that is
missing is recorded as ``missing`` and one that is off-grid or not binary as ``failed``, so the
worst-value policy scores it; nothing is silently dropped.
"""

from __future__ import annotations

import shlex
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np

from ..errors import ConfigError, InputError, NonBinaryMaskError, NonFiniteError
from ..io import Volume, binarize_mask, check_same_grid
from .sandbox import (
    OUTPUT_DIR,
    OUTPUT_FILES,
    Staging,
    apptainer_argv,
    bwrap_argv,
    conda_prefix,
    find_tool,
    podman_argv,
    podman_cleanup,
    podman_name,
    run_limited,
    stage_inputs,
)
from .untrusted import DEFAULT_MAX_IMAGE_MB, DEFAULT_MAX_INFLATED_MB, load_untrusted_volume

if TYPE_CHECKING:
    from .registry import MethodSpec


class CommandError(InputError):
    """A participant's command exited non-zero, timed out, or wrote no mask."""

    kind = "command_failed"


class SubmissionMissingError(InputError):
    kind = "missing"


def expand_command(template: str, values: Mapping[str, str | int], *, method: str = "?") -> str:
    """Fill ``{name}`` placeholders with shell-quoted values (paths with spaces stay one word).

    An unknown placeholder is a :class:`ConfigError` naming it and the method.
    """
    formatter = string.Formatter()
    parts = []
    for literal, field_name, format_spec, conversion in formatter.parse(template):
        parts.append(literal)
        if field_name is None:
            continue
        if field_name not in values:
            known = ", ".join(sorted(values))
            raise ConfigError(
                f"methods entry {method!r}: command placeholder {{{field_name}}} is unknown (known: {known})"
            )
        if format_spec or conversion:
            raise ConfigError(f"methods entry {method!r}: command placeholder {{{field_name}}} may not carry a format")
        parts.append(shlex.quote(str(values[field_name])))
    return "".join(parts)


def wrap_environment(command: str, *, conda_env: str = "", container: str = "") -> list[str]:
    """The argv that runs ``command`` in bash, inside the method's conda env or container if given."""
    if conda_env:
        flag = "-p" if "/" in conda_env else "-n"
        return ["conda", "run", "--no-capture-output", flag, conda_env, "bash", "-c", command]
    if container:
        return ["apptainer", "exec", "--cleanenv", container, "bash", "-c", command]
    return ["bash", "-c", command]


@dataclass(frozen=True)
class CommandRun:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def run_command(
    argv: list[str],
    *,
    case: str,
    method: str,
    timeout_s: float | None = None,
    cwd: str | Path | None = None,
    mem_mb: float | None = None,
    cleanup: Sequence[str] = (),
    log: TextIO | None = None,
) -> CommandRun:
    """Run a participant's command under the limits of :func:`.sandbox.run_limited` (runtime
    ``timeout_s``, memory ``mem_mb`` of its whole process tree, killed at a limit); its stdout and
    stderr (their last MB) go to ``log``. A non-zero exit or a kill is a :class:`CommandError`
    carrying the reason and the tail of its stderr."""
    try:
        done = run_limited(argv, runtime_s=timeout_s, mem_mb=mem_mb, cwd=cwd, cleanup=cleanup)
    except OSError as exc:
        raise CommandError(f"method {method}: command could not start ({exc})", case=case) from exc
    if log is not None:
        log.write(f"--- method {method}, case {case}: exit {done.returncode} after {done.seconds:.1f} s")
        log.write(
            f"{'; ' + done.killed if done.killed else ''}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}\n"
        )
        log.flush()
    tail = " | ".join(done.stderr.strip().splitlines()[-5:]) or "no stderr"
    if done.killed:
        what = "timed out, " if done.killed.startswith("killed after") else ""
        raise CommandError(f"method {method}: command {what}{done.killed}: {tail}", case=case)
    if done.returncode != 0:
        raise CommandError(f"method {method}: command exited with status {done.returncode}: {tail}", case=case)
    return CommandRun(list(argv), done.returncode, done.stdout, done.stderr, done.seconds)


@dataclass(frozen=True)
class PreparedCommand:
    """A participant's command ready to run on one case: its staging, the filled template and
    the argv of its sandbox."""

    staging: Staging
    tool: str
    command: str
    argv: list[str]
    cwd: Path | None = None
    cleanup: list[str] = field(default_factory=list)


def prepare_command(
    spec: MethodSpec,
    case: str,
    images: Mapping[str, str | Path],
    root: str | Path,
    *,
    threads: int = 1,
    hide: Sequence[str | Path] = (),
) -> PreparedCommand:
    """Stage the case's inputs under ``root`` and build the argv of ``spec``'s sandbox
    (:func:`~.registry.resolved_sandbox`). The placeholders name the files as the command sees
    them: ``/in/<modality>.nii.gz``, ``/out/mask.nii.gz``, ``/out/probability.nii.gz``, ``/out``
    (with ``sandbox: none``, the staging folders' host paths). A missing tool is a
    :class:`SandboxError` saying how to install it."""
    from .registry import resolved_sandbox

    tool = resolved_sandbox(spec)
    executable = "" if tool == "none" else find_tool(tool)
    staging, inside = stage_inputs(root, images, case=case)
    out = OUTPUT_DIR
    if tool == "none":
        inside = {name: str(staging.root.resolve() / path.lstrip("/")) for name, path in inside.items()}
        out = str(staging.outputs.resolve())
    values: dict[str, str | int] = dict(inside)
    values.update(
        output=f"{out}/{OUTPUT_FILES['output']}",
        probability=f"{out}/{OUTPUT_FILES['probability']}",
        output_dir=out,
        case=case,
        threads=threads,
    )
    command = expand_command(spec.command, values, method=spec.name)
    cleanup: list[str] = []
    if tool == "bwrap":
        prefix = conda_prefix(spec.conda_env, case=case) if spec.conda_env else ""
        argv = bwrap_argv(
            command,
            staging,
            bwrap=executable,
            env_prefix=prefix,
            threads=threads,
            tmp_mb=spec.mem_mb,
            gpu=spec.gpu,
            hide=hide,
        )
    elif tool == "apptainer":
        argv = apptainer_argv(command, staging, spec.container, apptainer=executable, threads=threads, gpu=spec.gpu)
    elif tool == "podman":
        name = podman_name(spec.name, case)
        argv = podman_argv(
            command,
            staging,
            spec.image,
            name=name,
            podman=executable,
            threads=threads,
            mem_mb=spec.mem_mb,
            runtime_s=spec.runtime * 60,
            gpu=spec.gpu,
        )
        cleanup = podman_cleanup(name, podman=executable)
    else:
        argv = wrap_environment(command, conda_env=spec.conda_env, container=spec.container)
    return PreparedCommand(
        staging, tool, command, argv, cwd=staging.outputs if tool == "none" else None, cleanup=cleanup
    )


def submission_path(folder: str | Path, pattern: str, case: str) -> Path | None:
    """The submitted file of ``case`` (``pattern`` with ``{case}``); ``.nii`` and ``.nii.gz``
    are both accepted whichever the pattern names. None when absent.

    A pattern that leaves ``folder`` (absolute, ``..``, another placeholder) or a file that is a
    symbolic link leading outside it is a :class:`~lesionbench.errors.PathEscapeError`
    (:mod:`.untrusted`); only names are looked at, nothing is opened. A name that exists but is
    not a regular file (a folder, a FIFO, a dangling or looping link) is returned, for the
    reader to refuse (a workflow input takes it only when :meth:`~pathlib.Path.is_file`).
    """
    from .untrusted import check_pattern, inside_folder

    check_pattern(pattern, case=case, folder=folder)
    path = Path(folder) / pattern.format(case=case)
    name = path.name
    if name.endswith(".nii.gz"):
        candidates = [path, path.with_name(name[: -len(".gz")])]
    elif name.endswith(".nii"):
        candidates = [path, path.with_name(name + ".gz")]
    else:
        candidates = [path]
    present = [c for c in candidates if c.is_symlink() or c.exists()]
    for candidate in present:
        inside_folder(candidate, folder, case=case)
    regular = [c for c in present if c.is_file()]
    chosen = regular or present
    return chosen[0] if chosen else None


@dataclass(frozen=True)
class CheckedMask:
    mask: np.ndarray
    probability: np.ndarray | None


def check_result_volume(
    result: Volume,
    flair: Volume,
    *,
    case: str,
    probabilities: bool = False,
    threshold: float = 0.5,
    atol_mm: float = 1e-3,
) -> CheckedMask:
    """Check a method's result against the case's raw FLAIR grid and binarity.

    With ``probabilities`` the values must lie in [0, 1] and the mask is ``value > threshold``;
    otherwise the values must be exactly 0/1.
    """
    path = result.path
    check_same_grid(result, flair, what="result is not on the case's FLAIR grid", case=case, atol_mm=atol_mm)
    if np.issubdtype(result.data.dtype, np.floating) and not np.all(np.isfinite(result.data)):
        raise NonFiniteError("result has NaN or infinite voxels", case=case, path=path)
    if probabilities:
        data = result.data.astype(np.float32)
        low, high = float(data.min()), float(data.max())
        if low < 0.0 or high > 1.0:
            raise NonBinaryMaskError(
                f"declared a probability map but values span [{low:g}, {high:g}], not [0, 1]", case=case, path=path
            )
        return CheckedMask(mask=data > threshold, probability=data)
    return CheckedMask(mask=binarize_mask(result.data, policy="binary", case=case, path=path), probability=None)


def participant_caps(limits: Mapping[str, float] | None) -> dict[str, float]:
    """The reading caps (``max_image_mb``, ``max_inflated_mb``) of the config's ``participants``
    section, as keyword arguments of :func:`load_submission` and :func:`load_participant_result`."""
    return {key: float(value) for key, value in (limits or {}).items() if key in ("max_image_mb", "max_inflated_mb")}


def load_submission(
    folder: str | Path,
    pattern: str,
    case: str,
    flair: Volume,
    *,
    probabilities: bool = False,
    threshold: float = 0.5,
    max_image_mb: float = DEFAULT_MAX_IMAGE_MB,
    max_inflated_mb: float = DEFAULT_MAX_INFLATED_MB,
) -> CheckedMask:
    """Find, read and check one submitted mask. Raises :class:`SubmissionMissingError` when the
    case has no file, or the :mod:`lesionbench.errors` type of what is wrong with it; the file is
    read through :func:`.untrusted.load_untrusted_volume` (caps ``max_image_mb``, ``max_inflated_mb``)."""
    path = submission_path(folder, pattern, case)
    if path is None:
        raise SubmissionMissingError(
            f"no submitted mask (expected {Path(folder) / pattern.format(case=case)})", case=case
        )
    return load_participant_result(
        path,
        folder=folder,
        case=case,
        flair=flair,
        probabilities=probabilities,
        threshold=threshold,
        max_image_mb=max_image_mb,
        max_inflated_mb=max_inflated_mb,
    )


def load_participant_result(
    path: str | Path,
    *,
    folder: str | Path,
    case: str,
    flair: Volume,
    probabilities: bool = False,
    threshold: float = 0.5,
    max_image_mb: float = DEFAULT_MAX_IMAGE_MB,
    max_inflated_mb: float = DEFAULT_MAX_INFLATED_MB,
) -> CheckedMask:
    """A participant's mask file (submitted, or written by its command into ``folder``), read
    without trusting it (:func:`.untrusted.load_untrusted_volume`: inside ``folder``, a NIfTI
    header on ``flair``'s grid within the caps before any voxel is read, finite) and checked
    (:func:`check_result_volume`)."""
    volume = load_untrusted_volume(
        path, folder=folder, case=case, reference=flair, max_image_mb=max_image_mb, max_inflated_mb=max_inflated_mb
    )
    return check_result_volume(volume, flair, case=case, probabilities=probabilities, threshold=threshold)
