"""The brain mask of a two-visit case: its visits' masks fused (lesionbench.methods.newlesion_jobs)."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.methods.newlesion_jobs import fuse_brain_mask_files

    first, second = smk.input.masks
    fuse_brain_mask_files(smk.wildcards.case, first, second, smk.output[0], rule=smk.params.rule)


run_script(snakemake, main)  # noqa: F821
