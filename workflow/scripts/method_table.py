"""Tables of the methods stage: status and seconds per (method, test case); training times."""

from lesionbench.workflow.run import run_script


def main(smk):
    import json
    from pathlib import Path

    import pandas as pd

    from lesionbench.methods.files import read_status

    rows = []
    for folder in smk.input.predictions:
        status = read_status(folder)
        rows.append(
            {
                "method": Path(folder).parent.name,
                "case_id": Path(folder).name,
                "status": status.get("status"),
                "seconds": status.get("seconds"),
                "error": status.get("error", ""),
            }
        )
    status = pd.DataFrame(rows, columns=["method", "case_id", "status", "seconds", "error"])
    status.to_csv(smk.output.status, sep="\t", index=False)
    timing = []
    for record_path in smk.input.models:
        record = json.loads(Path(record_path).read_text())
        timing.append({"method": record["name"], "stage": "train", "cases": len(record.get("training_cases", [])), "seconds_total": record.get("train_seconds"), "seconds_median_per_case": None})
    for method, group in status.groupby("method", sort=False):
        ok = group[group["status"] == "ok"]
        timing.append({"method": method, "stage": "infer", "cases": len(ok), "seconds_total": float(ok["seconds"].sum()), "seconds_median_per_case": float(ok["seconds"].median()) if len(ok) else None})
    pd.DataFrame(timing, columns=["method", "stage", "cases", "seconds_total", "seconds_median_per_case"]).to_csv(smk.output.timing, sep="\t", index=False)


run_script(snakemake, main)  # noqa: F821
