"""Train a flair_hyperintensity (threshold tuning) or random_forest method on the training split."""

from pathlib import Path

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.methods.sklearn_jobs import train_sklearn_method

    train_sklearn_method(
        smk.params.entry,
        smk.params.cases,
        model_path=smk.output.model,
        record_dir=Path(smk.output.record).parent,
        seed=int(smk.params.seed),
        threads=smk.threads,
    )


run_script(snakemake, main)  # noqa: F821
