"""The unet3d method on small arrays (CPU): patch sampling, loss decreasing on an easy problem,
inference shapes, flip test-time augmentation equivariance, determinism, checkpoint round trip;
the nnU-Net recipe: Gaussian-weighted sliding window, spatial and intensity augmentation, the
validation split, model selection, the post-processing chosen on validation, the GPU schedule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import REPO
from lesionbench.errors import ConfigError, InputError
from lesionbench.methods import unet
from lesionbench.methods.inputs import CaseArrays
from lesionbench.methods.model_io import ModelFileError
from lesionbench.methods.model_io.unet_model import read_unet_model, unet_checkpoint, write_unet_model
from lesionbench.methods.validation import choose_postprocess, split_validation

SMALL = dict(
    channels=(4, 8, 16), strides=(2, 2), num_res_units=0, patch_size=(16, 16, 16), batch_size=2, sw_batch_size=2
)


def easy_case(seed: int, shape=(24, 22, 20)) -> CaseArrays:
    rng = np.random.default_rng(seed)
    label = np.zeros(shape, bool)
    for _ in range(3):
        c = rng.integers(4, np.array(shape) - 4)
        label[c[0] - 2 : c[0] + 2, c[1] - 2 : c[1] + 2, c[2] - 2 : c[2] + 2] = True
    images = rng.normal(0.0, 0.2, (2, *shape)).astype(np.float32)
    images[0][label] += 2.0
    images[1][label] -= 1.0
    return CaseArrays(
        case=f"c{seed}", images=images, brain_mask=np.ones(shape, bool), spacing=(1.0, 1.0, 1.0), label=label
    )


def test_patch_sampler_balances_lesion_patches_and_pads_edges():
    cases = [easy_case(0)]
    sampler = unet.PatchSampler(cases, (16, 16, 16), lesion_fraction=1.0)
    x, y = sampler.sample(16, np.random.default_rng(0))
    assert x.shape == (16, 2, 16, 16, 16) and y.shape == (16, 1, 16, 16, 16)
    # every patch is centred on a lesion voxel
    assert (y[:, 0, 8, 8, 8] == 1).all()
    x2, _ = unet.PatchSampler(cases, (16, 16, 16), lesion_fraction=1.0).sample(16, np.random.default_rng(0))
    assert np.array_equal(x, x2)


def test_patch_sampler_needs_lesions():
    case = easy_case(0)
    empty = CaseArrays(
        case="c5",
        images=case.images,
        brain_mask=case.brain_mask,
        spacing=case.spacing,
        label=np.zeros(case.shape, bool),
    )
    with pytest.raises(InputError, match="no lesion voxel"):
        unet.PatchSampler([empty], (16, 16, 16), 0.5)


def test_augment_flips_image_and_label_together():
    x = np.arange(2 * 2 * 4 * 4 * 4, dtype=np.float32).reshape(2, 2, 4, 4, 4)
    y = (x[:, :1] > 100).astype(np.uint8)
    xa, ya = unet.augment(x, y, np.random.default_rng(1))
    # labels follow the same mirroring as the images: the relation x > 100 <=> y survives
    # up to the intensity scale/shift, so compare through the ranks of the first channel
    for b in range(2):
        order_x = np.argsort(xa[b, 0].ravel(), kind="stable")
        assert np.array_equal(np.sort(ya[b, 0].ravel()), ya[b, 0].ravel()[order_x])


def test_training_loss_decreases_and_inference_finds_the_lesions():
    cases = [easy_case(s) for s in range(3)]
    params = unet.UNetParams(**SMALL, iterations=60, learning_rate=1e-2, flip_tta=False, min_lesion_mm3=0)
    result = unet.train_unet(cases[:2], params, seed=0, device="cpu", threads=1)
    losses = [row["loss"] for row in result.curve]
    assert len(losses) == 60
    assert np.mean(losses[-10:]) < 0.7 * np.mean(losses[:10])
    mask, probability = unet.predict_unet(result.model, cases[2], params)
    assert mask.shape == cases[2].shape and probability.shape == cases[2].shape
    assert probability.dtype == np.float32 and probability.min() >= 0.0 and probability.max() <= 1.0
    overlap = 2 * np.count_nonzero(mask & cases[2].label) / (mask.sum() + cases[2].label.sum())
    assert overlap > 0.5


def test_training_is_deterministic_with_a_seed():
    cases = [easy_case(0)]
    params = unet.UNetParams(**SMALL, iterations=3)
    a = unet.train_unet(cases, params, seed=11, threads=1)
    b = unet.train_unet(cases, params, seed=11, threads=1)
    assert [r["loss"] for r in a.curve] == [r["loss"] for r in b.curve]
    for (ka, va), (kb, vb) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


def test_flip_tta_is_exactly_flip_equivariant():
    torch.manual_seed(0)
    net = unet.build_network(2, unet.UNetParams(**SMALL)).eval()
    image = torch.randn(1, 2, 16, 16, 16)
    flips = unet.flip_sets(True)
    assert len(flips) == 8 and () in flips
    with torch.no_grad():
        averaged = unet.tta_probability(net, image, flips)
        for dims in [(2,), (3, 4), (2, 3, 4)]:
            mirrored = unet.tta_probability(net, torch.flip(image, dims), flips)
            assert torch.allclose(mirrored, torch.flip(averaged, dims), atol=1e-6)
        # without TTA the network alone is not equivariant (the test would be vacuous otherwise)
        plain = unet.tta_probability(net, image, [()])
        plain_mirrored = unet.tta_probability(net, torch.flip(image, (2,)), [()])
        assert not torch.allclose(plain_mirrored, torch.flip(plain, (2,)), atol=1e-4)


def test_sliding_window_covers_images_smaller_and_larger_than_the_patch():
    params = unet.UNetParams(**SMALL, flip_tta=True)
    net = unet.build_network(2, params)
    for shape in [(10, 12, 9), (33, 20, 17)]:
        case = CaseArrays(
            case="c", images=np.zeros((2, *shape), np.float32), brain_mask=np.ones(shape, bool), spacing=(1, 1, 1)
        )
        mask, probability = unet.predict_unet(net, case, params)
        assert mask.shape == shape and probability.shape == shape


def test_checkpoint_round_trip_gives_the_same_prediction(tmp_path):
    cases = [easy_case(0)]
    params = unet.UNetParams(**SMALL, iterations=2, flip_tta=False)
    result = unet.train_unet(cases, params, seed=1)
    write_unet_model(tmp_path / "model.pt", result, params, ["zscore/flair", "zscore/t1"])
    model, loaded = read_unet_model(tmp_path / "model.pt")
    assert loaded == params
    a = unet.predict_unet(result.model, cases[0], params)[1]
    b = unet.predict_unet(model, cases[0], loaded)[1]
    assert np.array_equal(a, b)


def test_device_resolution_without_a_gpu():
    assert unet.resolve_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        assert unet.resolve_device("auto") == "cpu"
        with pytest.raises(ConfigError, match="torch sees no CUDA GPU"):
            unet.resolve_device("cuda")


# --- the nnU-Net recipe ---------------------------------------------------------------------------


def test_inference_is_monai_sliding_window_with_gaussian_weighting():
    from monai.inferers import sliding_window_inference

    torch.manual_seed(0)
    params = unet.UNetParams(**SMALL, flip_tta=False, sw_overlap=0.5, min_lesion_mm3=0)
    net = unet.build_network(2, params).eval()
    shape = (33, 20, 17)
    images = np.random.default_rng(0).normal(size=(2, *shape)).astype(np.float32)
    case = CaseArrays(case="c", images=images, brain_mask=np.ones(shape, bool), spacing=(1, 1, 1))
    _, probability = unet.predict_unet(net, case, params)
    with torch.no_grad():
        kwargs = dict(roi_size=(16, 16, 16), sw_batch_size=2, predictor=net, overlap=0.5)
        gaussian = sliding_window_inference(torch.from_numpy(images)[None], mode="gaussian", **kwargs)
        constant = sliding_window_inference(torch.from_numpy(images)[None], mode="constant", **kwargs)
    expected = torch.softmax(gaussian, dim=1)[0, 1].numpy()
    np.testing.assert_allclose(probability, expected, atol=1e-6)
    # the weighting matters on this network (otherwise the check above would be vacuous)
    assert not np.allclose(probability, torch.softmax(constant, dim=1)[0, 1].numpy(), atol=1e-4)


def test_inference_runs_on_the_brain_box_and_is_zero_outside_the_brain():
    params = unet.UNetParams(**SMALL, flip_tta=False, threshold=-1.0, min_lesion_mm3=0)
    net = unet.build_network(2, params)
    shape = (40, 30, 24)
    brain = np.zeros(shape, bool)
    brain[10:30, 8:22, 5:19] = True
    assert unet.brain_box(brain, margin=4) == (slice(6, 34), slice(4, 26), slice(1, 23))
    assert unet.brain_box(np.zeros(shape, bool), margin=4) == (slice(None),) * 3
    case = CaseArrays(case="c", images=np.ones((2, *shape), np.float32), brain_mask=brain, spacing=(1, 1, 1))
    mask, probability = unet.predict_unet(net, case, params)
    assert (probability[~brain] == 0).all() and (probability[brain] > 0).all()
    assert np.array_equal(mask, brain)  # threshold -1: every brain voxel


def test_spatial_matrix_rotates_in_millimetres():
    assert np.allclose(unet.spatial_matrix((1.0, 1.0, 3.0), (0, 0, 0), 1.0), np.eye(3))
    assert np.allclose(unet.spatial_matrix((1.0, 1.0, 1.0), (0, 0, 0), 1.2), 1.2 * np.eye(3))
    # a quarter turn about the first axis on 1 x 1 x 3 mm voxels: one voxel along the third axis
    # (3 mm) becomes three voxels along the second, and three along the second one along the third
    m = unet.spatial_matrix((1.0, 1.0, 3.0), (np.pi / 2, 0, 0), 1.0)
    assert np.allclose(m @ [0, 0, 1], [0, -3, 0]) and np.allclose(m @ [0, 3, 0], [0, 0, 1])


def test_spatial_augmentation_keeps_images_and_labels_aligned():
    case = easy_case(0)
    aligned = CaseArrays(
        case="a",
        images=np.stack([case.label.astype(np.float32), case.images[1]]),
        brain_mask=case.brain_mask,
        spacing=(1.0, 1.0, 2.0),
        label=case.label,
    )
    sampler = unet.PatchSampler([aligned], (16, 16, 16), lesion_fraction=1.0)
    # identity transform = the plain patch
    centre = sampler.lesion[0][0]
    x, y = sampler._resampled(0, centre, np.eye(3))
    window = tuple(slice(int(c), int(c) + 16) for c in centre)
    np.testing.assert_allclose(x, sampler.images[0][(slice(None), *window)], atol=1e-5)
    assert np.array_equal(y, sampler.labels[0][window])
    # every patch rotated and scaled: channel 0 is the label itself, so the resampled label is
    # exactly channel 0 >= 0.5 wherever the two were interpolated from the same voxels
    params = unet.UNetParams(**SMALL, spatial_p=1.0, rotation_deg=30.0, scale_range=(0.8, 1.25))
    xs, ys = sampler.sample(8, np.random.default_rng(3), params)
    assert xs.shape == (8, 2, 16, 16, 16) and ys.shape == (8, 1, 16, 16, 16) and set(np.unique(ys)) <= {0, 1}
    assert np.array_equal(ys[:, 0] == 1, xs[:, 0] >= 0.5 - 1e-6)
    assert ys.any() and not np.array_equal(xs, sampler.sample(8, np.random.default_rng(4), params)[0])


def test_intensity_augmentation_changes_intensities_but_not_labels():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 2, 8, 8, 8)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.uint8)
    params = unet.UNetParams(gamma_p=1.0, noise_p=1.0, noise_std=0.5)
    xa, ya = unet.augment(x, y, np.random.default_rng(1), params)
    xb, yb = unet.augment(x, y, np.random.default_rng(1), params)
    assert np.array_equal(xa, xb) and np.array_equal(ya, yb) and xa.dtype == np.float32
    plain, plain_y = unet.augment(x, y, np.random.default_rng(1))
    assert np.array_equal(np.sort(ya.ravel()), np.sort(y.ravel()))  # labels only mirrored
    assert not np.allclose(xa, plain)


def test_validation_split_is_deterministic_disjoint_and_keeps_training_cases():
    ids = [f"c{i:02d}" for i in range(10)]
    train, val = split_validation(ids, 0.2, seed=7)
    assert len(val) == 2 and len(train) == 8 and not set(train) & set(val) and set(train) | set(val) == set(ids)
    assert split_validation(list(reversed(ids)), 0.2, seed=7) == (train, val)  # order does not matter
    assert len({tuple(split_validation(ids, 0.2, seed=s)[1]) for s in range(10)}) > 1  # the seed does
    assert len(split_validation(ids[:6], 0.05, seed=0)[1]) == 1  # at least one
    assert split_validation(ids[:2], 0.9, seed=0)[0]  # at least one left to train on
    assert split_validation(ids[:1], 0.2, seed=0) == (ids[:1], [])
    assert split_validation(ids, 0.0, seed=0) == (ids, [])
    with pytest.raises(ConfigError, match="validation_fraction"):
        split_validation(ids, 1.0, seed=0)


def test_model_selection_keeps_the_weights_of_the_best_validation_score():
    scores = iter([0.2, 0.7, 0.5, 0.7])  # iterations 2, 4, 6, 8: the first 0.7 wins (ties keep the earlier)
    seen: dict[int, dict[str, torch.Tensor]] = {}

    def evaluate(model, iteration):
        seen[iteration] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        score = next(scores)
        return {"dice": score, "lesion_f1": score, "dice_f1": score}

    params = unet.UNetParams(**SMALL, iterations=8, validation_every=2, learning_rate=1e-2)
    result = unet.train_unet([easy_case(0)], params, seed=0, evaluate=evaluate)
    assert sorted(seen) == [2, 4, 6, 8] and result.best_iteration == 4 and result.best_score == 0.7
    final = result.model.state_dict()
    assert all(torch.equal(final[k], seen[4][k]) for k in final)
    assert not all(torch.equal(seen[8][k], seen[4][k]) for k in final)  # training went on after 4
    assert [r.get("validation_score") for r in result.curve if "validation_score" in r] == [0.2, 0.7, 0.5, 0.7]
    assert [r["iteration"] for r in result.curve if "validation_score" in r] == [2, 4, 6, 8]
    assert result.postprocess is None  # no validation cases to choose it on


def test_model_selection_on_the_moving_average_of_the_validation_score():
    # w = 0.5 over 0.2, 0.9, 0.3, 0.6, 0.6 (iterations 2..10): 0.2, 0.55, 0.425, 0.5125, 0.55625,
    # so the last weights win although iteration 4 had the best single score
    scores = iter([0.2, 0.9, 0.3, 0.6, 0.6])
    seen: dict[int, dict[str, torch.Tensor]] = {}

    def evaluate(model, iteration):
        seen[iteration] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        score = next(scores)
        return {"dice": score, "lesion_f1": score, "dice_f1": score}

    params = unet.UNetParams(**SMALL, iterations=10, validation_every=2, learning_rate=1e-2, selection_smoothing=0.5)
    result = unet.train_unet([easy_case(0)], params, seed=0, evaluate=evaluate)
    assert result.best_iteration == 10 and result.best_score == pytest.approx(0.55625)
    final = result.model.state_dict()
    assert all(torch.equal(final[k], seen[10][k]) for k in final)
    rows = [r for r in result.curve if "validation_score" in r]
    assert [r["validation_score"] for r in rows] == [0.2, 0.9, 0.3, 0.6, 0.6]
    assert [r["validation_score_smoothed"] for r in rows] == pytest.approx([0.2, 0.55, 0.425, 0.5125, 0.55625])


def test_postprocess_choice_on_a_hand_built_validation_case():
    reference = np.zeros((20, 20, 20), bool)
    reference[5:8, 5:8, 5:8] = True  # one 27-voxel lesion
    probability = np.zeros((20, 20, 20), np.float32)
    probability[4:9, 4:9, 4:9] = 0.55  # a halo around it ...
    probability[5:8, 5:8, 5:8] = 0.65  # ... the lesion itself ...
    probability[15, 15, 14:18] = 0.9  # ... and a 4-voxel false positive
    choice = choose_postprocess(
        [reference], [probability], [(1.0, 1.0, 1.0)], thresholds=(0.5, 0.6, 0.7), min_sizes_mm3=(0.0, 5.0)
    )
    # 0.6 drops the halo, 5 mm3 drops the false positive: a perfect mask
    assert (choice.threshold, choice.min_lesion_mm3, choice.score) == (0.6, 5.0, 1.0)
    grid = {(r["threshold"], r["min_lesion_mm3"]): r for r in choice.grid}
    assert len(grid) == 6
    assert grid[(0.6, 0.0)]["dice"] == pytest.approx(54 / 58)  # 27 + 4 predicted voxels
    assert grid[(0.6, 0.0)]["lesion_f1"] == pytest.approx(2 / 3)  # 1 of 2 predicted lesions is true
    assert grid[(0.5, 5.0)]["dice"] == pytest.approx(54 / 152)  # the 125-voxel halo cube
    assert grid[(0.7, 5.0)]["dice"] == 0.0
    by_dice = choose_postprocess(
        [reference], [probability], [(1.0, 1.0, 1.0)], thresholds=(0.5, 0.6), min_sizes_mm3=(0.0,), metric="dice"
    )
    assert (by_dice.threshold, by_dice.min_lesion_mm3, by_dice.metric) == (0.6, 0.0, "dice")
    with pytest.raises(ConfigError, match="validation score 'auc'"):
        choose_postprocess([reference], [probability], [(1, 1, 1)], thresholds=(0.5,), min_sizes_mm3=(0,), metric="auc")


def test_training_with_validation_stores_the_chosen_postprocessing(tmp_path):
    cases = [easy_case(s) for s in range(3)]
    params = unet.UNetParams(
        **SMALL,
        iterations=20,
        validation_every=10,
        learning_rate=1e-2,
        flip_tta=False,
        postprocess_thresholds=(0.4, 0.6),
    )
    result = unet.train_unet(cases[:2], params, seed=0, validation=cases[2:])
    assert result.validation_cases == ["c2"] and result.best_iteration in (10, 20)
    assert [r["iteration"] for r in result.curve if "validation_score" in r] == [10, 20]
    assert {"validation_dice", "validation_lesion_f1"} <= set(result.curve[9])
    choice = result.postprocess
    assert choice is not None and len(choice.grid) == 2 * len(params.postprocess_min_lesion_mm3)
    assert choice.threshold in (0.4, 0.6) and choice.min_lesion_mm3 in params.postprocess_min_lesion_mm3
    write_unet_model(tmp_path / "model.pt", result, params, ["zscore/flair", "zscore/t1"])
    _, loaded = read_unet_model(tmp_path / "model.pt")
    assert loaded == unet.with_postprocess(params, choice)
    assert (loaded.threshold, loaded.min_lesion_mm3) == (choice.threshold, choice.min_lesion_mm3)


def test_old_params_and_v1_checkpoints_are_still_valid(tmp_path):
    import yaml

    old = {"channels": [12, 24, 48, 96], "strides": [2, 2, 2], "patch_size": [32, 32, 32], "batch_size": 4}
    params = unet.UNetParams.from_mapping({**old, "iterations": 1200, "flip_tta": False})
    assert params.channels == (12, 24, 48, 96) and params.iterations == 1200 and params.iterations_gpu == 0
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    entry = next(m for m in config["methods"] if m["kind"] == "unet3d")
    configured = unet.UNetParams.from_mapping(entry["params"])
    assert configured.iterations_on("cpu") == entry["params"]["iterations"]
    assert configured.iterations_on("cuda") == entry["params"].get("iterations_gpu", entry["params"]["iterations"])
    # a checkpoint written before validation existed: read, predicts with its own threshold/min size
    small = unet.UNetParams(**SMALL, threshold=0.3, min_lesion_mm3=4.0)
    result = unet.TrainingResult(model=unet.build_network(2, small), curve=[], device="cpu", seconds=0.0)
    payload = unet_checkpoint(result, small, ["a", "b"])
    payload["format"] = "lesionbench.unet_checkpoint.v1"
    for key in ("postprocess", "selection"):
        del payload[key]
    for key in ("iterations_gpu", "validation_fraction", "spatial_p", "postprocess_thresholds"):
        del payload["params"][key]
    torch.save(payload, tmp_path / "v1.pt")
    _, loaded = read_unet_model(tmp_path / "v1.pt")
    assert (loaded.threshold, loaded.min_lesion_mm3, loaded.validation_fraction) == (0.3, 4.0, 0.2)
    torch.save({**payload, "postprocess": {"threshold": "high"}}, tmp_path / "bad.pt")
    with pytest.raises(ModelFileError, match="does not rebuild"):
        read_unet_model(tmp_path / "bad.pt")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"validation_score": "auc"}, "validation score 'auc'"),
        ({"scale_range": [1.2]}, "scale_range must be two numbers"),
        ({"gamma_range": [1.5, 0.7]}, "gamma_range must be two numbers"),
        ({"validation_every": 0}, "validation_every must be at least 1"),
        ({"iterations_gpu": -1}, "iterations_gpu at least 0"),
        ({"selection_smoothing": 1.0}, "selection_smoothing must be in"),
    ],
)
def test_bad_unet_params_are_refused(params, message):
    with pytest.raises(ConfigError, match=message):
        unet.UNetParams.from_mapping(params)


def test_the_gpu_schedule_applies_only_on_cuda():
    params = unet.UNetParams(iterations=100, iterations_gpu=900)
    assert params.iterations_on("cpu") == 100 and params.iterations_on("cuda") == 900
    assert params.iterations_on("cuda:0") == 900
    assert unet.UNetParams(iterations=100).iterations_on("cuda") == 100


def test_training_job_records_the_validation_and_inference_uses_the_chosen_postprocessing(tmp_path):
    import json

    import pandas as pd

    from conftest import write_nifti
    from lesionbench.methods.unet_jobs import infer_unet_case, train_unet_method

    files = {}
    for seed in range(4):
        case = easy_case(seed)
        folder = tmp_path / case.case
        files[case.case] = {
            "flair": write_nifti(folder / "flair.nii.gz", case.images[0]),
            "images": [write_nifti(folder / f"{m}.nii.gz", case.images[i]) for i, m in enumerate(("flair", "t1"))],
            "brain_mask": write_nifti(folder / "brain.nii.gz", case.brain_mask.astype(np.uint8)),
            "priors": [],
            "label": write_nifti(folder / "label.nii.gz", case.label.astype(np.uint8)),
        }
    params = {**SMALL, "iterations": 6, "validation_every": 3, "flip_tta": False, "postprocess_thresholds": [0.4, 0.6]}
    entry = {"name": "u", "kind": "unet3d", "inputs": ["zscore/flair", "zscore/t1"], "device": "cpu", "params": params}
    training = {c: files[c] for c in ("c0", "c1", "c2")}
    train_unet_method(entry, training, model_path=tmp_path / "model.pt", record_dir=tmp_path / "record", seed=5)
    record = json.loads((tmp_path / "record/method.json").read_text())
    assert len(record["validation_cases"]) == 1 and len(record["training_cases"]) == 2
    assert sorted(record["validation_cases"] + record["training_cases"]) == ["c0", "c1", "c2"]
    assert record["best_iteration"] in (3, 6) and record["iterations_run"] == 6
    assert record["postprocess"]["threshold"] == record["inference_threshold"] in (0.4, 0.6)
    assert len(record["postprocess_grid"]) == 2 * len(unet.UNetParams().postprocess_min_lesion_mm3)
    curve = pd.read_csv(tmp_path / "record/training_curve.tsv", sep="\t")
    assert curve["validation_score"].notna().tolist() == [False, False, True, False, False, True]
    f = files["c3"]
    infer_unet_case(
        entry,
        "c3",
        flair=f["flair"],
        images=f["images"],
        brain_mask=f["brain_mask"],
        model_path=tmp_path / "model.pt",
        output=tmp_path / "pred",
    )
    status = json.loads((tmp_path / "pred/status.json").read_text())
    assert status["status"] == "ok", status["error"]
    assert (status["threshold"], status["min_lesion_mm3"]) == (
        record["inference_threshold"],
        record["inference_min_lesion_mm3"],
    )


def test_best_weights_ignore_an_undefined_score():
    net = unet.build_network(2, unet.UNetParams(**SMALL))
    best = unet.BestWeights()
    assert best.offer(1, float("nan"), net) and best.offer(2, 0.1, net) and not best.offer(3, 0.1, net)
    assert (best.iteration, best.score) == (2, 0.1)
