"""The unet3d method on small arrays (CPU): patch sampling, loss decreasing on an easy problem,
inference shapes, flip test-time augmentation equivariance, determinism, checkpoint round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lesionbench.errors import ConfigError, InputError
from lesionbench.methods import unet
from lesionbench.methods.inputs import CaseArrays
from lesionbench.methods.model_io.unet_model import read_unet_model, write_unet_model

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
