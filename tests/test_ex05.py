"""The checkers of notebook 05 (Grad-CAM) tell right answers from the typical wrong ones; q3's answer key is
camlab.cam.grad_cam on a tiny model."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from camlab.exercises import ex05
from exercise_helpers import check_reference_and_solution, check_stub_not_attempted, status


def test_module_lists_its_exercises():
    assert ex05.EXERCISES == [ex05.q1, ex05.q2, ex05.q3]
    assert [q.func_name for q in ex05.EXERCISES] == ["channel_weights", "grad_cam_from_weights", "compute_grad_cam"]


@pytest.mark.parametrize("exercise", ex05.EXERCISES, ids=lambda q: q.func_name)
def test_shown_solutions_are_correct(exercise):
    check_reference_and_solution(exercise, tf=tf, keras=keras)


@pytest.mark.parametrize("exercise", ex05.EXERCISES, ids=lambda q: q.func_name)
def test_an_untouched_stub_is_not_attempted(exercise):
    check_stub_not_attempted(exercise)


# ----------------------------------------------------------------------------------------------------------
# q1: channel_weights

def test_q1_known_answer():
    gradients = np.zeros((2, 2, 2, 1), np.float32)
    gradients[0, :, :, 0] = [[1, 2], [3, 6]]
    gradients[1, :, :, 0] = [[-4, 0], [0, 0]]
    np.testing.assert_allclose(ex05._channel_weights(gradients), [[3.0], [-1.0]])


def test_q1_averaging_over_the_batch_axis_is_incorrect():
    result = ex05.q1.grade(lambda gradients: gradients.mean(axis=(0, 1, 2)))
    assert result.status == "incorrect"
    assert "expected shape (3, 6), got (6,)" in result.message


def test_q1_the_lessons_axes_on_a_batch_are_incorrect():
    """The lesson averaged axis=(0, 1) of one image's gradients; on a batch that mixes images and rows."""
    assert status(ex05.q1, lambda gradients: gradients.mean(axis=(0, 1))) == "incorrect"


def test_q1_batch_mean_broadcast_back_to_every_image_is_incorrect():
    """Same shape as the answer, so only the values can tell: image 1's gradients are shifted in case 1."""
    def broadcast(gradients):
        return np.broadcast_to(gradients.mean(axis=(0, 1, 2)), (gradients.shape[0], gradients.shape[-1]))

    result = ex05.q1.grade(broadcast)
    assert result.status == "incorrect" and "case 1 of 4" in result.message


def test_q1_sum_instead_of_mean_is_incorrect():
    assert status(ex05.q1, lambda gradients: gradients.sum(axis=(1, 2))) == "incorrect"


def test_q1_tensorflow_and_loop_variants_are_correct():
    def with_tf(gradients):
        return tf.reduce_mean(gradients, axis=(1, 2)).numpy()

    def with_loops(gradients):
        n, h, w, k = gradients.shape
        out = np.zeros((n, k))
        for i in range(n):
            for c in range(k):
                out[i, c] = gradients[i, :, :, c].sum() / (h * w)
        return out

    assert status(ex05.q1, with_tf) == "correct"
    assert status(ex05.q1, with_loops) == "correct"


# ----------------------------------------------------------------------------------------------------------
# q2: grad_cam_from_weights

def test_q2_known_answer():
    activations = np.zeros((1, 1, 3, 2), np.float32)
    activations[0, 0] = [[1, 0], [0, 1], [1, 1]]
    np.testing.assert_allclose(ex05._grad_cam_from_weights(activations, np.array([[2.0, -1.0]])),
                               [[[1.0, 0.0, 0.5]]])


def test_q2_without_the_relu_is_incorrect():
    def no_relu(activations, weights):
        maps = np.einsum("nhwk,nk->nhw", activations, weights)
        return maps / maps.max(axis=(1, 2), keepdims=True)

    assert status(ex05.q2, no_relu) == "incorrect"


def test_q2_one_maximum_for_the_batch_is_incorrect():
    def batch_max(activations, weights):
        maps = np.maximum(np.einsum("nhwk,nk->nhw", activations, weights), 0)
        return maps / maps.max()

    result = ex05.q2.grade(batch_max)
    assert result.status == "incorrect" and "case 1 of 4" in result.message


def test_q2_nan_on_a_zero_map_is_reported():
    def unguarded(activations, weights):
        maps = np.maximum(np.einsum("nhwk,nk->nhw", activations, weights), 0)
        with np.errstate(invalid="ignore"):
            return maps / maps.max(axis=(1, 2), keepdims=True)

    result = ex05.q2.grade(unguarded)
    assert result.status == "incorrect" and "NaN" in result.message


def test_q2_a_loop_over_images_is_correct():
    def loop(activations, weights):
        out = []
        for a, w in zip(activations, weights):
            m = np.maximum((a * w).sum(axis=-1), 0)
            out.append(m / m.max() if m.max() > 0 else m)
        return np.stack(out)

    assert status(ex05.q2, loop) == "correct"


# ----------------------------------------------------------------------------------------------------------
# q3: compute_grad_cam (one tiny model, built once for all these tests)

def _grad_cam_variant(score="logit", batch_mean=False, relu=True):
    """A learner's Grad-CAM, with one of the typical mistakes switched on."""
    return ex05._grad_cam_variant(score=score, axes=(0, 1, 2) if batch_mean else (1, 2), relu=relu)


def test_q3_cases_are_real_maps_at_each_layers_resolution():
    expected = [case.expected.value for case in ex05.q3.cases]
    assert [e.shape for e in expected] == [(3, 4, 4), (2, 8, 8), (1, 16, 16), (1, 4, 4)]
    assert expected[3].min() > 0.02  # positive everywhere: min-max normalization would differ
    for maps in expected[:3]:
        assert maps.dtype == np.float32
        np.testing.assert_allclose(maps.max(axis=(1, 2)), 1.0, atol=1e-6)  # no map is empty
        positive = (maps > 0).mean(axis=(1, 2))
        assert (positive > 0.15).all() and (positive < 0.9).all()  # the ReLU cuts every map: it matters
        assert maps.min() >= 0.0


def test_q3_a_variant_written_with_a_tape_is_correct():
    assert status(ex05.q3, _grad_cam_variant()) == "correct"


@pytest.mark.parametrize("mistake", [dict(score="softmax"), dict(batch_mean=True), dict(relu=False)],
                         ids=["softmax-output", "batch-mean", "no-relu"])
def test_q3_typical_mistakes_are_incorrect(mistake):
    assert status(ex05.q3, _grad_cam_variant(**mistake)) == "incorrect"


def test_q3_ignoring_the_layer_argument_is_incorrect():
    wrong = _grad_cam_variant()
    assert status(ex05.q3, lambda model, images, classes, layer: wrong(model, images, classes, "block3_out")) \
        == "incorrect"


def test_q3_for_the_last_layer_grad_cam_is_cam():
    """With GAP -> Dense, dy^c/dA_k(i, j) = W[k, c] / (h w): Grad-CAM's weights are CAM's, scaled."""
    from camlab import cam

    model, images, classes, layer = ex05.q3.cases[0].args
    np.testing.assert_allclose(ex05.q3.cases[0].expected.value,
                               cam.class_activation_map(model, images, class_index=classes), atol=1e-4)


def test_q3_handing_in_camlabs_grad_cam_is_caught():
    from camlab import cam
    from exercise_helpers import check_reference_is_delegation

    check_reference_is_delegation(
        ex05.q3, lambda model, images, classes, layer: cam.grad_cam(model, images, class_index=classes, layer=layer))
