# Ranking and report (lesionbench.ranking): leaderboard, challengeR-style analysis, strata, figures,
# and the population lesion-frequency map in template space (lesionbench.consensus.population).
# The ranking job's options and files come from lesionbench.ranking.outputs (via common.smk).


# The ranking reads one table (results/metrics/metrics.tsv) and is the workflow's last step:
# on a cluster it runs on the submit host rather than wait for a node at the end of the run.
localrules:
    lesion_frequency_map,
    ranking,


rule ranking:
    input:
        paths.METRICS_TABLE,
    output:
        **ranking_outputs(),
    log:
        paths.log("ranking"),
    benchmark:
        paths.benchmark("ranking")
    conda:
        "../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(4000),
        runtime=scaled_runtime(20),
    params:
        options=ranking_params(),
    script:
        "../scripts/ranking.py"


rule lesion_frequency_map:
    input:
        masks=reference_masks,
        transforms=transforms_of_cases,
    output:
        map=paths.LESION_FREQUENCY_MAP,
        figure=report(
            paths.LESION_FREQUENCY_FIGURE,
            caption="../report/lesion_frequency.rst",
            category="3. Consensus",
            labels={"figure": "lesion frequency (MNI)"},
        ),
    log:
        paths.log("lesion_frequency_map"),
    conda:
        "../envs/ants.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(3000),
        runtime=scaled_runtime(10),
    params:
        cases=analysis_case_list,
        title="Reference consensus in MNI space",
    script:
        "../scripts/lesion_frequency_map.py"
