"""Fit the Nyul standard scale of one modality on the training split (lesionbench.preprocess.harmonize)."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.io import load_mask, load_volume
    from lesionbench.preprocess.harmonize import fit_nyul

    images, masks = [], []
    for case, image, mask in zip(smk.params.cases, smk.input.images, smk.input.masks):
        vol = load_volume(image, case=case)
        images.append(vol.data)
        masks.append(load_mask(mask, case=case, reference=vol).data)
    opts = smk.params.nyul
    scale = fit_nyul(
        images,
        masks,
        modality=smk.wildcards.modality,
        percentiles=opts["percentiles"],
        scale_range=tuple(opts["scale_range"]),
        cases=smk.params.cases,
    )
    scale.to_json(smk.output[0])


run_script(snakemake, main)  # noqa: F821
