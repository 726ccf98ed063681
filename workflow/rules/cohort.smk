# The cohort: synthesize (default) or import, then input QC at the root of the DAG.


localrules:
    import_cohort,
    qc_inputs,
    provenance,


if SYNTHETIC_SOURCE:

    # the anatomy shared by every case is seconds of work
    localrules:
        synthesize_anatomy,

    rule synthesize_anatomy:
        output:
            paths.SYNTHETIC_ANATOMY,
        log:
            paths.log("synthesize_anatomy"),
        conda:
            "../envs/synth.yaml"
        threads: 1
        resources:
            mem_mb=scaled_mem(3000),
            runtime=scaled_runtime(5),
        params:
            preset=SYNTHETIC_PRESET,
        script:
            "../scripts/synthesize_anatomy.py"


if SYNTHETIC:

    # the overview is a summary figure
    localrules:
        cohort_overview,

    rule synthesize_case:
        input:
            anatomy=paths.SYNTHETIC_ANATOMY,
        output:
            **synth_truth_outputs(),
            flair=paths.synthetic_case_file("Raw_Data/3DFLAIR.nii.gz"),
            t1=paths.synthetic_case_file("Raw_Data/3DT1.nii.gz"),
            t2=paths.synthetic_case_file("Raw_Data/T2.nii.gz"),
            pd=paths.synthetic_case_file("Raw_Data/DP.nii.gz"),
            raters=synthetic_rater_outputs(),
        log:
            paths.log("synthesize_case/{case_dir}"),
        benchmark:
            paths.benchmark("synthesize_case/{case_dir}")
        # long per-case jobs first (see preprocess_case)
        priority: 10
        group:
            GROUP_CASE_PREP
        conda:
            "../envs/synth.yaml"
        threads: 1
        resources:
            mem_mb=scaled_mem(3000),
            runtime=scaled_runtime(10),
        params:
            preset=SYNTHETIC_PRESET,
            seed=SYNTHETIC_SEED,
            raters=N_RATERS,
            root=synthetic_root_from_output,
        script:
            "../scripts/synthesize_case.py"

    rule cohort_overview:
        input:
            cohort_files(),
        output:
            report(
                paths.COHORT_OVERVIEW,
                caption="../report/cohort_overview.rst",
                category="1. Cohort",
            ),
        log:
            paths.log("cohort_overview"),
        conda:
            "../envs/synth.yaml"
        threads: 1
        resources:
            mem_mb=scaled_mem(4000),
            runtime=scaled_runtime(10),
        params:
            preset=SYNTHETIC_PRESET,
            seed=SYNTHETIC_SEED,
            raters=N_RATERS,
            root=synthetic_root_from_input,
        script:
            "../scripts/cohort_overview.py"


if SYNTHETIC_LONGITUDINAL:

    # task: new_lesions on the embedded cohort: one two-visit patient per job (MSSEG-2 layout)
    rule synthesize_patient:
        input:
            anatomy=paths.SYNTHETIC_ANATOMY,
        output:
            **synthetic_patient_outputs(),
        log:
            paths.log("synthesize_patient/{split_dir}/{patient}"),
        benchmark:
            paths.benchmark("synthesize_patient/{split_dir}/{patient}")
        wildcard_constraints:
            split_dir="Training|Testing",
            patient="|".join(CASES),
        # long per-case jobs first (see preprocess_case)
        priority: 10
        conda:
            "../envs/synth.yaml"
        threads: 1
        resources:
            mem_mb=scaled_mem(3000),
            runtime=scaled_runtime(10),
        params:
            preset=SYNTHETIC_PRESET,
            seed=SYNTHETIC_SEED,
            variant=SYNTHETIC_LONGITUDINAL_VARIANT,
            t1="t1" in PP_MODALITIES,
            root=longitudinal_root_from_output,
        script:
            "../scripts/synthesize_patient.py"


rule import_cohort:
    input:
        cohort_files(),
    output:
        cases=paths.COHORT_CASES,
        raters=paths.COHORT_RATERS,
    log:
        paths.log("import_cohort"),
    conda:
        "../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(1000),
        runtime=scaled_runtime(5),
    params:
        config=config,
        synthetic_root=import_root,
    script:
        "../scripts/import_cohort.py"


rule qc_case:
    input:
        case_inputs,
    output:
        paths.qc_case(),
    log:
        paths.log("qc_case/{case}"),
    group:
        GROUP_CASE_PREP
    conda:
        "../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(2000),
        runtime=scaled_runtime(5),
    params:
        files=qc_params,
        task=TASK,
        required=QC_REQUIRED,
        label_policy=config["qc"]["label_policy"],
        affine_tolerance_mm=config["qc"]["affine_tolerance_mm"],
        stop_on_failure=QC_STOPS,
        coregistered=case_coregistered,
    script:
        "../scripts/qc_case.py"


checkpoint qc_inputs:
    input:
        sheet=paths.COHORT_CASES,
        cases=[paths.qc_case(case) for case in CASES],
    output:
        table=report(
            paths.QC_INPUTS,
            caption="../report/qc_inputs.rst",
            category="1. Cohort",
        ),
        status=paths.QC_STATUS,
        excluded=paths.QC_EXCLUDED,
    log:
        paths.log("qc_inputs"),
    conda:
        "../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(1000),
        runtime=scaled_runtime(5),
    script:
        "../scripts/qc_inputs.py"


rule provenance:
    output:
        paths.PROVENANCE,
    log:
        paths.log("provenance"),
    conda:
        "../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(500),
        runtime=scaled_runtime(2),
    params:
        config=config,
        repo=WORKFLOW_SOURCE,
    script:
        "../scripts/provenance.py"
