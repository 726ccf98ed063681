"""Harmonize one case's preprocessed images with every configured scheme (lesionbench.preprocess.harmonize_jobs)."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.preprocess.harmonize_jobs import harmonize_case_files

    p, i = smk.params, smk.input
    histmatch = "histmatch" in p.schemes
    reference = (p.reference, {m: i[f"reference_{m}"] for m in p.modalities}, i.reference_mask) if histmatch else None
    harmonize_case_files(
        smk.wildcards.case,
        {m: i[m] for m in p.modalities},
        i.brain_mask,
        {(s, m): smk.output[f"{s}_{m}"] for s in p.schemes for m in p.modalities},  # named {scheme}_{modality}
        whitestripe_width=p.whitestripe_width,
        nyul_scales={m: i[f"scale_{m}"] for m in p.modalities} if "nyul" in p.schemes else None,
        reference=reference,
    )


run_script(snakemake, main)  # noqa: F821
