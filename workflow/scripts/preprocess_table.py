"""Gather the per-case preprocessing QC rows into results/qc/preprocessing.tsv."""

from lesionbench.workflow.run import run_script


def main(smk):
    import pandas as pd

    frames = [pd.read_csv(p, sep="\t", dtype={"case_id": str, "center": str}) for p in smk.input]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    table.to_csv(smk.output[0], sep="\t", index=False, float_format="%.6g")


run_script(snakemake, main)  # noqa: F821
