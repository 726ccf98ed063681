# The new-lesion track (task: new_lesions; README "Two tracks"). Each visit of a case is
# preprocessed and harmonized by the cross-sectional rules as a case of its own (paths.visit_case);
# the rules here fuse the visits' brain masks, tune and run the subtraction baseline, score each
# test case as MSSEG-2 did and rank. Consensus, the U-Net (two channels: one per visit) and
# ensembles run through the cross-sectional rules. Input functions are in common.smk.


localrules:
    new_lesion_ranking,
    new_lesion_detection_by_size,


# A case whose visits lie on two grids (COREGISTERED, new_lesions.coregister): its baseline's
# images registered rigidly onto the follow-up FLAIR's grid, where the raters' masks lie; the
# baseline visit is preprocessed from these (case_images).
rule coregister_visits:
    input:
        unpack(coregister_inputs),
    output:
        **coregistered_outputs(),
    log:
        paths.log("coregister_visits/{case}"),
    benchmark:
        paths.benchmark("coregister_visits/{case}")
    group:
        GROUP_CASE_PREP
    conda:
        "../envs/ants.yaml"
    threads: PP_THREADS
    resources:
        mem_mb=scaled_mem(3000),
        runtime=scaled_runtime(10),
    params:
        modalities=PP_MODALITIES,
        settings=PP,
        seed=stage_seed(config, "preprocess"),
        deterministic=PP["deterministic"],
    script:
        "../scripts/coregister_visits.py"


rule fuse_brain_mask:
    input:
        masks=visit_brain_masks,
    output:
        paths.fused_brain_mask(),
    log:
        paths.log("fuse_brain_mask/{case}"),
    group:
        GROUP_CASE_PREP
    conda:
        "../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(1000),
        runtime=scaled_runtime(5),
    params:
        rule="intersection",
    script:
        "../scripts/fuse_brain_mask.py"


rule train_method_subtraction:
    input:
        training_inputs,
    output:
        **training_outputs(SUBTRACTION_MODEL),
    log:
        paths.log("train_method/{method}"),
    benchmark:
        paths.benchmark("train_method/{method}")
    wildcard_constraints:
        method=SUBTRACTION_METHODS,
    conda:
        "../envs/sklearn.yaml"
    threads: method_threads
    resources:
        mem_mb=method_mem_mb,
        runtime=method_runtime,
    params:
        entry=method_entry,
        cases=training_layout,
    script:
        "../scripts/method_train_subtraction.py"


rule infer_method_subtraction:
    input:
        unpack(inference_inputs),
    output:
        directory(paths.prediction_dir()),
    log:
        paths.log("infer_method/{method}/{case}"),
    benchmark:
        paths.benchmark("infer_method/{method}/{case}")
    wildcard_constraints:
        method=SUBTRACTION_METHODS,
    group:
        GROUP_CASE_EVAL
    conda:
        "../envs/sklearn.yaml"
    threads: 1
    resources:
        mem_mb=method_mem_mb,
        runtime=method_runtime,
    params:
        entry=method_entry,
        on_failure=METHODS_ON_FAILURE,
    script:
        "../scripts/method_infer_subtraction.py"


rule score_new_lesion_case:
    input:
        unpack(new_lesion_score_inputs),
    output:
        paths.new_lesion_metrics_case(),
        detections=paths.new_lesion_detections_case(),
    log:
        paths.log("score_new_lesion_case/{case}"),
    benchmark:
        paths.benchmark("score_new_lesion_case/{case}")
    group:
        GROUP_CASE_EVAL
    conda:
        "../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(2000),
        runtime=scaled_runtime(10),
    params:
        reference=config["consensus"]["reference"],
        entries=evaluated_entries(),
        raters=case_rater_names,
        fields=new_lesion_case_fields,
    script:
        "../scripts/score_new_lesion_case.py"


rule new_lesion_ranking:
    input:
        paths.METRICS_TABLE,
    output:
        table=paths.NEW_LESION_LEADERBOARD,
        markdown=paths.NEW_LESION_LEADERBOARD_MD,
        figure=report(
            paths.NEW_LESION_EMPTY_FIGURE,
            caption="../report/new_lesion_empty_cases.rst",
            category="6. Figures",
            labels={"figure": "new lesions: cases without new lesions"},
        ),
    log:
        paths.log("new_lesion_ranking"),
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(2000),
        runtime=scaled_runtime(5),
    params:
        reference=config["consensus"]["reference"],
    script:
        "../scripts/new_lesion_ranking.py"


rule new_lesion_detection_by_size:
    input:
        new_lesion_detection_tables,
    output:
        table=paths.NEW_LESION_DETECTION_BY_SIZE,
        figure=report(
            paths.NEW_LESION_SIZE_FIGURE,
            caption="../report/new_lesion_detection_by_size.rst",
            category="6. Figures",
            labels={"figure": "new lesions: detection by size"},
        ),
    log:
        paths.log("new_lesion_detection_by_size"),
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(1000),
        runtime=scaled_runtime(5),
    params:
        reference=config["consensus"]["reference"],
    script:
        "../scripts/new_lesion_detection_by_size.py"
