"""The checkers of notebook 04 (CAM) tell right answers from the typical wrong ones, and their answer key is
the engine's own CAM."""
import cv2
import numpy as np
import pytest

from camlab.exercises import ex04
from exercise_helpers import check_reference_and_solution, check_stub_not_attempted, status


def test_module_lists_its_exercises():
    assert ex04.EXERCISES == [ex04.q1, ex04.q2, ex04.q3]
    assert [q.func_name for q in ex04.EXERCISES] == ["cam_from_features", "cam_batch", "upsample_cam"]


@pytest.mark.parametrize("exercise", ex04.EXERCISES, ids=lambda q: q.func_name)
def test_shown_solutions_are_correct(exercise):
    check_reference_and_solution(exercise, cv2=cv2)


@pytest.mark.parametrize("exercise", ex04.EXERCISES, ids=lambda q: q.func_name)
def test_an_untouched_stub_is_not_attempted(exercise):
    check_stub_not_attempted(exercise)


# ----------------------------------------------------------------------------------------------------------
# q1: cam_from_features

def test_q1_known_answer():
    features = np.zeros((2, 2, 2), np.float32)
    features[0, 0] = [1.0, 0.0]  # channel 0 at the top left
    features[1, 1] = [0.0, 2.0]  # channel 1 at the bottom right
    weights = np.array([[1.0, -1.0], [0.5, 1.0]], np.float32)  # (K=2, C=2)
    np.testing.assert_allclose(ex04._cam_from_features(features, weights, 0), [[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(ex04._cam_from_features(features, weights, 1), [[0.0, 0.0], [0.0, 1.0]])


def test_q1_cases_include_the_edge_cases():
    expected = [case.expected.value for case in ex04.q1.cases]
    assert all(e.dtype == np.float32 and e.min() >= 0 and e.max() <= 1 for e in expected)
    assert expected[3].max() == 0 and expected[4].max() == 0  # no positive evidence; zero features
    assert expected[5].shape == (1, 1)
    assert expected[2].min() > 0  # the all-positive case: a min-max normalization would differ


def _without_relu(features, weights, class_index):
    cam = features @ weights[:, class_index]
    return cam / cam.max()


def _abs_instead_of_relu(features, weights, class_index):
    cam = np.abs(features @ weights[:, class_index])
    return cam / cam.max() if cam.max() > 0 else cam


def _unguarded(features, weights, class_index):
    cam = np.maximum(features @ weights[:, class_index], 0)
    with np.errstate(invalid="ignore"):
        return cam / cam.max()  # 0 / 0 = NaN on an all-zero map


def _min_max(features, weights, class_index):
    cam = np.maximum(features @ weights[:, class_index], 0)
    span = cam.max() - cam.min()
    return (cam - cam.min()) / span if span > 0 else np.zeros_like(cam)


def _not_normalized(features, weights, class_index):
    return np.maximum(features @ weights[:, class_index], 0)


def _row_instead_of_column(features, weights, class_index):
    cam = np.maximum(features @ weights[class_index], 0)
    return cam / cam.max()


def test_q1_cam_without_the_relu_is_incorrect():
    result = ex04.q1.grade(_without_relu)
    assert result.status == "incorrect"
    assert "case 1 of 6" in result.message  # the very first map has negative parts


@pytest.mark.parametrize("wrong", [_abs_instead_of_relu, _min_max, _not_normalized])
def test_q1_other_wrong_answers_are_incorrect(wrong):
    assert status(ex04.q1, wrong) == "incorrect"


def test_q1_nan_from_a_zero_map_is_reported():
    result = ex04.q1.grade(_unguarded)
    assert result.status == "incorrect"
    assert "NaN" in result.message and "division by zero" in result.message


def test_q1_a_row_of_the_weights_is_an_error_naming_the_shapes():
    result = ex04.q1.grade(_row_instead_of_column)
    assert result.status == "error"
    assert "ValueError" in result.message


def test_q1_a_loop_over_channels_is_correct():
    def cam_from_features(features, weights, class_index):
        cam = np.zeros(features.shape[:2], np.float32)
        for k in range(features.shape[-1]):
            cam += weights[k, class_index] * features[:, :, k]
        cam = np.maximum(cam, 0)
        return cam / cam.max() if cam.max() > 0 else cam

    assert status(ex04.q1, cam_from_features) == "correct"


def test_q1_a_function_that_changes_its_input_is_incorrect():
    def in_place(features, weights, class_index):
        np.maximum(features, 0, out=features)
        features *= 1.0 / max(features.max(), 1e-9)  # changes the caller's array
        cam = np.maximum(features @ weights[:, class_index], 0)
        return cam / cam.max() if cam.max() > 0 else cam

    result = ex04.q1.grade(in_place)
    assert result.status == "incorrect" and "changed its input" in result.message


# ----------------------------------------------------------------------------------------------------------
# q2: cam_batch

def test_q2_agrees_with_q1_image_by_image():
    for case in ex04.q2.cases:
        features, weights, classes = case.args
        per_image = [ex04._cam_from_features(f, weights, c) for f, c in zip(features, classes)]
        np.testing.assert_allclose(case.expected.value, np.stack(per_image), atol=1e-6)


def test_q2_one_maximum_for_the_whole_batch_is_incorrect():
    def batch_max(features, weights, class_indices):
        cams = np.maximum(np.einsum("nhwk,nk->nhw", features, weights[:, class_indices].T), 0)
        return cams / cams.max()

    assert status(ex04.q2, batch_max) == "incorrect"


def test_q2_the_first_class_for_every_image_is_incorrect():
    def first_class(features, weights, class_indices):
        return np.stack([ex04._cam_from_features(f, weights, class_indices[0]) for f in features])

    assert status(ex04.q2, first_class) == "incorrect"


def test_q2_without_the_relu_is_incorrect():
    def no_relu(features, weights, class_indices):
        cams = np.einsum("nhwk,nk->nhw", features, weights[:, class_indices].T)
        peaks = cams.max(axis=(1, 2), keepdims=True)
        return np.divide(cams, peaks, out=np.zeros_like(cams), where=peaks > 0)

    assert status(ex04.q2, no_relu) == "incorrect"


def test_q2_a_loop_over_images_is_correct():
    def cam_batch(features, weights, class_indices):
        return np.stack([ex04._cam_from_features(f, weights, c) for f, c in zip(features, class_indices)])

    assert status(ex04.q2, cam_batch) == "correct"


# ----------------------------------------------------------------------------------------------------------
# q3: upsample_cam

def test_q3_width_and_height_swapped_is_incorrect_with_the_shapes():
    def swapped(cam, height, width):
        return cv2.resize(cam, (height, width))

    result = ex04.q3.grade(swapped)
    assert result.status == "incorrect"
    assert "expected shape (20, 30), got (30, 20)" in result.message


@pytest.mark.parametrize("method", [cv2.INTER_NEAREST, cv2.INTER_CUBIC])
def test_q3_other_interpolations_are_incorrect(method):
    assert status(ex04.q3, lambda cam, height, width: cv2.resize(cam, (width, height), interpolation=method)) \
        == "incorrect"


def test_q3_tensorflow_bilinear_resize_is_correct():
    import tensorflow as tf

    def upsample_cam(cam, height, width):
        return tf.image.resize(cam[..., None], (height, width)).numpy()[..., 0]

    assert status(ex04.q3, upsample_cam) == "correct"


# ----------------------------------------------------------------------------------------------------------
# The answer key is the engine's CAM (camlab.cam) on a real model.

def test_references_agree_with_the_engine():
    import keras

    from camlab import cam
    from camlab.models import build_cam_model

    keras.utils.set_random_seed(3)
    model = build_cam_model(4, backbone="tiny", input_shape=(32, 32, 3))
    images = np.random.default_rng(0).uniform(0, 1, (3, 32, 32, 3)).astype(np.float32)
    classes = np.array([0, 2, 3])
    features = keras.Model(model.input, model.get_layer("block3_out").output)(images).numpy()
    kernel = model.get_layer("predictions").kernel.numpy()

    ours = ex04._cam_batch(features, kernel, classes)
    engine = cam.class_activation_map(model, images, class_index=classes)
    assert ours.shape == engine.shape == (3, 4, 4)
    assert ours.max() == pytest.approx(1.0)
    np.testing.assert_allclose(ours, engine, atol=1e-4)
    np.testing.assert_allclose(ex04._cam_from_features(features[1], kernel, 2), engine[1], atol=1e-4)

    resized = cam.class_activation_map(model, images, class_index=classes, size=(40, 24))
    np.testing.assert_allclose(ex04._upsample_cam(engine[0], 40, 24), resized[0], atol=1e-4)
