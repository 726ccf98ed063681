# Metrics (lesionbench.metrics via lesionbench.metrics.scoring): per case, every entry (method,
# ensemble, rater) against its references (consensus, truth, and the like-for-like "loo"
# rows: raters against their leave-one-out fusion, methods averaged over all of them),
# then the long results table.


localrules:
    metrics_table,


rule evaluate_case:
    input:
        unpack(evaluation_inputs),
    output:
        paths.metrics_case(),
    log:
        paths.log("evaluate_case/{case}"),
    benchmark:
        paths.benchmark("evaluate_case/{case}")
    group:
        GROUP_CASE_EVAL
    conda:
        "../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(3000),
        runtime=scaled_runtime(15),
    params:
        center=case_center,
        split=case_split,
        seen_center=case_seen_center,
        raters=case_rater_names,
        entries=evaluation_entries,
        reference=config["consensus"]["reference"],
        label_policy=config["qc"]["label_policy"],
        metrics=config["metrics"],
    script:
        "../scripts/evaluate_case.py"


rule metrics_table:
    input:
        metrics_case_tables,
    output:
        paths.METRICS_TABLE,
    log:
        paths.log("metrics_table"),
    conda:
        "../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(2000),
        runtime=scaled_runtime(5),
    script:
        "../scripts/metrics_table.py"
