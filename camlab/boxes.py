"""Boxes: formats, overlap, and boxes taken from activation maps.

One box format everywhere: a normalized ``[ymin, xmin, ymax, xmax]`` float box (TFDS's order), so a box means
the same thing at any image size. Pixel corner points only appear at the edges, for OpenCV's drawing
functions (``minmax_to_rect``) and the lesson's rotated rectangles (``get_bbox``, ``rect_to_minmax``).

A map's *regions* are the 8-connected groups of pixels above a threshold (OpenCV's connected components;
8-connectivity is what ``cv2.findContours`` uses for outer borders, so a region's box is the
``cv2.boundingRect`` of its outer contour). A region covering pixel columns ``x0 .. x0 + w - 1`` of a map
``W`` pixels wide spans ``[x0 / W, (x0 + w) / W]``: boxes cover whole pixels.

This module knows nothing about models: NumPy and OpenCV only.
"""
import cv2
import numpy as np

__all__ = [
    "iou",
    "pairwise_iou",
    "xywh_to_minmax",
    "minmax_to_xywh",
    "rect_to_minmax",
    "minmax_to_rect",
    "boxes_from_map",
    "cam_to_bbox",
    "get_bbox",
]


# ----------------------------------------------------------------------------------------------------------
# Checking input
# ----------------------------------------------------------------------------------------------------------
def check_boxes(boxes, name="box", allow_inverted=False):
    """``boxes`` as a float64 array of shape (..., 4) ``[ymin, xmin, ymax, xmax]``, or a clear ValueError.

    Rejects a wrong last axis, NaN or infinite values, and (unless ``allow_inverted``) min > max.
    Always returns a new array, so callers can never change the caller's boxes.
    """
    try:
        arr = np.array(boxes, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be numbers [ymin, xmin, ymax, xmax]; got {boxes!r} ({err}).") from None
    if arr.ndim == 0 or arr.shape[-1] != 4:
        raise ValueError(
            f"{name} must have 4 numbers [ymin, xmin, ymax, xmax] on its last axis; got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values: {_short(arr)}. Every coordinate must be a "
                         f"finite number.")
    if not allow_inverted:
        bad = (arr[..., 0] > arr[..., 2]) | (arr[..., 1] > arr[..., 3])
        if np.any(bad):
            example = arr.reshape(-1, 4)[np.flatnonzero(bad.ravel())[0]]
            raise ValueError(
                f"{name} has min > max: {example.tolist()} is not [ymin, xmin, ymax, xmax] with ymin <= ymax "
                f"and xmin <= xmax. (A (x, y, w, h) box? Convert it with xywh_to_minmax.)")
    return arr


def check_map(cam, name="cam"):
    """``cam`` as a 2-D float32 array (a new one), or a ValueError saying what is wrong."""
    arr = np.array(cam, dtype=np.float32)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D map (H, W); got shape {arr.shape}. For a batch (N, H, W), "
                         f"pass one map at a time.")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}).")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values; a map must be finite "
                         f"(check the model's output, e.g. a division by a zero maximum).")
    return arr


def check_threshold(value, name="threshold", positive=False):
    """``value`` as a float in [0, 1] (``positive=True``: in (0, 1]), or a ValueError saying what to pass instead.

    The one check for every threshold camlab takes: map thresholds (a fraction of the map's maximum) and IoU
    thresholds. A string such as ``'0.2'``, a bool, a sequence, NaN, or a number out of range is refused, never
    clipped: ``cam_to_bbox`` at -0.5 would box the whole image, at 1.5 never anything.
    """
    low = "0 (excluded)" if positive else "0"
    if isinstance(value, (str, bytes)):
        try:
            hint = f" Pass the number {float(value)!r}, without quotes."
        except ValueError:
            hint = ""
        raise ValueError(f"{name} must be a number between {low} and 1, not the string {value!r}.{hint}")
    arr = np.asarray(value) if not isinstance(value, (bool, np.bool_)) else np.asarray(None)
    if arr.ndim != 0 or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name} must be one number between {low} and 1; got {_short_value(value)}.")
    number = float(arr)
    if not (0.0 < number <= 1.0 if positive else 0.0 <= number <= 1.0):
        hint = f" A percentage? Divide it by 100: {number / 100:g}." if number.is_integer() and 1 < number <= 100 else ""
        raise ValueError(f"{name} must be between {low} and 1 (a fraction, 0.2 = 20%); got {number!r}.{hint}")
    return number


def _short_value(value):
    text = repr(value)
    return text if len(text) <= 60 else f"a {type(value).__name__}"


def _short(arr):
    return np.array2string(np.asarray(arr), threshold=8, precision=3)


def _image_hw(image_shape):
    """(H, W) from an image's shape (H, W[, C]) or from the image array itself."""
    if isinstance(image_shape, np.ndarray) and image_shape.ndim >= 2:
        shape = image_shape.shape  # the image itself, as the lesson passed it
    else:
        shape = tuple(int(s) for s in np.ravel(image_shape))
    if len(shape) not in (2, 3) or shape[0] <= 0 or shape[1] <= 0:
        raise ValueError(f"image_shape must be (H, W) or (H, W, C) with H, W > 0, or the image array; "
                         f"got {image_shape if not isinstance(image_shape, np.ndarray) else shape}.")
    return int(shape[0]), int(shape[1])


# ----------------------------------------------------------------------------------------------------------
# Overlap and formats
# ----------------------------------------------------------------------------------------------------------
def area(boxes):
    """Area of ``[ymin, xmin, ymax, xmax]`` boxes, (..., 4) -> (...)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def iou_unchecked(a, b):
    """IoU(a, b) = |a & b| / (|a| + |b| - |a & b|), broadcast over (..., 4); 0 where the union is empty."""
    inter_h = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0.0, None)
    inter_w = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0.0, None)
    inter = inter_h * inter_w
    union = area(a) + area(b) - inter
    safe = np.where(union > 0, union, 1.0)
    return np.where(union > 0, inter / safe, 0.0)


def iou(a, b):
    """Intersection over union of two boxes, or of broadcastable (..., 4) arrays of boxes.

    IoU = area(a & b) / (area(a) + area(b) - area(a & b)), in [0, 1]. Disjoint boxes and zero-area boxes give
    0.0 (never a division by zero). Returns a float for two (4,) boxes, an array otherwise.
    """
    a, b = check_boxes(a, "box a"), check_boxes(b, "box b")
    try:
        out = iou_unchecked(a, b)
    except ValueError:
        raise ValueError(f"box arrays of shapes {a.shape} and {b.shape} do not broadcast; use pairwise_iou "
                         f"for every pair of an (N, 4) and an (M, 4) array.") from None
    return float(out) if out.ndim == 0 else out


def pairwise_iou(boxes_a, boxes_b):
    """IoU of every box in ``boxes_a`` (N, 4) with every box in ``boxes_b`` (M, 4) -> (N, M)."""
    a, b = check_boxes(boxes_a, "boxes_a"), check_boxes(boxes_b, "boxes_b")
    a, b = (x[None, :] if x.ndim == 1 else x for x in (a, b))  # a single box is a list of one
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"pairwise_iou takes (N, 4) and (M, 4) arrays; got {a.shape} and {b.shape}.")
    return iou_unchecked(a[:, None, :], b[None, :, :])


def xywh_to_minmax(boxes):
    """Center boxes ``(x_center, y_center, w, h)`` -> ``[ymin, xmin, ymax, xmax]`` (same units), over (..., 4).

    ymin = y_center - h / 2, xmin = x_center - w / 2, ymax = y_center + h / 2, xmax = x_center + w / 2.
    """
    arr = check_boxes(boxes, "xywh box", allow_inverted=True)
    if np.any(arr[..., 2:] < 0):
        raise ValueError(f"xywh box has a negative width or height: {_short(arr)}.")
    xc, yc, w, h = np.moveaxis(arr, -1, 0)
    return np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=-1)


def minmax_to_xywh(boxes):
    """``[ymin, xmin, ymax, xmax]`` -> center boxes ``(x_center, y_center, w, h)``, over (..., 4)."""
    ymin, xmin, ymax, xmax = np.moveaxis(check_boxes(boxes), -1, 0)
    return np.stack([(xmin + xmax) / 2, (ymin + ymax) / 2, xmax - xmin, ymax - ymin], axis=-1)


def rect_to_minmax(points, image_shape):
    """Corner points ``(x, y)`` in pixels (e.g. from ``cv2.boxPoints``) -> a normalized box, clipped to [0, 1].

    ``image_shape`` is ``(H, W)`` or ``(H, W, C)``, or the image array itself (as the lesson passed it).
    ymin = min(y) / H, xmin = min(x) / W, ymax = max(y) / H, xmax = max(x) / W.
    """
    pts = np.array(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
        raise ValueError(f"points must be an (N, 2) array of (x, y) pixel corners; got shape {pts.shape}.")
    if not np.all(np.isfinite(pts)):
        raise ValueError("points contain NaN or infinite values.")
    height, width = _image_hw(image_shape)
    box = [pts[:, 1].min() / height, pts[:, 0].min() / width, pts[:, 1].max() / height, pts[:, 0].max() / width]
    return np.clip(np.array(box), 0.0, 1.0)


def minmax_to_rect(box, image_shape):
    """A normalized box -> its (4, 2) int32 pixel corners ``(x, y)``, clockwise from the top-left.

    The inverse of ``rect_to_minmax`` up to rounding: x = round(xmin * W) ... , kept inside the image
    (0 .. W - 1, 0 .. H - 1), ready for ``cv2.drawContours(image, [rect], 0, color, thickness)``.
    """
    ymin, xmin, ymax, xmax = check_boxes(box).reshape(4)
    height, width = _image_hw(image_shape)
    x0, x1 = np.clip(np.rint([xmin * width, xmax * width]), 0, width - 1)
    y0, y1 = np.clip(np.rint([ymin * height, ymax * height]), 0, height - 1)
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.int32)


# ----------------------------------------------------------------------------------------------------------
# Boxes from maps
# ----------------------------------------------------------------------------------------------------------
def region_stats(mask):
    """8-connected regions of a binary mask: an int array (R, 5) of ``[x0, y0, width, height, pixels]``.

    One OpenCV call (Spaghetti labelling, Bolelli et al. 2020) for the whole mask; the background is dropped.
    Rows come in OpenCV's label order (raster order of each region's first pixel).
    """
    mask = np.ascontiguousarray(mask, dtype=bool).view(np.uint8)
    _, _, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(mask, 8, cv2.CV_32S, cv2.CCL_SPAGHETTI)
    return stats[1:]


def regions_to_boxes(stats, height, width):
    """``region_stats`` rows of a map of ``height`` x ``width`` pixels -> normalized (R, 4) boxes."""
    x0, y0, w, h = (stats[:, i].astype(np.float64) for i in range(4))
    return np.stack([y0 / height, x0 / width, (y0 + h) / height, (x0 + w) / width], axis=-1)


def relative_mask(cam, threshold):
    """Pixels above ``threshold`` times the map's maximum: ``cam / max(cam) > threshold``.

    A map whose maximum is not positive (all zero, all negative) has no such pixel.
    """
    peak = cam.max()
    if not peak > 0:
        return np.zeros(cam.shape, dtype=bool)
    return (cam / peak) > np.float32(threshold)


def boxes_from_map(cam, threshold=0.2, largest_only=False):
    """Boxes of a map's regions above ``threshold * max(cam)``, largest region first.

    Returns ``(boxes, pixels)``: normalized boxes (R, 4) and each region's pixel count (R,), sorted by size
    (ties keep OpenCV's raster order). ``largest_only=True`` keeps only the first. No region (an all-zero map,
    a threshold above every pixel) gives empty (0, 4) and (0,) arrays. The map is never modified.
    """
    cam = check_map(cam)
    check_threshold(threshold)
    stats = region_stats(relative_mask(cam, threshold))
    order = np.argsort(-stats[:, 4], kind="stable")
    if largest_only:
        order = order[:1]
    stats = stats[order]
    return regions_to_boxes(stats, *cam.shape), stats[:, 4].astype(np.int64)


def cam_to_bbox(cam, threshold=0.2):
    """The normalized box of the map's largest region above ``threshold * max(cam)``, or None if there is none.

    The CAM paper's rule (Zhou et al., CVPR 2016: 20% of the maximum). "Largest" counts pixels, so a
    small region that happens to come first never wins. The map is never modified.
    """
    boxes, _ = boxes_from_map(cam, threshold, largest_only=True)
    return boxes[0] if len(boxes) else None


def get_bbox(cam, score_thresh=0.05):
    """The lesson's rotated rectangle: (4, 2) int32 corners ``(x, y)`` around the largest region, or None.

    Pixels with ``cam > score_thresh`` (an absolute threshold, as in the lesson) form regions; the largest
    one's outer contour (``cv2.findContours``) gets its minimum-area rotated rectangle (``cv2.minAreaRect``),
    whose corners ``cv2.boxPoints`` gives. Unlike the lesson's version, it takes the largest region (not
    ``contours[0]``), leaves ``cam`` untouched, and returns None instead of raising when nothing passes.
    """
    cam = check_map(cam)
    check_threshold(score_thresh, "score_thresh")
    _, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        (cam > score_thresh).view(np.uint8), 8, cv2.CV_32S, cv2.CCL_SPAGHETTI)
    if len(stats) < 2:
        return None
    largest = 1 + int(np.argmax(stats[1:, 4]))
    contours, _ = cv2.findContours((labels == largest).view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    outline = max(contours, key=len)
    return np.rint(cv2.boxPoints(cv2.minAreaRect(outline))).astype(np.int32)
