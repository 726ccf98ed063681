"""Optional NL-means denoising of one case's raw images (lesionbench.preprocess.bias.nlmeans_denoise)."""

import os

from lesionbench.workflow.run import run_script


def main(smk):
    threads = 1 if smk.params.deterministic else max(1, int(smk.threads))
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(threads)
    from pathlib import Path

    import numpy as np

    from lesionbench.io import load_volume, save_volume
    from lesionbench.preprocess.bias import nlmeans_denoise

    out = Path(smk.output[0])
    out.mkdir(parents=True, exist_ok=True)
    for modality in smk.params.modalities:
        vol = load_volume(smk.input[modality], case=smk.wildcards.case)
        data = nlmeans_denoise(vol.data, vol.affine, patch_radius=smk.params.patch_radius, search_radius=smk.params.search_radius)
        save_volume(out / f"{modality}.nii.gz", data, vol.affine, dtype=np.float32)


run_script(snakemake, main)  # noqa: F821
