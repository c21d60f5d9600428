"""camlab.metrics: the localization protocols on hand-made maps, deletion/insertion on a hand-made model,
and a whole-dataset evaluation on a tiny model."""
import numpy as np
import pytest

from camlab import boxes, metrics
from camlab.metrics import box_accuracy, localization_accuracy, max_box_acc, region_ious


def block_map(shape, *blocks):
    """A map of zeros with (y0, x0, y1, x1, value) blocks painted in order."""
    cam = np.zeros(shape, np.float32)
    for y0, x0, y1, x1, value in blocks:
        cam[y0:y1, x0:x1] = value
    return cam


def norm_box(y0, x0, y1, x1, shape):
    return [y0 / shape[0], x0 / shape[1], y1 / shape[0], x1 / shape[1]]


def smooth_maps(count, shape, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    maps = np.zeros((count,) + shape, np.float32)
    for cam in maps:
        for _ in range(3):
            cy, cx, s = rng.uniform(0, shape[0]), rng.uniform(0, shape[1]), rng.uniform(2, 8)
            cam += rng.uniform(0.3, 1) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    return maps


def random_gts(count, seed):
    rng = np.random.default_rng(seed)
    corner = rng.uniform(0, 0.6, (count, 2))
    size = rng.uniform(0.15, 0.4, (count, 2))
    return np.concatenate([corner, corner + size], axis=1)


# --------------------------------------------------------------------------- the crafted V1 / V2 case
def crafted_case():
    """Four images whose answers are worked out by hand (maps are binary, so every threshold agrees):

    1. one block that IS the ground truth                  -> IoU 1 (V1 and V2)
    2. a large block elsewhere + a small block on the GT    -> V1 (largest) IoU 0, V2 (any) IoU 1
    3. an all-zero map                                      -> no box: a miss
    4. one block covering twice the GT's rows               -> IoU 0.45: a hit at 0.3 only
    """
    shape = (10, 10)
    maps = [
        block_map(shape, (2, 2, 6, 7, 1.0)),
        block_map(shape, (0, 0, 10, 4, 1.0), (6, 7, 8, 9, 1.0)),
        block_map(shape, ),
        block_map(shape, (0, 0, 8, 10, 1.0)),
    ]
    gts = [norm_box(2, 2, 6, 7, shape), norm_box(6, 7, 8, 9, shape), norm_box(0, 0, 5, 5, shape),
           [0.0, 0.0, 0.36, 1.0]]
    return maps, gts


def test_v1_and_v2_on_a_case_computed_by_hand():
    maps, gts = crafted_case()
    v2 = max_box_acc(maps, gts)
    assert v2["per_iou"] == pytest.approx({0.3: 3 / 4, 0.5: 2 / 4, 0.7: 2 / 4})
    assert v2["value"] == pytest.approx((3 / 4 + 2 / 4 + 2 / 4) / 3)
    v1 = max_box_acc(maps, gts, iou_thresholds=(0.5,), multi_contour=False)
    assert v1["value"] == pytest.approx(1 / 4)
    assert v1["best_threshold"] == {0.5: 0.0}  # flat curve: the first threshold
    assert set(v2) >= {"value", "per_iou", "best_threshold", "thresholds", "curves"}
    assert v2["curves"][0.3].shape == (100,) and v2["thresholds"].shape == (100,)
    np.testing.assert_allclose(v2["thresholds"][:3], [0.0, 0.01, 0.02])


def test_v2_finds_a_match_that_v1_misses():
    maps, gts = crafted_case()
    largest, best = region_ious(maps[1:2], gts[1:2], [0.5])
    assert largest[0, 0] == 0.0 and best[0, 0] == pytest.approx(1.0)
    assert max_box_acc(maps[1:2], gts[1:2], iou_thresholds=(0.5,), multi_contour=False)["value"] == 0.0
    assert max_box_acc(maps[1:2], gts[1:2], iou_thresholds=(0.5,))["value"] == 1.0


def test_the_sweep_picks_the_best_threshold():
    """A bright core (value 1) inside a dimmer ring (0.5): below 0.5 the region is the ring's box, from 0.5 on
    the core's box. Whichever box is the ground truth decides the best threshold."""
    shape = (16, 16)
    cam = block_map(shape, (2, 2, 12, 12, 0.5), (4, 4, 8, 8, 1.0))
    thresholds = [0.0, 0.25, 0.5, 0.75]
    outer = max_box_acc([cam], [norm_box(2, 2, 12, 12, shape)], (0.5,), thresholds, multi_contour=False)
    inner = max_box_acc([cam], [norm_box(4, 4, 8, 8, shape)], (0.5,), thresholds, multi_contour=False)
    np.testing.assert_array_equal(outer["curves"][0.5], [1, 1, 0, 0])
    np.testing.assert_array_equal(inner["curves"][0.5], [0, 0, 1, 1])
    assert outer["best_threshold"][0.5] == 0.0 and inner["best_threshold"][0.5] == 0.5
    assert outer["value"] == inner["value"] == 1.0
    # At the CAM paper's fixed 20% only the ring is found.
    assert localization_accuracy([cam], [norm_box(2, 2, 12, 12, shape)]) == 1.0
    assert localization_accuracy([cam], [norm_box(4, 4, 8, 8, shape)]) == 0.0


def test_several_ground_truth_boxes_any_one_counts():
    shape = (10, 10)
    cam = block_map(shape, (5, 5, 9, 9, 1.0))
    gts = [[norm_box(0, 0, 3, 3, shape), norm_box(5, 5, 9, 9, shape)]]  # (1, 2, 4): the second one matches
    assert localization_accuracy([cam], gts) == 1.0
    assert max_box_acc([cam], gts)["value"] == 1.0
    assert localization_accuracy([cam], [[norm_box(0, 0, 3, 3, shape)]]) == 0.0


@pytest.mark.parametrize("cam", [np.zeros((8, 8)), np.full((8, 8), 3.0), -np.ones((8, 8))])
def test_empty_and_constant_maps_are_misses_never_nan(cam):
    gt = [[0.0, 0.0, 1.0, 1.0]]
    # The max rule (cam_to_bbox): a constant positive map is one region, the whole map; no positive max, no box.
    assert localization_accuracy([cam], gt) == (1.0 if cam.max() > 0 else 0.0)
    # Min-max normalization (Choe et al.): a constant map has no range, so no box at any threshold.
    result = max_box_acc([cam], gt)
    assert result["value"] == 0.0 and not np.isnan(result["value"])
    assert all(np.all(c == 0) for c in result["curves"].values())


def test_min_max_normalization_ignores_an_offset_the_max_rule_does_not():
    shape = (12, 12)
    cam = block_map(shape, (3, 3, 9, 9, 1.0))
    gt = [norm_box(3, 3, 9, 9, shape)]
    shifted = cam + 5.0  # every pixel is above 20% of the max: cam_to_bbox boxes the whole map
    assert max_box_acc([shifted], gt)["value"] == max_box_acc([cam], gt)["value"] == 1.0
    assert localization_accuracy([cam], gt) == 1.0
    assert localization_accuracy([shifted], gt) == 0.0
    np.testing.assert_allclose(boxes.cam_to_bbox(shifted), [0, 0, 1, 1])


def test_maps_of_different_sizes_in_one_call():
    # The same geometry at three resolutions (normalized boxes do not care) plus a miss.
    maps = [block_map((10, 20), (2, 4, 6, 12, 1.0)), block_map((20, 40), (4, 8, 12, 24, 1.0)),
            block_map((5, 10), (1, 2, 3, 6, 1.0)), block_map((7, 3), (0, 0, 2, 2, 1.0))]
    gts = [norm_box(2, 4, 6, 12, (10, 20))] * 4
    largest, best = region_ious(maps, gts, [0.1, 0.5])
    np.testing.assert_allclose(largest[:, :3], 1.0)
    np.testing.assert_allclose(largest[:, 3], boxes.iou(norm_box(0, 0, 2, 2, (7, 3)), gts[0]))  # about 0.11
    assert localization_accuracy(maps, gts) == pytest.approx(3 / 4)


@pytest.mark.parametrize("mosaic_pixels", [metrics._MOSAIC_PIXELS, 3000])
def test_the_engine_agrees_with_one_map_at_a_time(mosaic_pixels, monkeypatch):
    """The tiled, vectorized engine against a plain loop over boxes_from_map, on smooth random maps of mixed
    sizes: in one mosaic, and split into many mosaics evaluated on threads."""
    monkeypatch.setattr(metrics, "_MOSAIC_PIXELS", mosaic_pixels)
    maps = list(smooth_maps(40, (24, 32), 0)) + list(smooth_maps(15, (17, 9), 1))
    gts = random_gts(len(maps), 2)
    gts[::3, :2] = 0.2  # make some hits likely
    gts[::3, 2:] = 0.8
    thresholds = [0.0, 0.1, 0.35, 0.6, 0.95]
    largest, best = region_ious(maps, gts, thresholds, normalize="minmax")
    for i, cam in enumerate(maps):
        scaled = cam - cam.min()  # boxes_from_map's "relative to the max" on (cam - min) is min-max
        for j, t in enumerate(thresholds):
            found, _ = boxes.boxes_from_map(scaled, t)
            expected = boxes.iou(found, gts[i]) if len(found) else np.zeros(1)
            assert best[j, i] == pytest.approx(expected.max(), abs=1e-12)
            assert largest[j, i] == pytest.approx(expected[0], abs=1e-12)


def test_localization_accuracy_is_cam_to_bbox_then_iou():
    maps = smooth_maps(60, (20, 20), 3)
    gts = random_gts(60, 4)
    gts[::2] = [boxes.cam_to_bbox(m) for m in maps[::2]]  # half of them hit exactly
    hits = [(b := boxes.cam_to_bbox(m)) is not None and boxes.iou(b, g) >= 0.5 for m, g in zip(maps, gts)]
    assert localization_accuracy(maps, gts) == pytest.approx(np.mean(hits))
    assert localization_accuracy(maps, gts) >= 0.5


def test_box_accuracy_from_an_iou_table():
    ious = np.array([[0.2, 0.6, 0.8], [0.9, 0.4, 0.75]])  # 2 thresholds x 3 images
    result = box_accuracy(ious, [0.1, 0.2], (0.5, 0.7))
    np.testing.assert_allclose(result["curves"][0.5], [2 / 3, 2 / 3])
    np.testing.assert_allclose(result["curves"][0.7], [1 / 3, 2 / 3])
    assert result["best_threshold"] == {0.5: 0.1, 0.7: 0.2}
    assert result["value"] == pytest.approx(2 / 3)


def test_bad_input_gets_clear_errors():
    maps, gts = crafted_case()
    with pytest.raises(ValueError, match="4 maps and 3 ground-truth"):
        max_box_acc(maps, gts[:3])
    with pytest.raises(ValueError, match="NaN"):
        localization_accuracy([np.full((4, 4), np.nan)], [gts[0]])
    with pytest.raises(ValueError, match=r"cams\[1\] must be a 2-D map"):
        localization_accuracy([maps[0], np.zeros((2, 3, 3))], gts[:2])
    with pytest.raises(ValueError, match="Wrap a single map"):
        localization_accuracy(maps[0], [gts[0]])
    with pytest.raises(ValueError, match="min > max"):
        localization_accuracy(maps[:1], [[0.5, 0.5, 0.1, 0.9]])
    with pytest.raises(ValueError, match="cam_thresholds"):
        max_box_acc(maps, gts, cam_thresholds=[-0.1, 0.5])
    with pytest.raises(ValueError, match="iou_thresholds"):
        max_box_acc(maps, gts, iou_thresholds=(0.0,))
    with pytest.raises(ValueError, match="empty"):
        localization_accuracy([], [])


def test_inputs_are_not_modified():
    maps, gts = crafted_case()
    stack, gt_arr = np.stack(maps) + 0.5, np.array(gts)
    before, gt_before = stack.copy(), gt_arr.copy()
    max_box_acc(stack, gt_arr)
    localization_accuracy(stack, gt_arr)
    np.testing.assert_array_equal(stack, before)
    np.testing.assert_array_equal(gt_arr, gt_before)


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
        out = metrics.deletion_insertion(mean_model, images, maps, class_index=0, steps=4, batch_size=batch_size)
        np.testing.assert_allclose(out["fractions"], [0, 0.25, 0.5, 0.75, 1.0])
        np.testing.assert_allclose(out["deletion"], [[.5, .25, 0, 0, 0], [.5, .5, .5, .25, 0]], atol=1e-6)
        np.testing.assert_allclose(out["insertion"], [[0, .25, .5, .5, .5], [0, 0, 0, .25, .5]], atol=1e-6)
        np.testing.assert_allclose(out["deletion_auc"], [1 / 8, 3 / 8], atol=1e-6)
        np.testing.assert_allclose(out["insertion_auc"], [3 / 8, 1 / 8], atol=1e-6)
    np.testing.assert_array_equal(images, before)


def test_deletion_insertion_baselines_and_classes(mean_model):
    image = np.full((1, 4, 4, 1), 0.5, np.float32)
    cam = np.arange(16, dtype=np.float32).reshape(4, 4)
    grey = metrics.deletion_insertion(mean_model, image, [cam], steps=2, baseline=0.5)
    np.testing.assert_allclose(grey["deletion"], 0.5, atol=1e-6)  # removing 0.5 for 0.5 changes nothing
    assert grey["class_index"].tolist() == [0]  # predicted: [0.5, 0.5] ties go to the first class
    other = metrics.deletion_insertion(mean_model, image, [cam], class_index=[1], steps=2, baseline=1.0)
    np.testing.assert_allclose(other["deletion"][0], [0.5, 0.25, 0.0], atol=1e-6)  # 1 - mean
    blurred = metrics.deletion_insertion(mean_model, image, [cam], steps=2, baseline="blur")
    np.testing.assert_allclose(blurred["insertion"][0, -1], 0.5, atol=1e-6)  # all inserted: the image
    with pytest.raises(ValueError, match="baseline"):
        metrics.deletion_insertion(mean_model, image, [cam], baseline="noise")
    with pytest.raises(ValueError, match="2 images, 1 maps"):
        metrics.deletion_insertion(mean_model, np.concatenate([image, image]), [cam])
    with pytest.raises(ValueError, match="out of range"):
        metrics.deletion_insertion(mean_model, image, [cam], class_index=5)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        metrics.deletion_insertion(mean_model, image[0], [cam])


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
    report = metrics.evaluate_localization(tiny_cam_model, items, methods=("cam", "grad_cam"), batch_size=3,
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
    report = metrics.evaluate_localization(tiny_cam_model, ds, methods="cam", max_images=4, batch_size=8,
                                           size="native", show_progress=False)
    assert report.rows[0]["images"] == 4 and report.ids == ["toy_0", "toy_1", "toy_2", "toy_3"]
    with pytest.raises(ValueError, match="Unknown method"):
        metrics.evaluate_localization(tiny_cam_model, items, methods=("cam", "magic"))
    with pytest.raises(ValueError, match="lacks \\['bbox'\\]"):
        metrics.evaluate_localization(tiny_cam_model, [{"image": items[0]["image"], "label": 0}],
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
    assert metrics.main(["--methods", "cam", "layer_cam", "--max-images", "4", "--csv", str(out_csv)]) == 0
    printed = capsys.readouterr().out
    assert "toy 1.0.0, test split, 4 images" in printed
    assert "layer_cam" in printed and "MaxBoxAccV2" in printed
    assert len(out_csv.read_text().splitlines()) == 3
    assert asked == ["default", ("camlab_cars", "test")]
    asked.clear()
    assert metrics.main(["--model", "emblem", "--methods", "cam", "--max-images", "2"]) == 0
    assert asked == ["emblem", ("camlab_cars/emblem", "test")]  # the emblem model on the emblem config
    with pytest.raises(SystemExit):
        metrics.main(["--methods", "magic"])
