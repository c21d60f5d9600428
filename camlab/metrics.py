"""Maps + boxes -> numbers: localization accuracy, MaxBoxAcc, the pointing games.

- ``localization_accuracy``: the CAM paper's GT-known accuracy (Zhou et al., CVPR 2016): the box of the largest
  region above 20% of the map's maximum must reach IoU >= 0.5 with a ground-truth box.
- ``max_box_acc``: MaxBoxAcc and MaxBoxAccV2 (Choe et al., "Evaluating Weakly Supervised Object Localization
  Methods Right", CVPR 2020): the same accuracy at the *best* map threshold, so a method is not judged by one
  arbitrary threshold. V2 averages over IoU thresholds 0.3, 0.5, 0.7 and uses every region's box.
- ``pointing_game``: does the map's peak fall on the object (Zhang et al., "Top-down Neural Attention by
  Excitation Backprop", ECCV 2016), within a tolerance of 15 pixels; ``energy_pointing_game``: the share of the
  map's mass inside the boxes (Wang et al., Score-CAM, CVPRW 2020).

What needs a model (deletion/insertion, average drop, sanity checks, whole-dataset evaluation and the
``evaluate`` command) is in ``camlab.evaluation``; its public names are importable from here too
(``camlab.metrics.deletion_insertion``, ``average_drop``, ``sanity_check``, ``evaluate_localization``, ...).

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
import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from camlab import boxes as _boxes

__all__ = [
    "localization_accuracy",
    "max_box_acc",
    "region_ious",
    "box_accuracy",
    "pointing_game",
    "energy_pointing_game",
    "as_maps",
    "check_thresholds",
    "DEFAULT_CAM_THRESHOLDS",
    "DEFAULT_IOU_THRESHOLDS",
    # from camlab.evaluation (model + data -> report), importable from here as well:
    "deletion_insertion",
    "average_drop",
    "sanity_check",
    "evaluate_localization",
    "LocalizationReport",
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
def as_maps(cams):
    """(N, h, w) array or a list of 2-D maps (sizes may differ) -> list of float32 2-D arrays (copies), or a
    ValueError saying what is wrong. Shared with camlab.evaluation."""
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


def check_thresholds(values, name, positive=False, default=None):
    """One threshold or a sequence of them (``default`` when None) -> float64 (T,), each checked by
    ``camlab.boxes.check_threshold`` (a number in [0, 1]; above 0 with ``positive``), else a clear error."""
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
    maps = as_maps(cams)
    gts = _as_gt(gt_boxes, len(maps))
    thresholds = check_thresholds(thresholds, "thresholds")
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
    iou_thresholds = check_thresholds(iou_thresholds, "iou_thresholds", positive=True)
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
    thresholds = check_thresholds(cam_thresholds, "cam_thresholds", default=DEFAULT_CAM_THRESHOLDS)
    largest, best = region_ious(cams, gt_boxes, thresholds, normalize="minmax")
    return box_accuracy(best if multi_contour else largest, thresholds, iou_thresholds)



# ----------------------------------------------------------------------------------------------------------
# The pointing games
# ----------------------------------------------------------------------------------------------------------
def _box_pixels(gt, height, width):
    """(K, 4) normalized boxes -> (K, 4) pixel edges [top, left, bottom, right]: pixel (r, c) covers
    [r, r + 1) x [c, c + 1), so a box spans rows ymin*H .. ymax*H."""
    return gt * np.array([height, width, height, width], np.float64)


def _check_tolerance(tolerance):
    if (isinstance(tolerance, bool) or not isinstance(tolerance, (int, float, np.integer, np.floating))
            or not np.isfinite(tolerance) or tolerance < 0):
        raise ValueError(f"tolerance must be a number of pixels >= 0; got {tolerance!r}.")
    return float(tolerance)


def pointing_game(cams, gt_boxes, tolerance=15):
    """The pointing game's accuracy in [0, 1] (Zhang et al., ECCV 2016): the fraction of maps whose peak hits.

    The peak is the map's maximum (the first one in raster order when several pixels share it); it hits when
    the centre of that pixel, (r + 0.5, c + 0.5), lies within ``tolerance`` pixels (Euclidean distance; 15 in
    the paper) of one of the image's ground-truth boxes, inside counting as distance 0. Give maps at the
    image's resolution: the tolerance is measured in the map's pixels. A map without a positive peak (all
    values equal) points nowhere: a miss. ``cams``: (N, H, W) or a list of maps; ``gt_boxes``: one (4,) box or
    (K, 4) boxes per image, normalized ``[ymin, xmin, ymax, xmax]``.
    """
    maps = as_maps(cams)
    gts = _as_gt(gt_boxes, len(maps))
    tolerance = _check_tolerance(tolerance)
    hits = []
    for cam, gt in zip(maps, gts):
        if cam.max() <= cam.min():
            hits.append(False)
            continue
        r, c = np.unravel_index(int(np.argmax(cam)), cam.shape)
        top, left, bottom, right = _box_pixels(gt, *cam.shape).T
        dy = np.maximum(np.maximum(top - (r + 0.5), (r + 0.5) - bottom), 0.0)
        dx = np.maximum(np.maximum(left - (c + 0.5), (c + 0.5) - right), 0.0)
        hits.append(bool(np.any(np.hypot(dy, dx) <= tolerance)))
    return float(np.mean(hits))


def energy_pointing_game(cams, gt_boxes):
    """The energy-based pointing game in [0, 1] (Wang et al., Score-CAM, CVPRW 2020), averaged over images:

        share_i = sum of map_i over the pixels inside any of its boxes / sum of map_i over all pixels

    A pixel is inside when its centre is. Maps must be >= 0 (camlab's maps are); an all-zero map has no
    energy anywhere and scores 0. Same inputs as ``pointing_game``.
    """
    maps = as_maps(cams)
    gts = _as_gt(gt_boxes, len(maps))
    shares = []
    for i, (cam, gt) in enumerate(zip(maps, gts)):
        if cam.min() < 0:
            raise ValueError(f"cams[{i}] has negative values ({cam.min():.3g}); the energy pointing game needs "
                             f"maps >= 0, such as camlab's maps in [0, 1].")
        rows = np.arange(cam.shape[0])[:, None] + 0.5
        cols = np.arange(cam.shape[1])[None, :] + 0.5
        inside = np.zeros(cam.shape, bool)
        for top, left, bottom, right in _box_pixels(gt, *cam.shape):
            inside |= (rows >= top) & (rows <= bottom) & (cols >= left) & (cols <= right)
        total = float(cam.sum(dtype=np.float64))
        shares.append(float(cam[inside].sum(dtype=np.float64)) / total if total > 0 else 0.0)
    return float(np.mean(shares))


# ----------------------------------------------------------------------------------------------------------
# camlab.evaluation's names, importable from here (loaded on first use: evaluation imports this module)
# ----------------------------------------------------------------------------------------------------------
_FROM_EVALUATION = ("deletion_insertion", "average_drop", "sanity_check", "SanityCheck", "evaluate_localization",
                    "LocalizationReport", "COLUMNS", "main")


def __getattr__(name):
    if name in _FROM_EVALUATION:
        from camlab import evaluation

        return getattr(evaluation, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
