"""Score every entry of one case against its references (lesionbench.metrics.scoring.evaluate_case_files)."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.metrics.scoring import CaseInfo, MetricParameters, evaluate_case_files

    p = smk.params
    case = smk.wildcards.case
    table = evaluate_case_files(
        CaseInfo(case_id=case, center=p.center, split=p.split, seen_center=bool(p.seen_center)),
        flair=smk.input.flair,
        consensus_fusion=p.reference,
        consensus=smk.input.reference,
        raters=dict(zip(p.raters, smk.input.raters)),
        loo_folder=smk.input.loo,
        entries=[(name, kind, folder) for (name, kind), folder in zip(p.entries, smk.input.predictions)],
        truth=smk.input.get("truth") or None,
        label_policy=p.label_policy,
        parameters=MetricParameters.from_config(p.metrics),
        methods_against_loo=bool(p.metrics.get("methods_against_loo", True)),
    )
    table.to_csv(smk.output[0], sep="\t", index=False)
    print(table.groupby(["entry", "reference"]).size().to_string())


run_script(snakemake, main)  # noqa: F821
