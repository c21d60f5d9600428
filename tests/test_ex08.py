"""The checkers of notebook 08 (the project: CAM, Grad-CAM, box, IoU) tell right answers from typical wrong ones.

The CAM and Grad-CAM cases run on ``ex08.tiny_cam_model()`` (16x16 input, built once per process).
"""
import cv2
import keras
import numpy as np
import pytest
import tensorflow as tf

import camlab
import camlab.boxes
import camlab.cam
import camlab.data
from camlab.exercises import ex08
from exercise_helpers import check_reference_is_delegation, unwatched_status


def _solution(exercise):
    namespace = {"np": np, "cv2": cv2, "keras": keras, "tf": tf, "camlab": camlab}
    exec(exercise.solution_source(), namespace)
    return namespace[exercise.func_name]


def _stub(*args, **kwargs):
    raise NotImplementedError()


def test_module_lists_its_exercises():
    assert ex08.EXERCISES == [ex08.q1, ex08.q2, ex08.q3, ex08.q4]
    assert [q.func_name for q in ex08.EXERCISES] == ["generate_cam", "generate_grad_cam", "get_bbox", "get_iou"]


def test_tiny_model_is_the_same_every_time_and_has_the_course_names():
    model = ex08.tiny_cam_model()
    assert ex08.tiny_cam_model() is model
    for name in ("block1_out", "block2_out", "avg_pool", "predictions"):
        model.get_layer(name)
    assert camlab.cam.find_feature_layer(model, for_cam=True).name == "block2_out"
    rebuilt = ex08.tiny_cam_model.__wrapped__(8)  # a fresh build gives the same weights
    for a, b in zip(model.get_weights(), rebuilt.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("exercise", [ex08.q1, ex08.q2, ex08.q3, ex08.q4], ids=lambda q: q.func_name)
def test_stubs_are_not_attempted(exercise):
    assert exercise.grade(_stub).status == "not_attempted"


@pytest.mark.parametrize("exercise", [ex08.q1, ex08.q2, ex08.q3, ex08.q4], ids=lambda q: q.func_name)
def test_shown_solutions_are_correct(exercise):
    assert exercise.grade(_solution(exercise)).status == "correct"


def test_references_are_camlabs_functions():
    pairs = ((ex08.q1, camlab.cam.generate_cam), (ex08.q2, camlab.cam.generate_grad_cam),
             (ex08.q3, camlab.boxes.get_bbox), (ex08.q4, camlab.boxes.iou))
    for exercise, fn in pairs:
        assert unwatched_status(exercise, fn) == "correct"
        check_reference_is_delegation(exercise, fn)


def test_map_cases_are_at_the_items_size_in_0_1_with_negative_evidence_somewhere():
    model = ex08.tiny_cam_model()
    for case in ex08.q1.cases:
        _, item = case.args
        cam = case.expected.value
        assert cam.shape == item["image"].shape[:2]
        assert cam.min() >= 0.0
        if "stays all zero" in case.label:
            assert cam.max() == 0.0  # a divide-by-max without a check gives NaN here
        else:
            assert cam.max() == pytest.approx(1.0, abs=0.05)
    # Without a ReLU some pixels would be negative: the cases can tell the difference.
    _, item = ex08.q1.cases[0].args
    image, label = camlab.data.normalize_and_resize_img(item, (16, 16))
    features = keras.Model(model.input, model.get_layer("avg_pool").input)(image[None])[0].numpy()
    raw = features @ model.get_layer("predictions").kernel.numpy()[:, int(label)]
    assert raw.min() < 0 < raw.max()


# ----------------------------------------------------------------------------------------------------------
# q1 / q2: typical mistakes

def _features(model, layer, item):
    image, label = camlab.data.normalize_and_resize_img(item, model.input_shape[1:3])
    return image, int(label)


def _finish(cam, item, relu=True):
    cam = np.maximum(cam, 0.0) if relu else cam
    cam = cam / cam.max() if cam.max() > 0 else cam
    height, width = item["image"].shape[:2]
    return cv2.resize(np.asarray(cam, np.float32), (width, height))


def test_q1_cam_without_the_relu_is_incorrect():
    def generate_cam(model, item):
        image, label = _features(model, None, item)
        features = keras.Model(model.input, model.get_layer("avg_pool").input)(image[None])[0].numpy()
        cam = features @ model.get_layer("predictions").kernel.numpy()[:, label]
        return _finish(cam, item, relu=False)

    result = ex08.q1.grade(generate_cam)
    assert result.status == "incorrect"
    assert "values differ" in result.message


def test_q1_dividing_an_all_zero_map_by_its_max_is_incorrect():
    def generate_cam(model, item):
        image, label = _features(model, None, item)
        features = keras.Model(model.input, model.get_layer("avg_pool").input)(image[None])[0].numpy()
        cam = np.maximum(features @ model.get_layer("predictions").kernel.numpy()[:, label], 0)
        with np.errstate(invalid="ignore"):
            cam = cam / cam.max()
        height, width = item["image"].shape[:2]
        return cv2.resize(cam, (width, height))

    result = ex08.q1.grade(generate_cam)
    assert result.status == "incorrect"
    assert "NaN" in result.message and "stays all zero" in result.message


def test_q1_cam_of_the_predicted_class_instead_of_the_label_is_incorrect():
    def generate_cam(model, item):
        image, _ = _features(model, None, item)
        features, probs = keras.Model(model.input, [model.get_layer("avg_pool").input, model.output])(image[None])
        label = int(np.argmax(probs[0]))
        return _finish(features[0].numpy() @ model.get_layer("predictions").kernel.numpy()[:, label], item)

    assert ex08.q1.grade(generate_cam).status == "incorrect"


def test_q1_map_left_at_feature_size_is_incorrect():
    def generate_cam(model, item):
        image, label = _features(model, None, item)
        features = keras.Model(model.input, model.get_layer("avg_pool").input)(image[None])[0].numpy()
        cam = np.maximum(features @ model.get_layer("predictions").kernel.numpy()[:, label], 0)
        return cam / cam.max()

    result = ex08.q1.grade(generate_cam)
    assert result.status == "incorrect"
    assert "expected shape (20, 28), got (4, 4)" in result.message


def _grad_cam(mistake=None):
    def generate_grad_cam(model, activation_layer, item):
        image, label = _features(model, activation_layer, item)
        probe = keras.Model(model.input, [model.get_layer(activation_layer).output,
                                           model.get_layer("avg_pool").output, model.output])
        dense = model.get_layer("predictions")
        with tf.GradientTape() as tape:
            features, pooled, probs = probe(image[None])
            score = probs[:, label] if mistake == "softmax" else (pooled @ dense.kernel + dense.bias)[:, label]
        grads = tape.gradient(score, features)  # (1, h, w, K)
        if mistake == "batch_axis":
            weights = tf.reduce_mean(grads, axis=(0, 1))  # the lesson's axes on the 4-D tensor: batch and rows
        else:
            weights = tf.reduce_mean(grads[0], axis=(0, 1))
        cam = tf.reduce_sum(features[0] * weights, axis=-1).numpy()
        return _finish(cam, item, relu=mistake != "no_relu")

    return generate_grad_cam


def test_q2_loop_free_variant_written_here_is_correct():
    assert ex08.q2.grade(_grad_cam()).status == "correct"


@pytest.mark.parametrize("mistake", ["softmax", "batch_axis", "no_relu"])
def test_q2_typical_wrong_answers_are_incorrect(mistake):
    result = ex08.q2.grade(_grad_cam(mistake))
    assert result.status == "incorrect", result


def test_q2_grad_cam_equals_cam_on_the_last_layer_of_a_gap_dense_model():
    # Why the notebook can say "same boxes": dy_c/dA_k = w_k^c / (h w) everywhere for GAP -> Dense.
    _, item = ex08.q1.cases[0].args
    model = ex08.tiny_cam_model()
    np.testing.assert_allclose(camlab.cam.generate_grad_cam(model, "block2_out", item),
                               camlab.cam.generate_cam(model, item), atol=1e-5)


# ----------------------------------------------------------------------------------------------------------
# q3: get_bbox

def _get_bbox(mistake=None):
    def get_bbox(cam, score_thresh=0.05):
        if mistake == "in_place":
            cam[cam <= score_thresh] = 0  # the lesson's line
            mask = (cam * 255).astype(np.uint8)
        else:
            mask = (np.asarray(cam) > score_thresh).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if mistake == "first_contour":
            chosen = contours[0] if contours else None
        else:
            chosen = max(contours, key=cv2.contourArea) if contours else None
        if chosen is None:
            return None
        return cv2.boxPoints(cv2.minAreaRect(chosen)).astype(np.int32)

    return get_bbox


def test_q3_contours0_instead_of_the_largest_is_incorrect():
    result = ex08.q3.grade(_get_bbox("first_contour"))
    assert result.status == "incorrect"
    assert "take the largest region" in result.message or "contours[0]" in result.message


def test_q3_changing_the_input_is_incorrect():
    result = ex08.q3.grade(_get_bbox("in_place"))
    assert result.status == "incorrect"
    assert "changed its input" in result.message


def test_q3_crash_on_an_empty_map_is_an_error():
    def get_bbox(cam, score_thresh=0.05):
        contours, _ = cv2.findContours((np.asarray(cam) > score_thresh).astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        return cv2.boxPoints(cv2.minAreaRect(max(contours, key=cv2.contourArea))).astype(np.int32)

    result = ex08.q3.grade(get_bbox)
    assert result.status == "error"
    assert "all-zero map" in result.message


def test_q3_corners_in_another_order_or_rounded_are_correct():
    def get_bbox(cam, score_thresh=0.05):
        corners = camlab.boxes.get_bbox(cam, score_thresh)
        return None if corners is None else corners[::-1].astype(np.float64) + 0.4

    assert unwatched_status(ex08.q3, get_bbox) == "correct"


def test_q3_corner_comparator_messages():
    square = np.array([[0, 0], [4, 0], [4, 4], [0, 4]])
    assert ex08._corners_close(square, square[[2, 0, 3, 1]]) is None
    assert "expected None" in ex08._corners_close(None, square)
    assert "shape (2, 2)" in ex08._corners_close(square, square[:2])
    assert "any order" in ex08._corners_close(square, square + 3)


# ----------------------------------------------------------------------------------------------------------
# q4: get_iou

def test_q4_without_the_clamp_is_incorrect():
    def get_iou(gt_bbox, pred_bbox):
        inter = (min(gt_bbox[2], pred_bbox[2]) - max(gt_bbox[0], pred_bbox[0])) * \
            (min(gt_bbox[3], pred_bbox[3]) - max(gt_bbox[1], pred_bbox[1]))
        union = (gt_bbox[2] - gt_bbox[0]) * (gt_bbox[3] - gt_bbox[1]) + \
            (pred_bbox[2] - pred_bbox[0]) * (pred_bbox[3] - pred_bbox[1]) - inter
        return inter / union if union else 0.0

    assert ex08.q4.grade(get_iou).status == "incorrect"


def test_q4_x_and_y_mixed_up_is_incorrect():
    def get_iou(gt_bbox, pred_bbox):  # reads the boxes as (x_min, x_max, y_min, y_max)
        inter = max(0.0, min(gt_bbox[1], pred_bbox[1]) - max(gt_bbox[0], pred_bbox[0])) * \
            max(0.0, min(gt_bbox[3], pred_bbox[3]) - max(gt_bbox[2], pred_bbox[2]))
        union = (gt_bbox[1] - gt_bbox[0]) * (gt_bbox[3] - gt_bbox[2]) + \
            (pred_bbox[1] - pred_bbox[0]) * (pred_bbox[3] - pred_bbox[2]) - inter
        return inter / union if union else 0.0

    assert ex08.q4.grade(get_iou).status == "incorrect"


def test_model_cases_cross_to_a_kernel_as_files_and_answers_come_back_as_data(tmp_path):
    from camlab.exercises.core import run_cases
    from camlab.grading import transport

    cases = ex08.q1.cases + ex08.q1.hidden_cases(3)
    transport.write_data([[list(c.args), dict(c.kwargs)] for c in cases], tmp_path / "in", models=True)
    assert sorted(p.suffix for p in (tmp_path / "in").iterdir()).count(".keras") == 1  # one model, saved once
    received = transport.read_data(tmp_path / "in", models=True)  # what the kernel sees
    model, item = received[0][0]
    assert isinstance(model, keras.Model) and model.get_layer("block2_out") is not None
    assert isinstance(item["label"], np.int64) and item["image"].dtype == np.uint8
    outputs = run_cases(_solution(ex08.q1), [ex08.Case(tuple(a), k) for a, k in received], ex08.q1.forbidden)
    transport.write_data(outputs, tmp_path / "out")
    back = transport.read_data(tmp_path / "out")  # what the grader reads: no models, plain data
    result = ex08.q1.judge(back, cases, hidden=len(cases) - len(ex08.q1.cases), scope="graded")
    assert result.status == "correct", result
    assert result.message == "`generate_cam` passed all 4 public and 4 hidden cases."
