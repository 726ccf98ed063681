"""Between-center distance of normal-appearing-WM intensities before/after each harmonization scheme."""

from lesionbench.workflow.run import run_script


def main(smk):
    import numpy as np

    from lesionbench.io import load_mask, load_volume
    from lesionbench.preprocess.figures import plot_nawm_distributions
    from lesionbench.preprocess.quality import harmonization_table, nawm_mask, subsample

    cases, centers = smk.params.cases, smk.params.centers
    modalities, schemes = smk.params.modalities, smk.params.schemes
    samples = {}  # (space, modality) -> {case: values}
    scales = {}  # (space, modality) -> {case: brain SD}
    for case in cases:
        pre = smk.params.preprocessed.format(case=case)
        flair = load_volume(f"{pre}/flair.nii.gz", case=case)
        brain = load_mask(f"{pre}/brain_mask.nii.gz", case=case, reference=flair).data
        wm = load_volume(f"{pre}/prior_wm.nii.gz", case=case).data
        nawm = nawm_mask(wm, brain, threshold=smk.params.wm_threshold)
        # The same voxels in every intensity space, so schemes are compared on equal terms.
        rng = np.random.default_rng(smk.params.seed)
        idx = subsample(np.flatnonzero(nawm), smk.params.max_voxels, rng)
        for modality in modalities:
            spaces = {"before": f"{pre}/{modality}.nii.gz"}
            spaces.update({s: smk.params.harmonized.format(scheme=s, case=case, modality=modality) for s in schemes})
            for space, path in spaces.items():
                data = load_volume(path, case=case).data
                samples.setdefault((space, modality), {})[case] = data.ravel()[idx]
                scales.setdefault((space, modality), {})[case] = float(data[brain].std())
    table = harmonization_table(samples, scales, centers, schemes, modalities)
    table.to_csv(smk.output.table, sep="\t", index=False, float_format="%.6g")
    plot_nawm_distributions(samples, centers, schemes, modalities, smk.output.figure)


run_script(snakemake, main)  # noqa: F821
