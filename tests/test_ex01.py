"""The checkers of notebook 01 (box formats) accept every way of writing the conversions and reject the typical
mistakes: x and y swapped, height and width swapped, rounding, the centre instead of the corner, x_max for the
width."""
import numpy as np
import pytest

from camlab import boxes
from camlab.exercises import ex01
from exercise_helpers import check_reference_and_solution, check_stub_not_attempted, status


def test_module_lists_its_exercises():
    assert ex01.EXERCISES == [ex01.q1, ex01.q2]
    assert [q.func_name for q in ex01.EXERCISES] == ["to_pixel_corners", "to_corner_xywh"]


@pytest.mark.parametrize("exercise", ex01.EXERCISES, ids=lambda q: q.func_name)
def test_shown_solutions_are_correct(exercise):
    check_reference_and_solution(exercise)


@pytest.mark.parametrize("exercise", ex01.EXERCISES, ids=lambda q: q.func_name)
def test_an_untouched_stub_is_not_attempted(exercise):
    check_stub_not_attempted(exercise)


def test_known_answers_and_camlab_boxes_agree():
    bbox = [0.1, 0.2, 0.5, 0.9]  # ymin, xmin, ymax, xmax on a 100 x 200 image
    np.testing.assert_allclose(ex01._to_pixel_corners(bbox, 100, 200), [40, 10, 180, 50])
    np.testing.assert_allclose(ex01._to_corner_xywh(bbox, 100, 200), [40, 10, 140, 40])
    # camlab.boxes.minmax_to_xywh gives the centre form, normalized: the corner form is its centre minus half
    cx, cy, w, h = boxes.minmax_to_xywh(np.array(bbox)) * [200, 100, 200, 100]
    np.testing.assert_allclose(ex01._to_corner_xywh(bbox, 100, 200), [cx - w / 2, cy - h / 2, w, h])


def test_cases_are_not_square_and_have_edges_between_pixels():
    cases = ex01.q1.cases
    assert all(c.args[1] != c.args[2] for c in cases)  # height != width everywhere
    fractional = [np.any(np.abs(c.expected.value - np.round(c.expected.value)) > 0.01) for c in cases]
    assert any(fractional)
    assert ex01.q1.has_hidden_cases and len(ex01.q1.hidden_cases(7)) == len(cases)


def _loop_version(bbox, height, width):
    scale = {"y": height, "x": width}
    ymin, xmin, ymax, xmax = (float(v) for v in bbox)
    return [value * scale[axis] for value, axis in ((xmin, "x"), (ymin, "y"), (xmax, "x"), (ymax, "y"))]


def _array_version(bbox, height, width):
    return np.asarray(bbox, np.float32)[[1, 0, 3, 2]] * np.array([width, height, width, height], np.float32)


def _via_camlab_boxes(bbox, height, width):  # the normalized minmax form of camlab.boxes, scaled
    ymin, xmin, ymax, xmax = bbox
    return tuple(np.array([xmin, ymin, xmax, ymax]) * [width, height, width, height])


@pytest.mark.parametrize("fn", [_loop_version, _array_version, _via_camlab_boxes])
def test_q1_equivalent_answers_are_correct(fn):
    assert status(ex01.q1, fn) == "correct"


def _xy_not_reordered(bbox, height, width):  # TFDS order kept: [ymin, xmin, ymax, xmax] in pixels
    ymin, xmin, ymax, xmax = bbox
    return [ymin * height, xmin * width, ymax * height, xmax * width]


def _read_as_x_first(bbox, height, width):  # the classic swap: the TFDS box read as [xmin, ymin, xmax, ymax]
    xmin, ymin, xmax, ymax = bbox
    return [xmin * width, ymin * height, xmax * width, ymax * height]


def _height_width_swapped(bbox, height, width):
    ymin, xmin, ymax, xmax = bbox
    return [xmin * height, ymin * width, xmax * height, ymax * width]


def _rounded(bbox, height, width):
    ymin, xmin, ymax, xmax = bbox
    return [round(xmin * width), round(ymin * height), round(xmax * width), round(ymax * height)]


def _still_normalized(bbox, height, width):
    ymin, xmin, ymax, xmax = bbox
    return [xmin, ymin, xmax, ymax]


def _mutates(bbox, height, width):
    bbox = np.asarray(bbox, np.float32)  # the same object when the argument is a float32 array
    bbox[:] = bbox[[1, 0, 3, 2]] * [width, height, width, height]
    return bbox


@pytest.mark.parametrize("fn", [_xy_not_reordered, _read_as_x_first, _height_width_swapped, _rounded,
                                _still_normalized])
def test_q1_typical_mistakes_are_incorrect(fn):
    assert status(ex01.q1, fn) == "incorrect"


def test_q1_changing_an_array_argument_is_reported():
    result = ex01.q1.grade(_mutates)
    assert result.status == "incorrect" and "changed its input" in result.message


def test_q1_message_names_the_case_and_the_values():
    message = ex01.q1.grade(_read_as_x_first).message
    assert "case 1 of 6" in message and "100 x 200" in message and "expected" in message


def _corner_via_q1(bbox, height, width):  # built on the learner's own to_pixel_corners
    x0, y0, x1, y1 = _loop_version(bbox, height, width)
    return np.array([x0, y0, x1 - x0, y1 - y0])


def _centre_instead_of_corner(bbox, height, width):
    ymin, xmin, ymax, xmax = bbox
    w, h = (xmax - xmin) * width, (ymax - ymin) * height
    return [xmin * width + w / 2, ymin * height + h / 2, w, h]


def _max_for_size(bbox, height, width):
    ymin, xmin, ymax, xmax = bbox
    return [xmin * width, ymin * height, xmax * width, ymax * height]


def _size_swapped(bbox, height, width):
    ymin, xmin, ymax, xmax = bbox
    return [xmin * width, ymin * height, (ymax - ymin) * height, (xmax - xmin) * width]


def _normalized_size(bbox, height, width):
    ymin, xmin, ymax, xmax = bbox
    return [xmin * width, ymin * height, xmax - xmin, ymax - ymin]


def test_q2_equivalent_answer_is_correct():
    assert status(ex01.q2, _corner_via_q1) == "correct"


@pytest.mark.parametrize("fn", [_centre_instead_of_corner, _max_for_size, _size_swapped, _normalized_size,
                                _read_as_x_first])
def test_q2_typical_mistakes_are_incorrect(fn):
    assert status(ex01.q2, fn) == "incorrect"


def test_the_reference_cannot_be_handed_in():
    result = ex01.q1.grade(ex01._to_pixel_corners)
    assert result.status == "incorrect" and "calls camlab's own answer" in result.message
