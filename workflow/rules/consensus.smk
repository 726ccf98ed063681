# Consensus ground truth from the raters (lesionbench.consensus.case): per case and fusion method,
# the binary consensus, posterior, rater performance and leave-one-rater-out fusions, every
# fusion checked by the empty-consensus guard (consensus.on_empty).


rule consensus_case:
    input:
        unpack(consensus_inputs),
    output:
        masks=expand(
            "results/consensus/{{case}}/{fusion}.nii.gz", fusion=CONSENSUS_METHODS
        ),
        posteriors=expand(
            "results/consensus/{{case}}/{fusion}_posterior.nii.gz",
            fusion=CONSENSUS_METHODS,
        ),
        tables=expand(
            "results/consensus/{{case}}/{fusion}_raters.tsv", fusion=CONSENSUS_METHODS
        ),
        loo=[
            directory(p)
            for p in expand(
                "results/consensus/{{case}}/loo_{fusion}", fusion=CONSENSUS_METHODS
            )
        ],
    log:
        "logs/consensus_case/{case}.log",
    benchmark:
        "benchmarks/results/consensus_case/{case}.tsv"
    # STAPLE can crawl on near-empty cases: start it early
    priority: 5
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(3000),
        runtime=10,
    params:
        fusions=CONSENSUS_METHODS,
        raters=case_rater_names,
        options=config["consensus"],
        label_policy=config["qc"]["label_policy"],
    script:
        "../scripts/consensus_case.py"


rule consensus_validation_case:
    input:
        truth=truth_file("truth_lesions"),
        raters=case_rater_paths,
        fusions=expand(
            "results/consensus/{{case}}/{fusion}.nii.gz", fusion=CONSENSUS_METHODS
        ),
        tables=expand(
            "results/consensus/{{case}}/{fusion}_raters.tsv", fusion=CONSENSUS_METHODS
        ),
    output:
        "results/consensus/validation/{case}.tsv",
    log:
        "logs/consensus_validation_case/{case}.log",
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(2000),
        runtime=5,
    params:
        raters=case_rater_names,
        fusions=CONSENSUS_METHODS,
        min_lesion_volume_mm3=config["metrics"]["min_lesion_volume_mm3"],
    script:
        "../scripts/consensus_validation_case.py"


rule consensus_tables:
    input:
        unpack(consensus_table_inputs),
    output:
        **consensus_table_outputs(),
    log:
        "logs/consensus_tables.log",
    conda:
        "../../envs/core.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(1000),
        runtime=5,
    script:
        "../scripts/consensus_tables.py"
