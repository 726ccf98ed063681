"""Fuse one case's rater masks with every configured method (lesionbench.consensus.case.fuse_case_files):
consensus, posterior, rater table and the leave-one-rater-out fusions."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.consensus.case import ConsensusOptions, FusionFiles, fuse_case_files

    o = smk.output
    files = zip(smk.params.fusions, o.masks, o.posteriors, o.tables, o.loo)
    fuse_case_files(
        smk.wildcards.case,
        flair=smk.input.flair,
        raters=dict(zip(smk.params.raters, smk.input.raters)),
        brain_mask=smk.input.get("brain_mask"),
        outputs={method: FusionFiles(*paths) for method, *paths in files},
        options=ConsensusOptions.from_config(smk.params.options, on_failure=smk.params.on_failure),
        label_policy=smk.params.label_policy,
    )


run_script(snakemake, main)  # noqa: F821
