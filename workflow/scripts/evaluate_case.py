"""Score every entry of one case against its references (lesionbench.metrics.scoring.evaluate_case_files)."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.metrics.scoring import CaseInfo, MetricParameters, evaluate_case_files

    p, i = smk.params, smk.input
    evaluate_case_files(
        CaseInfo(case_id=smk.wildcards.case, center=p.center, split=p.split, seen_center=bool(p.seen_center)),
        flair=i.flair,
        consensus_fusion=p.reference,
        consensus=i.reference,
        raters=dict(zip(p.raters, i.raters)),
        loo_folder=i.get("loo") or None,
        entries=[(name, kind, folder) for (name, kind), folder in zip(p.entries, i.predictions)],
        truth=i.get("truth") or None,
        label_policy=p.label_policy,
        parameters=MetricParameters.from_config(p.metrics),
        methods_against_loo=bool(p.metrics.get("methods_against_loo", True)),
    ).to_csv(smk.output[0], sep="\t", index=False)


run_script(snakemake, main)  # noqa: F821
