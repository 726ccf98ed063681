"""Harmonize one case's preprocessed images with every configured scheme (lesionbench.preprocess.harmonize)."""

from lesionbench.workflow_support import run_script


def main(smk):
    import numpy as np

    from lesionbench.io import load_mask, load_volume, save_volume
    from lesionbench.preprocess.harmonize import NyulScale, harmonize

    case = smk.wildcards.case
    schemes, modalities = list(smk.params.schemes), list(smk.params.modalities)
    outputs = iter(smk.output)  # scheme-major, modality-minor (the rule's order)
    images = {m: load_volume(smk.input[m], case=case) for m in modalities}
    mask = load_mask(smk.input.brain_mask, case=case, reference=images[modalities[0]]).data
    reference_mask = None
    if "histmatch" in schemes:
        reference_mask = load_mask(smk.input.reference_mask, case=smk.params.reference).data
    for scheme in schemes:
        for modality in modalities:
            vol = images[modality]
            kwargs = {}
            if scheme == "nyul":
                kwargs["nyul_scale"] = NyulScale.from_json(smk.input[f"scale_{modality}"])
            if scheme == "histmatch":
                ref = load_volume(smk.input[f"reference_{modality}"], case=smk.params.reference)
                kwargs["reference"] = (ref.data, reference_mask)
            data = harmonize(
                scheme, vol.data, mask, modality=modality, whitestripe_width=smk.params.whitestripe_width, case=case, **kwargs
            )
            save_volume(next(outputs), data, vol.affine, dtype=np.float32)


run_script(snakemake, main)  # noqa: F821
