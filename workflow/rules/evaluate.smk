# Metrics (lesionbench.metrics via lesionbench.metrics.scoring): per case, every entry (method,
# ensemble, rater) against its references (consensus, truth, and the like-for-like "loo"
# rows: raters against their leave-one-out fusion, methods averaged over all of them),
# then the long results table. One job scores a batch of cases (evaluation.batch_size; the
# rows of a case do not depend on its batch), so a large cohort does not pay a job's start-up
# per case. A batch of a few cases joins its cases' group (evaluate_batch_group).


localrules:
    metrics_table,


rule evaluate_batch:
    input:
        evaluation_batch_inputs,
    output:
        table=paths.metrics_batch(),
        failures=paths.metrics_batch_failures(),
    log:
        paths.log("evaluate_batch/{batch}"),
    benchmark:
        paths.benchmark("evaluate_batch/{batch}")
    group:
        evaluate_batch_group
    conda:
        "../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(3000),
        runtime=evaluation_batch_runtime,
    params:
        cases=evaluation_batch_cases,
        reference=config["consensus"]["reference"],
        label_policy=config["qc"]["label_policy"],
        metrics=config["metrics"],
    script:
        "../scripts/evaluate_batch.py"


rule metrics_table:
    input:
        tables=metrics_tables,
        failures=metrics_failure_tables,
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
