"""Tables of the methods stage: status and seconds per (method, test case); training times."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.methods.files import write_methods_tables

    write_methods_tables(
        smk.input.predictions, smk.input.models, status_path=smk.output.status, timing_path=smk.output.timing
    )


run_script(snakemake, main)  # noqa: F821
