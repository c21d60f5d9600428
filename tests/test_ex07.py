"""The checkers of notebook 07 (IoU) tell right answers from the typical wrong ones."""
import numpy as np
import pytest

import camlab.boxes
from camlab.exercises import ex07
from exercise_helpers import check_reference_is_delegation, unwatched_status


def _solution(exercise):
    namespace = {"np": np, "camlab": camlab}
    exec(exercise.solution_source(), namespace)
    return namespace[exercise.func_name]


def test_module_lists_its_exercises():
    assert ex07.EXERCISES == [ex07.q1, ex07.q2, ex07.q3]
    assert [q.func_name for q in ex07.EXERCISES] == ["get_iou", "pairwise_iou", "gt_known_accuracy"]


# ----------------------------------------------------------------------------------------------------------
# q1: get_iou

def test_q1_reference_and_shown_solution_are_correct():
    assert unwatched_status(ex07.q1, camlab.boxes.iou) == "correct"
    check_reference_is_delegation(ex07.q1, camlab.boxes.iou)
    assert ex07.q1.grade(_solution(ex07.q1)).status == "correct"


def test_q1_cases_have_known_answers():
    expected = [case.expected.value for case in ex07.q1.cases]
    assert expected[0] == pytest.approx(1.0)
    assert expected[1] == pytest.approx(1 / 3)
    assert expected[2] == pytest.approx(0.16)
    assert expected[4:9] == [0.0] * 5  # apart in x, apart in both, touching, two points, a line


def _stub(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("exercise", ex07.EXERCISES, ids=lambda q: q.func_name)
def test_untouched_stubs_and_missing_functions_are_not_attempted(exercise):
    assert exercise.grade(_stub).status == "not_attempted"
    assert exercise.grade(None).status == "not_attempted"


def test_q1_without_the_clamp_is_incorrect():
    def get_iou(boxA, boxB):
        inter = (min(boxA[2], boxB[2]) - max(boxA[0], boxB[0])) * (min(boxA[3], boxB[3]) - max(boxA[1], boxB[1]))
        area_a = (boxA[2] - boxA[0]) * (boxA[3] - boxA[1])
        area_b = (boxB[2] - boxB[0]) * (boxB[3] - boxB[1])
        union = area_a + area_b - inter
        return inter / union if union else 0.0

    result = ex07.q1.grade(get_iou)
    assert result.status == "incorrect"
    assert "apart in x only" in result.message and "expected 0" in result.message


def test_q1_clamping_the_product_instead_of_each_side_is_incorrect():
    def get_iou(boxA, boxB):
        inter = max(0.0, (min(boxA[2], boxB[2]) - max(boxA[0], boxB[0]))
                    * (min(boxA[3], boxB[3]) - max(boxA[1], boxB[1])))
        area_a = (boxA[2] - boxA[0]) * (boxA[3] - boxA[1])
        area_b = (boxB[2] - boxB[0]) * (boxB[3] - boxB[1])
        union = area_a + area_b - inter
        return inter / union if union else 0.0

    result = ex07.q1.grade(get_iou)
    assert result.status == "incorrect"
    assert "apart in both x and y" in result.message  # two negative sides make a positive area


def test_q1_x_and_y_mixed_up_is_incorrect():
    def get_iou(boxA, boxB):  # reads the boxes as (x_min, x_max, y_min, y_max)
        x_min, x_max = max(boxA[0], boxB[0]), min(boxA[1], boxB[1])
        y_min, y_max = max(boxA[2], boxB[2]), min(boxA[3], boxB[3])
        inter = max(0.0, x_max - x_min) * max(0.0, y_max - y_min)
        area_a = (boxA[1] - boxA[0]) * (boxA[3] - boxA[2])
        area_b = (boxB[1] - boxB[0]) * (boxB[3] - boxB[2])
        union = area_a + area_b - inter
        return inter / union if union else 0.0

    assert ex07.q1.grade(get_iou).status == "incorrect"


def test_q1_x_and_y_paired_wrongly_is_incorrect():
    def get_iou(boxA, boxB):  # pairs ymin with xmax: the intersection's sides mix the two axes
        height = min(boxA[3], boxB[3]) - max(boxA[0], boxB[0])
        width = min(boxA[2], boxB[2]) - max(boxA[1], boxB[1])
        inter = max(0.0, height) * max(0.0, width)
        area_a = (boxA[2] - boxA[0]) * (boxA[3] - boxA[1])
        area_b = (boxB[2] - boxB[0]) * (boxB[3] - boxB[1])
        union = area_a + area_b - inter
        return inter / union if union else 0.0

    assert ex07.q1.grade(get_iou).status == "incorrect"


def test_q1_a_consistent_swap_of_x_and_y_is_correct_because_iou_is_symmetric():
    def get_iou(boxA, boxB):  # reads both boxes as [xmin, ymin, xmax, ymax]: a mirror image, same IoU
        x_min, y_min = max(boxA[0], boxB[0]), max(boxA[1], boxB[1])
        x_max, y_max = min(boxA[2], boxB[2]), min(boxA[3], boxB[3])
        inter = max(0.0, x_max - x_min) * max(0.0, y_max - y_min)
        union = (boxA[2] - boxA[0]) * (boxA[3] - boxA[1]) + (boxB[2] - boxB[0]) * (boxB[3] - boxB[1]) - inter
        return inter / union if union > 0 else 0.0

    assert ex07.q1.grade(get_iou).status == "correct"


def test_q1_division_by_a_zero_union_is_reported():
    def get_iou(boxA, boxB):
        inter = max(0.0, min(boxA[2], boxB[2]) - max(boxA[0], boxB[0])) * \
            max(0.0, min(boxA[3], boxB[3]) - max(boxA[1], boxB[1]))
        union = (boxA[2] - boxA[0]) * (boxA[3] - boxA[1]) + (boxB[2] - boxB[0]) * (boxB[3] - boxB[1]) - inter
        return inter / union

    result = ex07.q1.grade(get_iou)
    assert result.status == "error"
    assert "ZeroDivisionError" in result.message and "zero-area" in result.message

    def get_iou_numpy(boxA, boxB):  # the same in NumPy float64: 0 / 0 is NaN, not an exception
        a, b = np.asarray(boxA, np.float64), np.asarray(boxB, np.float64)
        side = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None)
        inter = side[0] * side[1]
        with np.errstate(invalid="ignore"):
            return inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter)

    result = ex07.q1.grade(get_iou_numpy)
    assert result.status == "incorrect"
    assert "NaN" in result.message


# ----------------------------------------------------------------------------------------------------------
# q2: pairwise_iou

def test_q2_reference_and_shown_solution_are_correct():
    assert unwatched_status(ex07.q2, camlab.boxes.pairwise_iou) == "correct"
    check_reference_is_delegation(ex07.q2, camlab.boxes.pairwise_iou)
    assert ex07.q2.grade(_solution(ex07.q2)).status == "correct"


def test_q2_loop_variant_is_correct():
    def pairwise_iou(boxes_a, boxes_b):
        return [[camlab.boxes.iou(a, b) for b in boxes_b] for a in boxes_a]

    assert ex07.q2.grade(pairwise_iou).status == "correct"


def test_q2_expected_tables_match_the_one_pair_function():
    for case in ex07.q2.cases:
        a, b = case.args
        table = case.expected.value
        assert table.shape == (len(a), len(b))
        for i in range(len(a)):
            for j in range(len(b)):
                assert table[i, j] == pytest.approx(camlab.boxes.iou(a[i], b[j]))


def test_q2_element_wise_instead_of_pairwise_is_incorrect():
    def pairwise_iou(boxes_a, boxes_b):
        return camlab.boxes.iou(np.asarray(boxes_a)[: len(boxes_b)], np.asarray(boxes_b)[: len(boxes_a)])

    result = ex07.q2.grade(pairwise_iou)
    assert result.status == "incorrect"
    assert "expected shape (1, 1), got (1,)" in result.message


def test_q2_without_the_clamp_is_incorrect():
    def pairwise_iou(boxes_a, boxes_b):
        a, b = np.asarray(boxes_a, np.float64)[:, None], np.asarray(boxes_b, np.float64)[None]
        sides = np.minimum(a[..., 2:], b[..., 2:]) - np.maximum(a[..., :2], b[..., :2])
        inter = sides[..., 0] * sides[..., 1]
        union = np.prod(a[..., 2:] - a[..., :2], -1) + np.prod(b[..., 2:] - b[..., :2], -1) - inter
        return np.divide(inter, union, out=np.zeros_like(inter), where=union != 0)

    assert ex07.q2.grade(pairwise_iou).status == "incorrect"


# ----------------------------------------------------------------------------------------------------------
# q3: gt_known_accuracy

def test_q3_reference_and_shown_solution_are_correct():
    assert unwatched_status(ex07.q3, ex07.box_accuracy) == "correct"
    check_reference_is_delegation(ex07.q3, ex07.box_accuracy)
    assert ex07.q3.grade(_solution(ex07.q3)).status == "correct"


def test_q3_cases_have_known_answers():
    assert [case.expected.value for case in ex07.q3.cases] == [1.0, 0.5, 1.0, pytest.approx(2 / 3), 0.0, 0.75]


def test_q3_vectorized_variant_is_correct():
    def gt_known_accuracy(pred_boxes, gt_boxes, iou_threshold=0.5):
        ious = np.array([0.0 if b is None else camlab.boxes.iou(b, g) for b, g in zip(pred_boxes, gt_boxes)])
        return float(np.mean(ious >= iou_threshold))

    assert ex07.q3.grade(gt_known_accuracy).status == "correct"


@pytest.mark.parametrize("mistake, words", [
    ("skips_none", "no box (None)"),
    ("strict", "exactly 0.5"),
    ("mean_iou", "four good boxes"),
])
def test_q3_typical_wrong_answers_are_incorrect(mistake, words):
    def gt_known_accuracy(pred_boxes, gt_boxes, iou_threshold=0.5):
        pairs = [(b, g) for b, g in zip(pred_boxes, gt_boxes) if b is not None]
        ious = [camlab.boxes.iou(b, g) for b, g in pairs]
        if mistake == "skips_none":
            return sum(i >= iou_threshold for i in ious) / max(len(pairs), 1)
        if mistake == "strict":
            return sum(i > iou_threshold for i in ious) / len(gt_boxes)
        return float(np.sum(ious) / len(gt_boxes))

    result = ex07.q3.grade(gt_known_accuracy)
    assert result.status == "incorrect"
    assert words in result.message


def test_box_accuracy_rejects_mismatched_or_empty_inputs():
    with pytest.raises(ValueError, match="one predicted box"):
        ex07.box_accuracy([[0, 0, 1, 1]], [[0, 0, 1, 1], [0, 0, 0.5, 0.5]])
    with pytest.raises(ValueError, match="empty set"):
        ex07.box_accuracy([], [])
