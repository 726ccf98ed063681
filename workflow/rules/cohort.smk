# The cohort: synthesize (default) or import, then input QC at the root of the DAG.


if SYNTHETIC:

    rule synthesize_anatomy:
        output:
            "results/cohort/synthetic_anatomy.npz",
        log:
            "logs/synthesize_anatomy.log",
        conda:
            "../../envs/synth.yaml"
        threads: 1
        resources:
            mem_mb=scaled_mem(3000),
            runtime=5,
        params:
            preset=config["synthetic"]["preset"],
        script:
            "../scripts/synthesize_anatomy.py"

    rule synthesize_case:
        input:
            anatomy="results/cohort/synthetic_anatomy.npz",
        output:
            **synth_truth_outputs(),
            flair=f"{SYNTHETIC_ROOT}/{{case_dir}}/Raw_Data/3DFLAIR.nii.gz",
            t1=f"{SYNTHETIC_ROOT}/{{case_dir}}/Raw_Data/3DT1.nii.gz",
            t2=f"{SYNTHETIC_ROOT}/{{case_dir}}/Raw_Data/T2.nii.gz",
            pd=f"{SYNTHETIC_ROOT}/{{case_dir}}/Raw_Data/DP.nii.gz",
            raters=expand(
                f"{SYNTHETIC_ROOT}/{{case_dir}}/Masks/ManualSegmentation_{{k}}.nii.gz",
                k=range(1, N_RATERS + 1),
                allow_missing=True,
            ),
        log:
            "logs/synthesize_case/{case_dir}.log",
        benchmark:
            "benchmarks/results/synthesize_case/{case_dir}.tsv"
        # long per-case jobs first (see preprocess_case)
        priority: 10
        conda:
            "../../envs/synth.yaml"
        threads: 1
        resources:
            mem_mb=scaled_mem(3000),
            runtime=10,
        params:
            preset=config["synthetic"]["preset"],
            seed=config["synthetic"]["seed"],
            raters=N_RATERS,
            root=synthetic_root_from_output,
        script:
            "../scripts/synthesize_case.py"

    rule cohort_overview:
        input:
            synthetic_case_files(),
        output:
            report(
                "results/figures/cohort_overview.png",
                caption="../report/cohort_overview.rst",
                category="1. Cohort",
            ),
        log:
            "logs/cohort_overview.log",
        conda:
            "../../envs/synth.yaml"
        threads: 1
        resources:
            mem_mb=scaled_mem(4000),
            runtime=10,
        params:
            preset=config["synthetic"]["preset"],
            seed=config["synthetic"]["seed"],
            raters=N_RATERS,
            root=synthetic_root_from_input,
        script:
            "../scripts/cohort_overview.py"


rule import_cohort:
    input:
        synthetic_case_files() if SYNTHETIC else [],
    output:
        cases="results/cohort/cases.tsv",
        raters="results/cohort/raters.tsv",
    log:
        "logs/import_cohort.log",
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(1000),
        runtime=5,
    params:
        config=config,
        synthetic_root=synthetic_root_from_input if SYNTHETIC else "",
    script:
        "../scripts/import_cohort.py"


rule qc_case:
    input:
        case_inputs,
    output:
        "results/qc/cases/{case}.tsv",
    log:
        "logs/qc_case/{case}.log",
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(2000),
        runtime=5,
    params:
        files=qc_params,
        required=config["modalities"]["required"],
        label_policy=config["qc"]["label_policy"],
        affine_tolerance_mm=config["qc"]["affine_tolerance_mm"],
        stop_on_failure=config["qc"]["on_failure"] == "stop",
    script:
        "../scripts/qc_case.py"


checkpoint qc_inputs:
    input:
        sheet="results/cohort/cases.tsv",
        cases=expand("results/qc/cases/{case}.tsv", case=CASES),
    output:
        table=report(
            "results/qc/inputs.tsv",
            caption="../report/qc_inputs.rst",
            category="1. Cohort",
        ),
        status="results/qc/case_status.tsv",
        excluded="results/qc/excluded.tsv",
    log:
        "logs/qc_inputs.log",
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(1000),
        runtime=5,
    script:
        "../scripts/qc_inputs.py"


rule provenance:
    output:
        "results/provenance.json",
    log:
        "logs/provenance.log",
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(500),
        runtime=2,
    params:
        config=config,
        repo=workflow.basedir,
    script:
        "../scripts/provenance.py"
