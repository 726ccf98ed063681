"""Population lesion-frequency map in MNI space from the cases' reference consensus masks."""

from lesionbench.workflow_support import run_script


def main(smk):
    import nibabel as nib
    import numpy as np

    from lesionbench.io import load_mask
    from lesionbench.population import frequency_map, plot_frequency_map

    masks = [load_mask(p, policy="nonzero") for p in smk.input]
    freq = frequency_map([m.data for m in masks])
    nib.save(nib.Nifti1Image(freq.astype(np.float32), masks[0].affine), smk.output.map)
    plot_frequency_map(freq, masks[0].affine, smk.output.figure, n_cases=len(masks), title=smk.params.title)


run_script(snakemake, main)  # noqa: F821
