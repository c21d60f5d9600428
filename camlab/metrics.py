"""Localization metrics for activation maps: one image, a thousand, or a whole test split.

- ``localization_accuracy``: the CAM paper's GT-known accuracy (Zhou et al., CVPR 2016): the box of the largest
  region above 20% of the map's maximum must reach IoU >= 0.5 with a ground-truth box.
- ``max_box_acc``: MaxBoxAcc and MaxBoxAccV2 (Choe et al., "Evaluating Weakly Supervised Object Localization
  Methods Right", CVPR 2020): the same accuracy at the *best* map threshold, so a method is not judged by one
  arbitrary threshold. V2 averages over IoU thresholds 0.3, 0.5, 0.7 and uses every region's box.
- ``deletion_insertion``: how fast the class probability falls when the map's top pixels are removed, and rises
  when they are put back (Petsiuk et al., "RISE", BMVC 2018).
- ``evaluate_localization``: all of the above for several methods in one pass over a dataset, as a table.

How thresholds are swept fast. Every metric reduces to one table: for each threshold t and image i, the IoU of
the largest region's box (V1) and the best IoU of any region's box (V2) with the image's ground truth. Many
maps are tiled into one mosaic, one below the other, separated by a row and a column of zeros (8-connected
regions cannot cross a 1-pixel gap), so ONE OpenCV connected-components call per threshold labels the regions
of a few hundred maps at once; its statistics (bounding box and pixel count per region) give both V1 and V2,
and a region's map is ``its top row // the tile height``. The IoUs are then computed with NumPy for all regions
together. 10,000 maps x 100 thresholds is ~8,000 OpenCV calls instead of 1,000,000 ``findContours`` calls.
Pixels that cannot be in a region are skipped: every 10 thresholds the mosaic is rebuilt without the rows and
columns that have no pixel above the lowest of them, and at each threshold rows without a pixel above it are
left out too (one empty row or column is kept between runs, so regions stay apart). This labels about a third
of the pixels. Mosaics are spread over the CPU cores with threads (OpenCV releases the GIL).
Regions are counted in pixels and boxed as whole pixels (see ``camlab.boxes``); ``cv2.findContours`` with
``RETR_TREE``, as in Choe et al.'s code, would also box holes, which never beat their outer region's box.
"""
import argparse
import csv
import html
import os
import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from camlab import boxes as _boxes
from camlab import cli
from camlab._progress import progress

__all__ = [
    "localization_accuracy",
    "max_box_acc",
    "region_ious",
    "box_accuracy",
    "deletion_insertion",
    "evaluate_localization",
    "LocalizationReport",
    "DEFAULT_CAM_THRESHOLDS",
    "main",
]

# Choe et al.'s sweep: thresholds 0.00, 0.01, ..., 0.99 of the min-max normalized map.
DEFAULT_CAM_THRESHOLDS = np.round(np.arange(0.0, 1.0, 0.01), 2)
DEFAULT_IOU_THRESHOLDS = (0.3, 0.5, 0.7)
_MOSAIC_PIXELS = 1 << 19  # pixels per mosaic: small enough to stay in cache, large enough to amortize a call
_BLOCK = 10  # thresholds per compaction of the mosaic (a gather costs about one labelling call)


# ----------------------------------------------------------------------------------------------------------
# Input
# ----------------------------------------------------------------------------------------------------------
def _as_maps(cams):
    """(N, h, w) array or a list of 2-D maps (sizes may differ) -> list of float32 2-D arrays (copies)."""
    if isinstance(cams, np.ndarray) or hasattr(cams, "numpy"):
        arr = np.asarray(cams)
        if arr.ndim == 2:
            raise ValueError(f"cams must be a batch of maps (N, h, w) or a list of maps; got one map of shape "
                             f"{arr.shape}. Wrap a single map in a list: [cam].")
        if arr.ndim == 4 and arr.shape[-1] == 1:
            arr = arr[..., 0]
        if arr.ndim != 3:
            raise ValueError(f"cams must be (N, h, w) or a list of 2-D maps; got an array of shape {arr.shape}.")
        cams = list(arr)
    maps = [_boxes.check_map(cam, f"cams[{i}]") for i, cam in enumerate(cams)]
    if not maps:
        raise ValueError("cams is empty: there is nothing to evaluate.")
    return maps


def _as_gt(gt_boxes, count):
    """Ground truth per image: a (4,) box or (K, 4) boxes each -> list of float64 (K, 4) arrays."""
    if isinstance(gt_boxes, np.ndarray) or hasattr(gt_boxes, "numpy"):
        arr = np.asarray(gt_boxes)
        gt_boxes = list(arr) if arr.ndim >= 2 else [arr]
    gt_boxes = list(gt_boxes)
    if len(gt_boxes) != count:
        raise ValueError(f"cams and gt_boxes must have one entry per image: got {count} maps and "
                         f"{len(gt_boxes)} ground-truth entries.")
    out = []
    for i, gt in enumerate(gt_boxes):
        arr = _boxes.check_boxes(gt, f"gt_boxes[{i}]")
        if arr.ndim == 1:
            arr = arr[None]
        if arr.ndim != 2 or len(arr) == 0:
            raise ValueError(f"gt_boxes[{i}] must be one box (4,) or boxes (K, 4) with K >= 1; got {arr.shape}.")
        out.append(arr)
    return out


def _thresholds(values, name, positive=False, default=None):
    """One threshold or a sequence of them -> float64 (T,), each checked by ``camlab.boxes.check_threshold``."""
    values = default if values is None else values
    if isinstance(values, (str, bytes)) or np.ndim(values) == 0:
        return np.array([_boxes.check_threshold(values, name, positive)])
    flat = list(np.asarray(values, dtype=object).reshape(-1))
    if not flat:
        raise ValueError(f"{name} is empty; give at least one threshold.")
    return np.array([_boxes.check_threshold(v, f"{name}[{i}]", positive) for i, v in enumerate(flat)])


def _normalized(cam, how):
    """'minmax': (cam - min) / (max - min), Choe et al.'s normalization; 'max': cam / max, the CAM paper's.

    A map without a positive range (constant; or max <= 0 for 'max') becomes all zeros: no region, a miss.
    """
    if how == "minmax":
        low, high = cam.min(), cam.max()
        return (cam - low) / (high - low) if high > low else np.zeros_like(cam)
    peak = cam.max()
    return cam / peak if peak > 0 else np.zeros_like(cam)


# ----------------------------------------------------------------------------------------------------------
# The engine: per threshold and image, the IoU of the largest region's box and of the best region's box
# ----------------------------------------------------------------------------------------------------------
def _chunks(shapes):
    """Indices of maps grouped into mosaics: sorted by shape (little padding), about _MOSAIC_PIXELS each."""
    order = sorted(range(len(shapes)), key=lambda i: shapes[i])
    chunk, height, width = [], 0, 0
    for i in order:
        h, w = max(height, shapes[i][0]), max(width, shapes[i][1])
        if chunk and (len(chunk) + 1) * (h + 1) * (w + 1) > _MOSAIC_PIXELS:
            yield chunk
            chunk, h, w = [], shapes[i][0], shapes[i][1]
        chunk.append(i)
        height, width = h, w
    if chunk:
        yield chunk


def _tiles(maps, normalize):
    """Normalized maps in zero-padded tiles of (max h + 1) x (max w + 1): every tile ends in a zero row and column."""
    tiles = np.zeros((len(maps), max(m.shape[0] for m in maps) + 1, max(m.shape[1] for m in maps) + 1), np.float32)
    for tile, cam in zip(tiles, maps):
        tile[:cam.shape[0], :cam.shape[1]] = _normalized(cam, normalize)
    return tiles


def _compact_mosaic(tiles, low):
    """The tiles stacked into one mosaic, keeping only what can hold a region at thresholds >= ``low``.

    Per tile, columns without a pixel above ``low`` are dropped (one is kept after each run of kept ones, so
    regions stay apart), the rest shifted left and padded with the tile's zero last column; then rows are
    dropped the same way (``_keep_runs``). A region's rows and columns all hold one of its pixels, so it keeps
    its shape. Returns ``(mosaic, rows, cols)``: mosaic row r is row ``rows[r]`` of the stacked tiles, and
    column c of tile k is its column ``cols[k, c]``.
    """
    count, tile_h, tile_w = tiles.shape
    keep = _keep_runs(tiles.max(axis=1) > low)                      # (n, tile_w)
    width = max(int(keep.sum(axis=1).max()), 1)
    kept_first = np.argsort(~keep, axis=1, kind="stable")[:, :width]
    cols = np.where(np.take_along_axis(keep, kept_first, axis=1), kept_first, tile_w - 1)
    stacked = tiles.reshape(-1, tile_w)
    rows = np.flatnonzero(_keep_runs(stacked.max(axis=1) > low))
    return stacked[rows[:, None], cols[rows // tile_h]], rows, cols


def _padded_gt(gts):
    """(n, K_max, 4) ground truth; the padding boxes are [0, 0, 0, 0], whose IoU with anything is 0."""
    out = np.zeros((len(gts), max(len(g) for g in gts), 4))
    for row, gt in zip(out, gts):
        row[:len(gt)] = gt
    return out


def _keep_runs(active):
    """Along the last axis: the active entries plus the first inactive one after each run of them.

    Applied to rows (or columns) of a mosaic at a threshold: dropping the others changes no region, since a
    region never contains an empty row, and the one kept after each run keeps neighbouring regions apart.
    """
    keep = active.copy()
    keep[..., 1:] |= active[..., :-1]
    return keep


def region_ious(cams, gt_boxes, thresholds, normalize="minmax"):
    """IoU tables of boxes from maps against ground truth, for every threshold: ``(largest, best)``.

    Each map is normalized (``"minmax"``: Choe et al.; ``"max"``: divided by its maximum, as ``cam_to_bbox``
    does); its regions at threshold t are the 8-connected groups of pixels with value > t.
    ``largest[j, i]``: IoU of the largest region's box with the best-matching ground-truth box of image i at
    ``thresholds[j]`` (MaxBoxAcc's protocol); ``best[j, i]``: the best IoU of any region's box with any
    ground-truth box (MaxBoxAccV2's). Both float64 (T, N); 0 where no pixel passes.
    """
    maps = _as_maps(cams)
    gts = _as_gt(gt_boxes, len(maps))
    thresholds = _thresholds(thresholds, "thresholds")
    if normalize not in ("minmax", "max"):
        raise ValueError(f"normalize must be 'minmax' or 'max'; got {normalize!r}.")
    largest = np.zeros((len(thresholds), len(maps)))
    best = np.zeros_like(largest)
    ascending = np.argsort(thresholds, kind="stable")

    def evaluate(chunk):
        chunk = np.asarray(chunk)
        tiles = _tiles([maps[i] for i in chunk], normalize)
        sizes = np.array([maps[i].shape for i in chunk])
        gt = _padded_gt([gts[i] for i in chunk])
        for block in np.array_split(ascending, -(-len(ascending) // _BLOCK)):
            mosaic, rows, cols = _compact_mosaic(tiles, np.float32(thresholds[block[0]]))
            row_peak = mosaic.max(axis=1) if mosaic.size else np.zeros(len(mosaic), np.float32)
            for j in block:
                t = np.float32(thresholds[j])
                kept = np.flatnonzero(_keep_runs(row_peak > t))
                if kept.size:
                    stats = _boxes.region_stats(mosaic[kept] > t)
                    _score_regions(stats, rows[kept], cols, tiles.shape[1], sizes, gt, chunk,
                                   largest[j], best[j])

    chunks = list(_chunks([m.shape for m in maps]))
    if len(chunks) == 1:
        evaluate(chunks[0])
    else:
        # Chunks hold different maps, so they write different columns: one thread per core, each running
        # OpenCV single-threaded (on mosaics this small its own threads cost more CPU than they save).
        previous = cv2.getNumThreads()
        cv2.setNumThreads(1)
        try:
            with ThreadPoolExecutor(max_workers=min(len(chunks), os.cpu_count() or 1)) as pool:
                list(pool.map(evaluate, chunks))
        finally:
            cv2.setNumThreads(previous)
    return largest, best


def _score_regions(stats, rows, cols, tile_h, sizes, gt, chunk, largest, best):
    """Regions of a compact mosaic -> boxes in their own maps -> IoUs, written into ``largest`` and ``best``."""
    source = rows[stats[:, 1]]                                 # the region's top row among the stacked tiles
    local = source // tile_h                                   # which tile (map) it is in
    stats[:, 1] = source - local * tile_h                      # top row inside its own map
    stats[:, 0] = cols[local, stats[:, 0]]                     # left column inside its own map
    found = _boxes.regions_to_boxes(stats, sizes[local, 0], sizes[local, 1])
    ious = _boxes.iou_unchecked(found[:, None, :], gt[local]).max(axis=1)
    np.maximum.at(best, chunk[local], ious)
    by_size = np.lexsort((-stats[:, 4], local))                # per map, largest first (stable: raster order)
    first = by_size[np.r_[True, local[by_size][1:] != local[by_size][:-1]]]
    largest[chunk[local[first]]] = ious[first]


def box_accuracy(ious, thresholds, iou_thresholds=DEFAULT_IOU_THRESHOLDS):
    """Accuracy curves and their maxima from an IoU table (T, N) (``region_ious``).

    acc_d(t) = fraction of images with IoU(t) >= d;  BoxAcc_d = max_t acc_d(t);  value = mean_d BoxAcc_d.
    Returns ``{"value", "per_iou": {d: BoxAcc_d}, "best_threshold": {d: argmax_t (first)}, "thresholds",
    "curves": {d: acc_d array}}``.
    """
    ious = np.asarray(ious, dtype=np.float64)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    iou_thresholds = _thresholds(iou_thresholds, "iou_thresholds", positive=True)
    curves, per_iou, best_threshold = {}, {}, {}
    for d in iou_thresholds:
        d = float(d)
        curve = (ious >= d).mean(axis=1)
        curves[d], per_iou[d] = curve, float(curve.max())
        best_threshold[d] = float(thresholds[int(np.argmax(curve))])
    return {"value": float(np.mean(list(per_iou.values()))), "per_iou": per_iou,
            "best_threshold": best_threshold, "thresholds": thresholds, "curves": curves}


# ----------------------------------------------------------------------------------------------------------
# Public metrics
# ----------------------------------------------------------------------------------------------------------
def localization_accuracy(cams, gt_boxes, threshold=0.2, iou_threshold=0.5):
    """GT-known localization accuracy in [0, 1] (Zhou et al., CVPR 2016).

    hit_i = IoU(cam_to_bbox(cam_i, threshold), gt_i) >= iou_threshold, with the best of the image's ground-truth
    boxes; an image without a region is a miss. ``cams``: (N, h, w) or a list of maps of any sizes;
    ``gt_boxes``: one (4,) box or (K, 4) boxes per image, normalized ``[ymin, xmin, ymax, xmax]``.
    """
    threshold = _boxes.check_threshold(threshold)
    iou_threshold = _boxes.check_threshold(iou_threshold, "iou_threshold", positive=True)
    largest, _ = region_ious(cams, gt_boxes, [threshold], normalize="max")
    return float(np.mean(largest[0] >= iou_threshold))


def max_box_acc(cams, gt_boxes, iou_thresholds=DEFAULT_IOU_THRESHOLDS, cam_thresholds=None, multi_contour=True):
    """MaxBoxAcc (V1) and MaxBoxAccV2 (Choe et al., CVPR 2020), fractions in [0, 1].

    Each map is min-max normalized; at each threshold t of ``cam_thresholds`` (default 0.00 .. 0.99 by 0.01)
    the regions above t give boxes: only the largest one (``multi_contour=False``, V1) or all of them (V2, an
    image is correct if any box matches any ground-truth box). For each IoU threshold d the box accuracy is
    taken at its best t; ``value`` is their mean. With the defaults, value = MaxBoxAccV2; with
    ``iou_thresholds=(0.5,), multi_contour=False`` it is MaxBoxAcc.

    Returns ``{"value", "per_iou": {d: acc}, "best_threshold": {d: t}, "thresholds", "curves": {d: acc(t)}}``.
    """
    thresholds = _thresholds(cam_thresholds, "cam_thresholds", default=DEFAULT_CAM_THRESHOLDS)
    largest, best = region_ious(cams, gt_boxes, thresholds, normalize="minmax")
    return box_accuracy(best if multi_contour else largest, thresholds, iou_thresholds)


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
    cams = _as_maps(maps)
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


class LocalizationReport:
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

    def __str__(self):
        heads, body = self._cells()
        widths = [max(len(r[c]) for r in [heads] + body) for c in range(len(heads))]
        lines = ["  ".join(cell.ljust(w) if c == 0 else cell.rjust(w) for c, (cell, w) in enumerate(zip(r, widths)))
                 for r in [heads] + body]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def __repr__(self):
        return f"LocalizationReport({len(self.rows)} methods, {self.rows[0]['images'] if self.rows else 0} images)"

    def _repr_html_(self):
        heads, body = self._cells()
        head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in body)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"

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
    thresholds = _thresholds(cam_thresholds, "cam_thresholds", default=DEFAULT_CAM_THRESHOLDS)
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
            largest, best = region_ious(maps, gts, thresholds, normalize="minmax")
            at_default, _ = region_ious(maps, gts, [threshold], normalize="max")
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
        v1 = box_accuracy(np.concatenate(got["v1"], axis=1), thresholds, (0.5,))
        v2 = box_accuracy(np.concatenate(got["v2"], axis=1), thresholds, DEFAULT_IOU_THRESHOLDS)
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
