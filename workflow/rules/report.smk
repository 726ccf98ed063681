# Ranking and report (lesionbench.ranking): leaderboard, challengeR-style analysis, strata, figures,
# and the population lesion-frequency map in template space (lesionbench.consensus.population).

FINAL_TARGETS.append("results/figures/lesion_frequency.png")


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
        mem_mb=scaled_mem(4000),
        runtime=20,
    params:
        options=ranking_options(),
    script:
        "../scripts/ranking.py"


rule lesion_frequency_map:
    input:
        masks=lambda wc: [reference_mask(case) for case in analysis_cases()],
        transforms=lambda wc: expand(f"{PP_DIR}/transforms", case=analysis_cases()),
    output:
        map="results/template_space/lesion_frequency.nii.gz",
        figure=report(
            "results/figures/lesion_frequency.png",
            caption="../report/lesion_frequency.rst",
            category="3. Consensus",
            labels={"figure": "lesion frequency (MNI)"},
        ),
    log:
        "logs/lesion_frequency_map.log",
    conda:
        "../../envs/ants.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(3000),
        runtime=10,
    params:
        cases=lambda wc: analysis_cases(),
        title="Reference consensus in MNI space",
    script:
        "../scripts/lesion_frequency_map.py"
