"""Score every entry of one case against every reference (lesionbench.evaluation)."""

from lesionbench.workflow_support import run_script


def main(smk):
    import json
    from pathlib import Path

    import pandas as pd

    from lesionbench.evaluation import CaseInfo, MetricParameters, rows_frame, score_entry
    from lesionbench.io import load_mask, load_volume

    case = smk.wildcards.case
    p = smk.params
    info = CaseInfo(case_id=case, center=p.center, split=p.split, seen_center=bool(p.seen_center))
    parameters = MetricParameters(**p.metric_parameters)
    flair = load_volume(smk.input.flair, case=case)
    policy = p.label_policy

    def mask(path):
        return load_mask(path, case=case, reference=flair, policy=policy).data

    references = {f"consensus_{p.reference}": mask(smk.input.reference)}
    if smk.input.get("truth"):
        references["truth"] = load_mask(smk.input.truth, case=case, reference=flair).data
    rows = []
    for name, path in zip(p.raters, smk.input.raters):
        rater = mask(path)
        for ref_name, ref in references.items():
            if ref_name != f"consensus_{p.reference}":
                rows += score_entry(info, entry=name, kind="rater", reference_name=ref_name, reference=ref, prediction=rater, spacing=flair.spacing, parameters=parameters)
        loo = Path(smk.input.loo) / f"{name}.nii.gz"
        if loo.exists():
            rows += score_entry(info, entry=name, kind="rater", reference_name="loo", reference=mask(loo), prediction=rater, spacing=flair.spacing, parameters=parameters)
    for (entry, kind), folder in zip(p.entries, smk.input.predictions):
        status_file = Path(folder) / "status.json"
        status = json.loads(status_file.read_text()) if status_file.exists() else {"status": "missing"}
        prediction = None
        if status.get("status") == "ok":
            prediction = load_mask(Path(folder) / "mask.nii.gz", case=case, reference=flair).data
        for ref_name, ref in references.items():
            rows += score_entry(info, entry=entry, kind=kind, reference_name=ref_name, reference=ref, prediction=prediction, spacing=flair.spacing, parameters=parameters, status=None if prediction is not None else status.get("status", "missing"))
    rows_frame(rows).to_csv(smk.output[0], sep="\t", index=False)
    print(pd.DataFrame(rows).groupby(["entry", "reference"]).size().to_string())


run_script(snakemake, main)  # noqa: F821
