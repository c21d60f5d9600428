"""camlab.viz: dtypes, shapes, ranges, gray/RGBA input, drawn pixels, figures, and inputs left untouched."""
import matplotlib

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
