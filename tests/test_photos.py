"""camlab_photos: the table of real photos, their hand-drawn boxes, the TFDS builder and the figure."""
import importlib.util

import matplotlib
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

matplotlib.use("Agg")

from camlab import data, viz  # noqa: E402
from camlab.datasets import camlab_photos as cp  # noqa: E402

NAMES = [photo.name for photo in cp.PHOTOS]


@pytest.fixture(scope="module")
def images():
    return {name: cp.read_photo(name) for name in NAMES}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The dataset built once, offline, into a temporary folder."""
    ds, info = data.load("camlab_photos", data_dir=tmp_path_factory.mktemp("tfds"))
    return ds, info, list(tfds.as_numpy(ds))


def _area(box):
    return (box[2] - box[0]) * (box[3] - box[1])


def test_imagenet_names_are_the_1000_classes_in_index_order():
    assert len(cp.IMAGENET_NAMES) == 1000 and len(set(cp.IMAGENET_NAMES)) == 1000
    assert cp.IMAGENET_NAMES[0] == "tench, Tinca tinca"
    assert cp.IMAGENET_NAMES[281] == "tabby, tabby cat" and cp.IMAGENET_NAMES[999].startswith("toilet tissue")
    assert cp.short_name(281) == "tabby" and cp.short_name(967) == "espresso"


def test_table_counts_and_labels():
    assert len(cp.PHOTOS) >= 10 and len(set(NAMES)) == len(NAMES)
    assert sum(len(photo.instances) for photo in cp.PHOTOS) >= 16
    for photo in cp.PHOTOS:
        assert 0 <= photo.label < 1000
        assert photo.instances and all(0 <= inst.label < 1000 for inst in photo.instances)
        assert photo.label in {inst.label for inst in photo.instances}, photo.name
        for alternative in photo.alternatives:
            assert alternative in cp.IMAGENET_NAMES, f"{photo.name}: {alternative!r} is not an ImageNet name"
            assert alternative != cp.IMAGENET_NAMES[photo.label]
        assert photo.source.endswith(photo.file) and photo.licence and photo.note


def test_the_photos_cover_the_required_cases(images):
    """A single large object, several instances of a class, two classes, a small object, one cut by the edge."""
    def fractions(photo):
        h, w = images[photo.name].shape[:2]
        return [_area(box) for box in cp.normalized_boxes(photo, h, w)]

    single_large = [p.name for p in cp.PHOTOS if len(p.instances) == 1 and fractions(p)[0] > 0.5]
    several = [p.name for p in cp.PHOTOS
               if max(sum(i.label == inst.label for i in p.instances) for inst in p.instances) >= 3]
    two_classes = [p.name for p in cp.PHOTOS if len({inst.label for inst in p.instances}) >= 2]
    small = [p.name for p in cp.PHOTOS if min(fractions(p)) < 0.05]
    def touches_edge(box, height, width):
        return min(box[:2]) == 0 or box[2] == height or box[3] == width

    cut = [p.name for p in cp.PHOTOS for inst in p.instances if touches_edge(inst.box, *images[p.name].shape[:2])]
    assert "chelsea" in single_large
    assert "motorcycle" in several  # four cartons
    assert {"camera", "astronaut", "motorcycle", "grace_hopper"} <= set(two_classes)
    assert "rocket" in small
    assert {"chelsea", "astronaut", "flower"} <= set(cut)


def test_read_photo_gives_uint8_rgb(images):
    for name, image in images.items():
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3, name
        assert image.shape[0] >= 200 and image.shape[1] >= 200
    for gray in ("camera", "clock"):  # grayscale files come back as three equal channels
        assert np.array_equal(images[gray][..., 0], images[gray][..., 2])
    assert not np.array_equal(images["chelsea"][..., 0], images["chelsea"][..., 2])
    # RGB, not OpenCV's BGR: the dahlia is orange (more red than blue), the rocket's sky blue.
    dahlia = images["flower"][150:300, 250:400].reshape(-1, 3).mean(0)
    assert dahlia[0] > dahlia[2] + 60
    assert images["rocket"][:100, ..., 2].mean() > images["rocket"][:100, ..., 0].mean()


def test_boxes_lie_inside_their_photo_and_are_positive(images):
    for photo in cp.PHOTOS:
        h, w = images[photo.name].shape[:2]
        for inst in photo.instances:
            ymin, xmin, ymax, xmax = inst.box
            assert 0 <= ymin < ymax <= h and 0 <= xmin < xmax <= w, (photo.name, inst)
        normalized = cp.normalized_boxes(photo, h, w)
        assert normalized.dtype == np.float32 and normalized.min() >= 0 and normalized.max() <= 1


def test_boxes_sit_on_their_objects(images):
    """Swapped or misplaced coordinates would fail these: each object differs from what surrounds it."""
    def inside_outside(name, index, channel_value):
        photo, image = cp.get_photo(name), images[name].astype(np.float32)
        ymin, xmin, ymax, xmax = photo.instances[index].box
        mask = np.zeros(image.shape[:2], bool)
        mask[ymin:ymax, xmin:xmax] = True
        value = channel_value(image)
        return value[mask].mean(), value[~mask].mean()

    brightness = lambda image: image.mean(-1)  # noqa: E731
    orange = lambda image: image[..., 0] - image[..., 2]  # noqa: E731
    inside, outside = inside_outside("rocket", 0, brightness)  # the white rocket against a dusk sky
    assert inside > outside + 60
    inside, outside = inside_outside("clock", 0, brightness)  # its bright face against a grey wall
    assert inside > outside + 20
    inside, outside = inside_outside("flower", 0, orange)  # the dahlia against green leaves
    assert inside > outside + 60


def test_get_photo_and_read_photo_errors(monkeypatch):
    with pytest.raises(KeyError, match="No photo 'dog'.*chelsea, coffee"):
        cp.get_photo("dog")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "sklearn" else real_find_spec(name, *a))
    with pytest.raises(ModuleNotFoundError, match="scikit-learn, which is not installed.*pip install scikit-learn"):
        cp.read_photo("china")
    assert cp.read_photo("chelsea").shape == (300, 451, 3)  # other packages still work


def test_main_box_is_the_largest_box_of_the_main_label():
    photo = cp.Photo("t", "skimage", "x", 5, (), (cp.Instance(7, (0, 0, 90, 90)), cp.Instance(5, (0, 0, 10, 10)),
                                                    cp.Instance(5, (0, 0, 20, 30))), "", "")
    assert cp.main_box_index(photo) == 2


@pytest.mark.slow
def test_builder_serves_the_table_offline(built, images):
    ds, info, items = built
    assert isinstance(ds, tf.data.Dataset)  # load's default for camlab_photos is its one split, "test"
    assert info.name == "camlab_photos" and list(info.splits) == ["test"]
    assert info.splits["test"].num_examples == len(cp.PHOTOS)
    assert info.features["label"].num_classes == 1000
    assert info.features["label"].int2str(281) == "tabby, tabby cat"
    spec = ds.element_spec
    assert spec["image"].dtype == tf.uint8 and spec["image"].shape.as_list() == [None, None, 3]
    assert spec["bbox"].dtype == tf.float32 and spec["bbox"].shape.as_list() == [4]
    assert spec["bboxes"].dtype == tf.float32 and spec["bboxes"].shape.as_list() == [None, 4]
    assert spec["bbox_labels"].dtype == tf.int64 and spec["label"].dtype == tf.int64
    for key in ("id", "source", "licence"):
        assert spec[key].dtype == tf.string
    assert [item["id"].decode() for item in items] == NAMES  # in table order
    for item, photo in zip(items, cp.PHOTOS):
        image = images[photo.name]
        np.testing.assert_array_equal(item["image"], image)  # stored losslessly
        boxes = cp.normalized_boxes(photo, *image.shape[:2])
        np.testing.assert_allclose(item["bboxes"], boxes, atol=1e-6)
        np.testing.assert_allclose(item["bbox"], boxes[cp.main_box_index(photo)], atol=1e-6)
        assert 0 <= item["bboxes"].min() and item["bboxes"].max() <= 1
        assert item["label"] == photo.label
        assert list(item["bbox_labels"]) == [inst.label for inst in photo.instances]
        assert [info.features["label"].int2str(k) for k in item["alternatives"]] == list(photo.alternatives)
        assert item["source"].decode() == photo.source and item["licence"].decode() == photo.licence


def test_plot_photos_draws_every_photo_and_box():
    fig = cp.plot_photos(["camera", "flower", "rocket"], ncols=2)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 3 and len(fig.axes) == 4  # a 2 x 2 grid, the last cell empty
    assert [ax.get_title() for ax in shown] == ["camera: tripod (872)", "flower: daisy (985)", "rocket: missile (657)"]
    assert [t.get_text() for t in shown[0].texts] == ["tripod", "reflex camera", "trench coat"]
    drawn = shown[1].images[0].get_array()
    raw = cp.read_photo("flower")
    assert drawn.shape == raw.shape and not np.array_equal(np.asarray(drawn), raw)  # boxes drawn on a copy
    matplotlib.pyplot.close(fig)


def test_box_grid_checks_its_lists():
    image = np.zeros((20, 30, 3), np.uint8)
    with pytest.raises(ValueError, match="2 images but 1 boxes"):
        viz.box_grid([image, image], [[[0, 0, 1, 1]]])
    with pytest.raises(ValueError, match="at least one image"):
        viz.box_grid([], [])
    fig = viz.box_grid([image], [np.array([[0.1, 0.1, 0.5, 0.5]])], labels=[["a"]], titles=["one"])
    assert fig.axes[0].get_title() == "one" and fig.axes[0].texts[0].get_text() == "a"
    matplotlib.pyplot.close(fig)
