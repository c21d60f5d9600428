"""camlab.models: layer names and shapes, the flat ResNet50, safe-mode saving, and the shipped model."""
import keras
import numpy as np
import pytest

from camlab import models
from camlab.datasets import CamlabCars

CARD_KEYS = {"dataset", "training_command", "seed", "epochs", "test_accuracy", "cam_gt_known_loc",
             "cam_maxboxacc_v2", "training_seconds", "machine", "classes", "input_shape", "feature_layer",
             "checkpoint_selection", "selected_epoch", "validation_accuracy"}


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(0)
    return models.build_cam_model(8)


def test_tiny_names_shapes_and_softmax(tiny):
    assert tiny.input_shape == (None, 96, 96, 3)
    for name, side, in (("block1_out", 48), ("block2_out", 24), ("block3_out", 12)):
        assert tiny.get_layer(name).output.shape[1:3] == (side, side)
    assert isinstance(tiny.get_layer("avg_pool"), keras.layers.GlobalAveragePooling2D)
    assert tiny.get_layer("avg_pool").input is tiny.get_layer("block3_out").output
    dense = tiny.get_layer("predictions")
    assert dense.units == 8 and dense.activation is keras.activations.softmax
    probs = tiny.predict(np.random.default_rng(0).uniform(0, 1, (3, 96, 96, 3)).astype("float32"), verbose=0)
    assert probs.shape == (3, 8) and np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)


def test_tiny_accepts_another_input_size_and_numpy_ints():
    model = models.build_cam_model(np.int64(3), input_shape=(64, 80, 3))
    assert model.output_shape == (None, 3) and model.get_layer("block3_out").output.shape[1:3] == (8, 10)


@pytest.mark.parametrize("kwargs, error, text", [
    ({"num_classes": 8, "backbone": "vgg16"}, ValueError, "Unknown backbone 'vgg16'"),
    ({"num_classes": 1}, ValueError, "num_classes must be an int >= 2"),
    ({"num_classes": 2.0}, ValueError, "num_classes must be an int >= 2"),
    ({"num_classes": 8, "weights": "imagenet"}, ValueError, "only for backbone='resnet50'"),
    ({"num_classes": 8, "weights": "/no/such/file.keras"}, FileNotFoundError, "not found"),
])
def test_bad_arguments_say_what_to_do(kwargs, error, text):
    with pytest.raises(error, match=text):
        models.build_cam_model(**kwargs)


def test_imagenet_preprocessing_is_caffe_bgr_minus_means():
    layer = models.ImageNetCaffePreprocess()
    rgb = np.array([[[[1.0, 0.5, 0.0]]]], np.float32)
    out = keras.ops.convert_to_numpy(layer(rgb))[0, 0, 0]
    np.testing.assert_allclose(out, [0.0 - 103.939, 127.5 - 116.779, 255.0 - 123.68], rtol=1e-5)


def test_resnet50_is_flat_with_the_lesson_names_and_trains_a_step():
    model = models.build_cam_model(4, backbone="resnet50", input_shape=(64, 64, 3))
    assert not any(isinstance(layer, keras.Model) for layer in model.layers)  # flat: no nested sub-model
    assert isinstance(model.layers[1], models.ImageNetCaffePreprocess)
    for name in ("conv3_block4_out", "conv4_block6_out", "conv5_block3_out"):
        model.get_layer(name)
    assert model.get_layer("avg_pool").input is model.get_layer("conv5_block3_out").output
    assert model.get_layer("conv5_block3_out").output.shape[1:] == (2, 2, 2048)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="sparse_categorical_crossentropy")
    images = np.random.default_rng(0).uniform(0, 1, (2, 64, 64, 3)).astype("float32")
    before = model.get_layer("predictions").get_weights()[0].copy()
    loss = model.train_on_batch(images, np.array([0, 3]))
    assert np.isfinite(loss)
    assert not np.allclose(before, model.get_layer("predictions").get_weights()[0])


def test_safe_mode_round_trip_and_weights_from_a_file(tmp_path, tiny):
    images = np.random.default_rng(1).uniform(0, 1, (2, 96, 96, 3)).astype("float32")
    path = tmp_path / "tiny.keras"
    tiny.save(path)
    again = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(again.predict(images, verbose=0), tiny.predict(images, verbose=0), atol=1e-6)
    from_file = models.build_cam_model(8, weights=path)
    np.testing.assert_allclose(from_file.predict(images, verbose=0), tiny.predict(images, verbose=0), atol=1e-6)
    tiny.save_weights(tmp_path / "tiny.weights.h5")
    from_h5 = models.build_cam_model(8, weights=tmp_path / "tiny.weights.h5")
    np.testing.assert_allclose(from_h5.predict(images, verbose=0), tiny.predict(images, verbose=0), atol=1e-6)


def test_preprocessing_layer_survives_safe_mode(tmp_path):
    inputs = keras.Input((8, 8, 3))
    x = models.ImageNetCaffePreprocess(name="imagenet_preprocess")(inputs)
    outputs = keras.layers.Dense(2, activation="softmax", name="predictions")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "p.keras")
    again = keras.saving.load_model(tmp_path / "p.keras", safe_mode=True)
    assert isinstance(again.get_layer("imagenet_preprocess"), models.ImageNetCaffePreprocess)
    images = np.random.default_rng(2).uniform(0, 1, (2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(again.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-5)


def test_shipped_model_and_card():
    card = models.model_card()
    assert CARD_KEYS <= set(card)
    assert card["dataset"]["name"] == "camlab_cars" and card["training_command"].startswith("python -m camlab train")
    # trained on the current release's images (2.1.0 added the emblem config; default's data are 2.0.0's)
    assert card["dataset"]["version"].split(".")[0] == str(CamlabCars.VERSION.major)
    assert card["dataset"]["config"] == "default"
    assert card["dataset"]["validation_examples"] == 500 and card["dataset"]["test_examples"] == 800
    # the course's targets, measured once on the test split
    assert card["test_accuracy"] >= 0.9 and card["cam_gt_known_loc"] >= 0.75 and card["cam_maxboxacc_v2"] >= 0.75
    # the checkpoint was chosen on validation: the first epoch with the best validation accuracy
    val = card["history"]["val_accuracy"]
    assert len(val) == card["epochs"] and 1 <= card["selected_epoch"] <= card["epochs"]
    assert val[card["selected_epoch"] - 1] == max(val) and round(max(val), 4) == card["validation_accuracy"]
    assert models.pretrained_path().stat().st_size < 5_000_000  # a few MB at most
    model = models.load_pretrained()
    assert model.input_shape[1:] == tuple(card["input_shape"])
    assert model.get_layer("predictions").units == len(card["classes"])
    model.get_layer(card["feature_layer"])


def test_emblem_model_and_card_show_part_domination():
    from camlab.datasets import camlab_cars

    card, default = models.model_card("emblem"), models.model_card()
    assert CARD_KEYS <= set(card)
    assert card["dataset"]["name"] == "camlab_cars" and card["dataset"]["config"] == "emblem"
    assert card["classes"] == list(camlab_cars.EMBLEM_NAMES)
    assert card["training_command"].startswith("python -m camlab train --config emblem")
    # the same recipe as the default model
    for key in ("epochs", "seed", "batch_size", "learning_rate", "backbone", "input_shape"):
        assert card[key] == default[key], key
    assert card["test_accuracy"] >= 0.9  # the class is learnt from the emblem alone
    assert card["cam_maxboxacc_v2"] <= default["cam_maxboxacc_v2"] - 0.10  # ... and its CAM boxes are too small
    rows = {row["model"]: row for row in card["part_domination"]["rows"]}
    assert rows["emblem"]["cam_mass_in_emblem"] > 1.5 * rows["default"]["cam_mass_in_emblem"]
    assert rows["emblem"]["cam_maxboxacc_v2_vs_emblem_box"] > rows["emblem"]["cam_maxboxacc_v2"]
    assert rows["emblem"]["cam_box_area_over_car_box"] < rows["default"]["cam_box_area_over_car_box"]
    model = models.load_pretrained("emblem")
    assert model.input_shape[1:] == tuple(card["input_shape"]) and model.get_layer("predictions").units == 8
    model.get_layer(card["feature_layer"])
    assert models.pretrained_path("emblem").name == "camlab_cars_emblem_tiny.keras"
    assert models.pretrained_path() == models.pretrained_path("default") != models.pretrained_path("emblem")


def test_unknown_shipped_model_names_the_choices():
    with pytest.raises(ValueError, match="No shipped model 'paint'.*'default', 'emblem'"):
        models.load_pretrained("paint")
    with pytest.raises(ValueError, match="No shipped model"):
        models.model_card("Emblem")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["default", "emblem"])
def test_card_accuracy_holds_on_the_test_split(name):
    """Re-measure a shipped model on its config's test split (built on first use, ~30 s once)."""
    from camlab import data, train

    card = models.model_card(name)
    test, _ = data.load(models.PRETRAINED_DATASETS[name], split="test")
    scores = train.evaluate(models.load_pretrained(name), test)
    assert scores["count"] == card["dataset"]["test_examples"]
    assert abs(scores["test_accuracy"] - card["test_accuracy"]) <= 0.015
    assert abs(scores["cam_gt_known_loc"] - card["cam_gt_known_loc"]) <= 0.015
    assert abs(scores["cam_maxboxacc_v2"] - card["cam_maxboxacc_v2"]) <= 0.015
