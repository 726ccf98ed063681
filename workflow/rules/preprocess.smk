# Preprocessing (docs/data-and-preprocessing.md): every modality rigidly onto the case's FLAIR grid (kept exactly as
# acquired, where the rater masks live), MNI template registration for the brain mask and tissue
# priors, N4 inside the brain mask; optional NL-means before. Then per-modality intensity
# harmonization (schemes from config), Nyul fitted on the training split only, and QC tables and
# figures for the report. Helpers are lambdas: the linter wants no functions next to rules.
PP = config["preprocess"]
HZ = config["harmonization"]
PP_MODALITIES = list(config["modalities"]["required"])
HZ_MODALITIES = list(HZ["modalities"] or PP_MODALITIES)
HZ_SCHEMES = list(HZ["schemes"])
PP_THREADS = 1 if PP["deterministic"] else int(PP["threads"])
PP_DIR = "results/preprocessed/{case}"
HZ_PATH = "results/harmonized/{scheme}/{case}/{modality}.nii.gz"
CASE_INFO = SHEET.cases.set_index("case_id")


wildcard_constraints:
    scheme="|".join(HZ_SCHEMES) if HZ_SCHEMES else "none",
    modality="|".join(PP_MODALITIES),


# Raw (or denoised) inputs of the preprocessing job of a case.
preprocess_inputs = lambda wildcards: {
    **(
        {"denoised": f"results/preprocess/denoised/{wildcards.case}"}
        if PP["denoise"]
        else {m: case_images(wildcards)[m] for m in PP_MODALITIES}
    ),
    # Synthetic truth (brain mask, poses) for QC, through common.smk's truth_file.
    **(
        {
            "truth_brain": truth_file("truth_brain_mask")(wildcards),
            "truth_transforms": truth_file("truth_transforms")(wildcards),
        }
        if SYNTHETIC
        else {}
    ),
}

# Nyul and histogram matching read other cases: the training split, a reference case.
nyul_train_cases = lambda: analysis_cases("train")
histmatch_reference = lambda: HZ["histmatch_reference"] or nyul_train_cases()[0]

harmonize_inputs = lambda wildcards: {
    **{m: f"{PP_DIR}/{m}.nii.gz".format(case=wildcards.case) for m in HZ_MODALITIES},
    "brain_mask": f"{PP_DIR}/brain_mask.nii.gz".format(case=wildcards.case),
    **(
        {
            f"scale_{m}": f"results/harmonized/nyul/standard_scale_{m}.json"
            for m in HZ_MODALITIES
        }
        if "nyul" in HZ_SCHEMES
        else {}
    ),
    **(
        {
            **{
                f"reference_{m}": f"{PP_DIR}/{m}.nii.gz".format(
                    case=histmatch_reference()
                )
                for m in HZ_MODALITIES
            },
            "reference_mask": f"{PP_DIR}/brain_mask.nii.gz".format(
                case=histmatch_reference()
            ),
        }
        if "histmatch" in HZ_SCHEMES
        else {}
    ),
}

# Final outputs of this stage (appended before the rules: tests/test_envs.py parses rule blocks
# up to the end of the file).
FINAL_TARGETS += [
    "results/qc/preprocessing.tsv",
    "results/figures/preprocess_overlays.png",
]
if HZ_SCHEMES:
    FINAL_TARGETS += [
        "results/qc/harmonization.tsv",
        "results/figures/harmonization_nawm.png",
    ]


if PP["denoise"]:

    rule preprocess_denoise:
        input:
            unpack(lambda wc: {m: case_images(wc)[m] for m in PP_MODALITIES}),
        output:
            directory("results/preprocess/denoised/{case}"),
        log:
            "logs/preprocess_denoise/{case}.log",
        benchmark:
            "benchmarks/results/preprocess_denoise/{case}.tsv"
        conda:
            "../../envs/ants.yaml"
        threads: PP_THREADS
        resources:
            mem_mb=scaled_mem(4000),
            runtime=30,
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
        **{m: f"{PP_DIR}/{m}.nii.gz" for m in PP_MODALITIES},
        brain_mask=f"{PP_DIR}/brain_mask.nii.gz",
        prior_wm=f"{PP_DIR}/prior_wm.nii.gz",
        prior_gm=f"{PP_DIR}/prior_gm.nii.gz",
        prior_csf=f"{PP_DIR}/prior_csf.nii.gz",
        transforms=directory(f"{PP_DIR}/transforms"),
        qc="results/qc/preprocess/{case}.tsv",
    log:
        "logs/preprocess_case/{case}.log",
    benchmark:
        "benchmarks/results/preprocess_case/{case}.tsv"
    # the longest per-case job: run it early, so short jobs fill the end of a run
    priority: 10
    conda:
        "../../envs/ants.yaml"
    threads: PP_THREADS
    resources:
        mem_mb=scaled_mem(6000),
        runtime=20,
    params:
        modalities=PP_MODALITIES,
        settings=PP,
        seed=stage_seed(config, "preprocess"),
        deterministic=PP["deterministic"],
        denoised=PP["denoise"],
        truth=SYNTHETIC,
        on_failure=failure_policy(config, "registration"),
        center=lambda wc: str(CASE_INFO.loc[wc.case, "center"]),
        split=lambda wc: str(CASE_INFO.loc[wc.case, "split"]),
    script:
        "../scripts/preprocess_case.py"


rule preprocess_table:
    input:
        lambda wc: expand("results/qc/preprocess/{case}.tsv", case=analysis_cases()),
    output:
        report(
            "results/qc/preprocessing.tsv",
            caption="../report/preprocess_qc.rst",
            category="2. Preprocessing",
        ),
    log:
        "logs/preprocess_table.log",
    conda:
        "../../envs/sitk.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(1000),
        runtime=5,
    script:
        "../scripts/preprocess_table.py"


rule preprocess_overlays:
    input:
        flair=lambda wc: expand(f"{PP_DIR}/flair.nii.gz", case=analysis_cases()),
        second=lambda wc: expand(
            f"{PP_DIR}/{PP_MODALITIES[1] if len(PP_MODALITIES) > 1 else 'flair'}.nii.gz",
            case=analysis_cases(),
        ),
        brain=lambda wc: expand(f"{PP_DIR}/brain_mask.nii.gz", case=analysis_cases()),
    output:
        report(
            "results/figures/preprocess_overlays.png",
            caption="../report/preprocess_overlays.rst",
            category="2. Preprocessing",
        ),
    log:
        "logs/preprocess_overlays.log",
    conda:
        "../../envs/sitk.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(2000),
        runtime=5,
    params:
        cases=lambda wc: analysis_cases(),
        second=PP_MODALITIES[1] if len(PP_MODALITIES) > 1 else "flair",
    script:
        "../scripts/preprocess_overlays.py"


rule harmonize_fit_nyul:
    input:
        images=lambda wc: expand(
            f"{PP_DIR}/{wc.modality}.nii.gz", case=nyul_train_cases()
        ),
        masks=lambda wc: expand(f"{PP_DIR}/brain_mask.nii.gz", case=nyul_train_cases()),
    output:
        "results/harmonized/nyul/standard_scale_{modality}.json",
    log:
        "logs/harmonize_fit_nyul/{modality}.log",
    conda:
        "../../envs/sitk.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(3000),
        runtime=5,
    params:
        cases=lambda wc: nyul_train_cases(),
        nyul={
            "percentiles": HZ["nyul_percentiles"],
            "scale_range": HZ["nyul_scale_range"],
        },
    script:
        "../scripts/harmonize_fit_nyul.py"


# One job per case for every scheme: each image is read once, and a job per (scheme, case)
# would pay a process start-up and the imports for a few seconds of work.
rule harmonize_case:
    input:
        unpack(harmonize_inputs),
    output:
        [
            HZ_PATH.replace("{scheme}", s).replace("{modality}", m)
            for s in HZ_SCHEMES
            for m in HZ_MODALITIES
        ],
    log:
        "logs/harmonize_case/{case}.log",
    conda:
        "../../envs/sitk.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(2000),
        runtime=5,
    params:
        schemes=HZ_SCHEMES,
        modalities=HZ_MODALITIES,
        whitestripe_width=HZ["whitestripe_width"],
        reference=lambda wc: histmatch_reference() if "histmatch" in HZ_SCHEMES else "",
    script:
        "../scripts/harmonize_case.py"


rule harmonize_qc:
    input:
        pre=lambda wc: expand(
            f"{PP_DIR}/{{modality}}.nii.gz",
            case=analysis_cases(),
            modality=HZ_MODALITIES,
        ),
        priors=lambda wc: expand(f"{PP_DIR}/prior_wm.nii.gz", case=analysis_cases()),
        harmonized=lambda wc: expand(
            HZ_PATH, scheme=HZ_SCHEMES, case=analysis_cases(), modality=HZ_MODALITIES
        ),
    output:
        table=report(
            "results/qc/harmonization.tsv",
            caption="../report/preprocess_harmonization.rst",
            category="2. Preprocessing",
        ),
        figure=report(
            "results/figures/harmonization_nawm.png",
            caption="../report/preprocess_harmonization.rst",
            category="2. Preprocessing",
        ),
    log:
        "logs/harmonize_qc.log",
    conda:
        "../../envs/sitk.yaml"
    threads: 1
    resources:
        mem_mb=scaled_mem(4000),
        runtime=10,
    params:
        cases=lambda wc: analysis_cases(),
        centers=lambda wc: {
            c: str(CASE_INFO.loc[c, "center"]) for c in analysis_cases()
        },
        modalities=HZ_MODALITIES,
        schemes=HZ_SCHEMES,
        preprocessed=lambda wc: PP_DIR,
        harmonized=lambda wc: HZ_PATH,
        wm_threshold=HZ["qc_wm_threshold"],
        max_voxels=HZ["qc_max_voxels"],
        seed=stage_seed(config, "harmonization"),
    script:
        "../scripts/harmonize_qc.py"
