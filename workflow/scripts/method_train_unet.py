"""Train a unet3d method (MONAI 3-D U-Net) on the training split's consensus."""

from lesionbench.workflow.run import run_script


def main(smk):
    import logging
    import time
    from pathlib import Path

    import torch

    from lesionbench.methods.files import load_case_arrays, write_model_record
    from lesionbench.methods.registry import parse_method
    from lesionbench.methods.unet import UNetParams, checkpoint, resolve_device, train_unet

    log = logging.getLogger("train_unet")
    spec = parse_method(smk.params.entry)
    params = UNetParams.from_mapping(dict(spec.params))
    seed = int(spec.params.get("seed", 2016))
    device = resolve_device(spec.device)
    cases = [
        load_case_arrays(case, f["flair"], f["images"], f["brain_mask"], None, f["label"])[0]
        for case, f in smk.params.cases.items()
    ]

    def progress(iteration, loss):
        if iteration == 1 or iteration % 25 == 0:
            log.info("iteration %d loss %.4f", iteration, loss)

    start = time.perf_counter()
    result = train_unet(cases, params, seed=seed, device=device, threads=smk.threads, progress=progress)
    torch.save(checkpoint(result, params, [i.key for i in spec.inputs]), smk.output.model)
    record = {
        **spec.as_dict(),
        "resolved_params": checkpoint(result, params, [])["params"],
        "seed": seed,
        "device_used": device,
        "mixed_precision": device.startswith("cuda"),
        "training_cases": list(smk.params.cases),
        "train_seconds": round(result.seconds, 3),
        "total_seconds": round(time.perf_counter() - start, 3),
        "torch": torch.__version__,
    }
    write_model_record(Path(smk.output.record).parent, record, result.curve, x="iteration", y="loss", title=f"{spec.name}: Dice+CE training loss")


run_script(snakemake, main)  # noqa: F821
