"""The checker of notebook 03 (ResNet50's input) agrees with Keras's preprocess_input and camlab's layer, and
rejects the lesson's bug (no * 255), the missing BGR flip, the mean in RGB order, torch-style std division and a
changed input."""
import keras
import numpy as np
import pytest

from camlab.exercises import ex03
from exercise_helpers import check_reference_and_solution, check_stub_not_attempted, status


def test_module_lists_its_exercise():
    assert ex03.EXERCISES == [ex03.q1] and ex03.q1.func_name == "resnet50_input"


def test_shown_solution_is_correct():
    check_reference_and_solution(ex03.q1)


def test_an_untouched_stub_is_not_attempted():
    check_stub_not_attempted(ex03.q1)


def test_reference_is_keras_preprocess_input_and_camlabs_layer():
    from camlab import models

    images = np.random.default_rng(0).uniform(0, 1, (2, 32, 32, 3)).astype(np.float32)
    expected = keras.applications.resnet50.preprocess_input(images * 255.0)
    np.testing.assert_allclose(ex03._resnet50_input(images), expected, atol=1e-3)
    np.testing.assert_allclose(np.asarray(models.ImageNetCaffePreprocess()(images)), expected, atol=1e-3)
    red = np.zeros((1, 1, 3), np.float32)
    red[..., 0] = 1.0
    np.testing.assert_allclose(ex03._resnet50_input(red)[0, 0], [-103.939, -116.779, 255.0 - 123.68], atol=1e-3)


def _keras_function(images):
    return keras.applications.resnet50.preprocess_input(np.asarray(images, np.float32) * 255.0)


def _loop(images):
    images = np.asarray(images, np.float64)
    out = np.empty(images.shape)
    for channel, mean in enumerate((103.939, 116.779, 123.68)):  # BGR channel, its mean
        out[..., channel] = images[..., 2 - channel] * 255 - mean
    return out


def _lesson_bug(images):
    return np.asarray(images, np.float32)[..., ::-1] - np.array([103.939, 116.779, 123.68])


def _no_flip(images):
    return np.asarray(images) * 255.0 - np.array([103.939, 116.779, 123.68])


def _mean_in_rgb_order(images):
    return np.asarray(images)[..., ::-1] * 255.0 - np.array([123.68, 116.779, 103.939])


def _torch_style(images):
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    return ((np.asarray(images) - mean) / std)[..., ::-1]


def _no_mean(images):
    return np.asarray(images)[..., ::-1] * 255.0


def _in_place(images):
    images *= 255.0  # changes the caller's array
    return keras.applications.resnet50.preprocess_input(images)


@pytest.mark.parametrize("fn", [_keras_function, _loop])
def test_equivalent_answers_are_correct(fn):
    assert status(ex03.q1, fn) == "correct"


@pytest.mark.parametrize("fn", [_lesson_bug, _no_flip, _mean_in_rgb_order, _torch_style, _no_mean])
def test_typical_mistakes_are_incorrect(fn):
    assert status(ex03.q1, fn) == "incorrect"


def test_a_changed_input_is_reported():
    result = ex03.q1.grade(_in_place)
    assert result.status == "incorrect" and "changed its input" in result.message


def test_the_red_image_shows_the_missing_flip_first():
    message = ex03.q1.grade(_no_flip).message
    assert "case 1 of 5" in message and "pure red" in message
