"""Build the synthetic cohort's template anatomy on the preset's grid once (every case reads it)."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.synth.anatomy import load_template_anatomy, save_template_anatomy
    from lesionbench.synth.plan import get_preset

    save_template_anatomy(load_template_anatomy(get_preset(smk.params.preset).anatomy_mm), smk.output[0])


run_script(snakemake, main)  # noqa: F821
