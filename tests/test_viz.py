"""camlab.viz: dtypes, shapes, ranges, gray/RGBA input, drawn pixels, figures, and inputs left untouched."""
import matplotlib
import matplotlib.collections

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from camlab import viz  # noqa: E402


@pytest.fixture
def rgb():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (30, 40, 3)).astype(np.uint8)


def test_as_rgb_uint8_handles_gray_rgba_and_floats():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = viz.as_rgb_uint8(gray)
    assert out.shape == (3, 4, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[..., 0], gray)
    np.testing.assert_array_equal(viz.as_rgb_uint8(gray[..., None]), out)
    rgba = np.dstack([out, np.full((3, 4), 7, np.uint8)])
    np.testing.assert_array_equal(viz.as_rgb_uint8(rgba), out)
    np.testing.assert_array_equal(viz.as_rgb_uint8(np.array([[0.0, 0.5, 1.0]])), [[[0] * 3, [128] * 3, [255] * 3]])
    with pytest.raises(ValueError, match=r"\[0, 1\].*astype\(np.uint8\)"):
        viz.as_rgb_uint8(np.full((2, 2, 3), 200.0))
    with pytest.raises(ValueError, match="NaN"):
        viz.as_rgb_uint8(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="shape"):
        viz.as_rgb_uint8(np.zeros((2, 2, 5)))


def test_overlay_blends_the_colormap(rgb):
    cam = np.zeros((5, 5), np.float32)
    before_img, before_cam = rgb.copy(), cam.copy()
    out = viz.overlay(rgb, cam, alpha=0.5)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    # A zero map is jet's dark blue (0, 0, 127.5) everywhere: half of it plus half of the image.
    blue = np.array(matplotlib.colormaps["jet"](0.0)[:3]) * 255
    np.testing.assert_allclose(out, np.rint(0.5 * rgb + 0.5 * blue), atol=1)
    np.testing.assert_array_equal(viz.overlay(rgb, cam, alpha=0.0), rgb)
    np.testing.assert_array_equal(rgb, before_img)
    np.testing.assert_array_equal(cam, before_cam)


def test_overlay_resizes_the_map_and_accepts_float_gray_and_rgba(rgb):
    cam = np.zeros((4, 4), np.float32)
    cam[:2, :2] = 1.0  # hot top-left quarter
    out = viz.overlay(rgb.astype(np.float32) / 255.0, cam, alpha=1.0)
    assert out.shape == (30, 40, 3)
    assert out[2, 2, 0] > 100 and out[2, 2, 2] < 50    # red: hot
    assert out[27, 37, 2] > 100 and out[27, 37, 0] < 50  # blue: cold
    assert viz.overlay(rgb[..., 0], cam).shape == (30, 40, 3)
    rgba = np.dstack([rgb, np.zeros((30, 40), np.uint8)])
    np.testing.assert_array_equal(viz.overlay(rgba, cam), viz.overlay(rgb, cam))


def test_overlay_normalizes_maps_outside_the_unit_range(rgb):
    cam = np.arange(16, dtype=np.float32).reshape(4, 4)
    np.testing.assert_array_equal(viz.overlay(rgb, cam * 100 - 50), viz.overlay(rgb, cam / 15))
    with pytest.raises(ValueError, match="NaN"):
        viz.overlay(rgb, np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="alpha"):
        viz.overlay(rgb, cam, alpha=1.5)
    with pytest.raises(ValueError, match="Unknown colormap"):
        viz.overlay(rgb, cam, colormap="no-such-map")


def test_visualize_cam_on_image_is_the_lessons_blend(rgb):
    cam_rgb = np.full_like(rgb, 200)
    out = viz.visualize_cam_on_image(cam_rgb, rgb, alpha=0.25)
    np.testing.assert_allclose(out, np.rint(0.25 * 200 + 0.75 * rgb.astype(float)), atol=1)
    with pytest.raises(ValueError, match="same shape and dtype"):
        viz.visualize_cam_on_image(cam_rgb[..., 0], rgb)
    with pytest.raises(ValueError, match="same shape and dtype"):
        viz.visualize_cam_on_image(cam_rgb.astype(np.float32), rgb)


def test_draw_boxes_colours_the_edges_on_a_copy():
    image = np.zeros((100, 200, 3), np.uint8)
    box = [0.2, 0.1, 0.6, 0.5]  # pixels: y 20..60, x 20..100
    out = viz.draw_boxes(image, [box, None], colors=[(255, 0, 0), (0, 255, 0)], thickness=1)
    assert out.dtype == np.uint8 and out.shape == (100, 200, 3)
    assert np.all(image == 0)  # input untouched
    assert tuple(out[20, 60]) == (255, 0, 0)   # top edge
    assert tuple(out[40, 20]) == (255, 0, 0)   # left edge
    assert tuple(out[60, 100]) == (255, 0, 0)  # bottom-right corner
    assert tuple(out[40, 60]) == (0, 0, 0)     # inside stays
    assert not np.any(out[..., 1])             # the None box drew nothing


def test_draw_boxes_accepts_one_box_arrays_labels_and_default_colours():
    image = np.zeros((60, 60), np.float32)  # gray float in, RGB uint8 out
    one = viz.draw_boxes(image, np.array([0.5, 0.5, 0.9, 0.9]))
    assert one.shape == (60, 60, 3) and tuple(one[30, 40]) == viz.PALETTE[0]
    many = viz.draw_boxes(image, np.array([[0.1, 0.1, 0.3, 0.3], [0.5, 0.5, 0.9, 0.9]]), colors=(0, 0, 255),
                          labels=["a", "b"])
    assert tuple(many[6, 10]) == (0, 0, 255) and tuple(many[30, 40]) == (0, 0, 255)
    unlabelled = viz.draw_boxes(image, np.array([[0.1, 0.1, 0.3, 0.3], [0.5, 0.5, 0.9, 0.9]]), colors=(0, 0, 255))
    assert (many != unlabelled).any()  # the text is there
    with pytest.raises(ValueError, match="2 boxes, 1 colours"):
        viz.draw_boxes(image, [[0, 0, 1, 1], [0, 0, 0.5, 0.5]], colors=[(1, 2, 3)])
    with pytest.raises(ValueError, match="min > max"):
        viz.draw_boxes(image, [[0.9, 0, 0.1, 1]])


def test_compare_maps_figure_has_one_panel_per_map_and_titles(rgb):
    cam = np.zeros((6, 8), np.float32)
    cam[1:4, 2:6] = 1.0
    maps = {"CAM": cam, "Grad-CAM": cam[::-1].copy()}
    gt = [1 / 6, 2 / 8, 4 / 6, 6 / 8]
    fig = viz.compare_maps(rgb, maps, gt_box=gt, threshold=0.2, colorbar=False)
    try:
        axes = fig.get_axes()
        assert len(axes) == 3
        titles = [ax.get_title() for ax in axes]
        assert titles[0] == "image"
        assert titles[1] == "CAM\nIoU 1.00" and titles[2].startswith("Grad-CAM\nIoU ")
        assert all(len(ax.get_images()) == 1 for ax in axes)
        assert axes[1].get_images()[0].get_array().shape == (30, 40, 3)
    finally:
        plt.close(fig)
    grid = viz.compare_maps(rgb, {"a": cam, "b": cam, "c": cam}, boxes={"a": gt}, ncols=2, colorbar=False)
    try:
        assert len(grid.get_axes()) == 4 and [ax.get_title() for ax in grid.get_axes()][1] == "a"
    finally:
        plt.close(grid)
    with pytest.raises(ValueError, match="non-empty dict"):
        viz.compare_maps(rgb, [cam])
    with pytest.raises(ValueError, match="not in maps"):
        viz.compare_maps(rgb, maps, boxes={"LayerCAM": gt})


def test_compare_maps_has_a_colorbar_readable_titles_and_rows_for_many_maps(rgb):
    cam = np.linspace(0, 1, 48, dtype=np.float32).reshape(6, 8)
    maps = {f"Grad-CAM block{k}_out": cam for k in range(1, 5)}  # five panels with the image
    fig = viz.compare_maps(rgb, maps, gt_box=[0.1, 0.1, 0.9, 0.9], threshold=0.2)
    try:
        panels = [ax for ax in fig.get_axes() if ax.get_images()]
        (bar,) = [ax for ax in fig.get_axes() if ax.get_ylabel() == viz.MAP_SCALE_LABEL]
        assert len(panels) == 5
        assert bar.get_ylim() == (0.0, 1.0)
        rows = [ax.get_subplotspec().rowspan.start for ax in panels]
        assert rows == [0, 0, 0, 1, 1]  # two rows of three, not one thin strip of five
        assert all(ax.title.get_fontsize() >= 12 for ax in panels)
    finally:
        plt.close(fig)


def test_compare_maps_draws_map_boxes_in_magenta_outlined_in_black():
    image = np.full((60, 80, 3), 255, np.uint8)
    cam = np.zeros((60, 80), np.float32)
    cam[20:40, 30:50] = 1.0  # box x 30..50, y 20..40 in pixels
    fig = viz.compare_maps(image, {"CAM": cam}, threshold=0.5, alpha=0.0, colorbar=False)
    try:
        shown = fig.get_axes()[1].get_images()[0].get_array()
        assert tuple(shown[20, 40]) == viz.MAP_BOX_COLOR            # the box's top edge
        assert tuple(shown[18, 40]) == tuple(shown[22, 40]) == viz.OUTLINE_COLOR  # its outline, both sides
        assert tuple(shown[10, 10]) == (255, 255, 255)              # the rest of the picture untouched
    finally:
        plt.close(fig)
    # magenta appears nowhere in jet: at least 100 levels away from every jet colour in one channel
    jet = np.asarray(matplotlib.colormaps["jet"](np.linspace(0, 1, 256))[:, :3]) * 255
    assert np.min(np.max(np.abs(jet - np.array(viz.MAP_BOX_COLOR)), axis=1)) > 100


def test_draw_boxes_outline_surrounds_every_box_and_stays_under_them():
    image = np.full((100, 200, 3), 128, np.uint8)
    out = viz.draw_boxes(image, [[0.2, 0.1, 0.6, 0.5], [0.2, 0.5, 0.6, 0.9]], colors=[(255, 0, 0), (0, 255, 0)],
                         thickness=1, outline=(0, 0, 0))
    assert tuple(out[20, 60]) == (255, 0, 0) and tuple(out[19, 60]) == (0, 0, 0) and tuple(out[21, 60]) == (0, 0, 0)
    assert tuple(out[40, 100]) == (0, 255, 0)  # the second box's edge is drawn over the first one's outline
    assert tuple(out[40, 60]) == (128, 128, 128)
    assert np.all(image == 128)
    with pytest.raises(ValueError, match="outline must be one RGB colour"):
        viz.draw_boxes(image, [[0.2, 0.1, 0.6, 0.5]], outline=[(0, 0, 0)])


def test_map_colorbar_gives_an_rgb_overlay_a_scale(rgb):
    fig, axes = plt.subplots(1, 2)
    try:
        for ax in axes:
            ax.imshow(viz.overlay(rgb, np.eye(4, dtype=np.float32)))
        bar = viz.map_colorbar(axes, label="CAM")
        assert bar.ax.get_ylabel() == "CAM" and bar.mappable.get_cmap().name == "jet"
        assert (bar.vmin, bar.vmax) == (0.0, 1.0)
        signed = viz.map_colorbar(axes[0], colormap="RdBu_r", vmin=-43.6, vmax=43.6, label="raw M_c")
        assert (signed.vmin, signed.vmax) == (-43.6, 43.6)
        with pytest.raises(ValueError, match="Unknown colormap"):
            viz.map_colorbar(axes[0], colormap="nope")
        with pytest.raises(ValueError, match="vmin must be below vmax"):
            viz.map_colorbar(axes[0], vmin=1, vmax=1)
    finally:
        plt.close(fig)


def test_iou_histograms_one_panel_per_method_with_counts_marks_and_a_legend_off_the_bars():
    rng = np.random.default_rng(0)
    ious = {"CAM": rng.uniform(0, 1, 200), "Grad-CAM block2_out": np.r_[np.zeros(50), np.full(150, 0.75)]}
    fig = viz.iou_histograms(ious, marks={"the image above": 0.65, "lesson": {"CAM": 0.12}})
    try:
        cam_ax, grad_ax = fig.get_axes()
        assert sum(p.get_height() for p in grad_ax.patches) == 200
        assert max(p.get_height() for p in grad_ax.patches) == 150
        assert grad_ax.get_title() == "Grad-CAM block2_out\nmean 0.562, 75.0% >= 0.5"
        assert [line.get_xdata()[0] for line in cam_ax.get_lines()] == [0.5, 0.65, 0.12]
        assert [line.get_xdata()[0] for line in grad_ax.get_lines()] == [0.5, 0.65]  # per-panel mark skipped
        assert list(cam_ax.get_xticks()) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
        legend = cam_ax.get_legend()
        fig.canvas.draw()
        assert legend.get_window_extent().y1 <= cam_ax.get_window_extent().y0  # below the axes, not on the bars
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match=r"ious\['CAM'\] must be a non-empty array of IoUs in \[0, 1\]"):
        viz.iou_histograms({"CAM": [0.5, 1.5]})
    with pytest.raises(ValueError, match="non-empty dict"):
        viz.iou_histograms({})


# ---------------------------------------------------------------------------------------------------------
# What a learner sees: text size once JupyterLab fits a figure to the page, colorbars, boxes, legends
# ---------------------------------------------------------------------------------------------------------
def _title_px(fig, text):
    return [px for px, shown in viz.text_sizes_on_page(fig) if shown == text]


def test_text_sizes_on_page_shrinks_wide_figures_and_skips_hidden_text():
    narrow, ax = plt.subplots(figsize=(6, 3), dpi=100)
    ax.set_title("title", fontsize=10)
    wide, (left, right) = plt.subplots(1, 2, figsize=(24, 3), dpi=100)
    left.set_title("title", fontsize=10)
    right.axis("off")
    try:
        assert _title_px(narrow, "title") == [pytest.approx(10 * 100 / 72)]  # under 900 px: shown as drawn
        (shrunk,) = _title_px(wide, "title")
        assert shrunk == pytest.approx(10 * 100 / 72 * 900 / (wide.get_tightbbox().width * 100), rel=1e-6)
        assert shrunk < 10 * 100 / 72 / 2  # about 24 inches shown 900 px wide: less than half the size
        texts = [t for _, t in viz.text_sizes_on_page(wide)]
        assert texts.count("0.0") == 2  # left's two axes' ticks; the hidden right axes draws none
    finally:
        plt.close(narrow)
        plt.close(wide)


def test_draw_boxes_default_width_grows_with_the_image():
    def drawn(size, **kwargs):
        return viz.draw_boxes(np.zeros((size, size, 3), np.uint8), [[0.25, 0.25, 0.75, 0.75]], colors=(255, 0, 0),
                              **kwargs)

    def edge_share(size):  # pixels of the top and bottom edges in the middle column, per image pixel
        return np.sum(drawn(size)[:, size // 2, 0] == 255) / size

    for size in (100, 150):  # the course's pictures: as before (2 pixels)
        np.testing.assert_array_equal(drawn(size), drawn(size, thickness=2))
    np.testing.assert_array_equal(drawn(512), drawn(512, thickness=5))
    assert viz.box_thickness((512, 512)) == viz.box_thickness((340, 512, 3)) == 5
    assert viz.box_thickness((60, 80)) == 2 and viz.box_thickness((260, 100)) == 3
    assert edge_share(512) > 0.5 * edge_share(128)  # shown at one panel size, the box stays about as wide


def test_compare_maps_stays_readable_on_the_page_and_names_identical_maps(rgb):
    cam = np.linspace(0, 1, 48, dtype=np.float32).reshape(6, 8)
    other = cam[::-1].copy()
    maps = {"cam": cam, "grad_cam": cam + 1e-4, "layer_cam": cam * 10, "saliency": other, "guided_backprop": other}
    fig = viz.compare_maps(rgb, maps, ncols=6)
    try:
        assert fig.get_figwidth() <= viz.MAX_WIDTH + 1e-9
        titles = [ax.get_title() for ax in fig.axes if ax.get_images()]
        # layer_cam is cam x 10: min-max normalized it is the same picture, and said to be
        assert titles == ["image", "cam", "grad_cam (= cam)", "layer_cam (= cam)", "saliency",
                          "guided_backprop (= saliency)"]
        titles_px = [px for px, t in viz.text_sizes_on_page(fig) if t in titles]
        assert min(titles_px) >= 10
        assert viz.text_sizes_on_page(fig)[0][0] >= 8  # the smallest text, the colorbar's ticks
    finally:
        plt.close(fig)


def test_compare_maps_boxes_on_a_large_photo_are_drawn_wide():
    photo = np.full((340, 512, 3), 255, np.uint8)
    cam = np.zeros((34, 51), np.float32)
    cam[10:20, 10:40] = 1.0
    fig = viz.compare_maps(photo, {"CAM": cam}, threshold=0.5, alpha=0.0, colorbar=False)
    try:
        shown = fig.axes[1].get_images()[0].get_array()
        column = shown[:, 250]
        magenta = np.all(column == viz.MAP_BOX_COLOR, axis=-1)
        thin = viz.draw_boxes(photo, [[10 / 34, 10 / 51, 20 / 34, 40 / 51]], colors=viz.MAP_BOX_COLOR, thickness=2)
        assert magenta.sum() > 2 * np.all(thin[:, 250] == viz.MAP_BOX_COLOR, axis=-1).sum()  # over twice as wide
    finally:
        plt.close(fig)


def test_map_colorbar_after_tight_layout_keeps_the_rows_aligned_and_its_label_on_the_bar(rgb):
    fig, axes = plt.subplots(2, 8, figsize=(18, 5))
    for ax in axes.flat:
        ax.imshow(rgb)
        ax.axis("off")
    plt.tight_layout()
    bar = viz.map_colorbar(axes[1], shrink=0.8)
    try:
        fig.canvas.draw()
        widths = [ax.get_window_extent().width for ax in axes.flat]
        assert max(widths) - min(widths) < 1  # both rows' panels the same size, not the bar's row shrunk
        assert bar.ax.get_ylabel() == "map value\n(1 = the map's maximum)"  # split: one line outruns the bar
        label = bar.ax.yaxis.label.get_window_extent()
        assert label.y0 >= bar.ax.get_window_extent().y0 - 2 and label.y1 <= bar.ax.get_window_extent().y1 + 2
        figure = fig.bbox
        assert figure.x0 <= label.x0 and label.x1 <= figure.x1  # inside the figure after drawing
    finally:
        plt.close(fig)
    tall, ax = plt.subplots(figsize=(5, 5))
    try:
        ax.imshow(rgb)
        assert viz.map_colorbar(ax).ax.get_ylabel() == viz.MAP_SCALE_LABEL  # room for one line: kept as is
    finally:
        plt.close(tall)


def test_box_grid_labels_do_not_cover_each_other_or_run_out_of_the_panel():
    image = np.zeros((300, 400, 3), np.uint8)
    boxes = np.array([[0.10, 0.10, 0.50, 0.50], [0.12, 0.12, 0.48, 0.48], [0.2, 0.8, 0.4, 0.99],
                      [0.6, 0.1, 0.65, 0.15], [0.6, 0.16, 0.65, 0.21], [0.6, 0.22, 0.65, 0.27]])
    labels = ["first box", "second box", "near the right edge", "carton", "carton", "carton"]
    fig = viz.box_grid([image, image, image, image, image], [boxes] * 5, labels=[labels] * 5)
    try:
        assert fig.get_figwidth() <= viz.MAX_WIDTH + 1e-9
        fig.canvas.draw()
        ax = fig.axes[0]
        shown = [t for t in ax.texts if t.get_visible()]
        extents = [t.get_window_extent() for t in shown]
        for i in range(len(extents)):
            for j in range(i):
                assert not extents[i].overlaps(extents[j]), (shown[i].get_text(), shown[j].get_text())
        assert [t.get_text() for t in ax.texts] == labels  # all written, in order
        assert 1 <= [t.get_text() for t in shown].count("carton") < 3  # a repeat with no room is left out
        panel = ax.get_window_extent()
        edge = extents[[t.get_text() for t in shown].index("near the right edge")]
        assert edge.x1 <= panel.x1 + 1  # right-aligned on its box instead of cut at the panel's edge
        assert min(px for px, t in viz.text_sizes_on_page(fig) if t in labels) >= 8
        drawn = ax.get_images()[0].get_array()
        column = [tuple(c) for c in drawn[15:45, 100]]  # across the first box's top edge, at y = 30
        first, last = column.index(viz.PALETTE[0]), len(column) - 1 - column[::-1].index(viz.PALETTE[0])
        assert column[first - 1] == column[last + 1] == viz.OUTLINE_COLOR  # outlined on both sides
    finally:
        plt.close(fig)


def test_iou_histograms_say_when_two_methods_have_the_same_ious():
    a = np.random.default_rng(1).uniform(0, 1, 50)
    fig = viz.iou_histograms({"CAM": a, "Grad-CAM top_activation": a.copy(), "other": a[::-1].copy()})
    try:
        titles = [ax.get_title().split("\n")[:2] for ax in fig.axes[:3]]
        assert titles[1] == ["Grad-CAM top_activation", "(the same IoUs as CAM)"]
        assert titles[0][0] == "CAM" and titles[0][1].startswith("mean ") and titles[2][1].startswith("mean ")
    finally:
        plt.close(fig)


def _report(methods, same=()):
    from camlab import evaluation

    steps = ["original"] + [f"block{k}_conv{j}_bn" for k in (3, 2, 1) for j in (2, 1)]
    rng = np.random.default_rng(0)
    scores = {m: {k: rng.uniform(-1, 1, (len(steps), 3)) for k in ("spearman", "spearman_abs", "ssim")}
              for m in methods}
    for twin, of in same:
        scores[twin] = {k: v + 0.001 for k, v in scores[of].items()}
    maps = {m: rng.uniform(0, 1, (len(steps), 1, 6, 6)).astype(np.float32) for m in methods}
    return evaluation.SanityCheck(steps, list(methods), scores, maps, "cascading", np.array([0, 1, 2]))


def test_sanity_check_maps_colorbar_shows_full_colours_and_the_text_is_readable(rgb):
    report = _report(("cam", "grad_cam", "saliency"))
    fig = viz.sanity_check_maps(report, image=rgb, max_steps=7)
    try:
        (bar,) = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
        assert fig.get_figwidth() <= viz.MAX_WIDTH + 1e-9
        assert bar.get_ylabel() == "map value"
        (solids,) = [c for c in bar.collections if isinstance(c, matplotlib.collections.QuadMesh)]  # its colours:
        # the colormap itself, not washed out by the overlay's alpha (as a bar made from the 0.5-alpha picture was)
        assert solids.get_alpha() in (None, 1.0)
        assert all(len(ax.get_images()) == 1 for ax in fig.axes if ax.get_label() != "<colorbar>")
        assert viz.text_sizes_on_page(fig)[0][0] >= 7.5
    finally:
        plt.close(fig)


def test_sanity_check_curves_say_which_lines_hide_each_other_and_keep_the_legend_off_them():
    report = _report(("cam", "grad_cam", "saliency"), same=[("grad_cam", "cam")])
    fig = viz.sanity_check_curves(report)
    try:
        (legend,) = fig.legends
        names = [t.get_text() for t in legend.get_texts()]
        assert names == ["cam", "grad_cam (within 0.01 of cam: drawn over it)", "saliency"]
        cam_line, grad_line, saliency_line = fig.axes[0].get_lines()[:3]
        assert grad_line.get_linestyle() == "--" and cam_line.get_linewidth() > grad_line.get_linewidth()
        assert saliency_line.get_linestyle() == "-"
        fig.canvas.draw()
        box = legend.get_window_extent()
        assert all(box.y1 <= ax.get_window_extent().y0 for ax in fig.axes)  # below every panel's data area
        assert viz.text_sizes_on_page(fig)[0][0] >= 8
    finally:
        plt.close(fig)
