# Segmentation methods (lesionbench.methods): train each built-in method on the training split,
# then infer per (method, test case) so cases run in parallel; participants' commands and
# submissions, and ensembles of other methods, per case too. Every (method, case) gets a folder
# results/predictions/{method}/{case}/ with status.json (ok, failed or missing).
# Input functions are in common.smk.


localrules:
    methods_table,


rule train_method_sklearn:
    input:
        training_inputs,
    output:
        **training_outputs(SKLEARN_MODEL),
    log:
        paths.log("train_method/{method}"),
    benchmark:
        paths.benchmark("train_method/{method}")
    wildcard_constraints:
        method=SKLEARN_METHODS,
    conda:
        "../envs/sklearn.yaml"
    threads: method_threads
    resources:
        mem_mb=method_mem_mb,
        runtime=method_runtime,
    params:
        entry=method_entry,
        cases=training_layout,
        seed=method_seed,
    script:
        "../scripts/method_train_sklearn.py"


rule train_method_unet:
    input:
        training_inputs,
    output:
        **training_outputs(UNET_MODEL),
    log:
        paths.log("train_method/{method}"),
    benchmark:
        paths.benchmark("train_method/{method}")
    wildcard_constraints:
        method=UNET_CPU_METHODS,
    conda:
        "../envs/torch.yaml"
    threads: method_threads
    resources:
        mem_mb=method_mem_mb,
        runtime=method_runtime,
        gpu=method_gpu,
    params:
        entry=method_entry,
        cases=training_layout,
        seed=method_seed,
    script:
        "../scripts/method_train_unet.py"


rule infer_method_sklearn:
    input:
        unpack(inference_inputs),
    output:
        directory(paths.prediction_dir()),
    log:
        paths.log("infer_method/{method}/{case}"),
    benchmark:
        paths.benchmark("infer_method/{method}/{case}")
    wildcard_constraints:
        method=SKLEARN_METHODS,
    group:
        GROUP_CASE_EVAL
    conda:
        "../envs/sklearn.yaml"
    threads: method_inference_threads
    resources:
        mem_mb=method_mem_mb,
        runtime=method_runtime,
    params:
        entry=method_entry,
        on_failure=METHODS_ON_FAILURE,
    script:
        "../scripts/method_infer_sklearn.py"


rule infer_method_unet_gpu:
    input:
        unpack(inference_inputs),
    output:
        directory(paths.prediction_dir()),
    log:
        paths.log("infer_method/{method}/{case}"),
    benchmark:
        paths.benchmark("infer_method/{method}/{case}")
    wildcard_constraints:
        method=UNET_GPU_METHODS,
    conda:
        "../envs/torch-cuda.yaml"
    threads: method_inference_threads
    resources:
        mem_mb=method_mem_mb,
        runtime=method_runtime,
        gpu=method_gpu,
    params:
        entry=method_entry,
        on_failure=METHODS_ON_FAILURE,
    script:
        "../scripts/method_infer_unet.py"


# A U-Net whose config asks for a GPU (gpu: true or device: cuda) trains in
# train_method_unet_gpu and infers in infer_method_unet_gpu: the CUDA build of PyTorch,
# resource gpu=1, never in a group; profiles/slurm sends these two rules, and only them, to its
# GPU partition. A CPU U-Net's inference is seconds per case: it joins the case's evaluation
# group.
use rule train_method_unet as train_method_unet_gpu with:
    wildcard_constraints:
        method=UNET_GPU_METHODS,
    conda:
        "../envs/torch-cuda.yaml"


use rule infer_method_unet_gpu as infer_method_unet with:
    wildcard_constraints:
        method=UNET_CPU_METHODS,
    group:
        GROUP_CASE_EVAL
    conda:
        "../envs/torch.yaml"


rule run_method_command:
    input:
        unpack(command_inputs),
    output:
        directory(paths.prediction_dir()),
    log:
        paths.log("infer_method/{method}/{case}"),
    benchmark:
        paths.benchmark("infer_method/{method}/{case}")
    wildcard_constraints:
        method=COMMAND_METHODS,
    conda:
        "../envs/core.yaml"
    threads: method_threads
    resources:
        mem_mb=method_mem_mb,
        runtime=method_runtime,
        gpu=method_gpu,
    params:
        entry=method_entry,
        modalities=command_modalities,
        on_failure=METHODS_ON_FAILURE,
        limits=participant_limits,
    script:
        "../scripts/method_command.py"


rule collect_submission:
    input:
        unpack(submission_inputs),
    output:
        directory(paths.prediction_dir()),
    log:
        paths.log("infer_method/{method}/{case}"),
    wildcard_constraints:
        method=SUBMISSION_METHODS,
    group:
        GROUP_CASE_EVAL
    conda:
        "../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(1000),
        runtime=scaled_runtime(5),
    params:
        entry=method_entry,
        on_failure=METHODS_ON_FAILURE,
        limits=participant_limits,
    script:
        "../scripts/method_submission.py"


rule ensemble_case:
    input:
        unpack(ensemble_inputs),
    output:
        directory(paths.prediction_dir()),
    log:
        paths.log("infer_method/{method}/{case}"),
    wildcard_constraints:
        method=ENSEMBLE_METHODS,
    group:
        GROUP_CASE_EVAL
    conda:
        "../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(2000),
        runtime=scaled_runtime(10),
    params:
        entry=method_entry,
        members=ensemble_members,
        on_failure=METHODS_ON_FAILURE,
    script:
        "../scripts/method_ensemble.py"


rule methods_table:
    input:
        unpack(methods_table_inputs),
    output:
        status=report(
            paths.METHODS_STATUS,
            caption="../report/methods_status.rst",
            category="4. Methods",
        ),
        timing=paths.METHODS_TIMING,
    log:
        paths.log("methods_table"),
    conda:
        "../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(1000),
        runtime=scaled_runtime(5),
    script:
        "../scripts/method_table.py"
