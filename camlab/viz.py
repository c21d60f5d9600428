"""Pictures of maps: heat-map overlays, boxes drawn on images, and side-by-side comparisons.

Every function returns a new uint8 RGB image (or a Matplotlib figure) and leaves its inputs untouched.
Images may be uint8 or float in [0, 1]; gray (H, W) or (H, W, 1), RGB, or RGBA (alpha is dropped).
"""
import cv2
import matplotlib
import matplotlib.font_manager
import matplotlib.text
import numpy as np

from camlab import boxes as _boxes

__all__ = ["as_rgb_uint8", "overlay", "visualize_cam_on_image", "draw_boxes", "box_grid", "compare_maps",
           "map_colorbar", "iou_histograms", "sanity_check_maps", "sanity_check_curves", "text_sizes_on_page",
           "box_thickness", "PALETTE", "GT_COLOR", "MAP_BOX_COLOR", "OUTLINE_COLOR", "PAGE_WIDTH_PX"]

# Box colours in order (RGB): Matplotlib's "tab10", which stays distinguishable on most images.
PALETTE = [tuple(int(round(255 * c)) for c in rgb) for rgb in matplotlib.colormaps["tab10"].colors]
GT_COLOR = (255, 255, 255)
# A box found from a map, drawn on that map's overlay: magenta is in no part of "jet" (blue-cyan-green-yellow-red)
# nor of "viridis"/"inferno", and its dark outline keeps it visible on white and yellow too.
MAP_BOX_COLOR = (255, 0, 255)
OUTLINE_COLOR = (0, 0, 0)
TITLE_SIZE = 13  # points; figures are shrunk to the page's width in JupyterLab, so titles start large
MAP_SCALE_LABEL = "map value (1 = the map's maximum)"
MARK_COLORS = ("red", "tab:purple", "tab:brown", "tab:gray")  # reference lines on histograms, one per mark
# JupyterLab shrinks a wider figure to the page's width (about 900 pixels), text with it: the figures here keep
# their default width under MAX_WIDTH inches (at 100 dpi) so that titles stay about 10 pixels tall on the page.
PAGE_WIDTH_PX = 900
MAX_WIDTH = 15.0
SAME_CURVE = 0.01  # curves (or maps) closer than this everywhere are said to be drawn over each other


def text_sizes_on_page(fig, page_width_px=PAGE_WIDTH_PX):
    """The height in pixels (one em) of every text ``fig`` draws, as a learner sees it: the figure saved at its
    dpi and cropped to its content (as the inline backend does), then shrunk to ``page_width_px`` when wider
    (JupyterLab does that to a wide PNG, its text with it).

    Returns ``[(pixels, text), ...]``, smallest first; e.g. ``text_sizes_on_page(fig)[0][0] >= 8`` says the
    smallest text stays readable. Texts of hidden axes, empty strings and ticks outside the view are not drawn,
    so they are not listed.
    """
    drawn = []
    original = matplotlib.text.Text.draw

    def recording(text, renderer):
        if text.get_visible() and text.get_text().strip():
            drawn.append(text)
        return original(text, renderer)

    matplotlib.text.Text.draw = recording
    try:
        fig.canvas.draw()
    finally:
        matplotlib.text.Text.draw = original
    width = fig.get_tightbbox(fig.canvas.get_renderer()).width * fig.dpi
    shrink = min(1.0, page_width_px / width) if width > 0 else 1.0
    found = {id(t): (float(t.get_fontsize() * fig.dpi / 72.0 * shrink), t.get_text()) for t in drawn}
    return sorted(found.values(), key=lambda pair: pair[0])


def box_thickness(shape):
    """The default box line width in pixels for an image of ``shape``: 2 up to 200 pixels on the longest side,
    then one more per 100, so a box shows as wide on a 512-pixel photo as on a 128-pixel picture once both are
    drawn at the same panel size."""
    return max(2, int(round(max(shape[:2]) / 100.0)))


def _same_as(value, earlier, tolerance=SAME_CURVE):
    """The first name in ``earlier`` ({name: array}) whose array matches ``value`` within ``tolerance``."""
    for name, other in earlier.items():
        if np.shape(other) == np.shape(value) and np.max(np.abs(np.asarray(other) - np.asarray(value))) < tolerance:
            return name
    return None


def as_rgb_uint8(image):
    """A copy of ``image`` as uint8 RGB (H, W, 3).

    uint8 is kept; floats must lie in [0, 1] and are scaled by 255; other integer types must lie in 0..255.
    Gray images are repeated into three channels, an alpha channel is dropped.
    """
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] in (1, 3, 4):
        arr = arr[..., :3] if arr.shape[-1] != 1 else arr[..., 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] != 3 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"image must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got shape {np.shape(image)}.")
    if arr.dtype == np.uint8:
        return arr.copy()
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ValueError("image contains NaN or infinite values.")
        if arr.min() < 0 or arr.max() > 1:
            raise ValueError(f"a float image must lie in [0, 1]; got values in [{arr.min():.3g}, {arr.max():.3g}]. "
                             f"For 0..255 values, pass image.astype(np.uint8) (or divide by 255).")
        return np.rint(arr * 255).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool:
        if arr.min() < 0 or arr.max() > 255:
            raise ValueError(f"an integer image must lie in 0..255; got values in [{arr.min()}, {arr.max()}].")
        return (arr * 255 if arr.dtype == bool else arr).astype(np.uint8)
    raise ValueError(f"image has an unsupported dtype {arr.dtype}; use uint8 or float in [0, 1].")


def _unit_map(cam):
    """The map as float32 in [0, 1]: kept when already inside, else min-max normalized (a constant map -> 0)."""
    cam = _boxes.check_map(cam)
    low, high = float(cam.min()), float(cam.max())
    if low >= 0 and high <= 1:
        return cam
    return (cam - low) / (high - low) if high > low else np.zeros_like(cam)


def _check_alpha(alpha):
    if not np.isscalar(alpha) or not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be a number in [0, 1]; got {alpha!r}.")
    return float(alpha)


def overlay(image, cam, alpha=0.5, colormap="jet"):
    """The map drawn over the image as a heat map: uint8 RGB at the image's size.

    out = (1 - alpha) * image + alpha * colormap(cam), the map resized (bilinear) to the image. A map already in
    [0, 1] (camlab's maps are) is coloured as is; any other range is min-max normalized first.
    """
    rgb = as_rgb_uint8(image)
    alpha = _check_alpha(alpha)
    try:
        cmap = matplotlib.colormaps[colormap]
    except KeyError:
        raise ValueError(f"Unknown colormap {colormap!r}; use a Matplotlib name such as 'jet', 'viridis' or "
                         f"'inferno'.") from None
    unit = cv2.resize(_unit_map(cam), (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    heat = cmap(np.clip(unit, 0.0, 1.0))[..., :3] * 255.0
    return np.rint((1.0 - alpha) * rgb + alpha * heat).astype(np.uint8)


def visualize_cam_on_image(src1, src2, alpha=0.5):
    """The lesson's blend: ``alpha * src1 + (1 - alpha) * src2`` (``cv2.addWeighted``), same shape and dtype."""
    a, b = np.asarray(src1), np.asarray(src2)
    alpha = _check_alpha(alpha)
    if a.shape != b.shape or a.dtype != b.dtype:
        raise ValueError(f"src1 and src2 must have the same shape and dtype to be blended; got {a.shape} {a.dtype} "
                         f"and {b.shape} {b.dtype}. (A map as a 3-channel uint8 image: "
                         f"np.stack([cam * 255] * 3, axis=-1).astype(np.uint8).)")
    return cv2.addWeighted(a, alpha, b, 1.0 - alpha, 0.0)


def _box_list(found):
    """One box, (K, 4) boxes, or a list of boxes where None entries (no box found) are skipped."""
    if found is None:
        return []
    if isinstance(found, np.ndarray) and found.ndim == 1 or (
            not isinstance(found, np.ndarray) and len(found) == 4 and all(np.isscalar(v) for v in found)):
        return [found]
    return list(found)


def draw_boxes(image, boxes, colors=None, labels=None, thickness=None, outline=None):
    """Normalized ``[ymin, xmin, ymax, xmax]`` boxes drawn on a uint8 RGB copy of ``image``.

    ``boxes``: one box, (K, 4) boxes, or a list (None entries, e.g. ``cam_to_bbox`` finding nothing, are
    skipped but keep their colour and label slot). ``colors``: RGB tuples, one for all or one per box
    (default: ``PALETTE`` in order). ``labels``: optional text per box, written at its top-left corner.
    ``outline``: an RGB colour (e.g. ``OUTLINE_COLOR``, black) drawn one pixel wider on each side under every
    box and label, so a box stays visible on any background (a heat-map overlay has every colour somewhere).
    ``thickness``: line width in pixels; None (default) is ``box_thickness(image.shape)``: 2 on small images,
    wider on large photos, which are shown shrunk.
    """
    out = as_rgb_uint8(image)
    if thickness is None:
        thickness = box_thickness(out.shape)
    entries = _box_list(boxes)
    if colors is None:
        colors = [PALETTE[k % len(PALETTE)] for k in range(len(entries))]
    elif len(colors) in (3, 4) and all(np.isscalar(c) for c in colors):
        colors = [tuple(colors)] * len(entries)
    if len(colors) != len(entries) or (labels is not None and len(labels) != len(entries)):
        raise ValueError(f"Got {len(entries)} boxes, {len(colors)} colours and "
                         f"{'no' if labels is None else len(labels)} labels: give one colour (or one per box) "
                         f"and one label per box.")
    if int(thickness) != thickness or thickness < 1:
        raise ValueError(f"thickness must be a positive int; got {thickness!r}.")
    if outline is not None and (len(outline) not in (3, 4) or not all(np.isscalar(c) for c in outline)):
        raise ValueError(f"outline must be one RGB colour such as (0, 0, 0); got {outline!r}.")
    scale = max(0.3, min(out.shape[:2]) / 400.0)
    layers = ([("outline", tuple(int(c) for c in outline[:3]), 2)] if outline is not None else []) + [("box", None, 0)]
    for layer, under, extra in layers:  # all outlines first, so no outline covers another box
        for k, (found, color) in enumerate(zip(entries, colors)):
            if found is None:
                continue
            rect = _boxes.minmax_to_rect(found, out.shape)
            color = under or tuple(int(c) for c in color[:3])
            cv2.rectangle(out, tuple(rect[0].tolist()), tuple(rect[2].tolist()), color, int(thickness) + extra)
            if labels is not None and labels[k]:
                x, y = int(rect[0][0]), int(rect[0][1])
                (_, text_h), _ = cv2.getTextSize(str(labels[k]), cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
                origin = (x + 2, y - 3) if y - 3 - text_h >= 0 else (x + 2, y + text_h + 3)
                cv2.putText(out, str(labels[k]), origin, cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1 + extra,
                            cv2.LINE_AA)
    return out


def box_grid(images, boxes, labels=None, colors=None, titles=None, ncols=4, figsize=None, thickness=None,
             outline=OUTLINE_COLOR, title_size=TITLE_SIZE - 1, label_size=10):
    """A figure of images in a grid, each with its own boxes (``draw_boxes``) and title.

    ``boxes[i]``: image i's normalized ``[ymin, xmin, ymax, xmax]`` boxes, (K_i, 4); ``labels[i]`` and
    ``colors[i]`` (optional): one text and one RGB colour per box of image i (labels are written inside each
    box's top-left corner on a patch of its colour, so they stay readable; a label that would cover another one
    moves to the box's bottom-left corner, above or below the box, and a repeated label with no free spot is
    left out); ``titles[i]``: image i's title.
    ``thickness``: box width in pixels (default ``box_thickness`` of each image, so large photos get boxes as
    visible as small pictures); ``outline``: the colour drawn around every box (None for none);
    ``title_size``, ``label_size``: in points. The default width stays within ``MAX_WIDTH`` inches, so the
    text stays readable once JupyterLab fits the figure to the page.
    Returns the ``matplotlib.figure.Figure`` (constrained layout: a later ``map_colorbar`` fits in).
    """
    import matplotlib.pyplot as plt

    count = len(images)
    for name, given in (("boxes", boxes), ("labels", labels), ("colors", colors), ("titles", titles)):
        if given is not None and len(given) != count:
            raise ValueError(f"Got {count} images but {len(given)} {name}: give one entry per image.")
    if count == 0:
        raise ValueError("box_grid needs at least one image.")
    ncols = max(1, min(int(ncols), count))
    nrows = -(-count // ncols)
    panel = min(3.6, MAX_WIDTH / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize or (panel * ncols, panel * 5 / 6 * nrows),
                             squeeze=False, layout="constrained")
    written = []  # (axes, [(text, [candidate positions])]) to move apart once the layout is known
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= count:
            continue
        entries = _box_list(boxes[i])
        shades = colors[i] if colors is not None else [PALETTE[k % len(PALETTE)] for k in range(len(entries))]
        width = box_thickness(np.shape(images[i])) if thickness is None else thickness
        picture = draw_boxes(images[i], entries, colors=shades, thickness=width, outline=outline)
        ax.imshow(picture)
        texts = []
        for k, found in enumerate(entries if labels is not None else []):
            if found is None or not labels[i][k]:
                continue
            (x, y), _, (x1, y1), _ = _boxes.minmax_to_rect(found, picture.shape)
            spots = [(x + width, y + width, "top"), (x + width, y1 - width, "bottom"), (x, y - width - 1, "bottom"),
                     (x, y1 + width + 1, "top")]
            text = ax.text(*spots[0][:2], str(labels[i][k]), fontsize=label_size, color="white", va="top",
                           clip_on=True, bbox=dict(facecolor=np.array(shades[k][:3]) / 255, edgecolor="none", pad=1))
            texts.append((text, spots, x1 - width))
        written.append(texts)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=title_size)
    if any(written):
        _spread_labels(fig, written)
    return fig


def _spread_labels(fig, written):
    """Move each label that covers an earlier one (same panel) to its next free spot (inside the box's top-left,
    bottom-left corner, above it, below it), right-aligned on the box when it would run out of the panel."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for texts in written:
        taken, shown = [], []
        for text, spots, right in texts:
            panel = text.axes.get_window_extent(renderer)
            choice = None
            for x, y, va in spots:
                text.set_position((x, y))
                text.set_va(va)
                text.set_ha("left")
                box = text.get_window_extent(renderer)
                if box.x1 > panel.x1:  # would be cut at the panel's right edge
                    text.set_position((right, y))
                    text.set_ha("right")
                    box = text.get_window_extent(renderer)
                inside = box.y0 >= panel.y0 - 1 and box.y1 <= panel.y1 + 1
                if inside and not any(box.expanded(1.05, 1.1).overlaps(other) for other in taken):
                    choice = None
                    break
                choice = choice or (text.get_position(), va, text.get_ha())
            else:  # no free spot: a repeated label (its box's colour says it) is left out, another stays first
                if text.get_text() in {other.get_text() for other in shown}:
                    text.set_visible(False)
                    continue
                position, va, ha = choice
                text.set_position(position)
                text.set_va(va)
                text.set_ha(ha)
            taken.append(text.get_window_extent(renderer))
            shown.append(text)


def map_colorbar(where, colormap="jet", vmin=0.0, vmax=1.0, label=MAP_SCALE_LABEL, relayout=True, **kwargs):
    """A colorbar for heat maps drawn as RGB pictures (``overlay``), which carry no scale of their own.

    ``where``: one Axes or a list of Axes to stand beside (their figure gets the bar). The scale runs from
    ``vmin`` to ``vmax`` in ``colormap``, labelled ``label``; other keyword arguments go to
    ``Figure.colorbar`` (e.g. ``shrink=0.8``). ``relayout``: a figure without a layout engine (e.g. after
    ``plt.tight_layout()``) is switched to constrained layout first, so the bar takes its room from the whole
    grid instead of shrinking only the panels it stands beside. A label longer than the bar is split onto two
    lines, so it does not run past the bar's ends. Returns the ``Colorbar``.
    """
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    axes = list(np.ravel(where)) if isinstance(where, (list, tuple, np.ndarray)) else [where]
    try:
        cmap = matplotlib.colormaps[colormap]
    except KeyError:
        raise ValueError(f"Unknown colormap {colormap!r}; use a Matplotlib name such as 'jet'.") from None
    if not vmin < vmax:
        raise ValueError(f"vmin must be below vmax; got {vmin!r} and {vmax!r}.")
    mappable = ScalarMappable(norm=Normalize(vmin, vmax), cmap=cmap)
    fig = axes[0].figure
    if relayout and isinstance(fig.get_layout_engine(), (type(None), PlaceHolderLayoutEngine)):
        try:
            fig.set_layout_engine("constrained")
        except RuntimeError:  # a colorbar made under another layout is there already: keep that layout
            pass
    boxes = [ax.get_position(original=True) for ax in axes]  # the grid slots: the bar spans them
    span = (max(b.y1 for b in boxes) - min(b.y0 for b in boxes)) * fig.get_figheight() * kwargs.get("shrink", 1.0)
    if kwargs.get("orientation", "vertical") == "vertical" and " " in str(label) and "\n" not in str(label):
        size = matplotlib.rcParams["axes.labelsize"]
        size = matplotlib.font_manager.FontProperties(size=size).get_size_in_points()
        if len(str(label)) * 0.5 * size / 72.0 > span:  # about half an em per character
            label = _two_lines(str(label))
    return fig.colorbar(mappable, ax=axes if len(axes) > 1 else axes[0], label=label, **kwargs)


def _two_lines(text):
    """``text`` split in two lines: before a bracket when it has one, else at the space nearest its middle."""
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    before_brackets = [i for i in spaces if text[i + 1:i + 2] == "("]  # "map value (1 = ...)": cut before "("
    cut = min(before_brackets or spaces, key=lambda i: abs(i - len(text) / 2))
    return text[:cut] + "\n" + text[cut + 1:]


def compare_maps(image, maps, boxes=None, gt_box=None, alpha=0.5, colormap="jet", threshold=None,
                 figsize=None, ncols=None, colorbar=True, title_size=TITLE_SIZE):
    """A side-by-side figure: the image (with ``gt_box`` in white), then one overlay per map, titled by name.

    ``maps``: ``{name: map}``. Boxes on the overlays: ``boxes={name: box}``, or ``threshold=t`` to take each
    map's ``cam_to_bbox(map, t)``; with ``gt_box`` too, each title adds the box's IoU on a second line. Boxes
    from maps are ``MAP_BOX_COLOR`` (magenta), the ground truth ``GT_COLOR`` (white), both outlined in black
    so they show on every part of the overlay. ``colorbar=True`` adds one scale for all overlays (maps are
    shown in [0, 1]; other ranges are min-max normalized, see ``overlay``). ``title_size`` is in points.
    A map equal to an earlier one (within ``SAME_CURVE`` everywhere) says so in its title, e.g.
    ``"Grad-CAM (= CAM)"``, so two identical panels do not look like a mistake.
    Returns the ``matplotlib.figure.Figure`` (up to four panels in one row, else rows of ``ncols``, default
    half the panels rounded up; the default width stays within ``MAX_WIDTH`` inches, so the titles stay
    readable once JupyterLab fits the figure to the page).
    """
    import matplotlib.pyplot as plt

    if not isinstance(maps, dict) or not maps:
        raise ValueError("maps must be a non-empty dict {name: map}, e.g. {'CAM': cam, 'Grad-CAM': grad}.")
    if boxes is not None and threshold is not None:
        raise ValueError("Give boxes or threshold, not both.")
    if threshold is not None:
        boxes = {name: _boxes.cam_to_bbox(cam, threshold) for name, cam in maps.items()}
    boxes = boxes or {}
    unknown = set(boxes) - set(maps)
    if unknown:
        raise ValueError(f"boxes has names that are not in maps: {sorted(unknown)}.")
    panels = 1 + len(maps)
    ncols = (panels if panels <= 4 else -(-panels // 2)) if ncols is None else int(ncols)
    if ncols < 1:
        raise ValueError(f"ncols must be a positive int; got {ncols!r}.")
    nrows = -(-panels // ncols)
    bar = 0.9 if colorbar else 0.0
    panel = min(3.3, (MAX_WIDTH - bar) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize or (panel * ncols + bar, panel * 12 / 11 * nrows),
                             squeeze=False, layout="constrained")
    gt = [] if gt_box is None else [gt_box]
    pictures = [("image", draw_boxes(image, gt, colors=[GT_COLOR] * len(gt), outline=OUTLINE_COLOR))]
    seen = {}
    for name, cam in maps.items():
        shown, title, found = overlay(image, cam, alpha, colormap), str(name), boxes.get(name)
        unit = _unit_map(cam)
        twin = _same_as(unit, seen)
        seen[name] = unit
        if twin is not None:
            title += f" (= {twin})"
        if found is not None:
            shown = draw_boxes(shown, gt + [found], colors=[GT_COLOR] * len(gt) + [MAP_BOX_COLOR],
                               outline=OUTLINE_COLOR)
            if gt:
                title += f"\nIoU {_boxes.iou(found, gt_box):.2f}"
        pictures.append((title, shown))
    for ax, (title, picture) in zip(axes.flat, pictures):
        ax.imshow(picture)
        ax.set_title(title, fontsize=title_size)
    for ax in axes.flat:
        ax.axis("off")
    if colorbar:
        map_colorbar(list(axes.flat[1:panels]), colormap, shrink=0.85)
    return fig


def iou_histograms(ious, threshold=0.5, marks=None, bins=20, ncols=None, figsize=None, title_size=TITLE_SIZE):
    """One histogram of per-image IoUs per method, side by side with a shared y axis: a dashed line at the hit
    ``threshold`` and each panel's title giving the mean and the share at or above it.

    ``ious``: ``{name: per-image IoUs}``. ``marks``: optional ``{label: value}`` (one value for every panel) or
    ``{label: {name: value}}`` (per panel) drawn as dotted vertical lines, e.g. ``{"the image above": 0.65}``.
    Ticks every 0.1 (labelled every 0.2) and the legend below the axes, so neither covers the bars. A method
    whose IoUs equal an earlier one's, image for image, says so in its title (``"(the same IoUs as CAM)"``).
    Returns the ``matplotlib.figure.Figure``.
    """
    import matplotlib.pyplot as plt

    if not isinstance(ious, dict) or not ious:
        raise ValueError("ious must be a non-empty dict {name: per-image IoUs}, e.g. {'CAM': report_ious}.")
    values = {}
    for name, v in ious.items():
        arr = np.asarray(v, dtype=np.float64).ravel()
        if arr.size == 0 or not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
            raise ValueError(f"ious[{name!r}] must be a non-empty array of IoUs in [0, 1]; got "
                             f"{arr.size} values" + (f" in [{arr.min():.3g}, {arr.max():.3g}]." if arr.size else "."))
        values[name] = arr
    marks = marks or {}
    ncols = min(len(values), 3) if ncols is None else int(ncols)
    nrows = -(-len(values) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize or (4.6 * ncols, 3.9 * nrows), sharey=True,
                             squeeze=False, layout="constrained")
    edges = np.linspace(0.0, 1.0, int(bins) + 1)
    colours = [tuple(c / 255 for c in rgb) for rgb in PALETTE]
    seen = {}
    for k, (ax, (name, arr)) in enumerate(zip(axes.flat, values.items())):
        twin = _same_as(arr, seen, tolerance=1e-9)
        seen[name] = arr
        ax.hist(arr, bins=edges, color=colours[k % len(colours)], edgecolor="white")
        ax.axvline(threshold, color="black", linestyle="--", label=f"IoU {threshold:g}")
        for m, (label, where) in enumerate(marks.items()):
            value = where.get(name) if isinstance(where, dict) else where
            if value is not None:
                ax.axvline(value, color=MARK_COLORS[m % len(MARK_COLORS)], linestyle=":", lw=2, label=label)
        same = "" if twin is None else f"\n(the same IoUs as {twin})"
        ax.set_title(f"{name}{same}\nmean {arr.mean():.3f}, {np.mean(arr >= threshold):.1%} >= {threshold:g}",
                     fontsize=title_size)
        ax.set_xlim(0, 1)
        ax.set_xticks(np.linspace(0, 1, 6))
        ax.set_xticks(np.linspace(0, 1, 11), minor=True)
        ax.set_xlabel("IoU with the ground truth")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=2, frameon=False, fontsize=10)
    for ax in axes.flat[len(values):]:
        ax.axis("off")
    for row in axes:
        row[0].set_ylabel("images")
    return fig


def _check_report(report):
    for name in ("steps", "methods", "scores", "maps"):
        if not hasattr(report, name):
            raise ValueError(f"report must be what camlab.evaluation.sanity_check returns; it has no {name!r}.")


def sanity_check_maps(report, image=None, image_index=0, max_steps=8, colormap="jet", figsize=None):
    """The cascading (or independent) randomization figure of Adebayo et al.: one row per method, one column
    per step (``"original"`` first; at most ``max_steps`` columns, evenly spaced, the last step always shown),
    each the method's map of image ``image_index`` - over ``image`` when given (``overlay``) - with one colorbar
    for all, in the colormap's full colours.
    ``report``: a ``camlab.evaluation.SanityCheck`` kept with ``keep_maps > image_index``. Returns the figure.
    """
    import matplotlib.pyplot as plt

    _check_report(report)
    kept = next(iter(report.maps.values())).shape[1]
    if int(image_index) != image_index or not 0 <= image_index < kept:
        raise ValueError(f"image_index {image_index!r} has no maps in the report, which kept {kept} image(s); "
                         f"run sanity_check(..., keep_maps={int(image_index) + 1}) to keep more.")
    if int(max_steps) != max_steps or max_steps < 2:
        raise ValueError(f"max_steps must be an int >= 2; got {max_steps!r}.")
    count = len(report.steps)
    columns = sorted(set(np.linspace(0, count - 1, min(count, int(max_steps))).round().astype(int).tolist()))
    rows = len(report.methods)
    panel = min(1.9, (MAX_WIDTH - 1.6) / len(columns))
    fig, axes = plt.subplots(rows, len(columns), squeeze=False, layout="constrained",
                             figsize=figsize or (panel * len(columns) + 1.6, panel * rows + 0.6))
    for r, method in enumerate(report.methods):
        for c, step in enumerate(columns):
            ax = axes[r, c]
            cam = report.maps[method][step, int(image_index)]
            if image is not None:
                ax.imshow(overlay(image, np.clip(cam, 0.0, 1.0), 0.5, colormap))
            else:
                ax.imshow(cam, cmap=colormap, vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(report.steps[step], fontsize=9)
            if c == 0:
                ax.set_ylabel(method, fontsize=11)
    map_colorbar(list(axes.flat), colormap, shrink=0.8, label="map value")
    fig.suptitle(f"{report.mode} randomization, top layer first (left: the original model)", fontsize=12)
    return fig


def sanity_check_curves(report, figsize=None):
    """Similarity to the original map against the randomization step: one panel per measure (Spearman of the
    signed maps, of their absolute values, SSIM), one line per method, mean over images with a band from
    the lowest to the highest image. A method whose mean curves stay within ``SAME_CURVE`` of an earlier
    method's in every panel is drawn dashed over it and says so in the legend, which sits below the panels so
    it covers no line. Returns the figure."""
    import matplotlib.pyplot as plt

    _check_report(report)
    measures = (("spearman", "Spearman rank correlation"), ("spearman_abs", "Spearman (absolute values)"),
                ("ssim", "SSIM"))
    fig, axes = plt.subplots(1, 3, figsize=figsize or (14, 4.6), sharey=True, layout="constrained")
    x = np.arange(len(report.steps))
    means = {m: np.stack([report.scores[m][key].mean(axis=1) for key, _ in measures]) for m in report.methods}
    twins, seen = {}, {}
    for method in report.methods:
        twins[method] = _same_as(means[method], seen)
        seen[method] = means[method]
    covered = {twin for twin in twins.values() if twin is not None}
    for ax, (key, title) in zip(axes, measures):
        for k, method in enumerate(report.methods):
            values = report.scores[method][key]
            color = np.array(PALETTE[k % len(PALETTE)]) / 255.0
            twin = twins[method]
            label = method if twin is None else f"{method} (within {SAME_CURVE:g} of {twin}: drawn over it)"
            style = dict(ls="--", lw=1.5) if twin is not None else dict(ls="-", lw=4 if method in covered else 1.5)
            ax.plot(x, values.mean(axis=1), marker="o", markersize=3, color=color, label=label, **style)
            ax.fill_between(x, values.min(axis=1), values.max(axis=1), color=color, alpha=0.15)
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_title(title, fontsize=12)
        ax.set_xticks(x)
        ax.set_xticklabels(report.steps, rotation=90, fontsize=9)
        ax.set_ylim(-1.05, 1.05)
    axes[0].set_ylabel("similarity to the original map")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 3), fontsize=10, frameon=False)
    fig.suptitle(f"{report.mode} randomization (left: original model; then layers from the top)", fontsize=12)
    return fig
