"""One batched engine for CAM, Grad-CAM, Grad-CAM++, LayerCAM and Score-CAM.

Every method is the same four steps (the structure of pytorch-grad-cam's ``BaseCAM``); a method only
supplies step 2:

1. One forward pass of a *probe* model - built once per (model, layer) and cached - gives, for the whole
   batch, the feature map ``A`` (N, h, w, K), the pre-softmax class scores ``y`` (N, classes) and the
   model's probabilities. Gradient methods record that pass on one tape and get ``dy^c/dA`` in one
   backward pass.
2. The method's weights: one per channel, ``w`` (N, 1, 1, K), computed per image; LayerCAM's are
   element-wise (N, h, w, K).
3. ``M = ReLU(sum_k w_k * A_k)``, divided by its own maximum (an all-zero map stays zero).
4. Optionally resized (bilinear) to ``size``.

Images are a batch (N, H, W, C) or one image (H, W, C) of float RGB in [0, 1] at the model's input size
(the model holds any backbone preprocessing). This module knows nothing about boxes.
"""
import collections
import logging
import weakref

import numpy as np
import tensorflow as tf
import keras

CamResult = collections.namedtuple("CamResult", ["maps", "probabilities", "class_index", "layer"])
CamResult.__doc__ = """What `compute_maps` returns, all from one forward pass.

maps: float32 (N, h, w) in [0, 1] (or (h, w) for a single image); probabilities: the model's softmax
output (N, classes); class_index: the class each map explains (N,); layer: the feature layer's name.
"""

# Layers that are the identity at inference: allowed between the feature map, the GAP and the Dense for CAM.
_INFERENCE_IDENTITY = tuple(
    getattr(keras.layers, name)
    for name in ("Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "Identity",
                 "ActivityRegularization")
    if hasattr(keras.layers, name)  # a Keras release may retire one
)

class _ProbeTracingFilter(logging.Filter):
    """Each (model, layer) probe traces its own tf.functions once, by design; TensorFlow's "triggered
    tf.function retracing" warning about them (with a memory address in it) is noise, so it is dropped.
    Retracing warnings about any other function still show."""

    def filter(self, record):
        message = record.getMessage()
        return not ("tf.function retracing" in message and "_Probe." in message)


tf.get_logger().addFilter(_ProbeTracingFilter())

# model -> {layer: _Probe}; weak, so a probe never keeps a model alive.
_PROBES = weakref.WeakKeyDictionary()


# ----------------------------------------------------------------------------------------------------------
# Finding layers in a Keras graph
# ----------------------------------------------------------------------------------------------------------


def _producer(tensor):
    """The layer that produced a symbolic Keras tensor (Keras records it as ``_keras_history``)."""
    return tensor._keras_history.operation


def _output_rank(layer):
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError, RuntimeError):  # never called, or called more than once
        return None


def _walk(model, containers=()):
    """Yield ``(layer, containers)`` for every layer, nested models included (containers: outermost first)."""
    containers = containers + (model,)
    for layer in model.layers:
        yield layer, containers
        if isinstance(layer, keras.Model):
            yield from _walk(layer, containers)


def _candidates(model):
    """Names of the layers with a 4-D output: the feature maps CAM methods can use."""
    return [
        layer.name
        for layer, _ in _walk(model)
        if not isinstance(layer, keras.layers.InputLayer) and _output_rank(layer) == 4
    ]


def _innermost(layer):
    """A nested model stands for the layer that produces its output."""
    while isinstance(layer, keras.Model):
        layer = _producer(layer.outputs[0])
    return layer


def _skip_back(layer, kinds):
    """Step backwards from ``layer`` over layers of the given kinds."""
    while isinstance(layer, kinds):
        layer = _innermost(_producer(layer.input))
    return layer


def _is_softmax(layer):
    if isinstance(layer, keras.layers.Softmax):
        return True
    return isinstance(layer, (keras.layers.Activation, keras.layers.Dense)) and (
        getattr(layer.activation, "__name__", "") == "softmax"
    )


def _classifier(model):
    """How to read the pre-softmax class scores off ``model``'s graph.

    Returns ``(mode, layer, ends_in_softmax)``:
    ``("dense", dense)``: scores = dense's pre-activation ``x @ W + b`` (x = the Dense's input);
    ``("input", act)``: scores = the input of a final softmax Activation / Softmax layer;
    ``("output", None)``: the model's output is taken as the scores.
    """
    last = _producer(model.outputs[0])
    if isinstance(last, keras.layers.Dense):
        return "dense", last, _is_softmax(last)
    if _is_softmax(last):
        return "input", last, True
    return "output", None, False


def _cam_layer(model):
    """The feature layer of a ``feature map -> GlobalAveragePooling2D -> Dense`` head, or a ValueError."""
    mode, head, _ = _classifier(model)
    dense = head if mode == "dense" else None
    if mode == "input":
        before = _skip_back(_innermost(_producer(head.input)), _INFERENCE_IDENTITY)
        if isinstance(before, keras.layers.Dense) and getattr(before.activation, "__name__", "") == "linear":
            dense = before
    why = None
    if dense is None:
        why = "its output does not come from a Dense layer"
    else:
        pool = _skip_back(_innermost(_producer(dense.input)), _INFERENCE_IDENTITY)
        if not isinstance(pool, keras.layers.GlobalAveragePooling2D) or pool.keepdims:
            why = f"the Dense layer {dense.name!r} is fed by {pool.name!r}, not by a GlobalAveragePooling2D"
        else:
            return _skip_back(_innermost(_producer(pool.input)), _INFERENCE_IDENTITY), dense
    raise ValueError(
        f"CAM needs a model that ends in feature map -> GlobalAveragePooling2D -> Dense, so that the "
        f"Dense weights weigh the feature-map channels; model {model.name!r} does not ({why}). "
        f"Use grad_cam, which works on any layer of any differentiable model."
    )


def find_feature_layer(model, for_cam=False):
    """The layer maps are taken from by default.

    ``for_cam=True``: the layer whose output feeds the GlobalAveragePooling2D before the final Dense (the
    only layer CAM's weights fit; ValueError when there is none). Otherwise: the last layer with a 4-D
    output, looking inside a nested backbone model.
    """
    if for_cam:
        return _cam_layer(model)[0]
    found = None
    for layer in model.layers:
        if not isinstance(layer, keras.layers.InputLayer) and _output_rank(layer) == 4:
            found = layer
    if found is None:
        raise ValueError(f"Model {model.name!r} has no layer with a 4-D (N, h, w, K) output to take maps from.")
    return find_feature_layer(found) if isinstance(found, keras.Model) else found


def _locate(model, layer):
    """``(layer, containers)`` for a layer given by name or object; containers: the models holding it."""
    for candidate, containers in _walk(model):
        if candidate is layer or (isinstance(layer, str) and candidate.name == layer):
            break
    else:
        if isinstance(layer, str):
            raise KeyError(
                f"No layer named {layer!r} in model {model.name!r}. Layers with a 4-D output you can "
                f"take maps from: {', '.join(_candidates(model))}"
            )
        raise ValueError(f"Layer {getattr(layer, 'name', layer)!r} is not part of model {model.name!r}.")
    while isinstance(candidate, keras.Model):  # a nested model stands for the layer producing its output
        containers, candidate = containers + (candidate,), _producer(candidate.outputs[0])
    if _output_rank(candidate) != 4:
        raise ValueError(
            f"Layer {candidate.name!r} outputs shape {tuple(candidate.output.shape)}, but maps need a 4-D "
            f"feature map (N, h, w, K). Candidates: {', '.join(_candidates(model))}"
        )
    return candidate, containers[1:]


# ----------------------------------------------------------------------------------------------------------
# The probe: model inputs -> [feature map, scores source, model output]
# ----------------------------------------------------------------------------------------------------------


def _single(tensors):
    if len(tensors) != 1:
        raise ValueError(f"CAM methods need a model with one input and one output, not {len(tensors)}.")
    return tensors[0]


def _tapped(model, containers, target, head=None):
    """A keras.Model: model's input -> [target's output, head's input (or the output), model's output].

    A layer inside a nested model is not reachable from the outer graph, so for that case the outer graph
    is rebuilt by calling its own layers again (shared, not copied) on a new Input, with the nested model
    replaced by its own tapped model that also returns the feature map.
    """
    if not containers:
        side = head.input if head is not None else model.outputs[0]
        return keras.Model(_single(model.inputs), [target.output, side, _single(model.outputs)])
    inner = containers[0]
    inner_tapped = _tapped(inner, containers[1:], target)
    taps = {}

    def call(layer, *args, **kwargs):
        if layer is inner:
            taps["feature"], _, out = inner_tapped(*args, **kwargs)
            return out
        if layer is head:
            taps["side"] = args[0]
        return layer(*args, **kwargs)

    if isinstance(model, keras.Sequential):  # clone_model's call_function is for functional models only
        inputs = keras.Input(shape=model.input_shape[1:])
        outputs = inputs
        for layer in model.layers:
            outputs = call(layer, outputs)
    else:
        clone = keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call)
        inputs, outputs = _single(clone.inputs), _single(clone.outputs)
    return keras.Model(inputs, [taps["feature"], taps.get("side", outputs), outputs])


class _Probe:
    """Everything the engine needs for one (model, layer), built once and cached in ``_PROBES``."""

    def __init__(self, model, layer, containers):
        self.layer = layer  # no reference to the model itself: the cache must not keep it alive
        self.mode, self.head, self.ends_in_softmax = _classifier(model)
        self.tapped = _tapped(model, containers, layer, self.head if self.mode != "output" else None)
        self.num_classes = int(model.outputs[0].shape[-1])
        self.cam_dense = None
        self.forward = tf.function(self._forward, reduce_retracing=True)
        self.gradients = tf.function(self._gradients, reduce_retracing=True)
        self.masked_scores = tf.function(self._masked_scores, reduce_retracing=True)

    def check_cam(self, model):
        """Find the Dense whose weights weigh this layer's channels (ValueError if the layer is not CAM's)."""
        if self.cam_dense is None:
            cam_layer, dense = _cam_layer(model)
            if _innermost(self.layer) is not cam_layer:
                raise ValueError(
                    f"CAM weighs the channels of the feature map that feeds GlobalAveragePooling2D -> Dense "
                    f"({cam_layer.name!r}); layer {self.layer.name!r} is not that one. Use grad_cam for "
                    f"other layers."
                )
            self.cam_dense = dense

    def _scores(self, side, output):
        """Pre-softmax class scores y and the model's probabilities."""
        if self.mode == "dense":
            logits = tf.matmul(side, tf.cast(self.head.kernel, side.dtype))
            if self.head.use_bias:
                logits += tf.cast(self.head.bias, side.dtype)
        else:
            logits = side
        probabilities = output if self.ends_in_softmax else tf.nn.softmax(logits)
        return tf.cast(logits, tf.float32), tf.cast(probabilities, tf.float32)

    def _forward(self, images, class_index):
        feature, side, output = self.tapped(images, training=False)
        logits, probabilities = self._scores(side, output)
        predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
        class_index = tf.where(class_index < 0, predicted, class_index)
        return tf.cast(feature, tf.float32), logits, probabilities, class_index

    def _gradients(self, images, class_index):
        # Watching the input (not the variables) records every op after it, frozen layers included.
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(images)
            feature, side, output = self.tapped(images, training=False)
            logits, probabilities = self._scores(side, output)
            predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
            class_index = tf.where(class_index < 0, predicted, class_index)
            # Images are independent at inference, so d(sum_n y_n^{c_n})/dA_n = dy_n^{c_n}/dA_n per image.
            score = tf.reduce_sum(tf.gather(logits, class_index, batch_dims=1))
        grads = tape.gradient(score, feature, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return (tf.cast(feature, tf.float32), logits, probabilities, class_index, tf.cast(grads, tf.float32))

    def _masked_scores(self, images, channels, owner, class_index):
        """Score-CAM's p^c(X * H_k) for a chunk of (image, channel) pairs: channels (B, h, w, 1) of the
        images ``owner`` (B,), upsampled to the input size, min-max normalized, masking their image."""
        masks = tf.image.resize(channels, tf.shape(images)[1:3], method="bilinear")
        low = tf.reduce_min(masks, axis=(1, 2, 3), keepdims=True)
        high = tf.reduce_max(masks, axis=(1, 2, 3), keepdims=True)
        masks = tf.math.divide_no_nan(masks - low, high - low)  # a constant channel masks everything out
        _, side, output = self.tapped(tf.gather(images, owner) * masks, training=False)
        return tf.gather(self._scores(side, output)[1], tf.gather(class_index, owner), batch_dims=1)


def _probe_for(model, layer, for_cam):
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, not {type(model).__name__}.")
    if layer is None:
        layer = find_feature_layer(model, for_cam=for_cam)
    layer, containers = _locate(model, layer)
    probes = _PROBES.setdefault(model, {})
    if layer not in probes:
        probes[layer] = _Probe(model, layer, containers)
    return probes[layer]


# ----------------------------------------------------------------------------------------------------------
# Channel weights: the only thing a method supplies
# ----------------------------------------------------------------------------------------------------------

_Pass = collections.namedtuple("_Pass", ["probe", "images", "activations", "gradients", "class_index"])


def _cam_weights(run):
    """CAM (Zhou et al., CVPR 2016): ``M_c = sum_k w_k^c A_k``, w = the column of the final Dense kernel
    for class c (the Dense that follows GlobalAveragePooling2D). The bias is constant over space: left out."""
    kernel = tf.cast(run.probe.cam_dense.kernel, tf.float32)  # (K, classes)
    return tf.gather(tf.transpose(kernel), run.class_index)[:, None, None, :]


def _grad_cam_weights(run):
    """Grad-CAM (Selvaraju et al., ICCV 2017): ``w_k^c = 1/(h w) sum_ij dy^c/dA_k^ij``, y^c the class's
    pre-softmax score, averaged over space per image."""
    return tf.reduce_mean(run.gradients, axis=(1, 2), keepdims=True)


def _grad_cam_plus_plus_weights(run):
    """Grad-CAM++ (Chattopadhyay et al., WACV 2018, Eq. 19): with Y = exp(y^c) and g = dy^c/dA, the
    higher derivatives of Y are Y g^2 and Y g^3, so

        alpha_k^ij = g_ij^2 / (2 g_ij^2 + g_ij^3 sum_ab A_k^ab)      (0 where the denominator is 0)
        w_k^c = sum_ij alpha_k^ij ReLU(g_ij)                          (the positive factor Y dropped).
    """
    g = run.gradients
    g2 = tf.square(g)
    spatial_sum = tf.reduce_sum(run.activations, axis=(1, 2), keepdims=True)
    alpha = tf.math.divide_no_nan(g2, 2.0 * g2 + spatial_sum * g2 * g)
    return tf.reduce_sum(alpha * tf.nn.relu(g), axis=(1, 2), keepdims=True)


def _layer_cam_weights(run):
    """LayerCAM (Jiang et al., IEEE TIP 2021): element-wise weights ``w_k^ij = ReLU(dy^c/dA_k^ij)``,
    so ``M = ReLU(sum_k ReLU(g_k) * A_k)``."""
    return tf.nn.relu(run.gradients)


def _score_cam_weights(run, batch_size=32):
    """Score-CAM (Wang et al., CVPRW 2020): each channel, upsampled to the input size and min-max normalized
    to [0, 1], masks the input: ``H_k = norm(up(A_k))``, ``s_k = p^c(X * H_k)`` with p^c the class
    probability (the model's softmax output, as the authors' implementation scores the masked inputs);
    then ``w^c = softmax_k(s_k)`` over channels (Algorithm 1). The paper's baseline term p^c(X_b) is the
    same for every channel and softmax ignores constant shifts, so it drops out. The N*K masked images go
    through the model ``batch_size`` at a time."""
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    batch_size = int(batch_size)
    n, h, w, k = run.activations.shape
    channels = tf.reshape(tf.transpose(run.activations, (0, 3, 1, 2)), (n * k, h, w, 1))
    owner = tf.repeat(tf.range(n), k)
    scores = [
        run.probe.masked_scores(run.images, channels[s : s + batch_size], owner[s : s + batch_size], run.class_index)
        for s in range(0, n * k, batch_size)
    ]
    return tf.nn.softmax(tf.reshape(tf.concat(scores, axis=0), (n, k)), axis=-1)[:, None, None, :]


# method -> (weight function, needs gradients)
_WEIGHTS = {
    "cam": (_cam_weights, False),
    "grad_cam": (_grad_cam_weights, True),
    "grad_cam_plus_plus": (_grad_cam_plus_plus_weights, True),
    "layer_cam": (_layer_cam_weights, True),
    "score_cam": (_score_cam_weights, False),
}


# ----------------------------------------------------------------------------------------------------------
# The engine
# ----------------------------------------------------------------------------------------------------------


def _combine(activations, weights):
    """``M = ReLU(sum_k w_k A_k) / max_ij M``: per map, safe divide so an all-zero map stays zero."""
    maps = tf.nn.relu(tf.reduce_sum(activations * weights, axis=-1))
    return tf.math.divide_no_nan(maps, tf.reduce_max(maps, axis=(1, 2), keepdims=True))


def _as_batch(images, model):
    """images -> (float32 batch (N, H, W, C), whether a single image was given); checks ``model`` first."""
    _check_model(model)
    x = tf.convert_to_tensor(images)
    if not x.dtype.is_floating:
        raise ValueError(
            f"images must be float RGB in [0, 1], got dtype {x.dtype.name}. Divide uint8 images by 255 "
            f"(camlab.data.normalize_and_resize_img does it and resizes)."
        )
    if x.shape.rank not in (3, 4):
        raise ValueError(f"images must be (N, H, W, C) or a single (H, W, C) image, got shape {tuple(x.shape)}.")
    single = x.shape.rank == 3
    x = tf.cast(x[None] if single else x, tf.float32)
    if x.shape[0] == 0:
        raise ValueError("images is an empty batch.")
    _check_finite(x, single)
    expected = tuple(model.input_shape[1:]) if isinstance(model.input_shape, tuple) else None
    if expected and any(e is not None and e != a for e, a in zip(expected, x.shape[1:])):
        raise ValueError(
            f"images have shape {tuple(x.shape[1:])} per image but model {model.name!r} expects {expected}; "
            f"resize them first (camlab.data.normalize_and_resize_img)."
        )
    return x, single


def _check_model(model):
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a Keras model (keras.Model), got {_describe(model)}. Load one first, e.g. "
                        f"camlab.models.load_pretrained() or keras.saving.load_model(path).")


def _describe(value):
    text = repr(value)
    return text if len(text) <= 60 else f"a {type(value).__name__}"


def _check_finite(x, single):
    """A NaN or infinite pixel gives a map that looks normal and means nothing: refuse it, saying where."""
    if bool(tf.reduce_all(tf.math.is_finite(x))):
        return
    bad = np.argwhere(~np.isfinite(x.numpy()))
    n, y, x_, c = (int(v) for v in bad[0])
    value = float(x[n, y, x_, c])
    which = "the image" if single else f"images[{n}]"
    others = sorted({int(i) for i in bad[:, 0]} - {n})
    count = f" ({len(bad)} non-finite values in all)" if len(bad) > 1 else ""
    more = f"; so do images {others[:5]}{' ...' if len(others) > 5 else ''}" if others else ""
    raise ValueError(
        f"{which} has a non-finite pixel ({value}) at row {y}, column {x_}, channel {c}{count}{more}. Maps need "
        f"finite pixels in [0, 1]: fix the preprocessing that made it (e.g. a division by zero) or leave the "
        f"image out.")


def _class_indices(class_index, n, num_classes):
    """None / int / one per image -> int32 (n,), -1 meaning the predicted class."""
    if class_index is None:
        return np.full(n, -1, np.int32)
    values = np.asarray(class_index)
    if values.dtype == bool or not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"class_index must be None, an int or one int per image, got {class_index!r}.")
    if values.ndim == 0:
        values = np.full(n, int(values))
    elif values.ndim != 1 or len(values) != n:
        raise ValueError(
            f"class_index has {values.size} entries but the batch has {n} images: give one per image, "
            f"a single int for all, or None for the predicted class."
        )
    bad = values[(values < 0) | (values >= num_classes)]
    if bad.size:
        raise ValueError(
            f"class_index {bad.tolist()} out of range: the model has {num_classes} classes (0..{num_classes - 1})."
        )
    return values.astype(np.int32)


def _resize(maps, size):
    if size is None:
        return maps
    if len(size) != 2 or any(int(s) != s or s < 1 for s in size):
        raise ValueError(f"size must be (height, width) in positive ints, got {size!r}.")
    resized = tf.image.resize(maps[..., None], (int(size[0]), int(size[1])), method="bilinear")[..., 0]
    return tf.clip_by_value(resized, 0.0, 1.0)


def compute_maps(model, images, method="cam", class_index=None, layer=None, size=None, **options):
    """Maps and the model's predictions from the same forward pass: the engine's one call.

    method: a key of `METHODS`. class_index: None (each image's predicted class), an int, or one per image.
    layer: None (`find_feature_layer`), a layer name or a layer (inside a nested model too). size: (H, W)
    to resize the maps to (bilinear), or None for the feature map's resolution. options: the method's own
    (``batch_size`` for Score-CAM). Returns ``CamResult(maps, probabilities, class_index, layer)``; for a
    single (H, W, C) image, the batch axis is dropped from all three arrays.
    """
    if method not in _WEIGHTS:
        raise ValueError(f"Unknown method {method!r}; choose one of {', '.join(_WEIGHTS)}.")
    weight_fn, needs_gradients = _WEIGHTS[method]
    x, single = _as_batch(images, model)
    probe = _probe_for(model, layer, for_cam=method == "cam")
    if method == "cam":
        probe.check_cam(model)  # fail before the forward pass
    wanted = tf.constant(_class_indices(class_index, int(x.shape[0]), probe.num_classes))
    if needs_gradients:
        activations, _, probabilities, used, gradients = probe.gradients(x, wanted)
    else:
        (activations, _, probabilities, used), gradients = probe.forward(x, wanted), None
    weights = weight_fn(_Pass(probe, x, activations, gradients, used), **options)
    maps = _resize(_combine(activations, weights), size).numpy().astype(np.float32)
    probabilities, used = probabilities.numpy(), used.numpy()
    if single:
        maps, probabilities, used = maps[0], probabilities[0], int(used[0])
    return CamResult(maps, probabilities, used, probe.layer.name)


def class_activation_map(model, images, class_index=None, layer=None, size=None):
    """CAM maps (N, h, w) float32 in [0, 1]: ``M_c = sum_k w_k^c A_k`` with the final Dense's weights."""
    return compute_maps(model, images, "cam", class_index, layer, size).maps


def grad_cam(model, images, class_index=None, layer=None, size=None):
    """Grad-CAM maps: channels weighted by the spatial mean of d(pre-softmax score)/dA, any 4-D layer."""
    return compute_maps(model, images, "grad_cam", class_index, layer, size).maps


def grad_cam_plus_plus(model, images, class_index=None, layer=None, size=None):
    """Grad-CAM++ maps: channels weighted by positive gradients with per-pixel alphas."""
    return compute_maps(model, images, "grad_cam_plus_plus", class_index, layer, size).maps


def layer_cam(model, images, class_index=None, layer=None, size=None):
    """LayerCAM maps: each activation weighted by its own positive gradient."""
    return compute_maps(model, images, "layer_cam", class_index, layer, size).maps


def score_cam(model, images, class_index=None, layer=None, size=None, batch_size=32):
    """Score-CAM maps: channels weighted by the class probability of the input masked by each channel."""
    return compute_maps(model, images, "score_cam", class_index, layer, size, batch_size=batch_size).maps


METHODS = {
    "cam": class_activation_map,
    "grad_cam": grad_cam,
    "grad_cam_plus_plus": grad_cam_plus_plus,
    "layer_cam": layer_cam,
    "score_cam": score_cam,
}


# ----------------------------------------------------------------------------------------------------------
# The lesson's item-level interface
# ----------------------------------------------------------------------------------------------------------


def _item_map(model, item, method, layer):
    from camlab.data import normalize_and_resize_img

    _check_model(model)
    if "image" not in item or "label" not in item:
        raise ValueError(f"item must be a TFDS item dict with 'image' and 'label', got keys {sorted(item)}.")
    height, width = np.shape(item["image"])[:2]
    size = tuple(model.input_shape[1:3])
    image, label = normalize_and_resize_img(item, size if None not in size else (height, width))
    return compute_maps(model, image, method, int(label), layer, (height, width)).maps


def generate_cam(model, item):
    """The lesson's CAM: the map for the item's label, at the item's original image size (H, W)."""
    return _item_map(model, item, "cam", None)


def generate_grad_cam(model, activation_layer, item):
    """The lesson's Grad-CAM on ``activation_layer``: the map for the item's label, at the original size."""
    return _item_map(model, item, "grad_cam", activation_layer)
