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
    fig = viz.compare_maps(rgb, maps, gt_box=gt, threshold=0.2)
    try:
        axes = fig.get_axes()
        assert len(axes) == 3
        titles = [ax.get_title() for ax in axes]
        assert titles[0] == "image"
        assert titles[1] == "CAM  IoU 1.00" and titles[2].startswith("Grad-CAM  IoU ")
        assert all(len(ax.get_images()) == 1 for ax in axes)
        assert axes[1].get_images()[0].get_array().shape == (30, 40, 3)
    finally:
        plt.close(fig)
    grid = viz.compare_maps(rgb, {"a": cam, "b": cam, "c": cam}, boxes={"a": gt}, ncols=2)
    try:
        assert len(grid.get_axes()) == 4 and [ax.get_title() for ax in grid.get_axes()][1] == "a"
    finally:
        plt.close(grid)
    with pytest.raises(ValueError, match="non-empty dict"):
        viz.compare_maps(rgb, [cam])
    with pytest.raises(ValueError, match="not in maps"):
        viz.compare_maps(rgb, maps, boxes={"LayerCAM": gt})
