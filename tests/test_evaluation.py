"""camlab.evaluation: deletion/insertion and average drop on hand-made models, sanity checks (model copy,
randomization, Spearman and SSIM), and a whole-dataset evaluation on a tiny model."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest

from camlab import boxes, cam, evaluation
from camlab.metrics import localization_accuracy, max_box_acc


def norm_box(y0, x0, y1, x1, shape):
    return [y0 / shape[0], x0 / shape[1], y1 / shape[0], x1 / shape[1]]


# --------------------------------------------------------------------------- deletion / insertion
@pytest.fixture(scope="module")
def mean_model():
    """A 'classifier' whose class-0 output is the image's mean brightness: out = [mean(x), 1 - mean(x)]."""
    import keras

    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    kernel = np.stack([np.full(16, 1 / 16), np.full(16, -1 / 16)], axis=1)
    model.layers[-1].set_weights([kernel, np.array([0.0, 1.0])])
    return model


def test_deletion_insertion_known_answer(mean_model):
    """Top half bright (8 of 16 pixels). steps=4 changes 0, 4, 8, 12, 16 pixels.
    Good map (top first):  deletion 1/2, 1/4, 0, 0, 0      insertion 0, 1/4, 1/2, 1/2, 1/2
    Bad map (bottom first): deletion 1/2, 1/2, 1/2, 1/4, 0 insertion 0, 0, 0, 1/4, 1/2
    AUC (trapezoid, step 1/4): good 1/8 and 3/8, bad 3/8 and 1/8."""
    image = np.zeros((4, 4, 1), np.float32)
    image[:2] = 1.0
    good = image[..., 0].copy()
    images, maps = np.stack([image, image]), [good, 1.0 - good]
    before = images.copy()
    for batch_size in (3, 64):
        out = evaluation.deletion_insertion(mean_model, images, maps, class_index=0, steps=4, batch_size=batch_size)
        np.testing.assert_allclose(out["fractions"], [0, 0.25, 0.5, 0.75, 1.0])
        np.testing.assert_allclose(out["deletion"], [[.5, .25, 0, 0, 0], [.5, .5, .5, .25, 0]], atol=1e-6)
        np.testing.assert_allclose(out["insertion"], [[0, .25, .5, .5, .5], [0, 0, 0, .25, .5]], atol=1e-6)
        np.testing.assert_allclose(out["deletion_auc"], [1 / 8, 3 / 8], atol=1e-6)
        np.testing.assert_allclose(out["insertion_auc"], [3 / 8, 1 / 8], atol=1e-6)
    np.testing.assert_array_equal(images, before)


def test_deletion_insertion_baselines_and_classes(mean_model):
    image = np.full((1, 4, 4, 1), 0.5, np.float32)
    cam = np.arange(16, dtype=np.float32).reshape(4, 4)
    grey = evaluation.deletion_insertion(mean_model, image, [cam], steps=2, baseline=0.5)
    np.testing.assert_allclose(grey["deletion"], 0.5, atol=1e-6)  # removing 0.5 for 0.5 changes nothing
    assert grey["class_index"].tolist() == [0]  # predicted: [0.5, 0.5] ties go to the first class
    other = evaluation.deletion_insertion(mean_model, image, [cam], class_index=[1], steps=2, baseline=1.0)
    np.testing.assert_allclose(other["deletion"][0], [0.5, 0.25, 0.0], atol=1e-6)  # 1 - mean
    blurred = evaluation.deletion_insertion(mean_model, image, [cam], steps=2, baseline="blur")
    np.testing.assert_allclose(blurred["insertion"][0, -1], 0.5, atol=1e-6)  # all inserted: the image
    with pytest.raises(ValueError, match="baseline"):
        evaluation.deletion_insertion(mean_model, image, [cam], baseline="noise")
    with pytest.raises(ValueError, match="2 images, 1 maps"):
        evaluation.deletion_insertion(mean_model, np.concatenate([image, image]), [cam])
    with pytest.raises(ValueError, match="out of range"):
        evaluation.deletion_insertion(mean_model, image, [cam], class_index=5)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        evaluation.deletion_insertion(mean_model, image[0], [cam])


# --------------------------------------------------------------------------- a whole dataset
@pytest.fixture(scope="module")
def tiny_cam_model():
    """input 24x24 RGB -> Conv 'block1_out' (4 channels, ReLU) -> GAP 'avg_pool' -> Dense 'predictions' (3)."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((24, 24, 3))
    features = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="block1_out")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D(name="avg_pool")(features)
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(pooled)
    return keras.Model(inputs, outputs)


def toy_items(count=7, seed=0):
    """TFDS-style items: uint8 images of varying sizes with a bright rectangle, its box, a label, an id."""
    rng = np.random.default_rng(seed)
    items = []
    for n in range(count):
        h, w = int(rng.integers(20, 40)), int(rng.integers(20, 40))
        image = rng.integers(0, 40, (h, w, 3)).astype(np.uint8)
        y0, x0 = int(rng.integers(0, h // 2)), int(rng.integers(0, w // 2))
        y1, x1 = y0 + h // 3, x0 + w // 3
        image[y0:y1, x0:x1] = 230
        items.append({"image": image, "label": np.int64(n % 3), "bbox": np.float32(norm_box(y0, x0, y1, x1, (h, w))),
                      "id": f"toy_{n}".encode()})
    return items


def test_evaluate_localization_report(tiny_cam_model, tmp_path):
    from camlab import cam

    items = toy_items()
    report = evaluation.evaluate_localization(tiny_cam_model, items, methods=("cam", "grad_cam"), batch_size=3,
                                           show_progress=False)
    assert [row["method"] for row in report.rows] == ["cam", "grad_cam"]
    for row in report.rows:
        for key in ("mean_iou", "loc_acc", "max_box_acc", "max_box_acc_v2", "top1_acc"):
            assert 0.0 <= row[key] <= 1.0, (key, row[key])
        assert row["images"] == 7 and row["seconds_per_image"] > 0
        assert row["max_box_acc"] >= row["loc_acc"]  # the best threshold is at least as good as 0.2 of the max
    # Same numbers as the metrics called by hand on the same maps (CAM for the true class, at image size).
    images = np.stack([np.asarray(__import__("camlab.data").data.normalize_and_resize_img(it, (24, 24))[0])
                       for it in items])
    labels = [int(it["label"]) for it in items]
    result = cam.compute_maps(tiny_cam_model, images, "cam", class_index=labels)
    maps = [cv2_resize(m, it["image"].shape[:2]) for m, it in zip(result.maps, items)]
    gts = [it["bbox"] for it in items]
    cam_row = report.rows[0]
    assert cam_row["loc_acc"] == pytest.approx(localization_accuracy(maps, gts))
    assert cam_row["max_box_acc_v2"] == pytest.approx(max_box_acc(maps, gts)["value"])
    assert cam_row["max_box_acc"] == pytest.approx(
        max_box_acc(maps, gts, iou_thresholds=(0.5,), multi_contour=False)["value"])
    assert cam_row["top1_acc"] == pytest.approx(np.mean(np.argmax(result.probabilities, 1) == labels))
    ious = [boxes.iou(b, g) if (b := boxes.cam_to_bbox(m)) is not None else 0.0 for m, g in zip(maps, gts)]
    np.testing.assert_allclose(report.per_image["cam"]["iou"], ious)
    assert report.ids == [f"toy_{n}" for n in range(7)]
    # Curves for plotting, a printable table, HTML, CSV.
    assert report.curves["cam"]["thresholds"].shape == (100,)
    assert set(report.curves["cam"]["v2"]) == {0.3, 0.5, 0.7} and report.curves["cam"]["v1"][0.5].shape == (100,)
    text = str(report)
    assert "MaxBoxAccV2" in text and "grad_cam" in text and len(text.splitlines()) == 4
    assert len({len(line) for line in text.splitlines()}) == 1  # aligned columns
    assert report._repr_html_().startswith("<table>") and "<td>cam</td>" in report._repr_html_()
    path = report.to_csv(tmp_path / "report.csv")
    lines = path.read_text().splitlines()
    assert lines[0].startswith("method,mean_iou,loc_acc") and len(lines) == 3


def cv2_resize(cam, hw):
    import cv2

    return cv2.resize(cam, (int(hw[1]), int(hw[0])), interpolation=cv2.INTER_LINEAR)


def test_evaluate_localization_reads_tf_data_and_limits_images(tiny_cam_model):
    import tensorflow as tf

    items = toy_items(5, seed=1)
    ds = tf.data.Dataset.from_generator(lambda: iter(items), output_signature={
        "image": tf.TensorSpec((None, None, 3), tf.uint8), "label": tf.TensorSpec((), tf.int64),
        "bbox": tf.TensorSpec((4,), tf.float32), "id": tf.TensorSpec((), tf.string)})
    report = evaluation.evaluate_localization(tiny_cam_model, ds, methods="cam", max_images=4, batch_size=8,
                                           size="native", show_progress=False)
    assert report.rows[0]["images"] == 4 and report.ids == ["toy_0", "toy_1", "toy_2", "toy_3"]
    with pytest.raises(ValueError, match="Unknown method"):
        evaluation.evaluate_localization(tiny_cam_model, items, methods=("cam", "magic"))
    with pytest.raises(ValueError, match="lacks \\['bbox'\\]"):
        evaluation.evaluate_localization(tiny_cam_model, [{"image": items[0]["image"], "label": 0}],
                                      methods="cam", show_progress=False)


def test_evaluate_command_prints_the_table_and_writes_csv(tiny_cam_model, monkeypatch, capsys, tmp_path):
    """`python -m camlab evaluate` wiring, with the shipped model and dataset replaced by the tiny stand-ins."""
    from types import SimpleNamespace

    from camlab import data, models

    asked = []
    monkeypatch.setattr(models, "load_pretrained", lambda name=None: asked.append(name) or tiny_cam_model)
    monkeypatch.setattr(data, "load", lambda name=None, split=None: asked.append((name, split)) or (
        toy_items(6), SimpleNamespace(name="toy", version="1.0.0")))
    out_csv = tmp_path / "eval.csv"
    assert evaluation.main(["--methods", "cam", "layer_cam", "--max-images", "4", "--csv", str(out_csv)]) == 0
    printed = capsys.readouterr().out
    assert "toy 1.0.0, test split, 4 images" in printed
    assert "layer_cam" in printed and "MaxBoxAccV2" in printed
    assert len(out_csv.read_text().splitlines()) == 3
    assert asked == ["default", ("camlab_cars", "test")]
    asked.clear()
    assert evaluation.main(["--model", "emblem", "--methods", "cam", "--max-images", "2"]) == 0
    assert asked == ["emblem", ("camlab_cars/emblem", "test")]  # the emblem model on the emblem config
    with pytest.raises(SystemExit):
        evaluation.main(["--methods", "magic"])


# --------------------------------------------------------------------------- average drop
def test_average_drop_and_increase_in_confidence_by_hand(mean_model):
    """mean_model's class 0 = the image's mean. Image A: all 0.5 (Y = 0.5). Image B: top half 1 (Y = 0.5).
    Map a: 1 on the top half -> E = top half 0.5 -> O = 0.25, drop (0.5 - 0.25) / 0.5 = 0.5.
    Map b: 1 everywhere on B -> O = Y = 0.5: drop 0, no increase. Average Drop = 25 %, Increase 0 %.
    For class 1 (= 1 - mean): A with map a gives O = 0.75 > Y = 0.5 (an increase), drop 0."""
    a = np.full((4, 4, 1), 0.5, np.float32)
    b = np.zeros((4, 4, 1), np.float32)
    b[:2] = 1.0
    top = np.zeros((4, 4), np.float32)
    top[:2] = 1.0
    images, maps = np.stack([a, b]), np.stack([top, np.ones((4, 4), np.float32)])
    before = images.copy(), maps.copy()
    out = evaluation.average_drop(mean_model, images, maps, class_index=0)
    np.testing.assert_allclose(out["full"], [0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(out["explained"], [0.25, 0.5], atol=1e-6)
    np.testing.assert_allclose(out["drop"], [0.5, 0.0], atol=1e-6)
    assert out["average_drop"] == pytest.approx(25.0, abs=1e-4) and out["increase_in_confidence"] == 0.0
    other = evaluation.average_drop(mean_model, images[:1], maps[:1], class_index=1)
    assert other["explained"][0] == pytest.approx(0.75) and other["increase_in_confidence"] == 100.0
    assert other["average_drop"] == 0.0
    np.testing.assert_array_equal(images, before[0])
    np.testing.assert_array_equal(maps, before[1])
    # a 2x2 map is resized to the 4x4 image first (bilinear): a constant map stays constant
    half = evaluation.average_drop(mean_model, images[:1], [np.full((2, 2), 0.5, np.float32)], class_index=0)
    assert half["explained"][0] == pytest.approx(0.25) and half["average_drop"] == pytest.approx(50.0, abs=1e-4)


def test_average_drop_bad_input(mean_model):
    image = np.full((1, 4, 4, 1), 0.5, np.float32)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        evaluation.average_drop(mean_model, image, [np.full((4, 4), 2.0)])
    with pytest.raises(ValueError, match="1 images, 2 maps"):
        evaluation.average_drop(mean_model, image, [np.ones((4, 4))] * 2)
    with pytest.raises(ValueError, match="out of range"):
        evaluation.average_drop(mean_model, image, [np.ones((4, 4))], class_index=7)


# --------------------------------------------------------------------------- sanity checks
def test_spearman_by_hand():
    assert evaluation.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert evaluation.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ties share their average rank: x ranks 1, 2.5, 2.5, 4; y ranks 1, 3, 2, 4
    # centred: (-1.5, 0, 0, 1.5) and (-1.5, 0.5, -0.5, 1.5): r = 4.5 / sqrt(4.5 * 5) = 0.9487
    assert evaluation.spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(4.5 / np.sqrt(4.5 * 5.0))
    assert evaluation.spearman(np.zeros((3, 3)), np.arange(9).reshape(3, 3)) == 0.0  # no ranking: 0, not NaN
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 5, 50), rng.integers(0, 5, 50)
    assert evaluation.spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)


def test_ssim_by_hand():
    """Constant maps a and b: mu = a, b and no variance, so SSIM = (2ab + C1) / (a^2 + b^2 + C1) everywhere."""
    c1 = 0.01 ** 2
    assert evaluation.ssim(np.full((16, 16), 0.2), np.full((16, 16), 0.6)) == pytest.approx(
        (2 * 0.2 * 0.6 + c1) / (0.2 ** 2 + 0.6 ** 2 + c1))
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (20, 20))
    assert evaluation.ssim(x, x) == pytest.approx(1.0)
    assert evaluation.ssim(x, 1 - x) < 0  # anti-correlated structure
    assert evaluation.ssim(x, rng.uniform(0, 1, (20, 20))) < 0.3
    with pytest.raises(ValueError, match="same shape"):
        evaluation.ssim(x, x[:5])


def small_net(seed=3):
    """Conv 'c1' -> BN -> ReLU -> Conv 'c2' -> ReLU 'block2_out' -> GAP -> Dense, on 12x12 RGB."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", name="c1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(name="block1_out")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", name="c2")(x)
    x = keras.layers.ReLU(name="block2_out")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="predictions")(x))


@pytest.fixture(scope="module")
def net_and_images():
    rng = np.random.default_rng(4)
    return small_net(), rng.uniform(0, 1, (3, 12, 12, 3)).astype(np.float32)


def test_sanity_check_cascading_leaves_the_model_byte_identical(net_and_images):
    model, images = net_and_images
    weights = [w.copy() for w in model.get_weights()]
    before = images.copy()
    predictions = model.predict(images, verbose=0)
    report = evaluation.sanity_check(model, images, show_progress=False, keep_maps=2)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(weights, model.get_weights()))
    np.testing.assert_array_equal(model.predict(images, verbose=0), predictions)
    np.testing.assert_array_equal(images, before)
    assert report.steps == ["original", "predictions", "c2", "bn1", "c1"]  # top down, layers with weights
    assert report.methods == ["cam", "grad_cam", "saliency", "guided_backprop"]
    rows = report.rows
    assert [r["step"] for r in rows] == report.steps
    for method in report.methods:
        for metric in ("spearman", "spearman_abs", "ssim"):
            values = report.scores[method][metric]
            assert values.shape == (5, 3) and np.isfinite(values).all()
            np.testing.assert_allclose(values[0], 1.0, atol=1e-6)  # the original against itself
            assert rows[0][f"{method}_{metric}"] == pytest.approx(1.0)
        assert report.maps[method].shape == (5, 2, 12, 12)
        # everything random at the end: the maps are no longer the original ones
        assert report.scores[method]["spearman"][-1].mean() < 0.9, method
    # CAM and Grad-CAM on a GAP -> Dense head are the same map: the same scores at every step
    np.testing.assert_allclose(report.scores["cam"]["spearman"], report.scores["grad_cam"]["spearman"], atol=1e-4)
    text = str(report)
    assert "original" in text and "guided_backprop |spearman|" in text and len(text.splitlines()) == 7
    assert report._repr_html_().startswith("<table>")


def test_sanity_check_steps_randomize_what_they_say(net_and_images):
    """The seed decides the random weights: the same seed repeats the numbers, another changes them;
    ``layers`` picks the steps."""
    model, images = net_and_images
    one = evaluation.sanity_check(model, images, methods=("grad_cam",), mode="independent", seed=1,
                                  show_progress=False)
    again = evaluation.sanity_check(model, images, methods="grad_cam", mode="independent", seed=1,
                                    show_progress=False)
    other = evaluation.sanity_check(model, images, methods=("grad_cam",), mode="independent", seed=2,
                                    show_progress=False)
    np.testing.assert_allclose(one.scores["grad_cam"]["ssim"], again.scores["grad_cam"]["ssim"])
    assert not np.allclose(one.scores["grad_cam"]["ssim"][1:], other.scores["grad_cam"]["ssim"][1:])
    chosen = evaluation.sanity_check(model, images, methods=("saliency",), layers=["c2"], show_progress=False)
    assert chosen.steps == ["original", "c2"] and chosen.mode == "cascading"


def test_sanity_check_cascade_matches_a_hand_randomized_copy(net_and_images):
    """Step 'c2' of the cascade = the copy with predictions and c2 re-initialized by the same seeds."""
    model, images = net_and_images
    report = evaluation.sanity_check(model, images, methods=("saliency",), layers=["predictions", "c2"],
                                     seed=5, show_progress=False)
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    for step, name in enumerate(["predictions", "c2"], start=1):
        layer = copy.get_layer(name)
        for k, variable in enumerate(layer.weights):
            kind = variable.path.split("/")[-1]
            init = getattr(layer, f"{kind}_initializer")
            config = init.get_config()
            if "seed" in config:
                init = type(init).from_config({**config, "seed": (5 + step) * 1000 + k})
            variable.assign(init(tuple(variable.shape)))
    classes = np.argmax(model.predict(images, verbose=0), axis=1)
    mine = cam.compute_maps(copy, images, "saliency", class_index=classes, signed=True).maps
    original = cam.compute_maps(model, images, "saliency", class_index=classes, signed=True).maps
    expected = [evaluation.spearman(a, b) for a, b in zip(mine, original)]
    np.testing.assert_allclose(report.scores["saliency"]["spearman"][2], expected, atol=1e-6)


def test_sanity_check_bad_input(net_and_images):
    model, images = net_and_images
    with pytest.raises(ValueError, match="Unknown method"):
        evaluation.sanity_check(model, images, methods=("cam", "magic"))
    with pytest.raises(ValueError, match="mode must be"):
        evaluation.sanity_check(model, images, mode="random")
    with pytest.raises(ValueError, match="not layers with trainable weights"):
        evaluation.sanity_check(model, images, layers=["avg_pool"])
    frozen = small_net()
    frozen.trainable = False
    with pytest.raises(ValueError, match="no trainable weights"):
        evaluation.sanity_check(frozen, images)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        evaluation.sanity_check(model, images[0])


def test_sanity_check_figures():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from camlab import viz

    steps = ["original"] + [f"layer{k}" for k in range(11, 0, -1)]
    rng = np.random.default_rng(0)
    scores = {m: {k: rng.uniform(-1, 1, (12, 2)) for k in ("spearman", "spearman_abs", "ssim")}
              for m in ("cam", "saliency")}
    maps = {m: rng.uniform(0, 1, (12, 1, 6, 6)).astype(np.float32) for m in scores}
    report = evaluation.SanityCheck(steps, ["cam", "saliency"], scores, maps, "cascading", np.array([0, 1]))
    fig = viz.sanity_check_maps(report, max_steps=5)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 2 * 5 and len(fig.axes) == 11  # 2 methods x 5 steps, and one colorbar
    assert [ax.get_title() for ax in panels[:5]] == ["original", "layer9", "layer6", "layer4", "layer1"]  # steps 0, 3, 6, 8, 11
    over = viz.sanity_check_maps(report, image=rng.uniform(0, 1, (24, 24, 3)), max_steps=3)
    assert len(over.axes) == 2 * 3 + 1
    curves = viz.sanity_check_curves(report)
    assert len(curves.axes) == 3 and len(curves.axes[0].lines) == 2 + 1  # one line per method + the zero line
    np.testing.assert_allclose(curves.axes[2].lines[0].get_ydata(), scores["cam"]["ssim"].mean(axis=1))
    with pytest.raises(ValueError, match="keep_maps=2"):
        viz.sanity_check_maps(report, image_index=1)
    with pytest.raises(ValueError, match="sanity_check returns"):
        viz.sanity_check_maps({"steps": steps})
    plt.close("all")


def test_sanity_check_options_reach_the_method(net_and_images):
    model, images = net_and_images
    fast = evaluation.sanity_check(model, images, methods=("score_cam",), layers=["predictions"],
                                   options={"score_cam": {"max_n": 1}}, show_progress=False, keep_maps=3)
    classes = fast.class_index
    expected = cam.score_cam(model, images, classes, max_n=1, size=(12, 12))
    np.testing.assert_allclose(fast.maps["score_cam"][0], expected, atol=1e-5)
    with pytest.raises(ValueError, match="not among the methods"):
        evaluation.sanity_check(model, images, methods=("cam",), options={"score_cam": {"max_n": 1}})
