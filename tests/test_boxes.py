"""camlab.boxes: known answers, properties (Hypothesis), bad input, and inputs left untouched."""
import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camlab import boxes
from camlab.boxes import (boxes_from_map, cam_to_bbox, get_bbox, iou, minmax_to_rect, minmax_to_xywh,
                          pairwise_iou, rect_to_minmax, xywh_to_minmax)

coord = st.floats(0.0, 1.0, allow_nan=False, width=32)


@st.composite
def box(draw, min_size=0.0):
    y0, y1 = sorted((draw(coord), draw(coord)))
    x0, x1 = sorted((draw(coord), draw(coord)))
    return np.array([y0, x0, max(y1, y0 + min_size), max(x1, x0 + min_size)])


# ---------------------------------------------------------------------------------------------- iou
def test_iou_known_answers():
    # Two unit squares overlapping by half: intersection 1/2, union 3/2 -> 1/3.
    assert iou([0, 0, 1, 1], [0, 0.5, 1, 1.5]) == pytest.approx(1 / 3)
    assert iou([0, 0, 1, 1], [0, 0, 1, 1]) == 1.0
    assert iou([0, 0, 0.5, 0.5], [0.25, 0.25, 0.75, 0.75]) == pytest.approx(0.0625 / (0.25 + 0.25 - 0.0625))
    # A box inside another: area ratio.
    assert iou([0, 0, 1, 1], [0.25, 0.25, 0.75, 0.75]) == pytest.approx(0.25)


def test_iou_disjoint_touching_and_zero_area_give_zero():
    assert iou([0, 0, 0.4, 0.4], [0.5, 0.5, 1, 1]) == 0.0
    assert iou([0, 0, 0.5, 0.5], [0, 0.5, 0.5, 1]) == 0.0  # sharing an edge only
    assert iou([0.2, 0.2, 0.2, 0.2], [0.2, 0.2, 0.2, 0.2]) == 0.0  # both zero area: no 0/0
    assert iou([0.2, 0.1, 0.2, 0.9], [0, 0, 1, 1]) == 0.0


def test_iou_returns_float_for_single_boxes_and_array_for_batches():
    assert isinstance(iou([0, 0, 1, 1], [0, 0, 1, 1]), float)
    a = np.array([[0, 0, 1, 1], [0, 0, 0.5, 0.5]])
    out = iou(a, [0, 0, 0.5, 0.5])
    assert out.shape == (2,)
    np.testing.assert_allclose(out, [0.25, 1.0])
    assert iou(a[:, None, :], a[None, :, :]).shape == (2, 2)


@pytest.mark.parametrize("bad, message", [
    ([0, 0, 1], "4 numbers"),
    ([[0, 0, 1, 1, 0]], "4 numbers"),
    ([0, np.nan, 1, 1], "NaN"),
    ([0, 0, np.inf, 1], "NaN or infinite"),
    ([0.8, 0, 0.2, 1], "min > max"),
    ("abcd", "must be numbers"),
])
def test_iou_rejects_malformed_boxes(bad, message):
    with pytest.raises(ValueError, match=message):
        iou(bad, [0, 0, 1, 1])


def test_iou_shapes_that_do_not_broadcast_say_so():
    with pytest.raises(ValueError, match="pairwise_iou"):
        iou(np.zeros((3, 4)), np.zeros((2, 4)))


def test_iou_does_not_modify_its_inputs():
    a, b = np.array([0.1, 0.1, 0.5, 0.6]), np.array([[0.0, 0.2, 0.3, 0.9]])
    a0, b0 = a.copy(), b.copy()
    iou(a, b)
    pairwise_iou(b, a)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


@settings(max_examples=200, deadline=None)
@given(box(), box())
def test_iou_is_symmetric_and_in_unit_interval(a, b):
    value = iou(a, b)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(iou(b, a), abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(box(min_size=1e-3))
def test_iou_of_a_box_with_itself_is_one(a):
    assert iou(a, a) == pytest.approx(1.0)


@settings(max_examples=100, deadline=None)
@given(box(), box(), st.floats(0.0, 5.0))
def test_iou_of_disjoint_boxes_is_zero(a, b, gap):
    shifted = b.copy()
    shifted[1], shifted[3] = a[3] + gap, a[3] + gap + (b[3] - b[1])  # b moved to the right of a
    assert iou(a, shifted) == 0.0


def test_pairwise_iou_matches_iou_per_pair():
    rng = np.random.default_rng(0)
    a = np.sort(rng.random((5, 2, 2)), axis=1).transpose(0, 2, 1).reshape(5, 4)[:, [0, 2, 1, 3]]
    b = np.sort(rng.random((3, 2, 2)), axis=1).transpose(0, 2, 1).reshape(3, 4)[:, [0, 2, 1, 3]]
    table = pairwise_iou(a, b)
    assert table.shape == (5, 3)
    for i in range(5):
        for j in range(3):
            assert table[i, j] == pytest.approx(iou(a[i], b[j]))
    assert pairwise_iou(a[0], b).shape == (1, 3)
    with pytest.raises(ValueError, match=r"\(N, 4\) and \(M, 4\)"):
        pairwise_iou(np.zeros((2, 2, 4)), b)


# ---------------------------------------------------------------------------------------------- formats
def test_xywh_known_answer_and_round_trip():
    np.testing.assert_allclose(xywh_to_minmax([0.5, 0.4, 0.2, 0.6]), [0.1, 0.4, 0.7, 0.6])
    np.testing.assert_allclose(minmax_to_xywh([0.1, 0.4, 0.7, 0.6]), [0.5, 0.4, 0.2, 0.6])
    with pytest.raises(ValueError, match="negative width or height"):
        xywh_to_minmax([0.5, 0.5, -0.1, 0.2])
    with pytest.raises(ValueError, match="min > max"):
        minmax_to_xywh([0.5, 0.5, 0.1, 0.9])


@settings(max_examples=100, deadline=None)
@given(st.lists(box(), min_size=1, max_size=6))
def test_conversions_round_trip_vectorized(box_list):
    arr = np.stack(box_list)
    np.testing.assert_allclose(xywh_to_minmax(minmax_to_xywh(arr)), arr, atol=1e-12)
    assert minmax_to_xywh(arr[None]).shape == (1, len(box_list), 4)


def test_rect_to_minmax_accepts_shape_or_image_and_clips():
    rect = np.array([[10, 20], [50, 20], [50, 60], [10, 60]])  # (x, y) corners
    expected = [20 / 100, 10 / 200, 60 / 100, 50 / 200]
    np.testing.assert_allclose(rect_to_minmax(rect, (100, 200)), expected)
    np.testing.assert_allclose(rect_to_minmax(rect, (100, 200, 3)), expected)
    np.testing.assert_allclose(rect_to_minmax(rect, np.zeros((100, 200, 3), np.uint8)), expected)
    # cv2.boxPoints of a rotated rectangle can leave the image: clipped to [0, 1].
    np.testing.assert_allclose(rect_to_minmax([[-5, -3], [250, 120]], (100, 200)), [0, 0, 1, 1])
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        rect_to_minmax(np.zeros((4, 3)), (10, 10))
    with pytest.raises(ValueError, match="image_shape"):
        rect_to_minmax(rect, (100,))


def test_minmax_to_rect_is_drawable_and_inverts_rect_to_minmax():
    box_ = np.array([0.2, 0.1, 0.6, 0.5])
    rect = minmax_to_rect(box_, (100, 200))
    assert rect.dtype == np.int32 and rect.shape == (4, 2)
    np.testing.assert_array_equal(rect, [[20, 20], [100, 20], [100, 60], [20, 60]])
    np.testing.assert_allclose(rect_to_minmax(rect, (100, 200)), box_)
    image = np.zeros((100, 200, 3), np.uint8)
    cv2.drawContours(image, [rect], 0, (255, 0, 0), 1)
    assert tuple(image[20, 60]) == (255, 0, 0)
    # The whole image stays inside it.
    assert minmax_to_rect([0, 0, 1, 1], (10, 20)).max(axis=0).tolist() == [19, 9]


# ---------------------------------------------------------------------------------------------- maps
def two_blobs(small_first=True):
    """A large dim block and a small bright one. small_first: the small one is the first region in raster
    order (top); otherwise it is at the bottom, where cv2.findContours lists it as contours[0]."""
    cam = np.zeros((20, 30), np.float32)
    cam[8:18, 2:14] = 0.6                                      # large, 10 x 12
    cam[(1 if small_first else 17) + np.arange(2)[:, None], 25 + np.arange(2)] = 1.0   # small, 2 x 2
    return cam


@pytest.mark.parametrize("small_first", [True, False])
def test_cam_to_bbox_takes_the_largest_region_not_the_first(small_first):
    cam = two_blobs(small_first)
    small_y = 1 if small_first else 17
    np.testing.assert_allclose(cam_to_bbox(cam, 0.2), [8 / 20, 2 / 30, 18 / 20, 14 / 30])
    # Above 0.6 of the max only the small bright blob is left.
    np.testing.assert_allclose(cam_to_bbox(cam, 0.7), [small_y / 20, 25 / 30, (small_y + 2) / 20, 27 / 30])


def test_the_lessons_contours_0_would_have_been_the_small_region():
    cam = two_blobs(small_first=False)
    contours, _ = cv2.findContours((cam > 0.05).astype(np.uint8), cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
    assert cv2.contourArea(contours[0]) < 2  # what the lesson took
    rect = get_bbox(cam)
    assert cv2.contourArea(rect) > 90  # what get_bbox takes


def test_threshold_is_relative_to_the_maximum_and_strict():
    cam = two_blobs() * 10.0
    np.testing.assert_allclose(cam_to_bbox(cam, 0.2), cam_to_bbox(cam / 10.0, 0.2))
    assert cam_to_bbox(cam, 1.0) is None  # nothing is strictly above the maximum


@pytest.mark.parametrize("cam", [np.zeros((8, 8)), -np.ones((8, 8)), np.zeros((1, 1))])
def test_no_region_gives_none(cam):
    assert cam_to_bbox(cam) is None
    assert get_bbox(cam) is None
    found, pixels = boxes_from_map(cam)
    assert found.shape == (0, 4) and pixels.shape == (0,)


def test_boxes_from_map_returns_every_region_largest_first():
    found, pixels = boxes_from_map(two_blobs(), 0.2)
    assert pixels.tolist() == [120, 4]
    np.testing.assert_allclose(found[1], [1 / 20, 25 / 30, 3 / 20, 27 / 30])
    found, pixels = boxes_from_map(two_blobs(), 0.2, largest_only=True)
    assert found.shape == (1, 4) and pixels.tolist() == [120]
    # Diagonal neighbours belong to the same region (8-connectivity, like cv2.findContours).
    diag = np.eye(5, dtype=np.float32)
    assert len(boxes_from_map(diag, 0.5)[0]) == 1
    np.testing.assert_allclose(cam_to_bbox(diag), [0, 0, 1, 1])


@pytest.mark.parametrize("func", [cam_to_bbox, get_bbox, boxes_from_map])
def test_map_functions_leave_the_map_untouched(func):
    cam = two_blobs()
    cam[0, 0] = 0.01  # below both thresholds: the lesson's get_bbox zeroed such pixels in place
    before = cam.copy()
    func(cam)
    np.testing.assert_array_equal(cam, before)


@pytest.mark.parametrize("func", [cam_to_bbox, get_bbox])
def test_map_functions_reject_bad_maps(func):
    with pytest.raises(ValueError, match="NaN"):
        func(np.full((4, 4), np.nan))
    with pytest.raises(ValueError, match="2-D map"):
        func(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="2-D map"):
        func(np.zeros(5))
    with pytest.raises(ValueError, match=r"must be between 0 and 1 \(a fraction, 0.2 = 20%\); got nan\.$"):
        func(np.zeros((4, 4)), np.nan)


def test_get_bbox_gives_the_rotated_rectangle_of_the_largest_region():
    cam = two_blobs()
    rect = get_bbox(cam)
    assert rect.shape == (4, 2) and rect.dtype == np.int32
    # An axis-aligned block: the rotated rectangle is the block's outline (contour through pixel centres).
    assert sorted(map(tuple, rect.tolist())) == [(2, 8), (2, 17), (13, 8), (13, 17)]
    # A tilted bar gives a tilted rectangle whose corners lie around the bar.
    bar = np.zeros((40, 40), np.float32)
    cv2.line(bar, (5, 5), (34, 30), 1.0, 3)
    rect = get_bbox(bar)
    np.testing.assert_allclose(rect_to_minmax(rect, bar.shape), [4 / 40, 4 / 40, 31 / 40, 35 / 40], atol=2 / 40)
    # Drawable with cv2.drawContours as in the lesson.
    cv2.drawContours(np.zeros((40, 40, 3), np.uint8), [rect], 0, (0, 0, 255), 2)


def test_get_bbox_threshold_is_absolute():
    cam = two_blobs() * 0.04  # everything at or below the lesson's 0.05
    assert get_bbox(cam) is None
    assert get_bbox(cam, score_thresh=0.01) is not None


def test_boxes_module_does_not_import_tensorflow():
    import ast
    import inspect
    tree = ast.parse(inspect.getsource(boxes))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names} | {node.module.split(".")[0] for node in ast.walk(tree)
                                            if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"cv2", "numpy"}, imported
