"""Synthetic cohorts only: each rater and each consensus against the generator's true lesions
(lesionbench.consensus.case.truth_table: Dice, MS-SEG 2016 lesion F1, relative volume error)."""

from lesionbench.workflow.run import run_script


def main(smk):
    import numpy as np
    import pandas as pd

    from lesionbench.consensus.case import truth_table
    from lesionbench.io import load_mask

    case = smk.wildcards.case
    truth = load_mask(smk.input.truth, case=case)
    votes = np.stack([load_mask(p, case=case, reference=truth).data for p in smk.input.raters])
    fusions = {m: load_mask(p, case=case, reference=truth).data for m, p in zip(smk.params.fusions, smk.input.fusions)}
    estimates = {}
    for method, path in zip(smk.params.fusions, smk.input.tables):
        estimates[method] = pd.read_csv(path, sep="\t")["estimated_sensitivity"].to_numpy()
    table = truth_table(
        votes,
        smk.params.raters,
        fusions,
        truth.data,
        truth.spacing,
        min_lesion_volume_mm3=float(smk.params.min_lesion_volume_mm3),
        estimated_sensitivity=estimates,
        case=case,
    )
    table.to_csv(smk.output[0], sep="\t", index=False)


run_script(snakemake, main)  # noqa: F821
