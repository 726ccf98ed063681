"""Take a FLAIR-grid mask (or image) of one case to MNI template space (lesion-frequency maps)."""

import os

from lesionbench.workflow_support import run_script


def main(smk):
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(max(1, int(smk.threads)))
    import numpy as np

    from lesionbench.io import load_volume, save_volume
    from lesionbench.preprocess.registration import subject_to_template, template_registration_from_folder

    vol = load_volume(smk.input.image, case=smk.wildcards.case)
    registration = template_registration_from_folder(smk.input.transforms)
    data, affine = subject_to_template(vol.data, vol.affine, registration, interpolator="linear")
    save_volume(smk.output[0], data, affine, dtype=np.float32)


run_script(snakemake, main)  # noqa: F821
