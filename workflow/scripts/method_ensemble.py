"""Fuse the members' masks of one case (majority vote or STAPLE)."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.io import load_mask, load_volume
    from lesionbench.methods.ensemble import fuse_members
    from lesionbench.methods.files import MASK_FILE, read_status, run_case, write_prediction
    from lesionbench.methods.registry import parse_method

    spec = parse_method(smk.params.entry)
    case = smk.wildcards.case
    flair = load_volume(smk.input.flair, case=case)
    skipped = {}

    def compute():
        brain = load_mask(smk.input.brain_mask, case=case, reference=flair).data
        masks = {}
        for member, folder in zip(smk.params.members, smk.input.members):
            status = read_status(folder)
            if status.get("status") != "ok":
                skipped[member] = status.get("status", "missing")
                continue
            masks[member] = load_mask(f"{folder}/{MASK_FILE}", case=case, reference=flair).data
        result = fuse_members(masks, spec.fusion, brain_mask=brain, case=case)
        return result.mask, result.probability, {"fusion": spec.fusion, "members_used": list(result.members_used), "members_skipped": skipped}

    outcome = run_case(spec.name, case, compute, on_failure=smk.params.on_failure)
    outcome.extra.setdefault("members_skipped", skipped)
    write_prediction(smk.output[0], outcome, flair.affine, method=spec.name, case=case)


run_script(snakemake, main)  # noqa: F821
