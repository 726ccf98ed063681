"""Run a participant's command on one case and check the mask it writes."""

from lesionbench.workflow.run import run_script


def main(smk):
    from pathlib import Path

    from lesionbench.io import load_volume
    from lesionbench.methods.files import run_case, write_prediction
    from lesionbench.methods.participants import CommandError, check_result_volume, expand_command, run_command, wrap_environment
    from lesionbench.methods.registry import parse_method

    spec = parse_method(smk.params.entry)
    case = smk.wildcards.case
    folder = Path(smk.output[0])
    work = folder.parent / f".{folder.name}.work"
    affine = {}

    def compute():
        flair = load_volume(smk.input.flair, case=case)
        affine["flair"] = flair.affine
        work.mkdir(parents=True, exist_ok=True)
        output = work / "mask.nii.gz"
        output.unlink(missing_ok=True)
        values = {m: str(Path(p).resolve()) for m, p in zip(smk.params.modalities, smk.input.images)}
        values.update(output=str(output.resolve()), output_dir=str(work.resolve()), case=case, threads=smk.threads, probability=str((work / "probability.nii.gz").resolve()))
        command = expand_command(spec.command, values, method=spec.name)
        run = run_command(wrap_environment(command, conda_env=spec.conda_env, container=spec.container), case=case, method=spec.name, timeout_s=spec.runtime * 60)
        print(run.stdout)
        print(run.stderr)
        if not output.exists():
            raise CommandError(f"method {spec.name}: the command exited 0 but wrote no mask at {output}", case=case)
        checked = check_result_volume(load_volume(output, case=case, dtype=float), flair, case=case, probabilities=spec.probabilities, threshold=spec.threshold)
        return checked.mask, checked.probability, {"command": command}

    outcome = run_case(spec.name, case, compute, on_failure=smk.params.on_failure)
    write_prediction(folder, outcome, affine.get("flair"), method=spec.name, case=case)


run_script(snakemake, main)  # noqa: F821
