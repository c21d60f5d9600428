"""camlab.cam's private companion: walking a Keras graph, finding its layers, and re-wiring it.

camlab.cam asks three things of a model's graph, answered here:

- where things are: every layer with the models that hold it (``walk``), a layer by name or object
  (``locate``), the classifier head (``classifier``) and CAM's feature layer (``cam_layer``);
- a *tapped* model that also returns an inner layer's output (``tapped``), even inside a nested model;
- a *guided* model whose ReLUs pass gradients only where input and gradient are both positive
  (``guided``), for guided backpropagation.

Re-wiring calls the model's own layers again on a new Input (shared, not copied), so the weights stay the
caller's and the caller's model is never changed.
"""
import keras
import tensorflow as tf

# Layers that are the identity at inference: allowed between the feature map, the GAP and the Dense for CAM.
INFERENCE_IDENTITY = tuple(
    getattr(keras.layers, name)
    for name in ("Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "Identity",
                 "ActivityRegularization")
    if hasattr(keras.layers, name)  # a Keras release may retire one
)


def producer(tensor):
    """The layer that produced a symbolic Keras tensor (Keras records it as ``_keras_history``)."""
    return tensor._keras_history.operation


def output_rank(layer):
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError, RuntimeError):  # never called, or called more than once
        return None


def walk(model, containers=()):
    """Yield ``(layer, containers)`` for every layer, nested models included (containers: outermost first)."""
    containers = containers + (model,)
    for layer in model.layers:
        yield layer, containers
        if isinstance(layer, keras.Model):
            yield from walk(layer, containers)


def candidates(model):
    """Names of the layers with a 4-D output: the feature maps CAM methods can use."""
    return [
        layer.name
        for layer, _ in walk(model)
        if not isinstance(layer, keras.layers.InputLayer) and output_rank(layer) == 4
    ]


def innermost(layer):
    """A nested model stands for the layer that produces its output."""
    while isinstance(layer, keras.Model):
        layer = producer(layer.outputs[0])
    return layer


def skip_back(layer, kinds):
    """Step backwards from ``layer`` over layers of the given kinds."""
    while isinstance(layer, kinds):
        layer = innermost(producer(layer.input))
    return layer


def is_softmax(layer):
    if isinstance(layer, keras.layers.Softmax):
        return True
    return isinstance(layer, (keras.layers.Activation, keras.layers.Dense)) and (
        getattr(layer.activation, "__name__", "") == "softmax"
    )


def classifier(model):
    """How to read the pre-softmax class scores off ``model``'s graph.

    Returns ``(mode, layer, ends_in_softmax)``:
    ``("dense", dense)``: scores = dense's pre-activation ``x @ W + b`` (x = the Dense's input);
    ``("input", act)``: scores = the input of a final softmax Activation / Softmax layer;
    ``("output", None)``: the model's output is taken as the scores.
    """
    last = producer(model.outputs[0])
    if isinstance(last, keras.layers.Dense):
        return "dense", last, is_softmax(last)
    if is_softmax(last):
        return "input", last, True
    return "output", None, False


def cam_layer(model):
    """The feature layer of a ``feature map -> GlobalAveragePooling2D -> Dense`` head, or a ValueError."""
    mode, head, _ = classifier(model)
    dense = head if mode == "dense" else None
    if mode == "input":
        before = skip_back(innermost(producer(head.input)), INFERENCE_IDENTITY)
        if isinstance(before, keras.layers.Dense) and getattr(before.activation, "__name__", "") == "linear":
            dense = before
    why = None
    if dense is None:
        why = "its output does not come from a Dense layer"
    else:
        pool = skip_back(innermost(producer(dense.input)), INFERENCE_IDENTITY)
        if not isinstance(pool, keras.layers.GlobalAveragePooling2D) or pool.keepdims:
            why = f"the Dense layer {dense.name!r} is fed by {pool.name!r}, not by a GlobalAveragePooling2D"
        else:
            return skip_back(innermost(producer(pool.input)), INFERENCE_IDENTITY), dense
    raise ValueError(
        f"CAM needs a model that ends in feature map -> GlobalAveragePooling2D -> Dense, so that the "
        f"Dense weights weigh the feature-map channels; model {model.name!r} does not ({why}). "
        f"Use grad_cam, which works on any layer of any differentiable model."
    )



def locate(model, layer):
    """``(layer, containers)`` for a layer given by name or object; containers: the models holding it."""
    for candidate, containers in walk(model):
        if candidate is layer or (isinstance(layer, str) and candidate.name == layer):
            break
    else:
        if isinstance(layer, str):
            raise KeyError(
                f"No layer named {layer!r} in model {model.name!r}. Layers with a 4-D output you can "
                f"take maps from: {', '.join(candidates(model))}"
            )
        raise ValueError(f"Layer {getattr(layer, 'name', layer)!r} is not part of model {model.name!r}.")
    while isinstance(candidate, keras.Model):  # a nested model stands for the layer producing its output
        containers, candidate = containers + (candidate,), producer(candidate.outputs[0])
    if output_rank(candidate) != 4:
        raise ValueError(
            f"Layer {candidate.name!r} outputs shape {tuple(candidate.output.shape)}, but maps need a 4-D "
            f"feature map (N, h, w, K). Candidates: {', '.join(candidates(model))}"
        )
    return candidate, containers[1:]



def single(tensors):
    if len(tensors) != 1:
        raise ValueError(f"CAM methods need a model with one input and one output, not {len(tensors)}.")
    return tensors[0]


def tapped(model, containers, target, head=None):
    """A keras.Model: model's input -> [target's output, head's input (or the output), model's output].

    A layer inside a nested model is not reachable from the outer graph, so for that case the outer graph
    is rebuilt by calling its own layers again (shared, not copied) on a new Input, with the nested model
    replaced by its own tapped model that also returns the feature map.
    """
    if not containers:
        side = head.input if head is not None else model.outputs[0]
        return keras.Model(single(model.inputs), [target.output, side, single(model.outputs)])
    inner = containers[0]
    inner_tapped = tapped(inner, containers[1:], target)
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
        inputs, outputs = single(clone.inputs), single(clone.outputs)
    return keras.Model(inputs, [taps["feature"], taps.get("side", outputs), outputs])



# ----------------------------------------------------------------------------------------------------------
# The guided graph (guided backpropagation)
# ----------------------------------------------------------------------------------------------------------


@tf.custom_gradient
def guided_relu(x):
    """ReLU forward; backward, the "guided" rule of Springenberg et al. (ICLR workshop 2015):
    ``dL/dx = dL/dy * [x > 0] * [dL/dy > 0]`` - a gradient passes only where the input and the gradient
    arriving from above are both positive."""

    def gradient(upstream):
        return upstream * tf.cast(x > 0, upstream.dtype) * tf.cast(upstream > 0, upstream.dtype)

    return tf.nn.relu(x), gradient


class GuidedReLU(keras.layers.Layer):
    """A ReLU layer whose gradient follows ``guided_relu``; stands in for a ReLU in a guided graph."""

    def call(self, inputs):
        return guided_relu(inputs)


class GuidedActivation(keras.layers.Layer):
    """A layer with a fused ReLU (``Conv2D(..., activation="relu")``): the layer runs with a linear
    activation (its own weights, restored activation afterwards), then ``guided_relu`` is applied."""

    def __init__(self, layer, **kwargs):
        super().__init__(name=layer.name, **kwargs)
        self.wrapped = layer

    def call(self, *args, **kwargs):
        activation = self.wrapped.activation
        self.wrapped.activation = keras.activations.linear
        try:
            outputs = self.wrapped(*args, **kwargs)
        finally:
            self.wrapped.activation = activation
        return guided_relu(outputs)


def _activation_name(layer):
    return getattr(getattr(layer, "activation", None), "__name__", "")


def is_plain_relu(layer):
    """A ReLU layer (``layers.ReLU()`` with its defaults, or ``Activation("relu")``)."""
    if isinstance(layer, keras.layers.ReLU):
        return (layer.max_value is None and not float(layer.negative_slope) and not float(layer.threshold))
    return isinstance(layer, keras.layers.Activation) and _activation_name(layer) == "relu"


def guided(model, head=None):
    """A keras.Model computing ``model``'s function with every ReLU made a ``GuidedReLU``, wired like
    ``tapped``: input -> [head's input, head's input (or the output), model's output] (no feature map: the
    guided graph is only differentiated with respect to its input).

    ReLU / Activation("relu") layers are replaced, layers with a fused ReLU activation are wrapped
    (``GuidedActivation``), nested models are guided in turn; all other layers are the caller's own, called
    again (shared weights), so the result follows later changes to the weights and the model is untouched.
    ReLUs with a cap, slope or threshold (ReLU6, leaky) and non-ReLU activations are left as they are.
    """
    taps = {}
    outputs = _guided_outputs(model, head, taps)
    side = taps.get("side", outputs) if head is not None else outputs
    if head is not None and "side" not in taps:
        raise ValueError(f"The classifier layer {head.name!r} of model {model.name!r} was not reached while "
                         f"rebuilding the graph for guided backpropagation.")
    return keras.Model(taps["inputs"], [side, side, outputs], name=f"{model.name}_guided")


def _guided_outputs(model, head, taps, inputs=None):
    """``model``'s graph re-called with guided ReLUs; records the Input (outermost call) and head's input."""

    def call(layer, *args, **kwargs):
        if layer is head:
            taps["side"] = args[0]
        if isinstance(layer, keras.Model):
            return _guided_submodel(layer, head, taps)(*args, **kwargs)
        if is_plain_relu(layer):
            return GuidedReLU(name=layer.name)(args[0])
        if not isinstance(layer, keras.layers.Activation) and _activation_name(layer) == "relu":
            return GuidedActivation(layer)(*args, **kwargs)
        return layer(*args, **kwargs)

    if isinstance(model, keras.Sequential):  # clone_model's call_function is for functional models only
        start = keras.Input(shape=model.input_shape[1:])
        outputs = start
        for layer in model.layers:
            outputs = call(layer, outputs)
    else:
        clone = keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call)
        start, outputs = single(clone.inputs), single(clone.outputs)
    taps.setdefault("inputs", start)
    return outputs


def _guided_submodel(model, head, taps):
    """A nested model, guided, as a keras.Model of its own (its Input is not the outer graph's)."""
    inner = {}
    outputs = _guided_outputs(model, head, inner)
    if "side" in inner:
        raise ValueError(f"The classifier layer {head.name!r} sits inside the nested model {model.name!r}; "
                         f"guided backpropagation needs it in the outer model.")
    return keras.Model(inner["inputs"], outputs, name=f"{model.name}_guided")
