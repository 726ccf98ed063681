"""Fuse one case's rater masks with every configured method (lesionbench.consensus): consensus,
posterior, rater table, and the leave-one-rater-out fusions."""

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
    voxel_ml = float(np.prod(flair.spacing)) / 1000.0
    outputs = zip(smk.params.fusions, smk.output.masks, smk.output.posteriors, smk.output.tables, smk.output.loo)
    for fusion, mask_path, posterior_path, table_path, loo_path in outputs:
        options = {"mask": mask, "threshold": float(smk.params.threshold), "case": case}
        if fusion == "majority":
            options["threshold"] = float(smk.params.majority_threshold)
        result = cs.fuse(votes, fusion, **options)
        consensus = result.binary()
        if not consensus.any() and votes.any():
            print(f"WARNING: case {case}: the {fusion} consensus is empty although raters marked {int(votes.any(0).sum())} voxels")
        save_volume(mask_path, consensus, flair.affine, dtype=np.uint8)
        save_volume(posterior_path, result.posterior, flair.affine, dtype=np.float32)
        loo = cs.leave_one_out(votes, fusion, **options) if len(names) > 1 else None
        Path(loo_path).mkdir(parents=True, exist_ok=True)
        for name, fused in zip(names, loo or []):
            save_volume(Path(loo_path) / f"{name}.nii.gz", fused.binary(), flair.affine, dtype=np.uint8)
        table = cs.performance_table(result, names, votes, mask=mask, voxel_ml=voxel_ml, loo=loo)
        table.insert(0, "case_id", case)
        table.to_csv(table_path, sep="\t", index=False)


run_script(snakemake, main)  # noqa: F821
