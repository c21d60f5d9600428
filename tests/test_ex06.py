"""The checkers of notebook 06 (boxes from maps) tell right answers from the typical wrong ones."""
import cv2
import numpy as np
import pytest

import camlab.boxes
from camlab.exercises import ex06
from exercise_helpers import check_reference_is_delegation, unwatched_status


def _solution(exercise):
    """The learner-facing solution text, run as a learner's notebook would run it."""
    namespace = {"np": np, "cv2": cv2, "camlab": camlab}
    exec(exercise.solution_source(), namespace)
    return namespace[exercise.func_name]


def test_module_lists_its_exercises():
    assert ex06.EXERCISES == [ex06.q1, ex06.q2]
    assert [q.func_name for q in ex06.EXERCISES] == ["cam_to_bbox", "rect_to_minmax"]


# ----------------------------------------------------------------------------------------------------------
# q1: cam_to_bbox

def test_q1_reference_and_shown_solution_are_correct():
    assert unwatched_status(ex06.q1, camlab.boxes.cam_to_bbox) == "correct"
    check_reference_is_delegation(ex06.q1, camlab.boxes.cam_to_bbox)
    assert ex06.q1.grade(_solution(ex06.q1)).status == "correct"


def test_q1_cases_have_known_answers():
    expected = [case.expected.value for case in ex06.q1.cases]
    np.testing.assert_allclose(expected[0], [8 / 32, 10 / 48, 20 / 32, 30 / 48])
    np.testing.assert_allclose(expected[1], [2 / 32, 3 / 48, 18 / 32, 30 / 48])  # the large top region
    assert expected[3] is None  # all-zero map
    np.testing.assert_allclose(expected[4], [12 / 32, 16 / 48, 20 / 32, 30 / 48])  # the core, not the halo


def _stub(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("exercise", ex06.EXERCISES, ids=lambda q: q.func_name)
def test_untouched_stubs_and_missing_functions_are_not_attempted(exercise):
    assert exercise.grade(_stub).status == "not_attempted"
    assert exercise.grade(None).status == "not_attempted"


def _first_contour(cam, threshold=0.2):
    """The lesson's mistake: contours[0] instead of the largest region."""
    cam = np.asarray(cam, np.float32)
    if cam.max() <= 0:
        return None
    mask = (cam > threshold * cam.max()).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    x, y, w, h = cv2.boundingRect(contours[0])
    return np.array([y / cam.shape[0], x / cam.shape[1], (y + h) / cam.shape[0], (x + w) / cam.shape[1]])


def test_q1_contours0_instead_of_the_largest_is_incorrect():
    result = ex06.q1.grade(_first_contour)
    assert result.status == "incorrect"
    assert "contours[0] is the small one" in result.message  # names the case that shows it
    assert "expected box" in result.message


def _wrong(kind):
    def cam_to_bbox(cam, threshold=0.2):
        cam = np.asarray(cam, np.float32)
        peak = cam.max()
        if peak <= 0:
            return np.zeros(4) if kind == "zeros_when_empty" else None
        limit = threshold if kind == "absolute" else threshold * peak
        mask = (cam > limit).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        x, y, w, h = cv2.boundingRect(max(contours, key=cv2.contourArea))
        height, width = cam.shape
        if kind == "xy_swapped":
            return np.array([x / width, y / height, (x + w) / width, (y + h) / height])
        if kind == "pixels":
            return np.array([y, x, y + h, x + w], np.float32)
        return np.array([y / height, x / width, (y + h) / height, (x + w) / width])

    return cam_to_bbox


@pytest.mark.parametrize("kind, case_words", [
    ("absolute", "maximum is 5.0"),
    ("xy_swapped", "x and y swapped"),
    ("pixels", "expected box"),
    ("zeros_when_empty", "expected None"),
])
def test_q1_typical_wrong_answers_are_incorrect(kind, case_words):
    result = ex06.q1.grade(_wrong(kind))
    assert result.status == "incorrect", result
    assert case_words in result.message


def test_q1_crash_on_an_empty_map_is_an_error():
    def cam_to_bbox(cam, threshold=0.2):  # the lesson's way: no check for "no contour"
        cam = np.asarray(cam, np.float32)
        mask = (cam > threshold * cam.max()).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        x, y, w, h = cv2.boundingRect(max(contours, key=cv2.contourArea))
        return np.array([y / cam.shape[0], x / cam.shape[1], (y + h) / cam.shape[0], (x + w) / cam.shape[1]])

    result = ex06.q1.grade(cam_to_bbox)
    assert result.status == "error"
    assert "ValueError" in result.message and "all-zero map" in result.message


def test_q1_changing_the_input_map_is_incorrect():
    correct = _solution(ex06.q1)

    def cam_to_bbox(cam, threshold=0.2):
        cam[cam <= threshold * cam.max()] = 0  # the lesson's in-place cut
        return correct(cam, threshold)

    result = ex06.q1.grade(cam_to_bbox)
    assert result.status == "incorrect"
    assert "changed its input" in result.message


def test_q1_pixel_count_variant_is_correct():
    def cam_to_bbox(cam, threshold=0.2):  # connected components and pixel counts instead of contours
        cam = np.asarray(cam, np.float64)
        if cam.max() <= 0:
            return None
        count, _, stats, _ = cv2.connectedComponentsWithStats((cam > threshold * cam.max()).astype(np.uint8))
        if count < 2:
            return None
        x, y, w, h, _ = stats[1 + np.argmax(stats[1:, 4])]
        return [y / cam.shape[0], x / cam.shape[1], (y + h) / cam.shape[0], (x + w) / cam.shape[1]]

    assert ex06.q1.grade(cam_to_bbox).status == "correct"


# ----------------------------------------------------------------------------------------------------------
# q2: rect_to_minmax

def test_q2_reference_and_shown_solution_are_correct():
    assert unwatched_status(ex06.q2, camlab.boxes.rect_to_minmax) == "correct"
    check_reference_is_delegation(ex06.q2, camlab.boxes.rect_to_minmax)
    assert ex06.q2.grade(_solution(ex06.q2)).status == "correct"


def test_q2_cases_have_known_answers():
    expected = [case.expected.value for case in ex06.q2.cases]
    np.testing.assert_allclose(expected[0], [0.1, 0.1, 0.6, 0.6])
    np.testing.assert_allclose(expected[3], [0.0, 0.0, 1.0, 1.0])  # clipped


def test_q2_x_and_y_swapped_is_incorrect():
    def rect_to_minmax(points, image_shape):
        points = np.asarray(points, np.float64)
        height, width = image_shape[:2]
        xs, ys = points[:, 0], points[:, 1]
        return np.clip([xs.min() / width, ys.min() / height, xs.max() / width, ys.max() / height], 0, 1)

    result = ex06.q2.grade(rect_to_minmax)
    assert result.status == "incorrect"
    assert "x and y swapped" in result.message


def test_q2_points_read_as_row_column_is_incorrect():
    def rect_to_minmax(points, image_shape):  # treats points as (y, x): divides x by the height
        points = np.asarray(points, np.float64)
        height, width = image_shape[:2]
        return np.clip([points[:, 0].min() / height, points[:, 1].min() / width,
                        points[:, 0].max() / height, points[:, 1].max() / width], 0, 1)

    assert ex06.q2.grade(rect_to_minmax).status == "incorrect"


def test_q2_without_clipping_is_incorrect():
    def rect_to_minmax(points, image_shape):
        points = np.asarray(points, np.float64)
        height, width = image_shape[:2]
        return [points[:, 1].min() / height, points[:, 0].min() / width,
                points[:, 1].max() / height, points[:, 0].max() / width]

    result = ex06.q2.grade(rect_to_minmax)
    assert result.status == "incorrect"
    assert "outside" in result.message


def test_q2_list_answer_and_float64_variant_are_correct():
    def rect_to_minmax(points, image_shape):
        ys = [float(p[1]) for p in points]
        xs = [float(p[0]) for p in points]
        h, w = image_shape[0], image_shape[1]
        return [max(0.0, min(ys) / h), max(0.0, min(xs) / w), min(1.0, max(ys) / h), min(1.0, max(xs) / w)]

    assert ex06.q2.grade(rect_to_minmax).status == "correct"
