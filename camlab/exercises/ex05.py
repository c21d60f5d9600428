"""Exercises of notebook 05_grad_cam: Grad-CAM's channel weights, its map, and the whole method on a model.

- ``q1``: ``channel_weights(gradients)`` - gradients ``dy^c/dA`` (N, h, w, K) -> ``alpha`` (N, K): the spatial
  mean per image and channel (not over the batch axis).
- ``q2``: ``grad_cam_from_weights(activations, weights)`` - ``A`` (N, h, w, K) and ``alpha`` (N, K) ->
  ``ReLU(sum_k alpha_k A_k)`` divided by each map's own maximum (N, h, w); an all-zero map stays 0.
- ``q3``: ``compute_grad_cam(model, images, class_indices, layer_name)`` - the whole method with
  ``tf.GradientTape`` on a Keras model ending in ``avg_pool`` -> ``predictions``: the gradient of the
  pre-softmax score (the logit) of each image's class, at the layer's resolution (N, h, w).

The reference of ``q3`` is camlab's own ``camlab.cam.grad_cam``; ``q1`` and ``q2`` are its two steps
(``_grad_cam_weights`` and ``_combine``) written with NumPy on plain arrays.
"""
import numpy as np

from camlab.exercises.core import Case, Exercise, close, gives
from camlab.exercises.fixtures import BATCH_MISTAKES, grad_cam_maps as _grad_cam_from_weights, \
    grad_cam_variant as _grad_cam_variant, rng as _rng, tiny_grad_cam_model

NOTEBOOK = "05_grad_cam"


# ----------------------------------------------------------------------------------------------------------
# References

def _channel_weights(gradients):
    """``alpha_k^c = 1/(h w) sum_ij dy^c/dA_k^ij`` per image: mean over the two spatial axes -> (N, K)."""
    return np.asarray(gradients, np.float32).mean(axis=(1, 2))


def _compute_grad_cam(model, images, class_indices, layer_name):
    """camlab's Grad-CAM at the layer's own resolution, one class per image."""
    from camlab.cam import grad_cam

    return grad_cam(model, images, class_index=np.asarray(class_indices), layer=layer_name)


# ----------------------------------------------------------------------------------------------------------
# Cases

def _q1_cases(seed=10):
    rng = _rng(seed)
    batch = rng.normal(0.0, 1.0, (3, 4, 5, 6)).astype(np.float32)
    batch[1] += 2.0  # images differ: a mean over the batch axis is visibly wrong
    return [
        Case((batch,), label="gradients of 3 images, 4x5 positions, 6 channels"),
        Case((rng.normal(0.0, 1.0, (1, 7, 7, 4)).astype(np.float32),), label="a batch of one image"),
        Case((rng.normal(0.0, 1.0, (2, 3, 8, 5)).astype(np.float32),), label="2 images, 3x8 positions, 5 channels"),
        Case((np.zeros((2, 2, 2, 3), np.float32),), label="all-zero gradients"),
    ]


def _q2_cases(seed=11):
    rng = _rng(seed)
    a = np.maximum(rng.normal(0.2, 1.0, (3, 5, 6, 4)), 0.0).astype(np.float32)
    a[0] *= 8.0  # image 0's map is much larger: one maximum for the whole batch would flatten the others
    alpha = rng.normal(0.0, 1.0, (3, 4)).astype(np.float32)
    negative = -np.abs(alpha)
    zero_image = a.copy()
    zero_image[1] = 0.0
    return [
        Case((a, alpha), label="3 images, 5x6 positions, 4 channels, weights of both signs, image 0 brighter"),
        Case((a, negative), label="every weight negative (no positive evidence anywhere)"),
        Case((zero_image, alpha), label="image 1's activations all zero"),
        Case((a[2:] + 0.1, np.abs(alpha[2:])),
             label="a batch of one image, activations and weights all positive (the map's minimum is above 0)"),
    ]


def _q3_cases(seed=12):
    model = tiny_grad_cam_model(2)  # maps of these images and classes are partly positive at every layer
    images = _rng(seed).uniform(0.0, 1.0, (3, 32, 32, 3)).astype(np.float32)
    return [
        Case((model, images, np.array([0, 4, 2]), "block3_out"),
             label="a tiny model, 3 images, classes (0, 4, 2), layer block3_out"),
        Case((model, images[:2], np.array([2, 2]), "block2_out"),
             label="the same model, 2 images, class 2, layer block2_out"),
        Case((model, images[1:2], np.array([1]), "block1_out"), label="one image, class 1, layer block1_out"),
        Case((model, _positive_image(model, _rng(seed + 1)), np.array([1]), "block3_out"),
             label="one image whose class-1 map at block3_out is positive everywhere (its minimum is above 0)"),
    ]


def _positive_image(model, generator, tries=100):
    """A random image (1, 32, 32, 3) whose class-1 Grad-CAM map at block3_out has a minimum above 0.02 (about
    one random image in three): a min-max normalization differs from dividing by the maximum only on such maps."""
    from camlab.cam import grad_cam

    for _ in range(tries):
        image = generator.uniform(0.0, 1.0, (1, 32, 32, 3)).astype(np.float32)
        if grad_cam(model, image, class_index=np.array([1]), layer="block3_out").min() > 0.02:
            return image
    raise RuntimeError("no image with a positive map was found; change the seed of the case generator")


def _over_axes(axes, reduce=np.mean):
    return lambda gradients: reduce(np.asarray(gradients, np.float64), axis=axes)


_WEIGHT_MISTAKES = [
    (gives(_over_axes((1, 2), np.sum)), "These are sums over the positions: Grad-CAM's weight is their mean."),
    (gives(_over_axes((0, 1, 2))), "The mean looks taken over the batch axis too: average over rows and columns "
                                   "only, one row of weights per image."),
    (gives(lambda g: np.broadcast_to(np.asarray(g, np.float64).mean(axis=(0, 1, 2)), (len(g), np.shape(g)[-1]))),
     "Every image got the same weights (a mean over the batch): average over rows and columns only."),
    (gives(_over_axes((0, 1))), "The mean looks taken over axes (0, 1), the lesson's axes for ONE image: on a "
                                "batch, axis 0 holds images; average over axes (1, 2)."),
    (gives(_over_axes((2, 3))), "The mean looks taken over columns and channels: average over rows and columns "
                                "(axes 1 and 2), keep the channel axis."),
    (gives(_over_axes((1, 2), np.max)), "These are the largest gradients, not their mean over the positions."),
]


q1 = Exercise(
    name="Grad-CAM channel weights",
    func_name="channel_weights",
    cases=_q1_cases,
    reference=_channel_weights,
    hint=["Each channel gets one weight per image: how much, on average over the positions of the map, the "
          "class score rises with that channel. Which axes are positions, and which one holds different images?",
          "The axes are (image, row, column, channel); ndarray.mean (or tf.reduce_mean) takes an axis= tuple."],
    mistakes=_WEIGHT_MISTAKES,
    notebook=NOTEBOOK,
    compare=close(atol=1e-5),
    description="Write `channel_weights(gradients)`: (N, h, w, K) -> (N, K), the mean over positions per image.",
)

def _abs_maps(activations, weights):
    maps = np.abs(np.einsum("nhwk,nk->nhw", np.asarray(activations, np.float64), np.asarray(weights, np.float64)))
    peaks = maps.max(axis=(1, 2), keepdims=True)
    return np.divide(maps, peaks, out=np.zeros_like(maps), where=peaks > 0)


q2 = Exercise(
    name="Grad-CAM map from weights",
    func_name="grad_cam_from_weights",
    cases=_q2_cases,
    reference=_grad_cam_from_weights,
    hint=["Like CAM, but every image has its own channel weights: weigh and sum each image's channels, keep the "
          "positive part, and scale each map so that its own peak is 1 (an all-zero map stays 0).",
          "np.einsum (subscripts for image, row, column, channel) or broadcasting weights[:, None, None, :]; "
          "np.maximum; max over axis=(1, 2) with keepdims=True; np.divide(..., where=...)."],
    mistakes=[*BATCH_MISTAKES, (gives(_abs_maps), "Your maps keep the negative evidence as positive (np.abs?): "
                                                   "the ReLU, np.maximum(maps, 0), sets it to 0.")],
    notebook=NOTEBOOK,
    compare=close(atol=1e-5),
    description=("Write `grad_cam_from_weights(activations, weights)`: (N, h, w, K) and (N, K) -> (N, h, w) in "
                 "[0, 1]: ReLU of the weighted sum, each map divided by its maximum."),
)

def _predicted_class(model, images, class_indices, layer_name):
    """Grad-CAM of the class the model predicts instead of the one asked for."""
    predicted = np.argmax(np.asarray(model(np.asarray(images, np.float32))), axis=-1)
    return _grad_cam_variant()(model, images, predicted, layer_name)


def _other_resolution(expected, got, case):
    want, have = np.shape(expected), np.shape(got)
    return len(have) == 3 and have[0] == want[0] and have[1:] != want[1:]


_TAPE_MISTAKES = [
    (_other_resolution, "Your maps have another size than the layer's output: take the activations of the layer "
                        "named `layer_name` (model.get_layer(layer_name).output), not a fixed one."),
    (gives(_predicted_class, close(atol=1e-4, rtol=1e-3)),
     "These look like the maps of the class the model PREDICTS: use each image's class from `class_indices`."),
    (gives(_grad_cam_variant(score="softmax"), close(atol=1e-4, rtol=1e-3)),
     "These maps come from the gradient of the softmax probability: Grad-CAM differentiates the class score "
     "BEFORE the softmax (the logit, pooled @ kernel + bias)."),
    (gives(_grad_cam_variant(axes=(0, 1, 2)), close(atol=1e-4, rtol=1e-3)),
     "The channel weights look averaged over the batch too: average the gradients over rows and columns only."),
    *BATCH_MISTAKES,
]


q3 = Exercise(
    name="Grad-CAM with GradientTape",
    func_name="compute_grad_cam",
    cases=_q3_cases,
    reference=_compute_grad_cam,
    forbidden=[_compute_grad_cam, "camlab.cam.grad_cam"],
    hint=["You need two things from one forward pass: the chosen layer's activations and each image's class "
          "score before the softmax, with the tape watching so that it can give d(score)/d(activations). Then "
          "q1 and q2 do the rest.",
          "keras.Model(model.input, [...two layer outputs...]) as a probe; tf.GradientTape; the 'predictions' "
          "layer's kernel and bias give the logits from the 'avg_pool' output; tf.gather(..., batch_dims=1) "
          "picks one class per image; tape.gradient."],
    mistakes=_TAPE_MISTAKES,
    notebook=NOTEBOOK,
    compare=close(atol=1e-4, rtol=1e-3),
    description=("Write `compute_grad_cam(model, images, class_indices, layer_name)`: Grad-CAM maps (N, h, w) "
                 "at the layer's resolution, from the gradient of each image's class logit."),
)

EXERCISES = [q1, q2, q3]
