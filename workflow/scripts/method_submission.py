"""Collect one case of a submission folder: check grid and binarity, record missing cases."""

from lesionbench.workflow.run import run_script


def main(smk):
    from lesionbench.io import load_volume
    from lesionbench.methods.files import run_case, write_prediction
    from lesionbench.methods.participants import load_submission
    from lesionbench.methods.registry import parse_method

    spec = parse_method(smk.params.entry)
    case = smk.wildcards.case
    flair = load_volume(smk.input.flair, case=case)

    def compute():
        checked = load_submission(spec.folder, spec.pattern, case, flair, probabilities=spec.probabilities, threshold=spec.threshold)
        return checked.mask, checked.probability, {}

    outcome = run_case(spec.name, case, compute, on_failure=smk.params.on_failure)
    write_prediction(smk.output[0], outcome, flair.affine, method=spec.name, case=case)


run_script(snakemake, main)  # noqa: F821
