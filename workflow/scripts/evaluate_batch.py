"""Score every entry of a batch of cases against their references (lesionbench.metrics.scoring.evaluate_batch_files)."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.metrics.scoring import CaseFiles, MetricParameters, evaluate_batch_files

    p = smk.params
    rows, failures = evaluate_batch_files(
        [CaseFiles.from_mapping(case) for case in p.cases],
        consensus_fusion=p.reference,
        label_policy=p.label_policy,
        parameters=MetricParameters.from_config(p.metrics),
        methods_against_loo=bool(p.metrics.get("methods_against_loo", True)),
    )
    rows.to_csv(smk.output.table, sep="\t", index=False)
    failures.to_csv(smk.output.failures, sep="\t", index=False)


run_script(snakemake, main)  # noqa: F821
