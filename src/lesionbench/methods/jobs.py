"""One job of the methods stage, from its input files to its output files: the shared parts.

Each job function is what one workflow rule of the methods stage does (the rule's script only
hands it the rule's files and parameters). The jobs are grouped by the environment they run in:
here the participants' and ensemble jobs (:func:`run_command_case`, :func:`collect_submission_case`,
:func:`ensemble_case`) and what every job shares (:func:`training_cases`, :func:`predict_case`);
:mod:`.sklearn_jobs` trains and runs the scikit-learn methods, :mod:`.unet_jobs` the U-Net. The
per-case jobs write the prediction folder of :mod:`.files` whatever happens, through
:func:`.files.run_case` (which records or stops on a failure). The science is in the sibling
modules; the model files are :mod:`.model_io`'s.

A training job's ``cases`` maps each training case to its files: ``flair`` (raw FLAIR, the grid
of everything), ``images`` (the method's harmonized inputs, in its channel order),
``brain_mask``, ``priors`` (may be empty) and ``label`` (the case's reference consensus).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..io import Volume, load_mask, load_volume
from .files import MASK_FILE, load_case_arrays, read_status, run_case, write_prediction
from .inputs import CaseArrays
from .registry import parse_method

log = logging.getLogger(__name__)

#: A per-case computation as :func:`.files.run_case` takes it: () -> (mask, probability, status fields).
Compute = Callable[[], tuple[np.ndarray, "np.ndarray | None", dict[str, Any]]]


def training_cases(cases: Mapping[str, Mapping[str, Any]], *, priors: bool) -> list[CaseArrays]:
    """The training cases' arrays (see the module docstring for ``cases``); ``priors``: load tissue priors."""
    return [
        load_case_arrays(case, f["flair"], f["images"], f["brain_mask"], f["priors"] if priors else None, f["label"])[0]
        for case, f in cases.items()
    ]


def predict_case(
    entry: Mapping[str, Any],
    case: str,
    output: str | Path,
    on_failure: str,
    compute: Callable[[dict[str, np.ndarray]], Compute],
) -> None:
    """Run ``compute`` through :func:`.files.run_case` and write the prediction folder.

    ``compute(affine)`` returns the computation; it stores the raw FLAIR's affine (the output
    grid) under ``affine["flair"]`` once it has read it.
    """
    spec = parse_method(entry)
    affine: dict[str, np.ndarray] = {}
    outcome = run_case(spec.name, case, compute(affine), on_failure=on_failure)
    write_prediction(output, outcome, affine.get("flair"), method=spec.name, case=case)


def run_command_case(
    entry: Mapping[str, Any],
    case: str,
    *,
    flair: str | Path,
    images: Mapping[str, str | Path],
    output: str | Path,
    threads: int = 1,
    on_failure: str = "flag",
    limits: Mapping[str, float] | None = None,
) -> None:
    """Run a participant's ``command`` on one case in its sandbox and check the mask it writes.

    ``images`` maps the command's placeholders (modalities) to files. They are copied into a
    private folder next to ``output`` (``.{case}.sandbox``, deleted afterwards) that the sandbox
    (:mod:`.sandbox`) shows as ``/in``; the command writes ``{output}`` (``/out/mask.nii.gz``),
    within ``resources.runtime`` and ``resources.mem_mb``. Only that file is read back, without
    trusting it (:func:`.participants.load_participant_result`; ``limits``: the config's
    ``participants`` caps); the command's stdout and stderr go to the job's log (stdout here).
    """
    import shutil
    import sys

    from .participants import CommandError, load_participant_result, participant_caps, prepare_command, run_command
    from .sandbox import OUTPUT_FILES, collect_outputs

    spec = parse_method(entry)
    folder = Path(output)
    root = folder.parent / f".{folder.name}.sandbox"
    caps = participant_caps(limits)

    def compute(affine: dict[str, np.ndarray]) -> Compute:
        def run() -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
            flair_volume = load_volume(flair, case=case)
            affine["flair"] = flair_volume.affine
            try:
                prepared = prepare_command(spec, case, images, root, threads=threads, hide=(Path.cwd(), Path.home()))
                run_command(
                    prepared.argv,
                    case=case,
                    method=spec.name,
                    timeout_s=spec.runtime * 60,
                    mem_mb=spec.mem_mb,
                    cwd=prepared.cwd,
                    cleanup=prepared.cleanup,
                    log=sys.stdout,
                )
                outputs = collect_outputs(prepared.staging, case=case)
                if "output" not in outputs:
                    raise CommandError(
                        f"method {spec.name}: the command exited 0 but wrote no mask ({{output}}, "
                        f"{OUTPUT_FILES['output']} in its output folder)",
                        case=case,
                    )
                checked = load_participant_result(
                    outputs["output"],
                    folder=prepared.staging.outputs,
                    case=case,
                    flair=flair_volume,
                    probabilities=spec.probabilities,
                    threshold=spec.threshold,
                    **caps,
                )
            finally:
                shutil.rmtree(root, ignore_errors=True)
            return checked.mask, checked.probability, {"command": prepared.command, "sandbox": prepared.tool}

        return run

    predict_case(entry, case, folder, on_failure, compute)


def collect_submission_case(
    entry: Mapping[str, Any],
    case: str,
    *,
    flair: str | Path,
    output: str | Path,
    on_failure: str = "flag",
    limits: Mapping[str, float] | None = None,
) -> None:
    """Collect one case of a ``submission`` folder: the file is read without trusting it (see
    :mod:`.untrusted`; ``limits``: the config's ``participants`` caps ``max_image_mb`` and
    ``max_inflated_mb``), then grid and binarity are checked; a missing case is recorded."""
    from .participants import load_submission, participant_caps

    spec = parse_method(entry)
    flair_volume = load_volume(flair, case=case)
    caps = participant_caps(limits)

    def run() -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
        checked = load_submission(
            spec.folder,
            spec.pattern,
            case,
            flair_volume,
            probabilities=spec.probabilities,
            threshold=spec.threshold,
            **caps,
        )
        return checked.mask, checked.probability, {}

    outcome = run_case(spec.name, case, run, on_failure=on_failure)
    write_prediction(output, outcome, flair_volume.affine, method=spec.name, case=case)


def ensemble_case(
    entry: Mapping[str, Any],
    case: str,
    *,
    flair: str | Path,
    brain_mask: str | Path,
    members: Mapping[str, str | Path],
    output: str | Path,
    on_failure: str = "flag",
) -> None:
    """Fuse the ``members``' (name -> prediction folder) masks of one case; a member that is not
    ``ok`` on the case is left out and recorded under ``members_skipped``."""
    from .ensemble import fuse_members

    spec = parse_method(entry)
    flair_volume: Volume = load_volume(flair, case=case)
    skipped: dict[str, str] = {}

    def run() -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
        brain = load_mask(brain_mask, case=case, reference=flair_volume).data
        masks = {}
        for member, folder in members.items():
            status = read_status(folder)
            if status.get("status") != "ok":
                skipped[member] = status.get("status", "missing")
                continue
            masks[member] = load_mask(f"{folder}/{MASK_FILE}", case=case, reference=flair_volume).data
        result = fuse_members(masks, spec.fusion, brain_mask=brain, case=case)
        extra = {"fusion": spec.fusion, "members_used": list(result.members_used), "members_skipped": skipped}
        return result.mask, result.probability, extra

    outcome = run_case(spec.name, case, run, on_failure=on_failure)
    outcome.extra.setdefault("members_skipped", skipped)
    write_prediction(output, outcome, flair_volume.affine, method=spec.name, case=case)
