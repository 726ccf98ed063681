# Ranking and report (lesionbench.ranking): leaderboard, challengeR-style analysis, strata, figures.


rule ranking:
    input:
        "results/metrics/metrics.tsv",
    output:
        **ranking_outputs(),
    log:
        "logs/ranking.log",
    benchmark:
        "benchmarks/results/ranking.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        options=ranking_options(),
    script:
        "../scripts/ranking.py"
