"""camlab.metrics: the localization protocols and the pointing games on hand-made maps (what needs a model is
tested in test_evaluation.py)."""
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


# --------------------------------------------------------------------------- the pointing games
def test_pointing_game_by_hand():
    """10x10 maps, box rows 2..5 and columns 2..5 in pixels (0.2..0.5 normalized): pixel centres 2.5..4.5 are
    inside. Peak at (4, 4): inside. Peak at (8, 4): centre 8.5 is 3.5 below the box edge 5 -> hit at
    tolerance 3.5, miss at 3.4. Peak at (9, 9): centre (9.5, 9.5), 4.5 past each edge -> distance 4.5 * sqrt(2) = 6.36."""
    box = [0.2, 0.2, 0.5, 0.5]
    inside, below, corner = (np.zeros((10, 10), np.float32) for _ in range(3))
    inside[4, 4], below[8, 4], corner[9, 9] = 1.0, 1.0, 1.0
    maps, gts = [inside, below, corner], [box] * 3
    assert metrics.pointing_game(maps, gts, tolerance=0) == pytest.approx(1 / 3)
    assert metrics.pointing_game(maps, gts, tolerance=3.5) == pytest.approx(2 / 3)
    assert metrics.pointing_game(maps, gts, tolerance=3.4) == pytest.approx(1 / 3)
    assert metrics.pointing_game([corner], [box], tolerance=6.37) == 1.0
    assert metrics.pointing_game([corner], [box], tolerance=6.36) == 0.0
    assert metrics.pointing_game(maps, gts) == pytest.approx(1.0)  # the usual 15 px reach all three


def test_pointing_game_several_boxes_ties_and_empty_maps():
    cam = np.zeros((20, 20), np.float32)
    cam[15, 15] = 1.0
    two = np.array([[0.0, 0.0, 0.2, 0.2], [0.7, 0.7, 0.9, 0.9]])  # the second box holds the peak
    assert metrics.pointing_game([cam], [two], tolerance=0) == 1.0
    assert metrics.pointing_game([cam], [two[:1]], tolerance=0) == 0.0
    tie = np.zeros((20, 20), np.float32)
    tie[1, 1] = tie[15, 15] = 1.0  # the first maximum in raster order, (1, 1), is the peak
    assert metrics.pointing_game([tie], [two[1]], tolerance=0) == 0.0
    assert metrics.pointing_game([tie], [two[0]], tolerance=0) == 1.0
    assert metrics.pointing_game([np.zeros((20, 20)), np.full((20, 20), 0.5)], [two, two]) == 0.0  # no peak: miss


def test_energy_pointing_game_by_hand():
    """4x4 map, box rows/cols 0..2 (0.0..0.5): the top-left 2x2 pixels are inside.
    Map: 1 in each inside pixel (4), 2 at (3, 3), 1 at (0, 3): share = 4 / 7."""
    cam = np.zeros((4, 4), np.float32)
    cam[:2, :2] = 1.0
    cam[3, 3], cam[0, 3] = 2.0, 1.0
    box = [0.0, 0.0, 0.5, 0.5]
    assert metrics.energy_pointing_game([cam], [box]) == pytest.approx(4 / 7)
    # the union of two boxes counts each pixel once; a zero map has no energy: 0; the mean over images
    both = [[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.25, 1.0]]  # adds row 0's (0, 3)
    assert metrics.energy_pointing_game([cam], [both]) == pytest.approx(5 / 7)
    assert metrics.energy_pointing_game([cam, np.zeros((4, 4))], [box, box]) == pytest.approx(2 / 7)
    with pytest.raises(ValueError, match="maps >= 0"):
        metrics.energy_pointing_game([cam - 1.0], [box])


def test_pointing_game_bad_input():
    cam = np.ones((4, 4), np.float32)
    for tolerance in (-1, float("nan"), "15", True):
        with pytest.raises(ValueError, match="tolerance"):
            metrics.pointing_game([cam], [[0, 0, 1, 1]], tolerance=tolerance)
    with pytest.raises(ValueError, match="one entry per image"):
        metrics.pointing_game([cam, cam], [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="xywh_to_minmax|box"):
        metrics.pointing_game([cam], [[0.5, 0.5, 0.2, 0.2]])


def test_model_metrics_stay_importable_from_metrics():
    from camlab import evaluation
    from camlab.metrics import average_drop, deletion_insertion, evaluate_localization, sanity_check

    assert sanity_check is evaluation.sanity_check and average_drop is evaluation.average_drop
    assert deletion_insertion is evaluation.deletion_insertion
    assert evaluate_localization is evaluation.evaluate_localization
    assert metrics.LocalizationReport is evaluation.LocalizationReport and metrics.main is evaluation.main
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        metrics.nonsense
