"""Synthetic cohorts only: each rater and each consensus against the generator's true lesions."""

from lesionbench.workflow_support import run_script


def main(smk):
    import numpy as np
    import pandas as pd

    from lesionbench.consensus import truth_agreement
    from lesionbench.io import load_mask

    case = smk.wildcards.case
    truth = load_mask(smk.input.truth, case=case)
    votes = np.stack([load_mask(p, case=case, reference=truth).data for p in smk.input.raters])
    fusions = {m: load_mask(p, case=case, reference=truth).data for m, p in zip(smk.params.fusions, smk.input.fusions)}
    estimates = {}
    for method, path in zip(smk.params.fusions, smk.input.tables):
        estimates[method] = pd.read_csv(path, sep="\t")["estimated_sensitivity"].to_numpy()
    table = truth_agreement(votes, smk.params.raters, fusions, truth.data, estimated_sensitivity=estimates)
    table.insert(0, "case_id", case)
    table.to_csv(smk.output[0], sep="\t", index=False)


run_script(snakemake, main)  # noqa: F821
