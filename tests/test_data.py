"""camlab.data and the embedded camlab_cars builder (its small config, built once into a temporary folder)."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from camlab import data
from camlab.datasets import camlab_cars


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """The small config (64 train / 16 validation / 32 test), built once for this module."""
    folder = tmp_path_factory.mktemp("tfds")
    (train, test), info = data.load("camlab_cars/small", data_dir=folder)
    return train, test, info, folder


def _items(ds):
    return list(tfds.as_numpy(ds))


def test_default_dataset_name_and_features(small):
    train, test, info, _ = small
    assert data.DEFAULT_DATASET == "camlab_cars"
    assert info.name == "camlab_cars" and str(info.version) == "2.1.0"
    assert info.splits["train"].num_examples == 64 and info.splits["test"].num_examples == 32
    assert info.splits["validation"].num_examples == 16
    assert info.features["label"].names == list(camlab_cars.CLASS_NAMES)
    assert info.features["label"].num_classes >= 8
    spec = train.element_spec
    assert spec["image"].dtype == tf.uint8 and spec["image"].shape.as_list() == [None, None, 3]
    assert spec["bbox"].dtype == tf.float32 and spec["bbox"].shape.as_list() == [4]
    assert spec["emblem_bbox"].dtype == tf.float32 and spec["emblem_bbox"].shape.as_list() == [4]
    assert spec["label"].dtype == tf.int64 and spec["id"].dtype == tf.string
    assert info.supervised_keys == ("image", "label")


def test_images_vary_in_size_and_boxes_are_valid(small):
    train, test, _, _ = small
    items = _items(train) + _items(test)
    shapes = {item["image"].shape[:2] for item in items}
    assert len(shapes) > 20, "images should come in many sizes, like photos"
    for item in items:
        h, w = item["image"].shape[:2]
        assert camlab_cars.MIN_SIDE <= h <= camlab_cars.MAX_SIDE and camlab_cars.MIN_SIDE <= w <= camlab_cars.MAX_SIDE
        ymin, xmin, ymax, xmax = item["bbox"]
        assert 0 <= ymin < ymax <= 1 and 0 <= xmin < xmax <= 1
        assert 0.05 < (ymax - ymin) * (xmax - xmin) < 0.8  # an object, not a dot nor the whole frame
    labels = {int(item["label"]) for item in items}
    assert len(labels) >= 6  # 96 draws over 8 classes


def test_box_encloses_exactly_the_drawn_car():
    """Draw a car on a black canvas: the non-black pixels must fill the returned box (to a pixel)."""
    for index in range(20):
        rng = np.random.default_rng([7, index])
        canvas = np.zeros((120, 150, 3), np.float32)
        box, emblem = camlab_cars.draw_car(rng, canvas, label=index % 8)
        ys, xs = np.nonzero(canvas.max(-1) > 0)
        drawn = np.array([ys.min(), xs.min(), ys.max() + 1, xs.max() + 1])
        np.testing.assert_allclose(drawn, box, atol=1.5)
        assert box[0] <= emblem[0] < emblem[2] <= box[2] and box[1] <= emblem[1] < emblem[3] <= box[3]


def _draw(label, class_in, emblem_radius=0.25, seed=3):
    canvas = np.zeros((120, 150, 3), np.float32)
    rng, paint_rng = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])
    box, emblem = camlab_cars.draw_car(rng, canvas, label, class_in, emblem_radius, paint_rng)
    outside = np.ones(canvas.shape[:2], bool)
    y0, x0, y1, x1 = emblem.astype(int)
    outside[max(y0, 0):y1, max(x0, 0):x1] = False
    return canvas, outside, box, emblem


def test_in_the_emblem_config_only_the_emblem_depends_on_the_class():
    for a, b in ((0, 1), (2, 5), (4, 7)):
        one, outside, box_a, emblem_a = _draw(a, "emblem", 0.35)
        two, _, box_b, emblem_b = _draw(b, "emblem", 0.35)
        np.testing.assert_array_equal(box_a, box_b)
        np.testing.assert_array_equal(emblem_a, emblem_b)
        np.testing.assert_array_equal(one[outside], two[outside])  # the paint is the same: not the class's
        assert not np.array_equal(one[~outside], two[~outside])  # the glyph is the class's
        # with paint and emblem (the default), the paint changes with the class too
        one, outside, _, _ = _draw(a, "paint+emblem")
        two, _, _, _ = _draw(b, "paint+emblem")
        assert not np.array_equal(one[outside], two[outside])


def test_bad_emblem_settings_say_what_is_allowed():
    canvas = np.zeros((100, 100, 3), np.float32)
    with pytest.raises(ValueError, match="class_in must be 'paint\\+emblem' or 'emblem'"):
        camlab_cars.draw_car(np.random.default_rng(0), canvas, 0, class_in="paint")
    with pytest.raises(ValueError, match="emblem_radius must be in \\(0, 0.4\\]"):
        camlab_cars.draw_car(np.random.default_rng(0), canvas, 0, emblem_radius=0.6)


def _area(box):
    return (box[2] - box[0]) * (box[3] - box[1])


def test_emblem_config_same_cars_class_only_in_a_small_emblem(small):
    train, _, _, folder = small
    (e_train, e_val, e_test), info = data.load("camlab_cars/emblem_small", split=("train", "validation", "test"),
                                               data_dir=folder)
    assert info.features["label"].names == list(camlab_cars.EMBLEM_NAMES)
    assert [info.splits[n].num_examples for n in ("train", "validation", "test")] == [64, 16, 32]
    default_items, emblem_items = _items(train), _items(e_train)
    assert [i["id"] for i in default_items] == [i["id"] for i in emblem_items]  # the same carve, the same cars
    ratios = []
    for d, e in zip(default_items, emblem_items):
        assert d["label"] == e["label"] and d["image"].shape == e["image"].shape
        np.testing.assert_allclose(d["bbox"], e["bbox"], atol=1e-6)  # the same car, the same box
        assert not np.array_equal(d["image"], e["image"])  # other paint, other emblem
        box, emblem = e["bbox"], e["emblem_bbox"]
        assert box[0] - 1e-6 <= emblem[0] < emblem[2] <= box[2] + 1e-6
        assert box[1] - 1e-6 <= emblem[1] < emblem[3] <= box[3] + 1e-6
        ratios.append(_area(emblem) / _area(box))
        assert _area(d["emblem_bbox"]) < _area(emblem)  # the emblem config's emblem is the larger
    assert 0.08 < np.mean(ratios) < 0.3 and max(ratios) < 0.45  # a part, much smaller than the car
    example = camlab_cars.render(camlab_cars.DEFAULT_SEED, "train", int(emblem_items[0]["id"][-5:]), "emblem",
                                 camlab_cars.EMBLEM_CONFIG_RADIUS)
    np.testing.assert_array_equal(example["image"], emblem_items[0]["image"])
    assert len(_items(e_val)) == 16 and len(_items(e_test)) == 32


def test_generation_is_deterministic_and_built_items_match_the_renderer(small):
    train, _, _, folder = small
    validation, _ = data.load("camlab_cars/small", split="validation", data_dir=folder)
    by_id = {item["id"].decode(): item for item in _items(train) + _items(validation)}
    for index in (0, 5, 63, 79):  # train and validation items both come from the train stream
        image, label, bbox = camlab_cars.render_example(camlab_cars.DEFAULT_SEED, "train", index)
        again, label2, bbox2 = camlab_cars.render_example(camlab_cars.DEFAULT_SEED, "train", index)
        np.testing.assert_array_equal(image, again)
        item = by_id[f"train_{index:05d}"]
        np.testing.assert_array_equal(item["image"], image)  # PNG is lossless
        assert item["label"] == label == label2
        np.testing.assert_allclose(item["bbox"], bbox, atol=1e-6)
    other, _, _ = camlab_cars.render_example(1, "train", 0)
    assert other.shape != image.shape or not np.array_equal(other, image)  # the seed matters


def test_validation_is_carved_from_the_train_stream_disjoint_and_seeded(small):
    _, _, _, folder = small
    (train, validation, test), info = data.load("camlab_cars/small", split=("train", "validation", "test"),
                                                data_dir=folder)
    ids = {name: [item["id"].decode() for item in _items(ds)]
           for name, ds in (("train", train), ("validation", validation), ("test", test))}
    assert [len(ids[name]) for name in ("train", "validation", "test")] == [64, 16, 32]
    assert all(len(set(v)) == len(v) for v in ids.values())
    assert not set(ids["train"]) & set(ids["validation"])  # disjoint ...
    stream = {f"train_{index:05d}" for index in range(80)}
    assert set(ids["train"]) | set(ids["validation"]) == stream  # ... and together exactly the train stream
    assert all(i.startswith("test_") for i in ids["test"])
    carved = camlab_cars.split_indices(camlab_cars.DEFAULT_SEED, 64, 16)
    assert sorted(ids["validation"]) == [f"train_{index:05d}" for index in carved["validation"]]
    assert camlab_cars.split_indices(camlab_cars.DEFAULT_SEED, 64, 16) == carved  # the same every build
    assert carved["validation"] != list(range(64, 80))  # a seeded draw, not the stream's tail
    assert camlab_cars.split_indices(1, 64, 16)["validation"] != carved["validation"]  # the seed matters
    full = camlab_cars.split_indices(camlab_cars.DEFAULT_SEED, 4000, 500)
    assert len(full["train"]) == 4000 and len(full["validation"]) == 500
    assert sorted(full["train"] + full["validation"]) == list(range(4500))
    labels = [int(item["label"]) for item in _items(validation)]
    assert len(set(labels)) >= 5  # 16 draws over 8 classes: a validation set, not one class


def test_test_split_differs_from_train():
    a, _, _ = camlab_cars.render_example(2026, "train", 3)
    b, _, _ = camlab_cars.render_example(2026, "test", 3)
    assert a.shape != b.shape or not np.array_equal(a, b)


def test_single_split_returns_dataset_and_info(small):
    _, _, _, folder = small
    ds, info = data.load("camlab_cars/small", split="test", data_dir=folder)
    assert isinstance(ds, tf.data.Dataset) and info.name == "camlab_cars"
    assert len(_items(ds)) == 32


def test_data_dir_comes_from_the_environment(monkeypatch, small):
    _, _, _, folder = small
    monkeypatch.setenv("CAMLAB_DATA_DIR", str(folder.parent / "envdata"))
    from camlab import paths

    assert paths.tfds_dir() == (folder.parent / "envdata" / "tensorflow_datasets").resolve()


# --- the lesson's preprocessing -----------------------------------------------------------------------------

def _toy(n=40):
    """n items of varying size whose label is their position."""
    return tf.data.Dataset.from_generator(
        lambda: ({"image": np.full((30 + i % 3, 20 + i % 2, 3), 6 * i, np.uint8), "label": np.int64(i)}
                 for i in range(n)),
        output_signature={"image": tf.TensorSpec((None, None, 3), tf.uint8), "label": tf.TensorSpec((), tf.int64)},
    )


def test_normalize_and_resize_img_range_shape_and_no_mutation():
    item = {"image": tf.constant(np.array([[[0, 128, 255]]], np.uint8)), "label": tf.constant(3, tf.int64),
            "bbox": tf.constant([0.1, 0.2, 0.3, 0.4])}
    before = dict(item)
    image, label = data.normalize_and_resize_img(item, size=(8, 6))
    assert image.shape == (8, 6, 3) and image.dtype == tf.float32
    np.testing.assert_allclose(image.numpy()[0, 0], [0.0, 128 / 255, 1.0], atol=1e-6)
    assert float(tf.reduce_min(image)) >= 0.0 and float(tf.reduce_max(image)) <= 1.0
    assert int(label) == 3
    assert item.keys() == before.keys() and all(item[k] is before[k] for k in item)
    assert item["image"].dtype == tf.uint8


def test_test_data_keeps_order_and_does_not_repeat():
    ds = _toy()
    batches = list(data.apply_normalize_on_dataset(ds, is_test=True, batch_size=16, size=(12, 12)))
    labels = np.concatenate([b[1].numpy() for b in batches])
    np.testing.assert_array_equal(labels, np.arange(40))
    assert [b[0].shape[0] for b in batches] == [16, 16, 8]
    assert batches[0][0].shape[1:] == (12, 12, 3)
    assert 0.0 <= float(tf.reduce_min(batches[-1][0])) and float(tf.reduce_max(batches[-1][0])) <= 1.0


def test_training_data_is_shuffled_by_example_once_per_epoch():
    ds = _toy()
    train = data.apply_normalize_on_dataset(ds, batch_size=8, size=(12, 12), seed=1)
    epoch1 = np.concatenate([b[1].numpy() for b in train])
    epoch2 = np.concatenate([b[1].numpy() for b in train])
    assert sorted(epoch1) == list(range(40)) and sorted(epoch2) == list(range(40))  # each once: no repeat
    assert not np.array_equal(epoch1, np.arange(40))
    assert not np.array_equal(epoch1, epoch2)  # reshuffled each epoch
    # examples, not whole batches, are shuffled: some batch mixes labels from different blocks of 8
    blocks = [set(epoch1[i:i + 8] // 8) for i in range(0, 40, 8)]
    assert any(len(b) > 1 for b in blocks)


def test_get_one_returns_numpy_dict(small):
    train, _, _, _ = small
    item = data.get_one(train)
    assert isinstance(item, dict) and isinstance(item["image"], np.ndarray) and item["image"].dtype == np.uint8
    assert item["bbox"].shape == (4,)


# --- cars196 and stanford_dogs, never downloaded -----------------------------------------------------------

def test_cars196_without_archives_says_which_files_and_where(tmp_path):
    empty = tmp_path / "manual"
    empty.mkdir()
    with pytest.raises(FileNotFoundError) as error:
        data.load("cars196", data_dir=tmp_path / "tfds", manual_dir=empty)
    message = str(error.value)
    for name in ("cars_train.tgz", "cars_test.tgz", "car_devkit.tgz", "cars_test_annos_withlabels.mat"):
        assert name in message
    assert str(empty) in message and "manual_dir" in message
    with pytest.raises(FileNotFoundError, match="no manual_dir"):
        data.load("cars196", data_dir=tmp_path / "tfds")
    assert not (tmp_path / "tfds" / "downloads").exists()  # nothing was fetched


def test_cars196_with_archives_loads_through_tfds(tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    for name in data.CARS196_FILES:
        (manual / name).write_bytes(b"")
    with tfds.testing.mock_data(num_examples=3):
        (train, test), info = data.load("cars196", data_dir=tmp_path / "tfds", manual_dir=manual)
    assert info.name == "cars196" and info.features["label"].num_classes == 196
    items = _items(train)
    assert len(items) == 3 and items[0]["bbox"].shape == (4,) and items[0]["image"].dtype == np.uint8


def test_stanford_dogs_largest_box_becomes_bbox(tmp_path):
    with tfds.testing.mock_data(num_examples=4, num_sub_examples=3):
        (train, _), info = data.load("stanford_dogs", data_dir=tmp_path)
    for item in _items(train):
        boxes = item["bboxes"]
        assert boxes.ndim == 2 and boxes.shape[1] == 4 and "objects" not in item
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        np.testing.assert_allclose(item["bbox"], boxes[np.argmax(areas)])
        assert isinstance(item["id"], bytes) and item["id"]


def test_tfds_missing_importlib_resources_gets_an_instruction(monkeypatch, tmp_path):
    def broken_load(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'importlib_resources'", name="importlib_resources")

    monkeypatch.setattr(tfds, "load", broken_load)
    with pytest.raises(ModuleNotFoundError, match="pip install importlib_resources"):
        data.load("mnist", data_dir=tmp_path)


def test_cached_pipeline_gives_the_same_examples_and_still_reshuffles():
    ds = _toy()
    plain = data.apply_normalize_on_dataset(ds, is_test=True, batch_size=8, size=(12, 12))
    cached = data.apply_normalize_on_dataset(ds, is_test=True, batch_size=8, size=(12, 12), cache=True)
    for (a, la), (b, lb) in zip(plain, cached):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_array_equal(la.numpy(), lb.numpy())
    train = data.apply_normalize_on_dataset(ds, batch_size=8, size=(12, 12), seed=1, cache=True)
    epoch1 = np.concatenate([b[1].numpy() for b in train])
    epoch2 = np.concatenate([b[1].numpy() for b in train])
    assert sorted(epoch1) == sorted(epoch2) == list(range(40)) and not np.array_equal(epoch1, epoch2)


def test_build_data_command_prints_the_info(small, capsys):
    _, _, _, folder = small
    assert data.main(["--name", "camlab_cars/small", "--data-dir", str(folder.parent / "cli")]) == 0
    out = capsys.readouterr().out
    assert "camlab_cars" in out and "num_examples=64" in out and str(folder.parent / "cli") in out


def test_a_build_finished_by_another_process_is_loaded(monkeypatch, small):
    _, _, _, folder = small
    real_load, calls = tfds.load, []

    def racing_load(*args, **kwargs):
        calls.append(kwargs.get("download", True))
        if len(calls) == 1:  # as TFDS fails when another process renamed its copy into place first
            raise FileExistsError("Cannot rename incomplete.XXXX_1.0.0. Destination 1.0.0 already exists.")
        return real_load(*args, **kwargs)

    monkeypatch.setattr(tfds, "load", racing_load)
    ds, info = data.load("camlab_cars/small", split="test", data_dir=folder)
    assert calls == [True, False] and info.splits["test"].num_examples == 32
