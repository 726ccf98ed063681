"""Run a trained unet3d method on one test case (sliding window, optional flip TTA)."""

from lesionbench.workflow.run import run_script


def main(smk):
    import torch

    from lesionbench.methods.files import load_case_arrays, run_case, write_prediction
    from lesionbench.methods.registry import parse_method
    from lesionbench.methods.unet import model_from_checkpoint, predict_unet, resolve_device

    spec = parse_method(smk.params.entry)
    case = smk.wildcards.case
    affine = {}

    def compute():
        device = resolve_device(spec.device)
        arrays, flair = load_case_arrays(case, smk.input.flair, smk.input.images, smk.input.brain_mask)
        affine["flair"] = flair.affine
        model, params = model_from_checkpoint(torch.load(smk.input.model, map_location="cpu", weights_only=True))
        mask, probability = predict_unet(model, arrays, params, device=device, threads=smk.threads)
        return mask, probability, {"device": device, "flip_tta": params.flip_tta}

    outcome = run_case(spec.name, case, compute, on_failure=smk.params.on_failure)
    write_prediction(smk.output[0], outcome, affine.get("flair"), method=spec.name, case=case)


run_script(snakemake, main)  # noqa: F821
