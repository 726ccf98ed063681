"""Population lesion-frequency map in MNI space from the cases' reference consensus masks.

Each FLAIR-grid consensus is taken to the template with the case's preprocessing transforms
(linear interpolation: lesion fractions, counted from 0.5) in this one job: per case it is a
second of work, while a job per case would pay the ANTs import every time.
"""

import os

from lesionbench.workflow.run import run_script


def main(smk):
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(max(1, int(smk.threads)))
    import nibabel as nib
    import numpy as np

    from lesionbench.io import load_mask
    from lesionbench.consensus.population import frequency_map, plot_frequency_map
    from lesionbench.preprocess.registration import subject_to_template, template_registration_from_folder

    fractions, affine = [], None
    for case, mask_path, transforms in zip(smk.params.cases, smk.input.masks, smk.input.transforms):
        mask = load_mask(mask_path, case=case, policy="nonzero")
        registration = template_registration_from_folder(transforms)
        fraction, affine = subject_to_template(mask.data.astype(np.float32), mask.affine, registration, interpolator="linear")
        fractions.append(fraction)
    freq = frequency_map(fractions, threshold=0.5)
    nib.save(nib.Nifti1Image(freq.astype(np.float32), affine), smk.output.map)
    plot_frequency_map(freq, affine, smk.output.figure, n_cases=len(fractions), title=smk.params.title)


run_script(snakemake, main)  # noqa: F821
