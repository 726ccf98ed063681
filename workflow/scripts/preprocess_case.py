"""Preprocess one case (lesionbench.preprocess.pipeline): co-registration to FLAIR, template brain
mask and priors, N4; writes the case's QC rows (with truth on the synthetic cohort)."""

import os

from lesionbench.workflow.run import run_script


def main(smk):
    # ITK reads its thread count when first loaded: set it (and ANTs' seed) before any import.
    threads = 1 if smk.params.deterministic else max(1, int(smk.threads))
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(threads)
    os.environ["ANTS_RANDOM_SEED"] = str(smk.params.seed)

    import json
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from lesionbench.io import load_mask, load_volume
    from lesionbench.preprocess.pipeline import PreprocessSettings, preprocess_case, qc_rows, write_preprocessed
    from lesionbench.preprocess.registration import RegistrationError

    case = smk.wildcards.case
    opts = smk.params.settings
    settings = PreprocessSettings(
        registration_mm=float(opts["registration_mm"]),
        template_mm=float(opts["template_mm"]),
        rigid_iterations=tuple(int(i) for i in opts["rigid_iterations"]),
        syn_iterations=tuple(int(i) for i in opts["syn_iterations"]),
        seed=int(smk.params.seed),
        n4_shrink_factor=int(opts["n4_shrink_factor"]),
        n4_iterations=tuple(int(i) for i in opts["n4_iterations"]),
        brain_threshold=float(opts["brain_threshold"]),
        brain_dilation_mm=float(opts["brain_dilation_mm"]),
        max_rotation_deg=float(opts["max_rotation_deg"]),
        min_nmi=float(opts["min_nmi"]),
    )
    if smk.params.denoised:
        folder = Path(smk.input.denoised)
        sources = {m: folder / f"{m}.nii.gz" for m in smk.params.modalities}
    else:
        sources = {m: Path(smk.input[m]) for m in smk.params.modalities}
    images = {m: load_volume(p, case=case) for m, p in sources.items()}
    out_dir = Path(smk.output.brain_mask).parent
    result = preprocess_case(images, case=case, transforms_dir=smk.output.transforms, settings=settings)
    write_preprocessed(result, out_dir)

    truth_brain = truth_poses = None
    if smk.params.truth:
        truth_brain = load_mask(smk.input.truth_brain, case=case, reference=images["flair"]).data
        spec = json.loads(Path(smk.input.truth_transforms).read_text())
        truth_poses = {m: np.asarray(v["pose_subject_to_scanner"], float) for m, v in spec["images"].items()}
    rows = pd.DataFrame(qc_rows(result, images, settings, truth_brain=truth_brain, truth_poses=truth_poses))
    rows.insert(1, "center", smk.params.center)
    rows.insert(2, "split", smk.params.split)
    rows.to_csv(smk.output.qc, sep="\t", index=False, float_format="%.6g")
    failed = rows[rows["flagged"] & rows["measure"].str.startswith(("nmi", "registration_error", "rotation"))]
    if len(failed) and smk.params.on_failure == "stop":
        first = failed.iloc[0]
        raise RegistrationError(
            f"registration QC failed: {first['measure']} = {first['value']:.4g} for {first['modality']} "
            "(set preprocess.on_registration_failure: flag to keep going)",
            case=case,
            path=str(sources.get(first["modality"], "")),
        )


run_script(snakemake, main)  # noqa: F821
