# Consensus ground truth from the raters (lesionbench.consensus.case): per case and fusion method,
# the binary consensus, posterior, rater performance and leave-one-rater-out fusions, every
# fusion checked by the empty-consensus guard.
# With consensus.reference: shipped the dataset's own consensus is the ground truth and nothing
# is fused: these rules do not exist then.


if not SHIPPED:

    localrules:
        consensus_tables,

    rule consensus_case:
        input:
            unpack(consensus_inputs),
        output:
            **consensus_outputs(),
        log:
            paths.log("consensus_case/{case}"),
        benchmark:
            paths.benchmark("consensus_case/{case}")
        # STAPLE can crawl on near-empty cases: start it early
        priority: 5
        group:
            GROUP_CASE_PREP
        conda:
            "../envs/core.yaml"
        threads: 1
        resources:
            mem_mb=scaled_mem(3000),
            runtime=scaled_runtime(10),
        params:
            fusions=CONSENSUS_METHODS,
            raters=case_rater_names,
            options=config["consensus"],
            on_failure=failure_policy(config, "consensus"),
            label_policy=config["qc"]["label_policy"],
        script:
            "../scripts/consensus_case.py"

    rule consensus_validation_case:
        input:
            unpack(consensus_validation_inputs),
        output:
            paths.consensus_validation_case(),
        log:
            paths.log("consensus_validation_case/{case}"),
        group:
            GROUP_CASE_PREP
        conda:
            "../envs/core.yaml"
        threads: 1
        resources:
            mem_mb=scaled_mem(2000),
            runtime=scaled_runtime(5),
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
            paths.log("consensus_tables"),
        conda:
            "../envs/core.yaml"
        threads: 1
        resources:
            mem_mb=scaled_mem(1000),
            runtime=scaled_runtime(5),
        script:
            "../scripts/consensus_tables.py"
