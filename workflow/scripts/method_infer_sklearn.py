"""Run a trained flair_hyperintensity or random_forest method on one test case."""

from lesionbench.workflow.run import run_script


def main(smk):
    import pickle

    from lesionbench.methods.classical import HyperintensityParams, segment
    from lesionbench.methods.files import load_case_arrays, run_case, write_prediction
    from lesionbench.methods.registry import parse_method

    spec = parse_method(smk.params.entry)
    case = smk.wildcards.case
    affine = {}

    def compute():
        arrays, flair = load_case_arrays(case, smk.input.flair, smk.input.images, smk.input.brain_mask, smk.input.priors)
        affine["flair"] = flair.affine
        with open(smk.input.model, "rb") as handle:
            model = pickle.load(handle)
        if spec.kind == "flair_hyperintensity":
            params = HyperintensityParams.from_mapping(model["params"])
            mask, probability = segment(arrays, model["flair_channel"], model["threshold"], params)
            return mask, probability, {"threshold": model["threshold"]}
        from lesionbench.methods.forest import ForestParams, predict_forest  # scikit-learn: only here

        params = ForestParams.from_mapping(model["params"])
        mask, probability = predict_forest(model["forest"], arrays, params, threads=smk.threads)
        return mask, probability, {"threshold": params.threshold}

    outcome = run_case(spec.name, case, compute, on_failure=smk.params.on_failure)
    write_prediction(smk.output[0], outcome, affine.get("flair"), method=spec.name, case=case)


run_script(snakemake, main)  # noqa: F821
