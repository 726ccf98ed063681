"""The unet3d method on a CUDA GPU: mixed-precision training, inference, and a checkpoint written
on the GPU that predicts on the CPU. Skipped where torch sees no GPU (CI); run it on a GPU machine
with ``pytest tests/test_methods_unet_cuda.py``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lesionbench.methods import unet
from lesionbench.methods.inputs import CaseArrays
from lesionbench.methods.model_io.unet_model import read_unet_model, write_unet_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

SMALL = dict(
    channels=(8, 16, 32), strides=(2, 2), num_res_units=1, patch_size=(16, 16, 16), batch_size=4, sw_batch_size=4
)


def easy_case(seed: int, shape=(28, 26, 24)) -> CaseArrays:
    """Two channels; cubes of 4 voxels that are bright in one channel and dark in the other."""
    rng = np.random.default_rng(seed)
    label = np.zeros(shape, bool)
    for _ in range(4):
        c = rng.integers(4, np.array(shape) - 4)
        label[c[0] - 2 : c[0] + 2, c[1] - 2 : c[1] + 2, c[2] - 2 : c[2] + 2] = True
    images = rng.normal(0.0, 0.2, (2, *shape)).astype(np.float32)
    images[0][label] += 2.0
    images[1][label] -= 1.0
    return CaseArrays(
        case=f"c{seed}", images=images, brain_mask=np.ones(shape, bool), spacing=(1.0, 1.0, 1.0), label=label
    )


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def test_auto_device_is_cuda_and_amp_training_learns():
    assert unet.resolve_device("auto") == "cuda"
    cases = [easy_case(s) for s in range(3)]
    params = unet.UNetParams(**SMALL, iterations=120, learning_rate=1e-2, flip_tta=False, min_lesion_mm3=0)
    result = unet.train_unet(cases[:2], params, seed=0, device="cuda", threads=1)
    assert result.device == "cuda"
    assert next(result.model.parameters()).is_cuda
    losses = np.array([row["loss"] for row in result.curve])
    assert np.isfinite(losses).all()
    assert losses[-10:].mean() < 0.7 * losses[:10].mean()
    mask, probability = unet.predict_unet(result.model, cases[2], params, device="cuda")
    assert probability.dtype == np.float32 and probability.min() >= 0.0 and probability.max() <= 1.0
    assert dice(mask, cases[2].label) > 0.7


def test_gpu_checkpoint_predicts_the_same_mask_on_the_cpu(tmp_path):
    cases = [easy_case(s) for s in range(3)]
    params = unet.UNetParams(**SMALL, iterations=120, learning_rate=1e-2, flip_tta=True, min_lesion_mm3=0)
    result = unet.train_unet(cases[:2], params, seed=1, device="cuda", threads=1)
    write_unet_model(tmp_path / "model.pt", result, params, ["zscore/flair", "zscore/t1"])
    model, loaded = read_unet_model(tmp_path / "model.pt")
    gpu_mask, gpu_prob = unet.predict_unet(result.model, cases[2], params, device="cuda")
    cpu_mask, cpu_prob = unet.predict_unet(model, cases[2], loaded, device="cpu")
    # float16 autocast on the GPU against float32 on the CPU: probabilities agree to a few 1e-3
    assert np.abs(gpu_prob - cpu_prob).max() < 2e-2
    assert dice(gpu_mask, cpu_mask) > 0.98


def test_whole_brain_inference_fits_and_matches_the_cpu():
    """A four-channel volume on the 2 mm MNI grid (97x115x97) with the demo's network: sliding-window inference on
    the GPU gives the CPU's mask."""
    params = unet.UNetParams(
        channels=(12, 24, 48, 96), strides=(2, 2, 2), patch_size=(32, 32, 32), flip_tta=False, min_lesion_mm3=0
    )
    torch.manual_seed(0)
    net = unet.build_network(4, params)
    shape = (97, 115, 97)
    rng = np.random.default_rng(0)
    case = CaseArrays(
        case="mni",
        images=rng.normal(0, 1, (4, *shape)).astype(np.float32),
        brain_mask=np.ones(shape, bool),
        spacing=(1.0, 1.0, 1.0),
    )
    gpu_mask, gpu_prob = unet.predict_unet(net, case, params, device="cuda")
    cpu_mask, cpu_prob = unet.predict_unet(net, case, params, device="cpu", threads=8)
    assert gpu_prob.shape == shape
    assert np.abs(gpu_prob - cpu_prob).max() < 2e-2
