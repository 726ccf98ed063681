"""The baseline visit of a two-visit case onto the follow-up FLAIR's grid (lesionbench.preprocess.visits)."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.preprocess.pipeline import PreprocessSettings  # loads no ITK yet
    from lesionbench.preprocess.visits import coregister_visit_files

    p = smk.params
    coregister_visit_files(
        smk.wildcards.case,
        {m: smk.input[m] for m in p.modalities},
        smk.input.followup,
        {m: smk.output[m] for m in p.modalities},
        record_path=smk.output.record,
        settings=PreprocessSettings.from_config(p.settings, seed=p.seed),
        threads=1 if p.deterministic else smk.threads,
    )


run_script(snakemake, main)  # noqa: F821
