"""The checkers of notebook 10 (real photos) tell right answers from the typical wrong ones: the share of a map's
mass inside a box (q1), and the best IoU of one box over several instances (q2). Each wrong answer is rejected by
``q.check()``'s path (the public cases) and by the grader's (public + hidden cases), with the typical mistake
named where there is one; equivalent correct answers are accepted by both."""
import numpy as np
import pytest
import tensorflow as tf

import camlab.boxes
import camlab.metrics
from camlab.exercises import ex10
from camlab.exercises.core import run_cases
from camlab.grading.judge import exercise_cases
from exercise_helpers import (check_reference_and_solution, check_reference_is_delegation, check_stub_not_attempted,
                              status)

SEEDS = (2027, 5)  # instructor seeds for the hidden cases


def graded(exercise, fn, seed):
    cases, hidden = exercise_cases(exercise, seed)
    assert hidden > 0, f"{exercise.name} has no hidden cases"
    return exercise.judge(run_cases(fn, cases, exercise.forbidden), cases, hidden=hidden, scope="graded")


def test_module_lists_its_exercises_for_its_notebook():
    assert ex10.EXERCISES == [ex10.q1, ex10.q2]
    assert [q.func_name for q in ex10.EXERCISES] == ["mass_in_box", "best_iou"]
    assert all(q.notebook == "10_real_photos" and q.has_hidden_cases and len(q.hints) == 2 for q in ex10.EXERCISES)


@pytest.mark.parametrize("exercise", ex10.EXERCISES, ids=lambda q: q.func_name)
def test_untouched_stubs_and_missing_functions_are_not_attempted(exercise):
    check_stub_not_attempted(exercise)


def test_hidden_cases_differ_from_the_public_ones_and_are_reproducible():
    for exercise in ex10.EXERCISES:
        public = [c.expected.value for c in exercise.cases]
        hidden = [c.expected.value for c in exercise.hidden_cases(SEEDS[0])]
        assert hidden != public
        assert hidden == [c.expected.value for c in exercise.hidden_cases(SEEDS[0])]


# ----------------------------------------------------------------------------------------------------------
# q1: mass_in_box(cam, box)

def test_q1_reference_is_camlabs_energy_pointing_game_and_the_solution_passes():
    check_reference_and_solution(ex10.q1)
    check_reference_is_delegation(ex10.q1, ex10.box_mass_share)
    check_reference_is_delegation(ex10.q1, lambda cam, box: camlab.metrics.energy_pointing_game([cam], [box]))
    rng = np.random.default_rng(3)
    for _ in range(20):  # on maps >= 0 (camlab's), the reference IS the energy pointing game of one map
        cam = rng.random((int(rng.integers(5, 30)), int(rng.integers(5, 30)))).astype(np.float32)
        box = sorted(rng.random(2)) + sorted(rng.random(2))
        box = [box[0], box[2], box[1], box[3]]
        assert ex10.box_mass_share(cam, box) == camlab.metrics.energy_pointing_game([cam], [box])


def test_q1_cases_have_known_answers():
    expected = {c.label: c.expected.value for c in ex10.q1.cases}
    assert expected["a flat map (all 0.4) and its left half"] == pytest.approx(0.5)
    assert expected["the same bump and the whole image"] == pytest.approx(1.0)
    assert expected["two blocks, 1.0 top-left and 3.0 bottom-right, and the top-left box"] == pytest.approx(0.25)
    for label in ("a zero-height box on a line between two pixel rows", "an all-zero map",
                  "an all-negative map (no positive mass)"):
        assert expected[label] == 0.0
    # edges exactly on pixel centres: rows 2..10 and columns 4..20 are inside (9 x 17 pixels)
    case = next(c for c in ex10.q1.cases if c.label.startswith("box edges exactly on pixel centres"))
    cam = np.maximum(case.args[0].astype(np.float64), 0)
    assert case.expected.value == pytest.approx(cam[2:11, 4:21].sum() / cam.sum())
    # the negative part of a map is not mass
    case = next(c for c in ex10.q1.cases if c.label.startswith("a map with negative values"))
    cam = np.maximum(case.args[0].astype(np.float64), 0)
    assert case.expected.value == pytest.approx(cam[4:12, 16:].sum() / cam.sum())  # rows 4..11: centres 4.5..11.5


def test_q1_reference_leaves_its_input_alone_and_refuses_bad_boxes():
    cam = np.array([[-1.0, 2.0], [3.0, 4.0]], np.float32)
    before = cam.copy()
    assert ex10.box_mass_share(cam, [0, 0, 0.5, 1]) == pytest.approx(2 / 9)
    np.testing.assert_array_equal(cam, before)
    with pytest.raises(ValueError, match="min > max"):
        ex10.box_mass_share(cam, [0.5, 0, 0.2, 1])


def _mask_share(cam, box, relu=True):
    cam = np.asarray(cam, np.float64)
    cam = np.maximum(cam, 0) if relu else cam
    h, w = cam.shape
    rows, cols = np.arange(h)[:, None] + 0.5, np.arange(w)[None, :] + 0.5
    inside = (rows >= box[0] * h) & (rows <= box[2] * h) & (cols >= box[1] * w) & (cols <= box[3] * w)
    with np.errstate(invalid="ignore", divide="ignore"):
        return cam[inside].sum() / cam.sum()


def _no_guard(cam, box):
    return float(_mask_share(cam, box))


def _loops(cam, box):  # plain Python, pixel by pixel
    h, w = len(cam), len(cam[0])
    inside = total = 0.0
    for r in range(h):
        for c in range(w):
            value = max(float(cam[r][c]), 0.0)
            total += value
            if box[0] * h <= r + 0.5 <= box[2] * h and box[1] * w <= c + 0.5 <= box[3] * w:
                inside += value
    return inside / total if total else 0


def _centre_slices(cam, box):  # the inclusive centre rule as slices: rows ceil(y0 - 0.5) .. floor(y1 - 0.5)
    cam = np.clip(np.asarray(cam, np.float64), 0, None)
    h, w = cam.shape
    r0, r1 = int(np.ceil(box[0] * h - 0.5)), int(np.floor(box[2] * h - 0.5)) + 1
    c0, c1 = int(np.ceil(box[1] * w - 0.5)), int(np.floor(box[3] * w - 0.5)) + 1
    total = cam.sum()
    return float(cam[max(r0, 0):max(r1, 0), max(c0, 0):max(c1, 0)].sum() / total) if total > 0 else 0.0


def _normalized_first(cam, box):  # dividing by the max first changes no share: still correct
    cam = np.maximum(np.asarray(cam, np.float32), 0)
    return _centre_slices(cam / cam.max(), box) if cam.max() > 0 else 0.0


def _tensorflow(cam, box):
    cam = tf.nn.relu(tf.constant(cam, tf.float32))
    h, w = cam.shape
    rows = tf.range(h, dtype=tf.float32)[:, None] + 0.5
    cols = tf.range(w, dtype=tf.float32)[None, :] + 0.5
    inside = (rows >= box[0] * h) & (rows <= box[2] * h) & (cols >= box[1] * w) & (cols <= box[3] * w)
    return float(tf.math.divide_no_nan(tf.reduce_sum(tf.where(inside, cam, 0.0)), tf.reduce_sum(cam)))


Q1_WRONG = [
    ("no ReLU", ex10.mass_without_relu, "Negative values look counted"),
    ("abs instead of ReLU", ex10.mass_of_abs, "abs()"),
    ("min-max normalized first", ex10.mass_after_min_max, "min-max"),
    ("mass over the box's pixel count", ex10.mean_inside, "pixel count"),
    ("share over the box's area (x uniform)", ex10.mass_over_area, "x uniform"),
    ("box read as [xmin, ymin, xmax, ymax]", ex10.mass_xy_swapped, "[xmin, ymin, xmax, ymax]"),
    ("y scaled by the width", ex10.mass_height_width_mixed, "scaled by the width"),
    ("centres on an edge left out", ex10.mass_strict_edges, "edges included"),
    ("int() slices", ex10.mass_truncated_edges, "edges included"),
    ("round() slices", ex10.mass_rounded_edges, "edges included"),
    ("slices one past the edge", ex10.mass_inclusive_slice, "edges included"),
    ("NaN for a map without mass", _no_guard, "NaN"),
    ("the map's sum inside, not a share", lambda cam, box: float(_mask_share(cam, box) * np.maximum(cam, 0).sum()),
     None),
]


@pytest.mark.parametrize("name, fn, words", Q1_WRONG, ids=[row[0] for row in Q1_WRONG])
def test_q1_wrong_answers_are_rejected_and_named(name, fn, words):
    result = ex10.q1.grade(fn)
    assert result.status == "incorrect", (name, result)
    if words:
        assert words in result.message, (name, result.message)
    for seed in SEEDS:
        assert graded(ex10.q1, fn, seed).status == "incorrect", name


Q1_CORRECT = [
    ("a boolean mask", lambda cam, box: 0.0 if not np.maximum(cam, 0).sum() else float(_mask_share(cam, box))),
    ("loops over pixels, an int 0 back", _loops),
    ("slices by the centre rule", _centre_slices),
    ("divided by the max first", _normalized_first),
    ("TensorFlow", _tensorflow),
]


@pytest.mark.parametrize("name, fn", Q1_CORRECT, ids=[row[0] for row in Q1_CORRECT])
def test_q1_equivalent_correct_answers_are_accepted(name, fn):
    assert status(ex10.q1, fn) == "correct", ex10.q1.grade(fn)
    for seed in SEEDS:
        assert graded(ex10.q1, fn, seed).status == "correct", name


def test_q1_changing_the_map_in_place_is_caught():
    def mass_in_box(cam, box):
        np.maximum(cam, 0, out=cam)
        return _centre_slices(cam, box)

    result = ex10.q1.grade(mass_in_box)
    assert result.status == "incorrect" and "changed its input" in result.message


# ----------------------------------------------------------------------------------------------------------
# q2: best_iou(box, gt_boxes)

def test_q2_reference_and_shown_solution_are_correct():
    check_reference_and_solution(ex10.q2, iou=camlab.boxes.iou)
    check_reference_is_delegation(ex10.q2, ex10.best_instance_iou)


def test_q2_cases_have_known_answers():
    expected = [c.expected.value for c in ex10.q2.cases]
    assert expected[0] == pytest.approx(0.135 / 0.1975)  # overlap 0.45 x 0.3, union 0.1575 + 0.175 - 0.135
    assert expected[1] == expected[2] == pytest.approx(0.75)
    assert expected[3] == pytest.approx(0.2 / 0.54)  # the spanning box holds the right instance whole
    assert expected[4:8] == [0.0, pytest.approx(0.2), 0.0, 0.0]  # None, whole image, apart, a point
    assert expected[8] == expected[0]  # a zero-area instance changes nothing
    assert expected[9] == pytest.approx(0.75)  # a tie


def test_q2_reference_refuses_an_empty_set_of_instances():
    with pytest.raises(ValueError, match="K >= 1"):
        ex10.best_instance_iou([0, 0, 1, 1], np.zeros((0, 4)))
    with pytest.raises(ValueError, match="Wrap a single box"):
        ex10.best_instance_iou([0, 0, 1, 1], [0, 0, 1, 1])


def _raises_on_none(box, gt_boxes):
    return max(camlab.boxes.iou(box, gt) for gt in gt_boxes)


Q2_WRONG = [
    ("the first instance only", ex10.iou_with_first, "first instance"),
    ("the mean IoU", ex10.mean_iou, "mean IoU"),
    ("the sum of the IoUs", ex10.summed_iou, "sum of the IoUs"),
    ("the worst IoU", ex10.worst_iou, "worst IoU"),
    ("one box around all instances", ex10.iou_with_enclosing_box, "one box around all"),
    ("the largest instance only", ex10.iou_with_largest, "largest instance"),
    ("the index of the best", ex10.index_of_best, "index of the best"),
    ("None for no box", lambda box, gt: None if box is None else _raises_on_none(box, gt), "None for no box"),
    ("a (1,)-array instead of a number",
     lambda box, gt: np.zeros(1) if box is None else camlab.boxes.pairwise_iou(box, gt).max(axis=1),
     "expected shape ()"),
]


@pytest.mark.parametrize("name, fn, words", Q2_WRONG, ids=[row[0] for row in Q2_WRONG])
def test_q2_wrong_answers_are_rejected_and_named(name, fn, words):
    result = ex10.q2.grade(fn)
    assert result.status == "incorrect", (name, result)
    assert words in result.message, (name, result.message)
    for seed in SEEDS:
        assert graded(ex10.q2, fn, seed).status == "incorrect", name


def test_q2_no_guard_for_none_is_an_error_naming_the_case():
    result = ex10.q2.grade(_raises_on_none)
    assert result.status == "error" and "no box (None)" in result.message


Q2_CORRECT = [
    ("a loop, a float", lambda box, gt: 0.0 if box is None else max(camlab.boxes.iou(box, g) for g in gt)),
    ("pairwise_iou, a NumPy float32", lambda box, gt: np.float32(0) if box is None else
     np.float32(camlab.boxes.pairwise_iou(box, gt).max())),
    ("an int 0 for None, boxes swapped in the IoU", lambda box, gt: 0 if box is None else
     max(float(camlab.boxes.iou(g, box)) for g in np.asarray(gt))),
]


@pytest.mark.parametrize("name, fn", Q2_CORRECT, ids=[row[0] for row in Q2_CORRECT])
def test_q2_equivalent_correct_answers_are_accepted(name, fn):
    assert status(ex10.q2, fn) == "correct", ex10.q2.grade(fn)
    for seed in SEEDS:
        assert graded(ex10.q2, fn, seed).status == "correct", name
