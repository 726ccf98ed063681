"""Model files of the built-in methods (lesionbench.methods.model_io): round trips, and a clear
error naming the file when a model file is missing or not one the workflow wrote."""

from __future__ import annotations

import pickle

import pytest

from lesionbench.errors import MissingFileError
from lesionbench.methods.classical import HyperintensityParams
from lesionbench.methods.model_io import ModelFileError
from lesionbench.methods.model_io.sklearn_model import (
    SKLEARN_FORMAT,
    ThresholdModel,
    read_sklearn_model,
    write_sklearn_model,
)


def test_threshold_model_round_trip(tmp_path):
    model = ThresholdModel(threshold=3.25, flair_channel=1, params=HyperintensityParams(wm_dilation_mm=2.0))
    write_sklearn_model(tmp_path / "model.pkl", model)
    assert read_sklearn_model(tmp_path / "model.pkl", kind="flair_hyperintensity") == model


def test_missing_model_file_names_it(tmp_path):
    with pytest.raises(MissingFileError, match=r"model.pkl"):
        read_sklearn_model(tmp_path / "model.pkl", kind="random_forest")


@pytest.mark.parametrize(
    "content",
    [b"not a pickle at all", pickle.dumps({"kind": "flair_hyperintensity", "threshold": 3.0}), pickle.dumps([1, 2])],
    ids=["garbage", "untagged-dict", "list"],
)
def test_a_file_we_did_not_write_is_refused(tmp_path, content):
    path = tmp_path / "model.pkl"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=r"model.pkl") as info:
        read_sklearn_model(path, kind="flair_hyperintensity")
    assert info.value.path == str(path)


def test_a_model_of_another_kind_is_refused(tmp_path):
    model = ThresholdModel(threshold=3.0, flair_channel=0, params=HyperintensityParams())
    write_sklearn_model(tmp_path / "model.pkl", model)
    with pytest.raises(ModelFileError, match="flair_hyperintensity model, but the method is a random_forest"):
        read_sklearn_model(tmp_path / "model.pkl", kind="random_forest")


def test_an_incomplete_model_names_the_missing_entry(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"format": SKLEARN_FORMAT, "kind": "flair_hyperintensity", "threshold": 3.0}))
    with pytest.raises(ModelFileError, match="'flair_channel'"):
        read_sklearn_model(path, kind="flair_hyperintensity")


def test_forest_model_round_trip_predicts_the_same(tmp_path):
    pytest.importorskip("sklearn")
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    from lesionbench.methods.forest import ForestParams
    from lesionbench.methods.model_io.sklearn_model import ForestModel

    x = np.random.default_rng(0).normal(size=(60, 3))
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, x[:, 0] > 0)
    model = ForestModel(forest=forest, params=ForestParams(n_estimators=5), feature_names=("a", "b", "c"))
    write_sklearn_model(tmp_path / "model.pkl", model)
    loaded = read_sklearn_model(tmp_path / "model.pkl", kind="random_forest")
    assert isinstance(loaded, ForestModel) and loaded.params == model.params and loaded.feature_names == ("a", "b", "c")
    assert np.array_equal(loaded.forest.predict_proba(x), forest.predict_proba(x))


def test_unet_checkpoint_that_is_not_ours_is_refused(tmp_path):
    torch = pytest.importorskip("torch")
    from lesionbench.methods.model_io.unet_model import read_unet_model

    path = tmp_path / "model.pt"
    torch.save({"state_dict": {}, "params": {}, "in_channels": 1}, path)
    with pytest.raises(ModelFileError, match="not a lesionbench U-Net checkpoint"):
        read_unet_model(path)
    path.write_bytes(b"garbage")
    with pytest.raises(ModelFileError, match="not a readable U-Net checkpoint"):
        read_unet_model(path)
