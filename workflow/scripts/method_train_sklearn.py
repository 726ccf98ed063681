"""Train a flair_hyperintensity (threshold tuning) or random_forest method on the training split."""

from lesionbench.workflow.run import run_script


def main(smk):
    import pickle
    import time
    from pathlib import Path

    from lesionbench.methods.classical import HyperintensityParams, tune_threshold
    from lesionbench.methods.files import load_case_arrays, write_model_record
    from lesionbench.methods.forest import ForestParams, feature_names, params_record, train_forest
    from lesionbench.methods.registry import parse_method

    spec = parse_method(smk.params.entry)
    start = time.perf_counter()
    cases = [
        load_case_arrays(case, f["flair"], f["images"], f["brain_mask"], f["priors"], f["label"])[0]
        for case, f in smk.params.cases.items()
    ]
    load_seconds = time.perf_counter() - start
    record = {**spec.as_dict(), "training_cases": list(smk.params.cases)}
    start = time.perf_counter()
    if spec.kind == "flair_hyperintensity":
        params = HyperintensityParams.from_mapping(dict(spec.params))
        flair_channel = spec.modalities.index("flair")
        if spec.trains:
            tuned = tune_threshold(cases, flair_channel, params)
            threshold, curve = tuned.threshold, tuned.curve
        else:
            threshold, curve = params.threshold, []
        model = {"kind": spec.kind, "threshold": threshold, "flair_channel": flair_channel, "params": params.__dict__}
        record.update(threshold=threshold)
        x, y, title = "threshold", "mean_dice", f"{spec.name}: threshold tuning (train Dice)"
    else:
        params = ForestParams.from_mapping(dict(spec.params))
        seed = int(spec.params.get("seed", 2016))
        trained = train_forest(cases, params, seed=seed, threads=smk.threads)
        forest, curve = trained.forest, trained.curve
        names = feature_names([i.key for i in spec.inputs], params)
        model = {"kind": spec.kind, "forest": forest, "params": params_record(params), "feature_names": names}
        record.update(seed=seed, feature_importance=dict(zip(names, map(float, forest.feature_importances_))))
        x, y, title = "n_estimators", "oob_accuracy", f"{spec.name}: out-of-bag accuracy"
    record.update(train_seconds=round(time.perf_counter() - start, 3), load_seconds=round(load_seconds, 3))
    with open(smk.output.model, "wb") as handle:
        pickle.dump(model, handle)
    write_model_record(Path(smk.output.record).parent, record, curve, x=x, y=y, title=title)


run_script(snakemake, main)  # noqa: F821
