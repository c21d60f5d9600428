"""Tests of camlab.cam: known answers on hand-set tiny models, batching, model kinds, errors, caching."""
import copy
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
from keras import layers

from camlab import cam

# ------------------------------------------------------------------------------------------------------------
# Tiny models with hand-set weights
# ------------------------------------------------------------------------------------------------------------


def handmade(kernel, bias=None, size=4, channels=2, activation="softmax"):
    """input -> 1x1 conv (identity) -> ReLU 'block1_out' -> GAP 'avg_pool' -> Dense 'predictions'.

    So A = ReLU(x), and the class scores are y = mean_ij(A) @ kernel + bias.
    """
    kernel = np.asarray(kernel, np.float32)
    inputs = keras.Input((size, size, channels))
    x = layers.Conv2D(channels, 1, use_bias=False, name="conv")(inputs)
    x = layers.ReLU(name="block1_out")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(kernel.shape[1], activation=activation, name="predictions")(x)
    model = keras.Model(inputs, outputs)
    model.get_layer("conv").set_weights([np.eye(channels, dtype=np.float32)[None, None]])
    bias = np.zeros(kernel.shape[1], np.float32) if bias is None else np.asarray(bias, np.float32)
    model.get_layer("predictions").set_weights([kernel, bias])
    return model


def normalized(m):
    m = np.maximum(m, 0)
    return m / m.max() if m.max() > 0 else m


def expected_cam(images, kernel, c):
    """By hand: M_c = sum_k W[k, c] ReLU(x_k), ReLU, divided by its max."""
    a = np.maximum(images, 0)
    return np.stack([normalized(np.tensordot(img, np.asarray(kernel)[:, ci], axes=([-1], [0])))
                     for img, ci in zip(a, np.broadcast_to(c, len(a)))])


PIXEL_METHODS = ("saliency", "guided_backprop", "guided_grad_cam")  # maps at the input's resolution
KERNEL = np.array([[2.0, -1.0, 0.5], [-1.0, 3.0, 0.5]], np.float32)  # 2 channels, 3 classes


@pytest.fixture(scope="module")
def model():
    return handmade(KERNEL, bias=[0.1, -0.2, 0.0])


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, (3, 4, 4, 2)).astype(np.float32)


def two_stage(kind, seed=1):
    """A 2-stage conv net, 'block1_out' (8x8) and 'block2_out' (4x4), as a functional, Sequential or
    nested (backbone model inside the outer model) graph, with the same random weights for each kind."""
    stages = lambda: [
        layers.Conv2D(4, 3, padding="same", name="c1"),
        layers.ReLU(name="block1_out"),
        layers.Conv2D(6, 3, strides=2, padding="same", name="c2"),
        layers.ReLU(name="block2_out"),
    ]
    head = lambda: [layers.GlobalAveragePooling2D(name="avg_pool"),
                    layers.Dense(3, activation="softmax", name="predictions")]
    shape = (8, 8, 3)
    if kind == "sequential":
        model = keras.Sequential([keras.Input(shape), *stages(), *head()])
    elif kind == "functional":
        x = inputs = keras.Input(shape)
        for layer in stages() + head():
            x = layer(x)
        model = keras.Model(inputs, x)
    else:
        x = backbone_in = keras.Input(shape)
        for layer in stages():
            x = layer(x)
        backbone = keras.Model(backbone_in, x, name="backbone")
        inputs = keras.Input(shape)
        x = layers.Rescaling(1.0, name="preprocess")(inputs)
        x = backbone(x)
        for layer in head():
            x = layer(x)
        model = keras.Model(inputs, x)
    rng = np.random.default_rng(seed)
    holder = model.get_layer("backbone") if kind == "nested" else model
    for layer in (holder.get_layer("c1"), holder.get_layer("c2"), model.get_layer("predictions")):
        layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    return model


@pytest.fixture(scope="module")
def kinds():
    return {kind: two_stage(kind) for kind in ("functional", "sequential", "nested")}


@pytest.fixture(scope="module")
def rgb():
    return np.random.default_rng(2).uniform(0, 1, (3, 8, 8, 3)).astype(np.float32)


# ------------------------------------------------------------------------------------------------------------
# Known answers
# ------------------------------------------------------------------------------------------------------------


def test_cam_known_answer(model, images):
    for c in range(3):
        maps = cam.class_activation_map(model, images, class_index=c)
        np.testing.assert_allclose(maps, expected_cam(images, KERNEL, c), atol=1e-5)


def test_cam_predicted_class_and_result(model, images):
    result = cam.compute_maps(model, images, "cam")
    probabilities = model.predict(images, verbose=0)
    np.testing.assert_allclose(result.probabilities, probabilities, atol=1e-5)
    np.testing.assert_array_equal(result.class_index, probabilities.argmax(-1))
    np.testing.assert_allclose(result.maps, expected_cam(images, KERNEL, probabilities.argmax(-1)), atol=1e-5)
    assert result.layer == "block1_out"


def test_grad_cam_equals_cam_on_gap_dense_head(model, images):
    """dy^c/dA_k^ij = W[k, c] / (h w): Grad-CAM's weights are CAM's divided by a constant."""
    for c in range(3):
        np.testing.assert_allclose(cam.grad_cam(model, images, class_index=c),
                                   cam.class_activation_map(model, images, class_index=c), atol=1e-5)


def test_grad_cam_differentiates_the_logit_not_the_softmax():
    kernel = np.array([[1.0, 3.0], [1.0, -1.0]], np.float32)
    model = handmade(kernel, bias=[0.0, 2.0])  # class 1 dominates, so dp_0/dA_0 < 0 while dy_0/dA_0 > 0
    x = np.zeros((1, 4, 4, 2), np.float32)
    x[0, :2, :, 0] = 1.0  # channel 0 on the top half
    x[0, 2:, :, 1] = 0.5  # channel 1 on the bottom half
    logit_map = expected_cam(x, kernel, 0)[0]  # weights (1, 1)
    p = model.predict(x, verbose=0)[0]
    softmax_weights = p[0] * (kernel[:, 0] - kernel @ p)  # d p_0 / d(mean A_k)
    softmax_map = normalized(np.tensordot(x[0], softmax_weights, axes=([-1], [0])))
    assert np.abs(logit_map - softmax_map).max() > 0.5  # the two definitions really disagree here
    np.testing.assert_allclose(cam.grad_cam(model, x, class_index=0)[0], logit_map, atol=1e-5)


def test_grad_cam_on_a_model_ending_in_a_softmax_activation():
    inputs = keras.Input((4, 4, 2))
    x = layers.ReLU(name="block1_out")(inputs)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dense(3, name="logits")(x)
    model = keras.Model(inputs, layers.Activation("softmax", name="probs")(x))
    model.get_layer("logits").set_weights([KERNEL, np.zeros(3, np.float32)])
    x = np.random.default_rng(3).uniform(0, 1, (2, 4, 4, 2)).astype(np.float32)
    for method in ("cam", "grad_cam"):
        np.testing.assert_allclose(cam.compute_maps(model, x, method, class_index=1).maps,
                                   expected_cam(x, KERNEL, 1), atol=1e-5)


def test_grad_cam_plus_plus_known_answer(model, images):
    """g = W[k, c] / (h w) everywhere; alpha = g^2 / (2 g^2 + g^3 sum_ab A_k^ab); w_k = sum_ij alpha ReLU(g)."""
    c = 0
    a = np.maximum(images, 0).astype(np.float64)
    g = KERNEL[:, c] / 16.0
    alpha = g**2 / (2 * g**2 + g**3 * a.sum(axis=(1, 2)))  # (N, K)
    weights = 16 * alpha * np.maximum(g, 0)
    expected = np.stack([normalized(np.tensordot(a[n], weights[n], axes=([-1], [0]))) for n in range(len(a))])
    np.testing.assert_allclose(cam.grad_cam_plus_plus(model, images, class_index=c), expected, atol=1e-5)


def test_layer_cam_single_channel_is_the_normalized_activation():
    model = handmade([[1.0, -1.0]], channels=1)
    x = np.random.default_rng(4).uniform(-0.5, 1, (2, 4, 4, 1)).astype(np.float32)
    expected = np.stack([normalized(img[..., 0]) for img in x])
    np.testing.assert_allclose(cam.layer_cam(model, x, class_index=0), expected, atol=1e-6)
    np.testing.assert_allclose(cam.grad_cam_plus_plus(model, x, class_index=0), expected, atol=1e-6)
    # class 1 has a negative gradient everywhere: LayerCAM keeps nothing.
    np.testing.assert_array_equal(cam.layer_cam(model, x, class_index=1), 0.0)


def blobs():
    """Channel 0 lights the top-left quarter, channel 1 the bottom-right one."""
    x = np.zeros((1, 8, 8, 2), np.float32)
    x[0, :4, :4, 0] = 1.0
    x[0, 4:, 4:, 1] = 1.0
    return x


def test_score_cam_ranks_the_class_region_highest():
    model = handmade([[5.0, -5.0], [-5.0, 5.0]], size=8)
    x = blobs()
    for c, region in ((0, (slice(0, 4), slice(0, 4))), (1, (slice(4, 8), slice(4, 8)))):
        m = cam.score_cam(model, x, class_index=c)[0]
        peak = np.unravel_index(m.argmax(), m.shape)
        assert m[region].min() == pytest.approx(1.0) and peak[0] in range(8)[region[0]]
        assert m.max() == 1.0 and m.min() >= 0.0
        outside = np.ones_like(m, bool)
        outside[region] = False
        assert m[outside].max() < 0.99


def test_score_cam_weights_are_a_softmax_of_masked_probabilities():
    model = handmade([[5.0, -5.0], [-5.0, 5.0]], size=8)
    x = blobs()
    masked = np.stack([x[0] * x[0, :, :, k : k + 1] for k in range(2)])  # each channel is already 0/1
    p = model.predict(masked, verbose=0)[:, 0]
    w = np.exp(p) / np.exp(p).sum()
    expected = normalized(np.tensordot(x[0], w, axes=([-1], [0])))
    for batch_size in (1, 2, 32):
        np.testing.assert_allclose(cam.score_cam(model, x, class_index=0, batch_size=batch_size)[0], expected,
                                   atol=1e-5)
    with pytest.raises(ValueError, match="batch_size"):
        cam.score_cam(model, x, batch_size=0)


# ------------------------------------------------------------------------------------------------------------
# Shapes, ranges, batching, zero-safety
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", sorted(cam.METHODS))
def test_shapes_ranges_and_dtype(method, kinds, rgb):
    model = kinds["functional"]
    fn = cam.METHODS[method]
    maps = fn(model, rgb)
    native = (8, 8) if method in PIXEL_METHODS else (4, 4)  # maps of the input, or of block2_out
    assert maps.shape == (3, *native) and maps.dtype == np.float32
    assert np.isfinite(maps).all() and maps.min() >= 0.0 and maps.max() <= 1.0
    np.testing.assert_allclose(maps.max(axis=(1, 2)), 1.0)  # random weights: no map is all zero here
    resized = fn(model, rgb, size=(13, 7))
    assert resized.shape == (3, 13, 7) and resized.dtype == np.float32
    assert resized.min() >= 0.0 and resized.max() <= 1.0
    single = fn(model, rgb[1])
    assert single.shape == native
    np.testing.assert_allclose(single, maps[1], atol=1e-5)
    if method not in ("cam", "saliency", "guided_backprop"):
        assert fn(model, rgb, layer="block1_out").shape == (3, 8, 8)


def test_single_image_result_has_no_batch_axis(model, images):
    result = cam.compute_maps(model, images[0], "grad_cam", class_index=2, size=(8, 8))
    assert result.maps.shape == (8, 8) and result.probabilities.shape == (3,) and result.class_index == 2


def test_accepts_tensors(model, images):
    import tensorflow as tf

    np.testing.assert_allclose(cam.grad_cam(model, tf.constant(images)), cam.grad_cam(model, images))


@pytest.mark.parametrize("method", sorted(cam.METHODS))
def test_weights_are_per_image_not_per_batch(method, kinds, rgb):
    """A batch gives each image the map it gets alone: per image classes, and (below the last stage, where
    gradients depend on the image) per image gradients."""
    model = kinds["functional"]
    settings = [dict(class_index=[0, 1, 2]), dict(class_index=None)]
    if method != "cam":
        settings.append(dict(class_index=None, layer="block1_out"))
    for options in settings:
        together = cam.compute_maps(model, rgb, method, **options)
        for n in range(len(rgb)):
            wanted = options["class_index"]
            alone = cam.compute_maps(model, rgb[n : n + 1], method,
                                     **dict(options, class_index=None if wanted is None else wanted[n]))
            np.testing.assert_allclose(together.maps[n], alone.maps[0], atol=1e-5, err_msg=str(options))
            assert together.class_index[n] == alone.class_index[0]


def test_class_index_per_image(model, images):
    maps = cam.class_activation_map(model, images, class_index=[0, 1, 2])
    np.testing.assert_allclose(maps, expected_cam(images, KERNEL, [0, 1, 2]), atol=1e-5)
    np.testing.assert_allclose(cam.class_activation_map(model, images, class_index=np.array([2, 2, 2])),
                               cam.class_activation_map(model, images, class_index=2))


def test_all_negative_map_stays_zero(model, images):
    zero_image = np.zeros_like(images)  # A = 0 everywhere
    for method, fn in cam.METHODS.items():
        maps = fn(model, zero_image)
        assert np.isfinite(maps).all(), method
        np.testing.assert_array_equal(maps, 0.0)
    negative = handmade([[-1.0, 1.0], [-2.0, 1.0]])  # class 0 weighs every (non-negative) channel negatively
    np.testing.assert_array_equal(cam.class_activation_map(negative, images, class_index=0), 0.0)
    np.testing.assert_array_equal(cam.grad_cam(negative, images, class_index=0), 0.0)


def test_zero_gradients_are_safe(images):
    model = handmade(np.zeros((2, 3), np.float32))
    for method in ("grad_cam", "grad_cam_plus_plus", "layer_cam", "cam"):
        maps = cam.METHODS[method](model, images, class_index=1)
        assert np.isfinite(maps).all() and maps.dtype == np.float32, method
        np.testing.assert_array_equal(maps, 0.0)


def test_frozen_model_still_has_gradients(images):
    model = handmade(KERNEL)
    model.trainable = False
    np.testing.assert_allclose(cam.grad_cam(model, images, class_index=1), expected_cam(images, KERNEL, 1),
                               atol=1e-5)


# ------------------------------------------------------------------------------------------------------------
# Model kinds, layers, caching
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", sorted(cam.METHODS))
def test_sequential_functional_and_nested_agree(method, kinds, rgb):
    results = {kind: cam.compute_maps(m, rgb, method) for kind, m in kinds.items()}
    reference = results["functional"]
    layer = None if method in ("saliency", "guided_backprop") else "block2_out"
    assert reference.layer == layer
    for kind, result in results.items():
        np.testing.assert_allclose(result.maps, reference.maps, atol=1e-5, err_msg=kind)
        np.testing.assert_allclose(result.probabilities, reference.probabilities, atol=1e-6, err_msg=kind)
        assert result.layer == layer, kind
    if method not in ("cam", "saliency", "guided_backprop"):
        inner = {kind: cam.compute_maps(m, rgb, method, layer="block1_out").maps for kind, m in kinds.items()}
        for kind in inner:
            np.testing.assert_allclose(inner[kind], inner["functional"], atol=1e-5, err_msg=kind)


def test_find_feature_layer(kinds, model):
    assert cam.find_feature_layer(model).name == "block1_out"
    assert cam.find_feature_layer(model, for_cam=True).name == "block1_out"
    nested = kinds["nested"]
    backbone = nested.get_layer("backbone")
    assert cam.find_feature_layer(nested) is backbone.get_layer("block2_out")
    assert cam.find_feature_layer(nested, for_cam=True) is backbone.get_layer("block2_out")
    # the layer can be given as an object, or as the nested model that outputs it
    by_object = cam.grad_cam(nested, np.ones((1, 8, 8, 3), np.float32), layer=backbone.get_layer("block1_out"))
    assert by_object.shape == (1, 8, 8)
    assert cam.compute_maps(nested, np.ones((1, 8, 8, 3), np.float32), "cam", layer="backbone").layer == "block2_out"


def test_probe_is_built_once_per_model_and_layer(kinds, rgb):
    model = kinds["nested"]
    cam.grad_cam(model, rgb)
    layer = cam.find_feature_layer(model)
    probe = cam._PROBES[model][layer]
    tapped = probe.tapped
    cam.grad_cam(model, rgb[:1])
    cam.class_activation_map(model, rgb)
    assert cam._PROBES[model][layer] is probe and probe.tapped is tapped
    cam.grad_cam(model, rgb, layer="block1_out")
    assert len(cam._PROBES[model]) == 2


def test_uses_current_weights_after_training_changes_them(images):
    model = handmade(KERNEL)
    before = cam.class_activation_map(model, images, class_index=0)
    flipped = KERNEL[::-1].copy()
    model.get_layer("predictions").set_weights([flipped, np.zeros(3, np.float32)])
    after = cam.class_activation_map(model, images, class_index=0)
    np.testing.assert_allclose(after, expected_cam(images, flipped, 0), atol=1e-5)
    assert np.abs(after - before).max() > 0.1


# ------------------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------------------


def test_wrong_layer_name_lists_candidates(kinds, rgb):
    with pytest.raises(KeyError) as info:
        cam.grad_cam(kinds["nested"], rgb, layer="conv5_block3_out")
    message = str(info.value)
    assert "conv5_block3_out" in message and "block1_out" in message and "block2_out" in message
    assert "avg_pool" not in message  # not 4-D, so not a candidate


def test_non_4d_layer_is_refused(model, images):
    with pytest.raises(ValueError, match="4-D"):
        cam.grad_cam(model, images, layer="avg_pool")


def test_cam_without_gap_dense_points_to_grad_cam():
    inputs = keras.Input((4, 4, 2))
    x = layers.Conv2D(3, 1, name="block1_out")(inputs)
    x = layers.Flatten()(x)
    model = keras.Model(inputs, layers.Dense(2, activation="softmax")(x))
    x = np.ones((1, 4, 4, 2), np.float32)
    with pytest.raises(ValueError, match="GlobalAveragePooling2D.*grad_cam"):
        cam.class_activation_map(model, x)
    assert cam.grad_cam(model, x).shape == (1, 4, 4)  # Grad-CAM works on it


def test_cam_on_another_layer_points_to_grad_cam(kinds, rgb):
    with pytest.raises(ValueError, match="block2_out.*grad_cam"):
        cam.class_activation_map(kinds["functional"], rgb, layer="block1_out")


def test_bad_class_index(model, images):
    with pytest.raises(ValueError, match="2 entries but the batch has 3"):
        cam.grad_cam(model, images, class_index=[0, 1])
    with pytest.raises(ValueError, match=r"out of range.*3 classes"):
        cam.class_activation_map(model, images, class_index=3)
    with pytest.raises(ValueError, match=r"\[-1\] out of range"):
        cam.grad_cam(model, images, class_index=[0, -1, 2])
    with pytest.raises(ValueError, match="int"):
        cam.grad_cam(model, images, class_index=1.5)


def test_bad_images(model, images):
    with pytest.raises(ValueError, match="float RGB in \\[0, 1\\]"):
        cam.grad_cam(model, (images * 255).astype(np.uint8))
    with pytest.raises(ValueError, match="expects"):
        cam.grad_cam(model, np.zeros((1, 5, 4, 2), np.float32))
    with pytest.raises(ValueError, match="empty"):
        cam.grad_cam(model, np.zeros((0, 4, 4, 2), np.float32))
    with pytest.raises(ValueError, match="single"):
        cam.grad_cam(model, np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match="Unknown method"):
        cam.compute_maps(model, images, "gradcam")
    with pytest.raises(ValueError, match="size"):
        cam.grad_cam(model, images, size=(0, 4))


def test_arguments_are_not_mutated(model, images):
    before = images.copy()
    index = [0, 1, 2]
    cam.grad_cam(model, images, class_index=index, size=(8, 8))
    np.testing.assert_array_equal(images, before)
    assert index == [0, 1, 2]


# ------------------------------------------------------------------------------------------------------------
# The lesson's item-level interface
# ------------------------------------------------------------------------------------------------------------


def test_generate_cam_and_grad_cam_on_an_item(kinds):
    from camlab.data import normalize_and_resize_img

    model = kinds["functional"]
    rng = np.random.default_rng(5)
    item = {"image": rng.integers(0, 256, (37, 53, 3), dtype=np.uint8), "label": np.int64(2),
            "bbox": np.array([0.1, 0.2, 0.5, 0.9], np.float32)}
    original = copy.deepcopy(item)
    cam_image = cam.generate_cam(model, item)
    grad_image = cam.generate_grad_cam(model, "block1_out", item)
    for m in (cam_image, grad_image):
        assert m.shape == (37, 53) and m.dtype == np.float32 and 0.0 <= m.min() and m.max() <= 1.0
    for key in original:
        np.testing.assert_array_equal(item[key], original[key])
    image, _ = normalize_and_resize_img(item, (8, 8))
    np.testing.assert_allclose(cam_image, cam.class_activation_map(model, image, class_index=2, size=(37, 53)))
    np.testing.assert_allclose(grad_image, cam.grad_cam(model, image, 2, "block1_out", (37, 53)))


# ------------------------------------------------------------------------------------------------------------
# ResNet50 (weights=None, small input): the lesson's layers
# ------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def resnet():
    inputs = keras.Input((64, 64, 3))
    backbone = keras.applications.ResNet50(include_top=False, weights=None, input_tensor=inputs)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(backbone.output)
    return keras.Model(inputs, layers.Dense(3, activation="softmax", name="predictions")(x))


@pytest.mark.slow
def test_resnet50_lesson_layers(resnet):
    x = np.random.default_rng(6).uniform(0, 1, (2, 64, 64, 3)).astype(np.float32)
    assert cam.find_feature_layer(resnet, for_cam=True).name == "conv5_block3_out"
    checks = [("cam", "conv5_block3_out", (2, 2, 2)), ("grad_cam", "conv5_block3_out", (2, 2, 2)),
              ("grad_cam", "conv4_block6_out", (2, 4, 4))]
    for method, layer, shape in checks:
        result = cam.compute_maps(resnet, x, method, layer=layer)
        assert result.maps.shape == shape and result.layer == layer
        assert result.maps.dtype == np.float32 and result.maps.min() >= 0.0 and result.maps.max() <= 1.0
        np.testing.assert_allclose(result.probabilities.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(cam.grad_cam(resnet, x, layer="conv5_block3_out"),
                               cam.class_activation_map(resnet, x), atol=1e-4)


def test_finds_the_layers_of_camlab_models_tiny():
    from camlab.models import build_cam_model

    model = build_cam_model(4, "tiny", input_shape=(32, 32, 3))
    assert cam.find_feature_layer(model, for_cam=True).name == "block3_out"
    assert cam.find_feature_layer(model).name == "block3_out"
    x = np.random.default_rng(7).uniform(0, 1, (2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(cam.grad_cam(model, x), cam.class_activation_map(model, x), atol=1e-4)
    assert cam.grad_cam(model, x, layer="block2_out").shape == (2, 8, 8)


# ------------------------------------------------------------------------------------------------------------
# Maps of the input: saliency, guided backpropagation, Guided Grad-CAM
# ------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signed_images():
    """Inputs with negative values, so the ReLU after the identity conv closes for some pixels."""
    return np.random.default_rng(8).uniform(-1, 1, (3, 4, 4, 2)).astype(np.float32)


def test_saliency_and_guided_backprop_known_answers(model, signed_images):
    """On the handmade model y^c = mean_ij ReLU(x_ij) @ W[:, c], so dy^c/dx_ijk = W[k, c] [x_ijk > 0] / 16:
    saliency_ij = max_k |W[k, c]| [x_ijk > 0]; guided backprop also closes where the gradient arriving at
    the ReLU, W[k, c] / 16, is negative: max_k W[k, c] [x_ijk > 0] [W[k, c] > 0]."""
    x = signed_images
    for c in range(3):
        w = KERNEL[:, c]
        open_ = x > 0
        by_hand = np.max(np.abs(w) * open_, axis=-1)
        guided = np.max(np.where(open_ & (w > 0), w, 0.0), axis=-1)
        np.testing.assert_allclose(cam.saliency(model, x, class_index=c), [normalized(m) for m in by_hand],
                                   atol=1e-6)
        np.testing.assert_allclose(cam.guided_backprop(model, x, class_index=c), [normalized(m) for m in guided],
                                   atol=1e-6)
    # class 0 weighs channel 1 negatively: where only channel 1 is open, guided backprop is 0, saliency is not
    only_1 = (x[..., 0] <= 0) & (x[..., 1] > 0)
    assert only_1.any()
    assert np.all(cam.guided_backprop(model, x, class_index=0)[only_1] == 0)
    assert np.all(cam.saliency(model, x, class_index=0)[only_1] > 0)


def test_signed_maps_keep_the_sign(model, signed_images):
    x = signed_images
    signed = cam.compute_maps(model, x, "saliency", class_index=1, signed=True).maps
    assert signed.min() < 0 < signed.max() and np.abs(signed).max() == pytest.approx(1.0)
    np.testing.assert_allclose(np.abs(signed), cam.saliency(model, x, class_index=1), atol=1e-6)
    cam_signed = cam.compute_maps(model, x, "cam", class_index=1, signed=True).maps
    raw = np.tensordot(np.maximum(x, 0), KERNEL[:, 1], axes=([-1], [0]))
    np.testing.assert_allclose(cam_signed, raw / np.abs(raw).max(axis=(1, 2), keepdims=True), atol=1e-6)


def test_guided_grad_cam_is_grad_cam_times_guided_backprop(model, signed_images, kinds, rgb):
    x = signed_images
    expected = normalized_each(cam.grad_cam(model, x, class_index=0) * cam.guided_backprop(model, x, class_index=0))
    np.testing.assert_allclose(cam.guided_grad_cam(model, x, class_index=0), expected, atol=1e-6)
    deep = kinds["functional"]  # Grad-CAM on block2_out (4x4) is upsampled to the 8x8 input first
    up = cam.grad_cam(deep, rgb, size=(8, 8))
    np.testing.assert_allclose(cam.guided_grad_cam(deep, rgb), normalized_each(up * cam.guided_backprop(deep, rgb)),
                               atol=1e-5)


def normalized_each(maps):
    return np.stack([normalized(m) for m in maps])


def test_guided_backprop_on_fused_relu_and_leaves_the_model_unchanged(rgb):
    """A Conv2D(activation="relu") is guided too; the caller's layers keep their activation and weights."""
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="fused")(inputs)
    x = layers.GlobalAveragePooling2D()(x)
    fused = keras.Model(inputs, layers.Dense(3, activation="softmax", name="predictions")(x))
    split_in = keras.Input((8, 8, 3))
    y = layers.Conv2D(4, 3, padding="same", name="conv")(split_in)
    y = layers.ReLU()(y)
    y = layers.GlobalAveragePooling2D()(y)
    split = keras.Model(split_in, layers.Dense(3, activation="softmax", name="predictions")(y))
    split.set_weights(fused.get_weights())
    before = [w.copy() for w in fused.get_weights()]
    got = cam.guided_backprop(fused, rgb, class_index=1)
    np.testing.assert_allclose(got, cam.guided_backprop(split, rgb, class_index=1), atol=1e-6)
    assert not np.allclose(got, cam.saliency(fused, rgb, class_index=1), atol=1e-3)  # the guide matters
    assert fused.get_layer("fused").activation is keras.activations.relu
    assert all(np.array_equal(a, b) for a, b in zip(before, fused.get_weights()))
    np.testing.assert_allclose(fused.predict(rgb, verbose=0), split.predict(rgb, verbose=0), atol=1e-6)


def test_guided_backprop_follows_weight_changes(images):
    model = handmade(KERNEL)
    first = cam.guided_backprop(model, images - 0.5, class_index=0)
    model.get_layer("predictions").set_weights([-KERNEL, np.zeros(3, np.float32)])
    second = cam.guided_backprop(model, images - 0.5, class_index=0)
    assert not np.allclose(first, second)


def test_pixel_methods_reject_options(model, images):
    with pytest.raises(TypeError, match="saliency takes no options"):
        cam.compute_maps(model, images, "saliency", batch_size=3)


# ------------------------------------------------------------------------------------------------------------
# Faster-ScoreCAM (max_n)
# ------------------------------------------------------------------------------------------------------------


def test_faster_score_cam_scores_the_most_varying_channels():
    model = handmade([[5.0, -5.0], [-5.0, 5.0]], size=8)
    x = blobs()
    x[0, 4:, 4:, 1] = 0.5  # channel 1 varies less (variance 0.25 * 3/16 < 1 * 3/16)
    # one channel scored: its softmax weight is 1, so the map is that channel, normalized
    np.testing.assert_allclose(cam.score_cam(model, x, class_index=1, max_n=1)[0], normalized(x[0, :, :, 0]))
    full = cam.score_cam(model, x, class_index=1)
    np.testing.assert_allclose(cam.score_cam(model, x, class_index=1, max_n=2), full, atol=1e-6)
    np.testing.assert_allclose(cam.score_cam(model, x, class_index=1, max_n=99), full, atol=1e-6)  # clamped to K
    np.testing.assert_allclose(cam.score_cam(model, x, class_index=1, max_n=np.int64(2)), full, atol=1e-6)


def test_faster_score_cam_picks_channels_per_image():
    model = handmade([[5.0, -5.0], [-5.0, 5.0]], size=8)
    x = np.concatenate([blobs(), blobs()[..., ::-1]])
    x[0, 4:, 4:, 1] = 0.5
    x[1, :4, :4, 1] = 0.5  # image 1: channel 0 (the bottom-right blob) now varies most
    maps = cam.score_cam(model, x, class_index=0, max_n=1)
    np.testing.assert_allclose(maps[0], normalized(x[0, :, :, 0]))
    np.testing.assert_allclose(maps[1], normalized(x[1, :, :, 0]))


@pytest.mark.parametrize("max_n", [0, -3, 2.5, "10", True])
def test_faster_score_cam_bad_max_n(model, images, max_n):
    with pytest.raises(ValueError, match="max_n must be None"):
        cam.score_cam(model, images, max_n=max_n)


@pytest.mark.slow
def test_pixel_methods_on_resnet50(resnet):
    x = np.random.default_rng(9).uniform(0, 1, (2, 64, 64, 3)).astype(np.float32)
    before = [w.copy() for w in resnet.get_weights()]
    for fn in (cam.saliency, cam.guided_backprop, cam.guided_grad_cam):
        maps = fn(resnet, x)
        assert maps.shape == (2, 64, 64) and maps.dtype == np.float32
        np.testing.assert_allclose(maps.max(axis=(1, 2)), 1.0, atol=1e-6)
        assert maps.min() >= 0.0
    assert not np.allclose(cam.guided_backprop(resnet, x), cam.saliency(resnet, x), atol=1e-3)
    assert all(np.array_equal(a, b) for a, b in zip(before, resnet.get_weights()))
    assert cam.score_cam(resnet, x[:1], max_n=3).shape == (1, 2, 2)


@pytest.mark.parametrize("method", sorted(cam.METHODS))
def test_unsigned_maps_are_the_maps_from_the_signed_ones(method, kinds, rgb):
    model = kinds["functional"]
    signed = cam.compute_maps(model, rgb, method, class_index=1, signed=True).maps
    assert signed.min() >= -1.0 and np.abs(signed).max() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(cam.unsigned_maps(method, signed), cam.compute_maps(model, rgb, method, class_index=1).maps,
                               atol=1e-6)
