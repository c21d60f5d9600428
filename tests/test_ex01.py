"""The checkers of notebook 01 (box formats) accept every way of writing the conversions and reject the typical
mistakes: x and y swapped, height and width swapped, rounding, the centre instead of the corner, x_max for the
width; and, going back from pixels (q3), the off-by-one pixel conventions and a missing clamp, each named."""
import numpy as np
import pytest

from camlab import boxes
from camlab.exercises import ex01
from exercise_helpers import check_reference_and_solution, check_stub_not_attempted, status


def test_module_lists_its_exercises():
    assert ex01.EXERCISES == [ex01.q1, ex01.q2, ex01.q3]
    assert [q.func_name for q in ex01.EXERCISES] == ["to_pixel_corners", "to_corner_xywh", "to_normalized"]


@pytest.mark.parametrize("exercise", ex01.EXERCISES, ids=lambda q: q.func_name)
def test_hints_are_staged_the_idea_then_the_api(exercise):
    assert len(exercise.hints) == 2 and exercise.hints[0] != exercise.hints[1]
    assert exercise.name.startswith(f"01 q{ex01.EXERCISES.index(exercise) + 1}: ")  # use() names q1.check()


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


# ----------------------------------------------------------------------------------------------------------
# q3: pixel corners back to a normalized TFDS box

def test_q3_known_answers_round_trip_and_clamp():
    np.testing.assert_allclose(ex01._to_normalized([40, 10, 180, 50], 100, 200), [0.1, 0.2, 0.5, 0.9])
    np.testing.assert_allclose(ex01._to_normalized([-6.5, 20.25, 90.0, 57.5], 50, 70), [0.405, 0.0, 1.0, 1.0])
    for case in ex01.q1.cases:  # q3 undoes q1 on every one of q1's boxes (they all lie inside the image)
        bbox, height, width = case.args
        back = ex01._to_normalized(ex01._to_pixel_corners(bbox, height, width), height, width)
        np.testing.assert_allclose(back, np.asarray(bbox, np.float64), atol=1e-6)


def test_q3_cases_are_seeded_not_square_and_some_reach_over_the_edge():
    cases = ex01.q3.cases
    assert all(c.args[1] != c.args[2] for c in cases)
    outside = [np.any(np.asarray(c.args[0], np.float64) < 0) or np.any(np.asarray(c.args[0], np.float64)[[0, 2]] >
                                                                      c.args[2]) or
               np.any(np.asarray(c.args[0], np.float64)[[1, 3]] > c.args[1]) for c in cases]
    assert sum(outside) >= 2
    hidden = ex01.q3.hidden_cases(7)
    assert len(hidden) == len(cases)
    assert not np.allclose(np.asarray(hidden[2].args[0], np.float64), np.asarray(cases[2].args[0], np.float64))
    assert all(0.0 <= v <= 1.0 for c in cases + hidden for v in c.expected.value)


def _q3_lists(pixel_box, height, width):
    x_min, y_min, x_max, y_max = pixel_box
    box = [y_min / height, x_min / width, y_max / height, x_max / width]
    return [min(max(v, 0.0), 1.0) for v in box]


def _q3_array(pixel_box, height, width):
    scale = np.array([width, height, width, height], np.float32)
    return np.clip(np.asarray(pixel_box, np.float32) / scale, 0, 1)[[1, 0, 3, 2]]


def _q3_loop(pixel_box, height, width):
    size = {"x": width, "y": height}
    named = dict(zip(["x_min", "y_min", "x_max", "y_max"], pixel_box))
    out = []
    for key in ("y_min", "x_min", "y_max", "x_max"):
        value = float(named[key]) / size[key[0]]
        out.append(0.0 if value < 0 else 1.0 if value > 1 else value)
    return tuple(out)


def _q3_via_own_q1(pixel_box, height, width):  # divide by q1's answer for the whole image
    whole = ex01_solution_q1([0.0, 0.0, 1.0, 1.0], height, width)
    return np.clip(np.asarray(pixel_box, np.float64) / np.asarray(whole, np.float64)[[2, 3, 2, 3]], 0, 1)[[1, 0, 3, 2]]


def ex01_solution_q1(bbox, height, width):
    return _loop_version(bbox, height, width)


@pytest.mark.parametrize("fn", [_q3_lists, _q3_array, _q3_loop, _q3_via_own_q1])
def test_q3_equivalent_answers_are_correct(fn):
    assert status(ex01.q3, fn) == "correct"


def _q3_x_first(pixel_box, height, width):
    x_min, y_min, x_max, y_max = pixel_box
    return np.clip([x_min / width, y_min / height, x_max / width, y_max / height], 0, 1)


def _q3_read_y_first(pixel_box, height, width):
    ymin, xmin, ymax, xmax = pixel_box  # the pixel box taken for a TFDS box
    return np.clip([ymin / height, xmin / width, ymax / height, xmax / width], 0, 1)


def _q3_sizes_swapped(pixel_box, height, width):
    x_min, y_min, x_max, y_max = pixel_box
    return np.clip([y_min / width, x_min / height, y_max / width, x_max / height], 0, 1)


def _q3_minus_one(pixel_box, height, width):
    x_min, y_min, x_max, y_max = pixel_box
    return np.clip([y_min / (height - 1), x_min / (width - 1), y_max / (height - 1), x_max / (width - 1)], 0, 1)


def _q3_inclusive_max(pixel_box, height, width):
    x_min, y_min, x_max, y_max = pixel_box
    return np.clip([y_min / height, x_min / width, (y_max + 1) / height, (x_max + 1) / width], 0, 1)


def _q3_no_clamp(pixel_box, height, width):
    x_min, y_min, x_max, y_max = pixel_box
    return [y_min / height, x_min / width, y_max / height, x_max / width]


def _q3_rounded(pixel_box, height, width):
    x_min, y_min, x_max, y_max = (round(float(v)) for v in pixel_box)
    return np.clip([y_min / height, x_min / width, y_max / height, x_max / width], 0, 1)


@pytest.mark.parametrize("fn, named", [
    (_q3_x_first, "still x first"),
    (_q3_read_y_first, "read in TFDS's order"),
    (_q3_sizes_swapped, "y looks divided by the width"),
    (_q3_minus_one, "(height - 1, width - 1)"),
    (_q3_inclusive_max, "one pixel too far"),
    (_q3_no_clamp, "must be clamped to [0, 1]"),
    (_q3_rounded, "rounded to whole pixels"),
], ids=lambda v: getattr(v, "__name__", None) or v[:20])
def test_q3_typical_mistakes_are_incorrect_and_named(fn, named):
    result = ex01.q3.grade(fn)
    assert result.status == "incorrect", result
    assert named in result.message, result.message
    others = [m for _, m in ex01.NORMALIZED_MISTAKES if named not in m]
    assert not any(m in result.message for m in others)  # exactly its own message, not another one


def test_q3_calling_camlabs_rect_to_minmax_is_caught():
    def via_camlab(pixel_box, height, width):
        x_min, y_min, x_max, y_max = pixel_box
        return boxes.rect_to_minmax([[x_min, y_min], [x_max, y_max]], (height, width))

    result = ex01.q3.grade(via_camlab)
    assert result.status == "incorrect" and "rect_to_minmax" in result.message
