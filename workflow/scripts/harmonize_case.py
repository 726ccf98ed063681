"""Harmonize one case's preprocessed images with every configured scheme (lesionbench.preprocess.harmonize)."""

from lesionbench.workflow.run import run_script


def main(smk):
    import numpy as np

    from lesionbench.io import check_same_grid, load_mask, load_volume, save_volume
    from lesionbench.preprocess.harmonize import NyulScale, harmonize

    def images_and_mask(paths, mask_path, case):
        """Each image read once, the brain mask checked against every one of them."""
        images = {m: load_volume(p, case=case) for m, p in paths.items()}
        first, *others = images.values()
        mask = load_mask(mask_path, case=case, reference=first)
        for vol in others:
            check_same_grid(mask, vol, what="mask is not on the reference image grid", case=case)
        return images, mask.data

    case = smk.wildcards.case
    schemes, modalities = list(smk.params.schemes), list(smk.params.modalities)
    images, mask = images_and_mask({m: smk.input[m] for m in modalities}, smk.input.brain_mask, case)
    if "histmatch" in schemes:
        reference, reference_mask = images_and_mask(
            {m: smk.input[f"reference_{m}"] for m in modalities}, smk.input.reference_mask, smk.params.reference
        )
    outputs = iter(smk.output)  # scheme-major, modality-minor (the rule's order)
    for scheme in schemes:
        for modality in modalities:
            vol = images[modality]
            kwargs = {}
            if scheme == "nyul":
                kwargs["nyul_scale"] = NyulScale.from_json(smk.input[f"scale_{modality}"])
            if scheme == "histmatch":
                kwargs["reference"] = (reference[modality].data, reference_mask)
            data = harmonize(
                scheme, vol.data, mask, modality=modality, whitestripe_width=smk.params.whitestripe_width, case=case, **kwargs
            )
            save_volume(next(outputs), data, vol.affine, dtype=np.float32)


run_script(snakemake, main)  # noqa: F821
