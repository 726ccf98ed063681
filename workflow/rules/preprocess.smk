# Preprocessing (docs/data-and-preprocessing.md): every modality rigidly onto the case's FLAIR
# grid (kept exactly as acquired, where the rater masks live), MNI template registration for the
# brain mask and tissue priors, N4 inside the brain mask; optional NL-means before. Then
# per-modality intensity harmonization (schemes from config), Nyul fitted on the training split
# only, and QC tables and figures for the report. Input functions are in common.smk.


# Summary tables and figures: harmonize_qc samples each case's white matter (qc_max_voxels) for
# one figure; it needs the test cases' harmonized images, made in their evaluation groups, so as a
# cluster job it would add a stage after the last of them (14 s on the demo).
localrules:
    preprocess_table,
    preprocess_overlays,
    harmonize_qc,


if PP["denoise"]:

    rule preprocess_denoise:
        input:
            unpack(raw_modality_images),
        output:
            directory(paths.denoised_dir()),
        log:
            paths.log("preprocess_denoise/{case}"),
        benchmark:
            paths.benchmark("preprocess_denoise/{case}")
        group:
            GROUP_CASE_PREP
        conda:
            "../envs/ants.yaml"
        threads: PP_THREADS
        resources:
            mem_mb=scaled_mem(4000),
            runtime=scaled_runtime(30),
        params:
            modalities=PP_MODALITIES,
            patch_radius=PP["denoise_patch_radius"],
            search_radius=PP["denoise_search_radius"],
            deterministic=PP["deterministic"],
        script:
            "../scripts/preprocess_denoise.py"


rule preprocess_case:
    input:
        unpack(preprocess_inputs),
    output:
        **preprocessed_outputs(),
        transforms=directory(paths.transforms_dir()),
        qc=paths.preprocess_qc_case(),
    log:
        paths.log("preprocess_case/{case}"),
    benchmark:
        paths.benchmark("preprocess_case/{case}")
    # the longest per-case job: run it early, so short jobs fill the end of a run
    priority: 10
    group:
        GROUP_CASE_PREP
    conda:
        "../envs/ants.yaml"
    threads: PP_THREADS
    resources:
        mem_mb=scaled_mem(6000),
        runtime=scaled_runtime(20),
    params:
        modalities=PP_MODALITIES,
        settings=PP,
        seed=stage_seed(config, "preprocess"),
        deterministic=PP["deterministic"],
        denoised=PP["denoise"],
        truth=SYNTHETIC,
        on_failure=failure_policy(config, "registration"),
        center=case_center,
        split=case_split,
    script:
        "../scripts/preprocess_case.py"


rule preprocess_table:
    input:
        preprocess_qc_tables,
    output:
        report(
            paths.PREPROCESS_QC,
            caption="../report/preprocess_qc.rst",
            category="2. Preprocessing",
        ),
    log:
        paths.log("preprocess_table"),
    conda:
        "../envs/sitk.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(1000),
        runtime=scaled_runtime(5),
    script:
        "../scripts/preprocess_table.py"


rule preprocess_overlays:
    input:
        flair=preprocessed_of_cases("flair"),
        second=preprocessed_of_cases(OVERLAY_SECOND),
        brain=preprocessed_of_cases("brain_mask"),
    output:
        report(
            paths.PREPROCESS_OVERLAYS,
            caption="../report/preprocess_overlays.rst",
            category="2. Preprocessing",
        ),
    log:
        paths.log("preprocess_overlays"),
    conda:
        "../envs/sitk.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(2000),
        runtime=scaled_runtime(5),
    params:
        cases=image_case_list,
        second=OVERLAY_SECOND,
    script:
        "../scripts/preprocess_overlays.py"


rule harmonize_fit_nyul:
    input:
        images=nyul_images,
        masks=nyul_masks,
    output:
        paths.nyul_scale(),
    log:
        paths.log("harmonize_fit_nyul/{modality}"),
    group:
        GROUP_HARMONIZE
    conda:
        "../envs/sitk.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(3000),
        runtime=scaled_runtime(5),
    params:
        cases=nyul_train_cases,
        nyul={
            "percentiles": HZ["nyul_percentiles"],
            "scale_range": HZ["nyul_scale_range"],
        },
    script:
        "../scripts/harmonize_fit_nyul.py"


# One job per case for every scheme: each image is read once, and a job per (scheme, case)
# would pay a process start-up and the imports for a few seconds of work. Outputs are named
# <scheme>_<modality>. Training cases are harmonized with the Nyul fits (their images train the
# methods); a test case is harmonized in its evaluation group (harmonize_test_case, see
# HARMONIZE_TEST_GROUP), so that on a cluster the fits and the training never wait for the test
# cases' preprocessing.
rule harmonize_case:
    input:
        unpack(harmonize_inputs),
    output:
        **harmonized_outputs(),
    log:
        paths.log("harmonize_case/{case}"),
    wildcard_constraints:
        case=TRAIN_CASES_REGEX,
    group:
        GROUP_HARMONIZE
    conda:
        "../envs/sitk.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(2000),
        runtime=scaled_runtime(5),
    params:
        schemes=HZ_SCHEMES,
        modalities=HZ_MODALITIES,
        whitestripe_width=HZ["whitestripe_width"],
        reference=histmatch_reference,
    script:
        "../scripts/harmonize_case.py"


use rule harmonize_case as harmonize_test_case with:
    wildcard_constraints:
        case=TEST_CASES_REGEX,
    group:
        HARMONIZE_TEST_GROUP


rule harmonize_qc:
    input:
        harmonization_qc_inputs,
    output:
        table=report(
            paths.HARMONIZATION_QC,
            caption="../report/preprocess_harmonization.rst",
            category="2. Preprocessing",
        ),
        figure=report(
            paths.HARMONIZATION_FIGURE,
            caption="../report/preprocess_harmonization.rst",
            category="2. Preprocessing",
        ),
    log:
        paths.log("harmonize_qc"),
    conda:
        "../envs/sitk.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(4000),
        runtime=scaled_runtime(10),
    params:
        cases=image_case_list,
        centers=image_case_centers,
        modalities=HZ_MODALITIES,
        schemes=HZ_SCHEMES,
        files=harmonization_qc_case_files,
        wm_threshold=HZ["qc_wm_threshold"],
        max_voxels=HZ["qc_max_voxels"],
        seed=stage_seed(config, "harmonization"),
    script:
        "../scripts/harmonize_qc.py"
