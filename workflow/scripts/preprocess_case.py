"""Preprocess one case (lesionbench.preprocess.jobs): co-registration, brain mask, priors, N4, QC rows."""

from pathlib import Path

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.preprocess.jobs import PreprocessSettings, preprocess_case_files  # loads no ITK yet

    p = smk.params
    preprocess_case_files(
        smk.wildcards.case,
        {m: Path(smk.input.denoised) / f"{m}.nii.gz" if p.denoised else smk.input[m] for m in p.modalities},
        Path(smk.output.brain_mask).parent,
        qc_path=smk.output.qc,
        settings=PreprocessSettings.from_config(p.settings, seed=p.seed),
        columns={"center": p.center, "split": p.split},
        truth={k: v for k, v in smk.input.items() if k.startswith("truth_")},
        threads=1 if p.deterministic else smk.threads,
        stop_on_failure=p.on_failure == "stop",
    )


run_script(snakemake, main)  # noqa: F821
