"""The checkers of notebook 11 (can you trust the map?) tell right answers from the typical wrong ones."""
import numpy as np
import pytest

import camlab.metrics
from camlab.exercises import ex11
from exercise_helpers import check_reference_is_delegation, reference_status, status, stub


def test_module_lists_its_exercises():
    assert ex11.EXERCISES == [ex11.q1, ex11.q2]
    assert [q.func_name for q in ex11.EXERCISES] == ["pointing_hit", "passing_methods"]
    assert all(q.notebook == "11_trust" for q in ex11.EXERCISES)


@pytest.mark.parametrize("exercise", ex11.EXERCISES, ids=lambda q: q.func_name)
def test_untouched_stubs_and_missing_functions_are_not_attempted(exercise):
    assert status(exercise, stub) == "not_attempted"
    assert status(exercise, None) == "not_attempted"


# ----------------------------------------------------------------------------------------------------------
# q1: pointing_hit

def pointing_hit(cam, gt_boxes, tolerance=15, mistake=None):
    """A hand-written pointing game for one map; ``mistake`` makes one of the typical errors."""
    cam = np.asarray(cam, np.float64)
    boxes = np.atleast_2d(np.asarray(gt_boxes, np.float64))
    if mistake == "first_box_only":
        boxes = boxes[:1]
    if mistake == "fixed_tolerance":
        tolerance = 15
    if cam.max() <= cam.min() and mistake != "constant_map_points":
        return False
    if mistake == "last_maximum":
        r, c = np.argwhere(cam == cam.max())[-1]
    else:
        r, c = np.unravel_index(int(np.argmax(cam)), cam.shape)
    y, x = (r, c) if mistake == "no_centre" else (r + 0.5, c + 0.5)
    height, width = cam.shape
    for ymin, xmin, ymax, xmax in boxes:
        if mistake == "xy_swapped":
            ymin, xmin, ymax, xmax = xmin, ymin, xmax, ymax
        top, left, bottom, right = ymin * height, xmin * width, ymax * height, xmax * width
        dy = max(top - y, y - bottom, 0.0)
        dx = max(left - x, x - right, 0.0)
        if mistake == "inside_only":
            distance = 0.0 if dx == 0 and dy == 0 else np.inf
        elif mistake == "grown_box":  # the box grown by the tolerance on each side: corners reach too far
            distance = max(dx, dy)
        else:
            distance = np.hypot(dx, dy)
        if distance <= tolerance:
            return True
    return False


def test_q1_reference_and_a_hand_written_answer_are_correct():
    assert reference_status(ex11.q1) == "correct"
    assert status(ex11.q1, pointing_hit) == "correct"


def test_q1_reference_agrees_with_the_metric_on_every_case():
    for case in ex11.q1.cases:
        cam, boxes = case.args
        tolerance = case.kwargs.get("tolerance", 15)
        assert case.expected.value == (camlab.metrics.pointing_game([cam], [boxes], tolerance=tolerance) == 1.0)


def test_q1_cases_have_known_answers():
    expected = [case.expected.value for case in ex11.q1.cases][:12]
    assert expected == [True, False, True, True, False, True, False, False, False, True, False, False]


def test_q1_calling_camlabs_pointing_game_is_caught():
    check_reference_is_delegation(ex11.q1, lambda cam, gt_boxes, tolerance=15: camlab.metrics.pointing_game(
        [cam], [gt_boxes], tolerance=tolerance) == 1.0)
    check_reference_is_delegation(ex11.q1, ex11.peak_hits)


@pytest.mark.parametrize("mistake, words", [
    ("inside_only", "9.5 px left of the box (within 15 px)"),
    ("grown_box", "15.6 px: out of reach"),
    ("no_centre", "box's bottom edge"),
    ("first_box_only", "the peak is in the second one"),
    ("constant_map_points", "all-zero map"),
    ("xy_swapped", "x and y must not be swapped"),
    ("last_maximum", "first maximum in raster order"),
    ("fixed_tolerance", "tolerance=0"),
])
def test_q1_typical_wrong_answers_are_incorrect(mistake, words):
    result = ex11.q1.grade(lambda cam, gt_boxes, tolerance=15: pointing_hit(cam, gt_boxes, tolerance, mistake))
    assert result.status == "incorrect", result
    assert words in result.message, result.message


def test_q1_an_answer_that_changes_the_map_is_caught():
    def pointing_hit_in_place(cam, gt_boxes, tolerance=15):
        cam[cam < 0.5] = 0.0  # changes the caller's map
        return pointing_hit(cam, gt_boxes, tolerance)

    result = ex11.q1.grade(pointing_hit_in_place)
    assert result.status == "incorrect" and "changed its input" in result.message


# ----------------------------------------------------------------------------------------------------------
# q2: passing_methods

def passing_methods(rows, methods, threshold=0.5, metric="spearman", mistake=None):
    metric = "spearman" if mistake == "ignores_metric" else metric
    if mistake == "original_row":
        values = {m: rows[0][f"{m}_{metric}"] for m in methods}
    elif mistake == "last_row":
        values = {m: rows[-1][f"{m}_{metric}"] for m in methods}
    elif mistake == "mean_of_random_rows":
        values = {m: np.mean([row[f"{m}_{metric}"] for row in rows[1:]]) for m in methods}
    else:
        values = {m: rows[1][f"{m}_{metric}"] for m in methods}
    if mistake == "at_most":
        return [m for m in methods if values[m] <= threshold]
    if mistake == "inverted":
        return [m for m in methods if values[m] >= threshold]
    passed = [m for m in methods if values[m] < threshold]
    if mistake == "sorted":
        return sorted(passed)
    if mistake == "dict":
        return {m: m in passed for m in methods}
    return passed


def test_q2_reference_and_a_hand_written_answer_are_correct():
    assert reference_status(ex11.q2) == "correct"
    assert status(ex11.q2, passing_methods) == "correct"


def test_q2_cases_have_known_answers():
    expected = [case.expected.value for case in ex11.q2.cases][:7]
    assert expected == [["cam", "saliency"], ["guided_backprop", "cam"], ["cam", "saliency", "guided_backprop"],
                        ["saliency"], ["cam"], ["layer_cam"], ["cam"]]


@pytest.mark.parametrize("mistake, words", [
    ("original_row", "a cascading check of three methods"),
    ("last_row", "a cascading check of three methods"),
    ("mean_of_random_rows", "metric='ssim'"),
    ("at_most", "exactly 0.5"),
    ("inverted", "a cascading check of three methods"),
    ("ignores_metric", "metric='spearman_abs'"),
    ("sorted", "guided backprop first"),
    ("dict", "expected a list of method names"),
])
def test_q2_typical_wrong_answers_are_incorrect(mistake, words):
    result = ex11.q2.grade(lambda rows, methods, threshold=0.5, metric="spearman":
                           passing_methods(rows, methods, threshold, metric, mistake))
    assert result.status == "incorrect", result
    assert words in result.message, result.message


def test_q2_reads_a_real_sanity_check_table():
    from camlab.evaluation import SanityCheck

    scores = {m: {k: np.array([[1.0, 1.0], [v, v], [0.0, 0.0]]) for k in ("spearman", "spearman_abs", "ssim")}
              for m, v in (("cam", 0.1), ("guided_backprop", 0.9))}
    report = SanityCheck(["original", "predictions", "conv"], ["cam", "guided_backprop"], scores, {}, "cascading",
                         np.array([0, 1]))
    assert ex11.sanity_passes(report.rows, report.methods) == ["cam"]
    assert status(ex11.q2, passing_methods) == "correct"


def test_sanity_passes_rejects_a_table_without_its_original_row():
    with pytest.raises(ValueError, match="'original' first"):
        ex11.sanity_passes([{"step": "predictions", "cam_spearman": 0.1}], ["cam"])
