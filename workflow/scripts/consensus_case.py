"""Fuse one case's rater masks (lesionbench.consensus): consensus, posterior, rater table,
and the leave-one-rater-out fusions."""

from lesionbench.workflow_support import run_script


def main(smk):
    from pathlib import Path

    import numpy as np

    from lesionbench import consensus as cs
    from lesionbench.io import load_mask, load_volume, save_volume

    case = smk.wildcards.case
    names = list(smk.params.raters)
    flair = load_volume(smk.input.flair, case=case)
    policy = smk.params.label_policy
    votes = np.stack([load_mask(p, case=case, reference=flair, policy=policy).data for p in smk.input.raters])
    mask = None
    if smk.input.get("brain_mask"):
        mask = load_mask(smk.input.brain_mask, case=case, reference=flair, policy="nonzero").data
    options = {"mask": mask, "threshold": float(smk.params.threshold), "case": case}
    if smk.wildcards.fusion == "majority":
        options["threshold"] = float(smk.params.majority_threshold)
    result = cs.fuse(votes, smk.wildcards.fusion, **options)
    save_volume(smk.output.mask, result.binary(), flair.affine, dtype=np.uint8)
    save_volume(smk.output.posterior, result.posterior, flair.affine, dtype=np.float32)
    loo = cs.leave_one_out(votes, smk.wildcards.fusion, **options) if len(names) > 1 else None
    loo_dir = Path(smk.output.loo)
    loo_dir.mkdir(parents=True, exist_ok=True)
    for name, fused in zip(names, loo or []):
        save_volume(loo_dir / f"{name}.nii.gz", fused.binary(), flair.affine, dtype=np.uint8)
    table = cs.performance_table(result, names, votes, mask=mask, voxel_ml=float(np.prod(flair.spacing)) / 1000.0, loo=loo)
    table.insert(0, "case_id", case)
    table.to_csv(smk.output.table, sep="\t", index=False)


run_script(snakemake, main)  # noqa: F821
