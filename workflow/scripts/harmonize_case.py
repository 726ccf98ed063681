"""Harmonize one case's preprocessed images with one scheme (lesionbench.preprocess.harmonize)."""

from lesionbench.workflow_support import run_script


def main(smk):
    import numpy as np

    from lesionbench.io import load_mask, load_volume, save_volume
    from lesionbench.preprocess.harmonize import NyulScale, harmonize

    case, scheme = smk.wildcards.case, smk.wildcards.scheme
    for modality, out in zip(smk.params.modalities, smk.output):
        vol = load_volume(smk.input[modality], case=case)
        mask = load_mask(smk.input.brain_mask, case=case, reference=vol).data
        kwargs = {}
        if scheme == "nyul":
            kwargs["nyul_scale"] = NyulScale.from_json(smk.input[f"scale_{modality}"])
        if scheme == "histmatch":
            ref = load_volume(smk.input[f"reference_{modality}"], case=smk.params.reference)
            ref_mask = load_mask(smk.input.reference_mask, case=smk.params.reference, reference=ref).data
            kwargs["reference"] = (ref.data, ref_mask)
        data = harmonize(
            scheme, vol.data, mask, modality=modality, whitestripe_width=smk.params.whitestripe_width, case=case, **kwargs
        )
        save_volume(out, data, vol.affine, dtype=np.float32)


run_script(snakemake, main)  # noqa: F821
