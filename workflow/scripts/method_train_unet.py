"""Train a unet3d method (MONAI 3-D U-Net) on the training split's consensus."""

from pathlib import Path

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.methods.unet_jobs import train_unet_method

    train_unet_method(
        smk.params.entry,
        smk.params.cases,
        model_path=smk.output.model,
        record_dir=Path(smk.output.record).parent,
        seed=int(smk.params.seed),
        threads=smk.threads,
    )


run_script(snakemake, main)  # noqa: F821
