"""Tune the subtraction baseline of the new-lesion track on the training split."""

from pathlib import Path

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.methods.newlesion_jobs import train_subtraction

    entry = smk.params.entry
    train_subtraction(
        entry["name"],
        entry.get("params") or {},
        smk.params.cases,
        model_path=smk.output.model,
        record_dir=Path(smk.output.record).parent,
    )


run_script(snakemake, main)  # noqa: F821
