"""Model + data -> report: faithfulness metrics, sanity checks, and whole-dataset localization.

- ``deletion_insertion``: how fast the class probability falls when the map's top pixels are removed, and rises
  when they are put back (Petsiuk et al., "RISE", BMVC 2018).
- ``average_drop``: Average Drop and Increase in Confidence (Chattopadhyay et al., "Grad-CAM++", WACV 2018):
  how much of the class's confidence the map alone keeps.
- ``sanity_check``: the model-parameter randomization test (Adebayo et al., "Sanity Checks for Saliency Maps",
  NeurIPS 2018): a map that explains the *model* must change when the model's weights are randomized.
- ``evaluate_localization``: localization metrics (``camlab.metrics``) for several methods in one pass over a
  dataset, as a ``LocalizationReport``; ``main`` is ``python -m camlab evaluate``.

The maps + boxes -> numbers part (thresholds, box metrics, pointing games) is ``camlab.metrics``.
"""
import argparse
import csv
import html
import os
import time

import cv2
import numpy as np

from camlab import boxes as _boxes
from camlab import cli, metrics
from camlab._progress import progress

__all__ = ["deletion_insertion", "average_drop", "sanity_check", "SanityCheck", "SANITY_METHODS", "spearman", "ssim",
           "evaluate_localization", "LocalizationReport", "COLUMNS", "main"]


# ----------------------------------------------------------------------------------------------------------
# Deletion and insertion
# ----------------------------------------------------------------------------------------------------------
def _baseline_images(images, baseline):
    """What removed pixels become: a number, ``"blur"`` (a heavy Gaussian blur of each image), or an array."""
    if isinstance(baseline, str):
        if baseline != "blur":
            raise ValueError(f"baseline must be a number, 'blur' or an image array; got {baseline!r}.")
        sigma = max(images.shape[1:3]) / 10.0
        return np.stack([cv2.GaussianBlur(img, (0, 0), sigma).reshape(img.shape) for img in images])
    base = np.broadcast_to(np.asarray(baseline, dtype=np.float32), images.shape) if np.ndim(baseline) < 4 else \
        np.asarray(baseline, dtype=np.float32)
    if base.shape != images.shape:
        raise ValueError(f"baseline of shape {np.shape(baseline)} does not match the images {images.shape}.")
    return base


def _pixel_ranks(cam, height, width):
    """rank[y, x] = position of the pixel when sorted by the map (resized to the image), highest first."""
    resized = cv2.resize(cam, (width, height), interpolation=cv2.INTER_LINEAR)
    order = np.argsort(-resized.ravel(), kind="stable")
    ranks = np.empty(order.size, np.int64)
    ranks[order] = np.arange(order.size)
    return ranks.reshape(height, width)


def _class_indices(class_index, probabilities):
    count = len(probabilities)
    if class_index is None:
        return np.argmax(probabilities, axis=1)
    chosen = np.broadcast_to(np.asarray(class_index), (count,)) if np.ndim(class_index) == 0 else \
        np.asarray(class_index)
    if chosen.shape != (count,):
        raise ValueError(f"class_index must be None, an int, or one per image ({count}); got shape "
                         f"{np.shape(class_index)}.")
    if np.any((chosen < 0) | (chosen >= probabilities.shape[1])):
        raise ValueError(f"class_index {chosen.tolist()} out of range for {probabilities.shape[1]} classes.")
    return chosen.astype(np.int64)


def _predict(model, batch):
    return np.asarray(model(batch, training=False), dtype=np.float64)


def deletion_insertion(model, images, maps, class_index=None, steps=20, batch_size=64, baseline=0.0):
    """Deletion and insertion curves (Petsiuk et al., BMVC 2018) and their areas, for a batch of images.

    Pixels are ranked by the map (resized to the image). At step k the first ``fractions[k] = k / steps`` of them
    are *deleted* (set to ``baseline``: a number, ``"blur"``, or images) or *inserted* (the image shown on the
    baseline only there), and the model's output for the class (``class_index``; None = the class predicted for
    the full image) is recorded. AUC = trapezoidal area under the curve over the fractions. A good map makes the
    deletion AUC low and the insertion AUC high. All 2 x N x (steps + 1) inputs go through the model in batches
    of ``batch_size``.

    Returns ``{"deletion", "insertion"}`` (N, steps + 1), ``{"deletion_auc", "insertion_auc"}`` (N,),
    ``"fractions"`` (steps + 1,) and ``"class_index"`` (N,).
    """
    images = np.array(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must be a batch (N, H, W, C); got shape {images.shape}.")
    cams = metrics.as_maps(maps)
    if len(cams) != len(images):
        raise ValueError(f"images and maps must match: {len(images)} images, {len(cams)} maps.")
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a positive int; got {steps!r}.")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}.")
    count, height, width = images.shape[:3]
    fractions = np.linspace(0.0, 1.0, steps + 1)
    keep = np.rint(fractions * height * width).astype(np.int64)  # pixels changed at each step
    base = _baseline_images(images, baseline)
    ranks = [_pixel_ranks(cam, height, width) for cam in cams]
    classes = _class_indices(class_index, _predict_all(model, images, batch_size))

    jobs = [(i, k, kind) for i in range(count) for kind in (0, 1) for k in range(steps + 1)]
    curves = np.zeros((2, count, steps + 1))
    for start in range(0, len(jobs), batch_size):
        part = jobs[start:start + batch_size]
        batch = np.stack([_perturbed(images[i], base[i], ranks[i] < keep[k], kind) for i, k, kind in part])
        scores = _predict(model, batch)
        for (i, k, kind), row in zip(part, scores):
            curves[kind, i, k] = row[classes[i]]
    deletion, insertion = curves
    return {"deletion": deletion, "insertion": insertion,
            "deletion_auc": np.trapezoid(deletion, fractions, axis=1),
            "insertion_auc": np.trapezoid(insertion, fractions, axis=1),
            "fractions": fractions, "class_index": classes}


def _predict_all(model, images, batch_size):
    return np.concatenate([_predict(model, images[s:s + batch_size]) for s in range(0, len(images), batch_size)])


def _perturbed(image, base, top, kind):
    """kind 0 (deletion): the image with its top pixels replaced by the baseline; 1 (insertion): the reverse."""
    top = top[..., None]
    return np.where(top, base, image) if kind == 0 else np.where(top, image, base)


# ----------------------------------------------------------------------------------------------------------
# Average drop and increase in confidence
# ----------------------------------------------------------------------------------------------------------
def _unit_maps(maps, count, height, width):
    """Maps checked to be in [0, 1], one per image, resized (bilinear) to the images."""
    cams = metrics.as_maps(maps)
    if len(cams) != count:
        raise ValueError(f"images and cams must match: {count} images, {len(cams)} maps.")
    for i, cam in enumerate(cams):
        if cam.min() < 0 or cam.max() > 1:
            raise ValueError(f"cams[{i}] has values in [{cam.min():.3g}, {cam.max():.3g}]; average drop multiplies "
                             f"the image by the map, so maps must lie in [0, 1] (camlab's maps do).")
    return np.stack([cv2.resize(cam, (width, height), interpolation=cv2.INTER_LINEAR) for cam in cams])


def average_drop(model, images, cams, class_index=None, batch_size=64):
    """Average Drop and Increase in Confidence (Chattopadhyay et al., WACV 2018, Sec. 5.1), in percent.

    Each image is shown to the model multiplied by its map (resized to the image): ``E_i = X_i * M_i``. With
    ``Y_i`` the model's output (its softmax probability) for the class on the full image and ``O_i`` on E_i:

        Average Drop         = 100/N sum_i max(0, Y_i - O_i) / Y_i      (lower is better)
        Increase in Confidence = 100/N sum_i [O_i > Y_i]                (higher is better)

    ``class_index``: None (each image's predicted class), an int, or one per image. ``cams``: maps in [0, 1],
    (N, h, w) or a list. Returns ``{"average_drop", "increase_in_confidence"}`` (floats, percent) and per
    image ``"full"`` (Y), ``"explained"`` (O), ``"drop"`` (max(0, Y - O) / Y) and ``"class_index"``. An image
    whose Y is 0 has no confidence to lose: its drop is 0.
    """
    images = np.array(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must be a batch (N, H, W, C); got shape {images.shape}.")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}.")
    count, height, width = images.shape[:3]
    masks = _unit_maps(cams, count, height, width)
    full = _predict_all(model, images, batch_size)
    classes = _class_indices(class_index, full)
    explained = _predict_all(model, images * masks[..., None], batch_size)
    rows = np.arange(count)
    y, o = full[rows, classes], explained[rows, classes]
    drop = np.divide(np.maximum(y - o, 0.0), y, out=np.zeros_like(y), where=y > 0)
    return {"average_drop": float(100.0 * drop.mean()), "increase_in_confidence": float(100.0 * np.mean(o > y)),
            "full": y, "explained": o, "drop": drop, "class_index": classes}


# ----------------------------------------------------------------------------------------------------------
# Sanity checks: model-parameter randomization
# ----------------------------------------------------------------------------------------------------------
SANITY_METHODS = ("cam", "grad_cam", "saliency", "guided_backprop")
SSIM_WINDOW, SSIM_SIGMA = 11, 1.5  # Wang et al.'s Gaussian window


def spearman(a, b):
    """Spearman's rank correlation of two maps (any shape, same size): Pearson's correlation of their ranks,
    tied values sharing their average rank. A constant map has no ranking: the result is then 0."""
    x, y = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"maps must have the same size to be compared; got {np.shape(a)} and {np.shape(b)}.")
    rx, ry = _average_ranks(x), _average_ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    norm = np.sqrt((rx * rx).sum() * (ry * ry).sum())
    return float((rx * ry).sum() / norm) if norm > 0 else 0.0


def _average_ranks(values):
    unique, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    return (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]


def ssim(a, b, data_range=1.0):
    """Structural similarity of two maps (Wang et al., IEEE TIP 2004), the mean of the SSIM index map:

        SSIM(x, y) = (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2))

    with local means, variances and covariance under an 11x11 Gaussian window of sigma 1.5 (OpenCV's
    GaussianBlur, borders reflected), C1 = (0.01 L)^2, C2 = (0.03 L)^2 and L = ``data_range`` (1 for maps in
    [0, 1]). 1 for identical maps; near 0 or below for unrelated ones.
    """
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"ssim compares two 2-D maps of the same shape; got {x.shape} and {y.shape}.")
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def blur(z):
        return cv2.GaussianBlur(z, (SSIM_WINDOW, SSIM_WINDOW), SSIM_SIGMA)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    index = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(index.mean())


def _weighted_layers(model):
    """Layers with trainable weights, nested models opened, in graph order (bottom first)."""
    import keras

    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += _weighted_layers(layer)
        elif layer.trainable_weights:
            found.append(layer)
    return found


def _reinitialize(layer, seed):
    """Every variable of ``layer`` drawn again from the layer's own initializer (``<name>_initializer``),
    as in a freshly built layer: random kernels, zero biases, identity batch norm (moving mean 0, variance
    1). A variable without an initializer attribute is drawn from a truncated normal of std 0.05."""
    import keras

    for k, variable in enumerate(layer.weights):
        name = variable.path.split("/")[-1]
        initializer = getattr(layer, f"{name}_initializer", None)
        if initializer is None:
            initializer = keras.initializers.TruncatedNormal(stddev=0.05)
        config = initializer.get_config()
        if "seed" in config:
            initializer = type(initializer).from_config({**config, "seed": int(seed) * 1000 + k})
        variable.assign(keras.ops.cast(initializer(tuple(variable.shape)), variable.dtype))


def _copy(model):
    import keras

    try:
        copy = keras.models.clone_model(model)
    except Exception as error:  # a subclassed model cannot be cloned from its config
        raise ValueError(f"sanity_check randomizes a copy of the model, but model {model.name!r} cannot be "
                         f"cloned ({error}); use a functional or Sequential model.") from error
    copy.set_weights(model.get_weights())
    return copy


class _Table:
    """A report shown as a table: ``_cells()`` gives (header, rows of strings); printing aligns the columns,
    notebooks show HTML."""

    def __str__(self):
        heads, body = self._cells()
        widths = [max(len(r[c]) for r in [heads] + body) for c in range(len(heads))]
        lines = ["  ".join(cell.ljust(w) if c == 0 else cell.rjust(w) for c, (cell, w) in enumerate(zip(r, widths)))
                 for r in [heads] + body]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def _repr_html_(self):
        heads, body = self._cells()
        head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in body)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


class SanityCheck(_Table):
    """What ``sanity_check`` found.

    ``steps``: row names, ``"original"`` then one per randomization step (the layer randomized at that step;
    in cascading mode every layer above it is random too). ``scores[method][metric]``: float64 (steps, N),
    per image, for metric ``"spearman"`` (rank correlation of the signed maps), ``"spearman_abs"`` (of their
    absolute values) and ``"ssim"`` (of the maps in [0, 1]), each against the original model's map.
    ``maps[method]``: (steps, keep_maps, H, W) maps in [0, 1] of the first images, for figures.
    ``rows``: the table (means over images), one dict per step; printing gives the text table, notebooks
    an HTML one.
    """

    def __init__(self, steps, methods, scores, maps, mode, class_index):
        self.steps, self.methods, self.scores, self.maps = steps, methods, scores, maps
        self.mode, self.class_index = mode, class_index

    @property
    def rows(self):
        rows = []
        for s, step in enumerate(self.steps):
            row = {"step": step}
            for method in self.methods:
                for metric, values in self.scores[method].items():
                    row[f"{method}_{metric}"] = float(values[s].mean())
            rows.append(row)
        return rows

    def _cells(self):
        heads = ["step"] + [f"{m} {metric}" for m in self.methods for metric in ("spearman", "|spearman|", "ssim")]
        body = [[row["step"]] + [f"{v:.3f}" for k, v in row.items() if k != "step"] for row in self.rows]
        return heads, body

    def __repr__(self):
        return f"SanityCheck({self.mode}, {len(self.steps)} steps, methods {', '.join(self.methods)})"


def sanity_check(model, images, methods=SANITY_METHODS, mode="cascading", seed=0, class_index=None, layers=None,
                 keep_maps=1, options=None, show_progress=True):
    """Adebayo et al.'s model-parameter randomization test (NeurIPS 2018) on a copy of ``model``.

    The layers with trainable weights (nested models opened; or the names in ``layers``) are randomized from
    the top down - each re-initialized with its own initializers, seeded by ``seed`` - either cumulatively
    (``mode="cascading"``: step k randomizes the top k layers) or one at a time (``"independent"``: step k
    randomizes only the k-th layer from the top). At every step each method's maps for the same classes (the
    original model's predictions, or ``class_index``) are compared with the original model's, per image, at
    the input's resolution: Spearman rank correlation of the signed maps (``compute_maps(signed=True)``) and
    of their absolute values, and SSIM of the maps in [0, 1] (``ssim``). A map that explains the model falls
    towards 0 as the weights are randomized; one that stays near 1 shows the image, not the model.
    One pass per method and step gives the signed maps; the maps in [0, 1] follow from them
    (``camlab.cam.unsigned_maps``); both are resized (bilinear) to the input size. ``options``: per method,
    keyword arguments for ``compute_maps``, e.g. ``{"score_cam": {"max_n": 10}}``.

    The caller's model is never changed (only the copy is). Returns a ``SanityCheck`` (table in ``rows``).
    Errors: an unknown method or mode, a model without trainable weights, a layer name not among them.
    """
    from camlab import cam as _cam

    methods = [methods] if isinstance(methods, str) else list(methods)
    unknown = [m for m in methods if m not in _cam.METHODS]
    if not methods or unknown:
        raise ValueError(f"Unknown method(s) {unknown}; choose from {', '.join(_cam.METHODS)}.")
    if mode not in ("cascading", "independent"):
        raise ValueError(f"mode must be 'cascading' or 'independent'; got {mode!r}.")
    if isinstance(keep_maps, bool) or int(keep_maps) != keep_maps or keep_maps < 0:
        raise ValueError(f"keep_maps must be an int >= 0; got {keep_maps!r}.")
    if not _weighted_layers(model):
        raise ValueError(f"Model {model.name!r} has no trainable weights, so there is nothing to randomize. "
                         f"(A frozen model? Set model.trainable = True on a copy, or pass another model.)")
    images = np.array(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must be a batch (N, H, W, C); got shape {images.shape}.")
    copy = _copy(model)
    candidates = {layer.name: layer for layer in _weighted_layers(copy)}
    if layers is None:
        order = list(candidates.values())[::-1]
    else:
        missing = [name for name in layers if name not in candidates]
        if missing:
            raise ValueError(f"layers {missing} are not layers with trainable weights of {model.name!r}; "
                             f"choose from {', '.join(candidates)}.")
        order = [candidates[name] for name in layers]
    options = dict(options or {})
    stray = sorted(set(options) - set(methods))
    if stray:
        raise ValueError(f"options for {stray}, which are not among the methods {methods}.")
    original = copy.get_weights()
    size = images.shape[1:3]
    first = _cam.compute_maps(copy, images, methods[0], class_index=class_index, **options.get(methods[0], {}))
    classes = np.atleast_1d(first.class_index)

    def at_input_size(maps, low):
        if maps.shape[1:3] == size:
            return maps
        return np.stack([np.clip(cv2.resize(m, (size[1], size[0]), interpolation=cv2.INTER_LINEAR), low, 1.0)
                         for m in maps])

    def maps_now():
        got = {}
        for method in methods:
            signed = _cam.compute_maps(copy, images, method, class_index=classes, signed=True,
                                       **options.get(method, {})).maps
            got[method] = (at_input_size(_cam.unsigned_maps(method, signed), 0.0), at_input_size(signed, -1.0))
        return got

    steps = ["original"] + [layer.name for layer in order]
    count, keep = len(images), min(int(keep_maps), len(images))
    scores = {m: {k: np.zeros((len(steps), count)) for k in ("spearman", "spearman_abs", "ssim")} for m in methods}
    kept = {m: np.zeros((len(steps), keep, *size), np.float32) for m in methods}
    bar = progress(total=len(steps), desc=f"sanity check ({mode})", unit="step",
                   disable=None if show_progress else True)
    for s in range(len(steps)):
        if s and mode == "independent":
            copy.set_weights(original)
        if s:
            _reinitialize(order[s - 1], seed + s)
        now = maps_now()
        if s == 0:
            reference = now
        for method in methods:
            (shown, signed), (shown0, signed0) = now[method], reference[method]
            for i in range(count):
                scores[method]["spearman"][s, i] = spearman(signed[i], signed0[i])
                scores[method]["spearman_abs"][s, i] = spearman(np.abs(signed[i]), np.abs(signed0[i]))
                scores[method]["ssim"][s, i] = ssim(shown[i], shown0[i])
            kept[method][s] = shown[:keep]
        bar.update(1)
    bar.close()
    return SanityCheck(steps, methods, scores, kept, mode, classes)


# ----------------------------------------------------------------------------------------------------------
# A whole dataset
# ----------------------------------------------------------------------------------------------------------
COLUMNS = [
    ("method", "method", "{}"),
    ("mean_iou", "mean IoU", "{:.3f}"),
    ("loc_acc", "Loc@{iou}", "{:.3f}"),
    ("max_box_acc", "MaxBoxAcc", "{:.3f}"),
    ("max_box_acc_v2", "MaxBoxAccV2", "{:.3f}"),
    ("best_threshold", "best thr", "{:.2f}"),
    ("best_thresholds_v2", "best thr V2 (0.3/0.5/0.7)", "{}"),
    ("top1_acc", "top-1 acc", "{:.3f}"),
    ("seconds_per_image", "s/image (maps)", "{:.4f}"),
    ("images", "images", "{}"),
]


class LocalizationReport(_Table):
    """What ``evaluate_localization`` found: one row per method.

    ``rows``: list of dicts (keys: see ``COLUMNS``). ``curves[method]``: ``{"thresholds", "v1": {0.5: acc(t)},
    "v2": {d: acc(t)}}`` for threshold-vs-accuracy plots. ``per_image[method]``: ``{"iou"}`` (N,) at the default
    threshold, with ``ids`` and ``labels`` (N,) alongside, for showing the best and worst localized images.
    Printing gives an aligned text table; notebooks show an HTML table; ``to_csv(path)`` writes the rows.
    """

    def __init__(self, rows, curves, per_image, ids, labels, settings):
        self.rows, self.curves, self.per_image = rows, curves, per_image
        self.ids, self.labels, self.settings = ids, labels, settings

    def _cells(self):
        heads = [head.format(iou=self.settings["iou_threshold"]) for _, head, _ in COLUMNS]
        body = [[fmt.format(row[key]) for key, _, fmt in COLUMNS] for row in self.rows]
        return heads, body

    def __repr__(self):
        return f"LocalizationReport({len(self.rows)} methods, {self.rows[0]['images'] if self.rows else 0} images)"

    def to_csv(self, path):
        """Write the rows (full precision) to ``path``; returns the path."""
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=[key for key, _, _ in COLUMNS])
            writer.writeheader()
            writer.writerows(self.rows)
        return path


def _items(dataset, max_images):
    """Items of a TFDS-style dataset (tf.data of dicts, or any iterable of dicts) as dicts of NumPy values."""
    iterator = dataset.as_numpy_iterator() if hasattr(dataset, "as_numpy_iterator") else iter(dataset)
    for count, item in enumerate(iterator):
        if max_images is not None and count >= max_images:
            return
        missing = {"image", "label", "bbox"} - set(item)
        if missing:
            raise ValueError(f"dataset items need 'image', 'label' and 'bbox'; item {count} lacks {sorted(missing)}.")
        yield item


def _batches(items, batch_size):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _input_size(model, input_size):
    if input_size is not None:
        return tuple(int(s) for s in input_size)
    shape = tuple(model.input_shape[1:3])
    if None in shape:
        raise ValueError(f"The model accepts any image size {model.input_shape}; pass input_size=(H, W).")
    return shape


def _resize_maps(maps, sizes, size):
    """Each map resized (bilinear) to its image's size (size=None), kept (size="native"), or to ``size``."""
    if isinstance(size, str):
        if size != "native":
            raise ValueError(f"size must be None (each image's size), 'native' or (H, W); got {size!r}.")
        return list(maps)
    return [cv2.resize(cam, (int(w), int(h)), interpolation=cv2.INTER_LINEAR)
            for cam, (h, w) in zip(maps, sizes if size is None else [size] * len(maps))]


def evaluate_localization(model, dataset, methods=("cam", "grad_cam", "grad_cam_plus_plus", "layer_cam"),
                          layer=None, size=None, threshold=0.2, iou_threshold=0.5, max_images=None,
                          batch_size=32, cam_thresholds=None, input_size=None, show_progress=True):
    """Evaluate several map methods on a TFDS-style dataset in one pass; returns a ``LocalizationReport``.

    ``dataset`` yields dicts with ``image`` (uint8, any size), ``label`` and ``bbox`` (normalized
    ``[ymin, xmin, ymax, xmax]``; ``bboxes`` (K, 4) is used instead when present). Per batch: images are
    preprocessed with ``camlab.data.normalize_and_resize_img`` at the model's input size (or ``input_size``);
    each method's maps for the ground-truth class (GT-known) come from ``camlab.cam.compute_maps``, whose
    probabilities give the top-1 accuracy from the same pass; maps are resized to each image's original size
    (``size=None``, the protocol), kept at the feature map's resolution (``size="native"``, faster) or resized
    to ``size=(H, W)``; then IoUs are accumulated for every threshold (``region_ious``), so memory stays small.

    Columns: mean IoU and GT-known Loc@``iou_threshold`` at ``threshold`` of the max (``cam_to_bbox``'s rule),
    MaxBoxAcc (IoU 0.5, largest region), MaxBoxAccV2 (IoU 0.3/0.5/0.7, all regions), their best thresholds,
    top-1 accuracy, and seconds per image spent computing maps (after the first batch, which traces the model).
    """
    from camlab import cam as _cam
    from camlab.data import normalize_and_resize_img

    methods = [methods] if isinstance(methods, str) else list(methods)
    unknown = [m for m in methods if m not in _cam.METHODS]
    if not methods or unknown:
        raise ValueError(f"Unknown method(s) {unknown}; choose from {', '.join(_cam.METHODS)}.")
    thresholds = metrics.check_thresholds(cam_thresholds, "cam_thresholds", default=metrics.DEFAULT_CAM_THRESHOLDS)
    threshold = _boxes.check_threshold(threshold)  # checked before any map is computed
    iou_threshold = _boxes.check_threshold(iou_threshold, "iou_threshold", positive=True)
    shape = _input_size(model, input_size)
    acc = {m: {"v1": [], "v2": [], "iou": [], "correct": [], "seconds": []} for m in methods}
    ids, labels = [], []
    total = max_images if max_images is not None else _length(dataset)
    bar = progress(total=total, desc="evaluating", unit="img", disable=None if show_progress else True)
    for batch in _batches(_items(dataset, max_images), batch_size):
        images = np.stack([np.asarray(normalize_and_resize_img(item, shape)[0]) for item in batch])
        truth = np.array([int(item["label"]) for item in batch])
        gts = [item["bboxes"] if "bboxes" in item else item["bbox"] for item in batch]
        sizes = [item["image"].shape[:2] for item in batch]
        ids += [_text(item.get("id", len(ids) + n)) for n, item in enumerate(batch)]
        labels += truth.tolist()
        for method in methods:
            start = time.perf_counter()
            result = _cam.compute_maps(model, images, method=method, class_index=truth, layer=layer)
            acc[method]["seconds"].append((time.perf_counter() - start, len(batch)))
            maps = _resize_maps(result.maps, sizes, size)
            largest, best = metrics.region_ious(maps, gts, thresholds, normalize="minmax")
            at_default, _ = metrics.region_ious(maps, gts, [threshold], normalize="max")
            acc[method]["v1"].append(largest)
            acc[method]["v2"].append(best)
            acc[method]["iou"].append(at_default[0])
            acc[method]["correct"].append(np.argmax(result.probabilities, axis=1) == truth)
        bar.update(len(batch))
    bar.close()
    if not labels:
        raise ValueError("The dataset yielded no images to evaluate.")
    rows, curves, per_image = [], {}, {}
    for method in methods:
        got = acc[method]
        v1 = metrics.box_accuracy(np.concatenate(got["v1"], axis=1), thresholds, (0.5,))
        v2 = metrics.box_accuracy(np.concatenate(got["v2"], axis=1), thresholds, metrics.DEFAULT_IOU_THRESHOLDS)
        ious = np.concatenate(got["iou"])
        rows.append({
            "method": method,
            "mean_iou": float(ious.mean()),
            "loc_acc": float(np.mean(ious >= iou_threshold)),
            "max_box_acc": v1["value"],
            "max_box_acc_v2": v2["value"],
            "best_threshold": v1["best_threshold"][0.5],
            "best_thresholds_v2": "/".join(f"{t:.2f}" for t in v2["best_threshold"].values()),
            "top1_acc": float(np.concatenate(got["correct"]).mean()),
            "seconds_per_image": _seconds_per_image(got["seconds"]),
            "images": len(labels),
        })
        curves[method] = {"thresholds": thresholds, "v1": v1["curves"], "v2": v2["curves"]}
        per_image[method] = {"iou": ious}
    settings = {"threshold": threshold, "iou_threshold": iou_threshold, "size": size, "input_size": shape}
    return LocalizationReport(rows, curves, per_image, ids, np.array(labels), settings)


def _seconds_per_image(timings):
    """Mean map time per image over (seconds, images) batches, leaving out the first batch when there are more
    (it includes building and tracing the model's probe, a one-time cost)."""
    timings = timings[1:] if len(timings) > 1 else timings
    return sum(t for t, _ in timings) / sum(n for _, n in timings)


def _length(dataset):
    try:
        length = len(dataset)
    except TypeError:
        return None
    return int(length) if length >= 0 else None


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def _csv_arg(text):
    """A CSV file to write, in a folder that exists (checked before the evaluation, not after)."""
    cli.existing_dir(os.path.dirname(text) or ".")
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name such as {text}/results.csv")
    return text


@cli.command("evaluate")
def main(argv=None):
    """``python -m camlab evaluate``: localization metrics of a shipped model on its dataset's test split."""
    from camlab import cam as _cam

    parser = cli.parser("evaluate", description=main.__doc__)
    parser.add_argument("--methods", nargs="+", default=["cam", "grad_cam", "grad_cam_plus_plus", "layer_cam"],
                        choices=list(_cam.METHODS), help="map methods to compare")
    parser.add_argument("--max-images", type=cli.positive_int, default=None,
                        help="evaluate only the first N test images")
    parser.add_argument("--batch-size", type=cli.positive_int, default=32)
    parser.add_argument("--csv", default=None, type=_csv_arg, help="also write the table to this CSV file")
    parser.add_argument("--model", default="default", choices=["default", "emblem"],
                        help="which shipped model, on the camlab_cars config it was trained on (default: default)")
    args = parser.parse_args(argv)

    from camlab import data, models

    model = models.load_pretrained(args.model)
    test, info = data.load(models.PRETRAINED_DATASETS[args.model], split="test")
    report = evaluate_localization(model, test, methods=args.methods, max_images=args.max_images,
                                   batch_size=args.batch_size)
    print(f"{info.name} {info.version}, test split, {report.rows[0]['images']} images")
    print(report)
    if args.csv:
        print(f"written to {report.to_csv(args.csv)}")
    return 0
