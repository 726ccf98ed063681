"""Fuse one case's rater masks with every configured method (lesionbench.consensus.case.fuse_case):
consensus, posterior, rater table and the leave-one-rater-out fusions."""

from lesionbench.workflow.run import run_script


def main(smk):
    from pathlib import Path

    import numpy as np

    from lesionbench.consensus.case import ConsensusOptions, fuse_case
    from lesionbench.io import load_mask, load_volume, save_volume

    case = smk.wildcards.case
    names = list(smk.params.raters)
    flair = load_volume(smk.input.flair, case=case)
    policy = smk.params.label_policy
    votes = np.stack([load_mask(p, case=case, reference=flair, policy=policy).data for p in smk.input.raters])
    brain = None
    if smk.input.get("brain_mask"):
        brain = load_mask(smk.input.brain_mask, case=case, reference=flair, policy="nonzero").data
    options = ConsensusOptions.from_config(smk.params.options)
    voxel_ml = float(np.prod(flair.spacing)) / 1000.0
    fused = fuse_case(votes, names, smk.params.fusions, brain, options, case=case, voxel_ml=voxel_ml)
    outputs = zip(smk.params.fusions, smk.output.masks, smk.output.posteriors, smk.output.tables, smk.output.loo)
    for method, mask_path, posterior_path, table_path, loo_path in outputs:
        result = fused[method]
        for flag in result.flags:
            print(f"WARNING: {flag}")
        save_volume(mask_path, result.result.binary(), flair.affine, dtype=np.uint8)
        save_volume(posterior_path, result.result.posterior, flair.affine, dtype=np.float32)
        Path(loo_path).mkdir(parents=True, exist_ok=True)
        for name, loo in zip(names, result.loo):
            save_volume(Path(loo_path) / f"{name}.nii.gz", loo.binary(), flair.affine, dtype=np.uint8)
        result.table.to_csv(table_path, sep="\t", index=False)


run_script(snakemake, main)  # noqa: F821
