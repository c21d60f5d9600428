"""The checkers of notebook 09 (comparison): GT-known accuracy from maps, and one MaxBoxAcc sweep.

Wrong answers a learner plausibly writes are rejected, on the public cases (``q.check()``'s path) and by the
grader (public + hidden cases); where the mistake is a typical one the Incorrect message names it. Equivalent
correct answers (loops, vectorized code, lists or arrays back) are accepted by both.
"""
import cv2
import numpy as np
import pytest

import camlab.boxes
from camlab import metrics
from camlab.boxes import cam_to_bbox, iou
from camlab.exercises import ex09

import exercise_helpers
from exercise_helpers import (check_reference_is_delegation, check_stub_not_attempted, reference_status,
                              solution_function, status)

SEED = 2029  # the instructor's seed for the hidden cases in these tests


def graded(exercise, fn, seed=SEED):
    return exercise_helpers.graded(exercise, fn, seed)


def _solution(exercise):
    return solution_function(exercise, cam_to_bbox=cam_to_bbox, iou=iou, camlab=camlab)


def test_module_lists_its_exercises():
    assert ex09.EXERCISES == [ex09.q1, ex09.q2]
    assert [q.func_name for q in ex09.EXERCISES] == ["gt_known_loc", "box_acc_sweep"]
    assert all(q.notebook == "09_comparison" and q.has_hidden_cases for q in ex09.EXERCISES)


@pytest.mark.parametrize("exercise", ex09.EXERCISES, ids=lambda q: q.func_name)
def test_untouched_stubs_and_missing_functions_are_not_attempted(exercise):
    check_stub_not_attempted(exercise)


@pytest.mark.parametrize("exercise", ex09.EXERCISES, ids=lambda q: q.func_name)
def test_reference_and_the_notebooks_solution_are_correct(exercise):
    assert reference_status(exercise) == "correct"
    assert status(exercise, _solution(exercise)) == "correct"
    assert graded(exercise, _solution(exercise)).status == "correct"


@pytest.mark.parametrize("exercise", ex09.EXERCISES, ids=lambda q: q.func_name)
def test_cases_have_maps_that_neither_peak_at_1_nor_start_at_0(exercise):
    """Only such maps tell dividing by the max, min-max normalizing and a raw threshold apart."""
    for cases in (exercise.cases, exercise.hidden_cases(SEED)):
        maps = [np.asarray(cam) for case in cases for cam in case.args[0]]
        assert any(cam.max() > 1.5 for cam in maps) and any(0 < cam.max() < 0.9 for cam in maps)
        assert any(cam.min() > 0.05 * cam.max() > 0 for cam in maps)
        assert any(not cam.any() for cam in maps)  # an all-zero map: no box at any threshold


# ----------------------------------------------------------------------------------------------------------
# q1: gt_known_loc(cams, gt_boxes, threshold=0.2)

def test_q1_public_cases_have_known_answers():
    expected = [case.expected.value for case in ex09.q1.cases]
    assert expected[:8] == [0.75, 1.0, 1.0, 0.5, 1.0, 1.0, 1.0, 0.0]
    assert all(0.0 <= value <= 1.0 for value in expected)


def test_q1_reference_agrees_with_the_per_map_rule_on_public_and_hidden_cases():
    """camlab's dataset-wide engine (region_ious) gives what cam_to_bbox and iou give one map at a time."""
    for case in list(ex09.q1.cases) + ex09.q1.hidden_cases(SEED):
        cams, gt_boxes, threshold = case.args
        hits = [(box := cam_to_bbox(cam, threshold)) is not None and iou(box, gt) >= 0.5
                for cam, gt in zip(cams, gt_boxes)]
        assert case.expected.value == pytest.approx(np.mean(hits)), case.label


def test_q1_handing_in_camlabs_metric_is_caught():
    check_reference_is_delegation(ex09.q1, metrics.localization_accuracy)
    check_reference_is_delegation(ex09.q1, lambda cams, gt_boxes, threshold=0.2: float(np.mean(
        metrics.region_ious(cams, gt_boxes, [threshold], normalize="max")[0][0] >= 0.5)))


def _own_box(cam, threshold, rule="relative", first=False):
    """A learner's own box-from-map: connected regions of a mask, the box of the largest (or contours[0])."""
    cam = np.asarray(cam, np.float32)
    if rule == "relative":
        mask = cam > threshold * cam.max() if cam.max() > 0 else np.zeros(cam.shape, bool)
    elif rule == "at_or_above":
        mask = cam >= threshold * cam.max() if cam.max() > 0 else np.zeros(cam.shape, bool)
    else:  # "raw"
        mask = cam > threshold
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    x, y, w, h = cv2.boundingRect(contours[0] if first else max(contours, key=cv2.contourArea))
    height, width = cam.shape
    return [y / height, x / width, (y + h) / height, (x + w) / width]


def _loc(box=cam_to_bbox, hit=lambda value: value >= 0.5, prepare=lambda cam: cam, total="all"):
    def gt_known_loc(cams, gt_boxes, threshold=0.2):
        hits, with_box, ious = 0, 0, []
        for cam, gt in zip(cams, gt_boxes):
            found = box(prepare(cam), threshold)
            value = 0.0 if found is None else iou(found, gt)
            ious.append(value)
            with_box += found is not None
            hits += found is not None and hit(value)
        if total == "mean_iou":
            return float(np.mean(ious))
        if total == "count":
            return hits
        return hits / (with_box if total == "with_box" else len(cams)) if (with_box or total == "all") else 0.0

    return gt_known_loc


def _min_max(cam):
    low, high = cam.min(), cam.max()
    return (cam - low) / (high - low) if high > low else np.zeros_like(cam)


def _batch_max(cams, gt_boxes, threshold=0.2):
    """Every map divided by ONE maximum, the batch's, then thresholded."""
    peak = max(float(np.max(cam)) for cam in cams)
    scaled = [np.asarray(cam) / peak if peak > 0 else np.asarray(cam) for cam in cams]
    return _loc(box=lambda cam, t: _own_box(cam, t, "raw"))(scaled, gt_boxes, threshold)


def _rotated(cams, gt_boxes, threshold=0.2):
    """The lesson's rotated rectangle (absolute threshold) turned into a box."""
    hits = []
    for cam, gt in zip(cams, gt_boxes):
        corners = camlab.boxes.get_bbox(cam, threshold)
        hits.append(corners is not None and iou(camlab.boxes.rect_to_minmax(corners, np.shape(cam)), gt) >= 0.5)
    return float(np.mean(hits))


Q1_WRONG = [
    ("IoU > 0.5", _loc(hit=lambda value: value > 0.5), "IoU >= 0.5"),
    ("a raw threshold", _loc(box=lambda cam, t: _own_box(cam, t, "raw")), "raw map"),
    ("min-max normalized first", _loc(prepare=_min_max), "min-max"),
    ("pixels at or above the threshold", _loc(box=lambda cam, t: _own_box(cam, t, "at_or_above")), "strictly"),
    ("contours[0]", _loc(box=lambda cam, t: _own_box(cam, t, first=True)), "contours[0]"),
    ("maps without a box left out", _loc(total="with_box"), "left out"),
    ("mean IoU", _loc(total="mean_iou"), "mean IoU"),
    ("the number of hits", _loc(total="count"), "number of hits"),
    ("one maximum for the whole batch", _batch_max, None),
    ("the lesson's rotated rectangle", _rotated, None),
]


def _q1_vectorized(cams, gt_boxes, threshold=0.2):
    found = [camlab.boxes.boxes_from_map(cam, threshold, largest_only=True)[0] for cam in cams]
    ious = np.array([iou(b[0], g) if len(b) else 0.0 for b, g in zip(found, np.asarray(gt_boxes))])
    return np.float32(np.mean(ious >= 0.5))


def _q1_components(cams, gt_boxes, threshold=0.2):
    hits = []
    for cam, gt in zip(cams, gt_boxes):
        cam = np.asarray(cam, np.float64)
        if cam.max() <= 0:
            hits.append(False)
            continue
        count, _, stats, _ = cv2.connectedComponentsWithStats((cam / cam.max() > threshold).astype(np.uint8), 8)
        if count < 2:
            hits.append(False)
            continue
        x, y, w, h, _ = stats[1 + np.argmax(stats[1:, 4])]
        H, W = cam.shape
        hits.append(iou([y / H, x / W, (y + h) / H, (x + w) / W], gt) >= 0.5)
    return sum(hits) / len(hits)


Q1_CORRECT = [("a loop, hits counted", _loc()), ("boxes_from_map, a float32 back", _q1_vectorized),
              ("own connected components in float64", _q1_components)]


@pytest.mark.parametrize("name, fn, words", Q1_WRONG, ids=[row[0] for row in Q1_WRONG])
def test_q1_wrong_answers_are_rejected_publicly_and_by_the_grader(name, fn, words):
    public = ex09.q1.grade(fn)
    assert public.status in ("incorrect", "error"), public
    if words:
        assert words in public.message, public.message
    result = graded(ex09.q1, fn)
    assert result.status in ("incorrect", "error") and result.scope == "graded", result


@pytest.mark.parametrize("name, fn", Q1_CORRECT, ids=[row[0] for row in Q1_CORRECT])
def test_q1_equivalent_correct_answers_are_accepted_publicly_and_by_the_grader(name, fn):
    assert ex09.q1.grade(fn).status == "correct"
    result = graded(ex09.q1, fn)
    assert result.status == "correct" and result.passed == result.total > len(ex09.q1.cases), result


def test_q1_zero_map_case_names_the_miss_rule():
    result = ex09.q1.grade(_loc(total="with_box"))
    assert "an all-zero map" in result.message and "expected 0.5, got 1" in result.message


# ----------------------------------------------------------------------------------------------------------
# q2: box_acc_sweep(cams, gt_boxes, thresholds)

def test_q2_public_cases_have_known_answers_and_ties_go_to_the_first_threshold():
    first = ex09.q2.cases[0].expected.value
    assert np.asarray(first["accuracy"]).tolist() == [1.0] * 5 + [0.0] * 5
    assert first["max_box_acc"] == 1.0 and first["best_threshold"] == 0.0  # five tie: the first of them
    assert ex09.q2.cases[1].expected.value["best_threshold"] == 0.0  # the floor changes nothing after min-max
    zero_and_flat = ex09.q2.cases[2].expected.value
    assert np.asarray(zero_and_flat["accuracy"]).tolist() == [0.5, 0.5, 0.0]
    assert zero_and_flat["best_threshold"] == 0.1
    exact = ex09.q2.cases[5].expected.value
    assert np.asarray(exact["accuracy"]).tolist() == [1.0, 0.5, 0.0]  # IoU exactly 0.5 counts


def test_q2_reference_agrees_with_camlabs_v1_curve_on_public_and_hidden_cases():
    for case in list(ex09.q2.cases) + ex09.q2.hidden_cases(SEED):
        cams, gt_boxes, thresholds = case.args
        largest, _ = metrics.region_ious(cams, gt_boxes, thresholds)
        curve = (largest >= 0.5).mean(axis=1)
        answer = case.expected.value
        assert np.allclose(answer["accuracy"], curve) and answer["max_box_acc"] == curve.max(), case.label
        assert answer["best_threshold"] == thresholds[int(np.flatnonzero(curve == curve.max())[0])], case.label


def test_q2_handing_in_camlabs_metric_is_caught():
    check_reference_is_delegation(ex09.q2, ex09.max_box_acc_sweep)

    def box_acc_sweep(cams, gt_boxes, thresholds):
        result = metrics.max_box_acc(cams, gt_boxes, (0.5,), thresholds, multi_contour=False)
        return {"accuracy": result["curves"][0.5], "max_box_acc": result["value"],
                "best_threshold": result["best_threshold"][0.5]}

    check_reference_is_delegation(ex09.q2, box_acc_sweep)


def _sweep(normalize=_min_max, box=cam_to_bbox, hit=lambda value: value >= 0.5, pick="first", shape="dict"):
    def box_acc_sweep(cams, gt_boxes, thresholds):
        maps = [normalize(np.asarray(cam)) for cam in cams]
        accuracy = []
        for t in thresholds:
            hits = [(b := box(cam, t)) is not None and hit(iou(b, gt)) for cam, gt in zip(maps, gt_boxes)]
            accuracy.append(sum(hits) / len(hits))
        best = int(np.argmax(accuracy)) if pick in ("first", "index") else \
            len(accuracy) - 1 - int(np.argmax(accuracy[::-1]))
        if shape == "tuple":
            return accuracy, max(accuracy), thresholds[best]
        return {"accuracy": accuracy,
                "max_box_acc": {"swapped": thresholds[best], "mean": float(np.mean(accuracy))}.get(shape,
                                                                                                 max(accuracy)),
                "best_threshold": best if pick == "index" else thresholds[best]}

    return box_acc_sweep


def _unguarded(cam):
    with np.errstate(invalid="ignore", divide="ignore"):
        return (cam - cam.min()) / (cam.max() - cam.min())


def _v2_mean(cams, gt_boxes, thresholds):
    """MaxBoxAccV2's averaging (IoU 0.3, 0.5, 0.7) with V1's largest region."""
    maps = [_min_max(np.asarray(cam)) for cam in cams]
    ious = np.array([[0.0 if (b := cam_to_bbox(cam, t)) is None else iou(b, gt) for cam, gt in zip(maps, gt_boxes)]
                     for t in thresholds])
    curves = {d: (ious >= d).mean(axis=1) for d in (0.3, 0.5, 0.7)}
    return {"accuracy": curves[0.5], "max_box_acc": float(np.mean([c.max() for c in curves.values()])),
            "best_threshold": thresholds[int(np.argmax(curves[0.5]))]}


def _any_region(cam, t):
    """MaxBoxAccV2's box: every region's box may match (the best of them is kept later)."""
    found, _ = camlab.boxes.boxes_from_map(cam, t)
    return found if len(found) else None


def _v2_boxes(cams, gt_boxes, thresholds):
    maps = [_min_max(np.asarray(cam)) for cam in cams]
    accuracy = []
    for t in thresholds:
        hits = [(b := _any_region(cam, t)) is not None and max(iou(box, gt) for box in b) >= 0.5
                for cam, gt in zip(maps, gt_boxes)]
        accuracy.append(float(np.mean(hits)))
    best = int(np.argmax(accuracy))
    return {"accuracy": accuracy, "max_box_acc": accuracy[best], "best_threshold": thresholds[best]}


Q2_WRONG = [
    ("the best threshold as the accuracy", _sweep(shape="swapped"), "best THRESHOLD"),
    ("the index of the best threshold", _sweep(pick="index"), "index"),
    ("the mean of the curve", _sweep(shape="mean"), "mean of the curve"),
    ("MaxBoxAccV2's mean over IoU 0.3/0.5/0.7", _v2_mean, "MaxBoxAccV2"),
    ("every region's box (V2's rule)", _v2_boxes, "ANY of its regions"),
    ("divided by the max, not min-max", _sweep(normalize=lambda cam: cam), "MIN-MAX"),
    ("thresholds on the raw map", _sweep(normalize=lambda cam: cam, box=lambda cam, t: _own_box(cam, t, "raw")),
     "raw map"),
    ("IoU > 0.5", _sweep(hit=lambda value: value > 0.5), "IoU >= 0.5"),
    ("pixels at or above t", _sweep(box=lambda cam, t: _own_box(cam, t, "at_or_above")), "strictly ABOVE"),
    ("the last of tied thresholds", _sweep(pick="last"), "the last of them"),
    ("contours[0]", _sweep(box=lambda cam, t: _own_box(cam, t, first=True)), "contours[0]"),
    ("min-max without a guard for flat maps", _sweep(normalize=_unguarded), "NaN"),
    ("a tuple instead of the dict", _sweep(shape="tuple"), "expected a dict"),
]


def _q2_reusing_q1(cams, gt_boxes, thresholds):
    """Through a q1-style function on the min-max normalized maps, lists and Python floats back."""
    accuracy_at = _loc()
    maps = [_min_max(np.asarray(cam, np.float64)) for cam in cams]
    accuracy = [accuracy_at(maps, gt_boxes, t) for t in thresholds]
    best = accuracy.index(max(accuracy))
    return {"accuracy": accuracy, "max_box_acc": accuracy[best], "best_threshold": float(thresholds[best])}


def _q2_arrays(cams, gt_boxes, thresholds):
    """Vectorized normalization (np.ptp) and own connected components; arrays back, an extra key is fine."""
    thresholds = np.asarray(thresholds)
    table = np.zeros((len(thresholds), len(cams)))
    for i, (cam, gt) in enumerate(zip(cams, gt_boxes)):
        cam = np.asarray(cam, np.float32)
        span = np.ptp(cam)
        normalized = (cam - cam.min()) / span if span > 0 else np.zeros_like(cam)
        for j, t in enumerate(thresholds):
            count, _, stats, _ = cv2.connectedComponentsWithStats((normalized > t).astype(np.uint8), 8)
            if count > 1:
                x, y, w, h, _ = stats[1 + np.argmax(stats[1:, 4])]
                H, W = cam.shape
                table[j, i] = iou([y / H, x / W, (y + h) / H, (x + w) / W], gt)
    accuracy = (table >= 0.5).mean(axis=1)
    best = np.argmax(accuracy)
    return {"accuracy": accuracy, "max_box_acc": accuracy[best], "best_threshold": thresholds[best],
            "table": table}


Q2_CORRECT = [("a loop with cam_to_bbox", _sweep()), ("through a q1-style function", _q2_reusing_q1),
              ("arrays and own components", _q2_arrays)]


@pytest.mark.parametrize("name, fn, words", Q2_WRONG, ids=[row[0] for row in Q2_WRONG])
def test_q2_wrong_answers_are_rejected_publicly_and_by_the_grader(name, fn, words):
    public = ex09.q2.grade(fn)
    assert public.status in ("incorrect", "error"), public
    if words:
        assert words in public.message, public.message
    result = graded(ex09.q2, fn)
    assert result.status in ("incorrect", "error") and result.scope == "graded", result


@pytest.mark.parametrize("name, fn", Q2_CORRECT, ids=[row[0] for row in Q2_CORRECT])
def test_q2_equivalent_correct_answers_are_accepted_publicly_and_by_the_grader(name, fn):
    assert ex09.q2.grade(fn).status == "correct"
    result = graded(ex09.q2, fn)
    assert result.status == "correct" and result.passed == result.total > len(ex09.q2.cases), result


def test_q2_comparator_says_which_key_differs():
    expected = {"accuracy": np.array([1.0, 0.5]), "max_box_acc": 1.0, "best_threshold": 0.1}
    assert ex09.sweep_close(expected, {**expected, "accuracy": [1.0, 0.5]}) is None
    assert ex09.sweep_close(expected, {**expected, "best_threshold": 0.3}).startswith("'best_threshold': expected 0.1")
    assert "no key 'max_box_acc'" in ex09.sweep_close(expected, {"accuracy": [1.0, 0.5], "best_threshold": 0.1})
    assert "expected a dict" in ex09.sweep_close(expected, [1.0, 0.5])
