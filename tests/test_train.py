"""camlab.train: checkpoints, resuming, seeding and strategies on a tiny synthetic problem (seconds)."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from camlab import models, train as training


def _data(n=64, seed=0):
    """Bright vs dark 16x16 images: class 1 has a bright square somewhere, class 0 none."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 0.3, (n, 16, 16, 3)).astype(np.float32)
    labels = np.arange(n) % 2
    for i in np.nonzero(labels)[0]:
        y, x = rng.integers(0, 10, 2)
        images[i, y:y + 6, x:x + 6] = 1.0
    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    return ds.batch(16), ds.batch(32)


def _model():
    return models.build_cam_model(2, input_shape=(16, 16, 3))


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


class StopAfter(keras.callbacks.Callback):
    """Simulates an interruption (Ctrl-C, a crash) at the start of epoch ``epoch`` (0-based)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt("simulated interruption")


def test_checkpoints_interruption_resume_and_no_silent_overwrite(tmp_path):
    train_ds, val_ds = _data()
    with pytest.raises(KeyboardInterrupt):
        training.train(_model(), train_ds, val_ds, 2, checkpoint_dir=tmp_path, verbose=0, callbacks=[StopAfter(1)])
    for name in ("best.keras", "last.keras", "state.json"):
        assert (tmp_path / name).is_file()
    state = training.read_state(tmp_path)
    assert state["epoch"] == 1 and set(state["history"]) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert state["best_val_accuracy"] == state["history"]["val_accuracy"][0]
    saved = keras.saving.load_model(tmp_path / "last.keras", safe_mode=True)

    fresh = _model()  # a new session: a new model object, the same folder
    recorder = Recorder()
    history = training.train(fresh, train_ds, val_ds, 2, checkpoint_dir=tmp_path, verbose=0, callbacks=[recorder])
    assert recorder.epochs == [1]  # epoch 0 was not repeated
    assert len(history["loss"]) == 2 and history["loss"][:1] == state["history"]["loss"]
    assert all(np.isfinite(history["loss"]))
    assert int(fresh.optimizer.iterations) == 2 * 4  # the optimizer state was restored, then one more epoch
    assert not np.allclose(fresh.get_weights()[0], saved.get_weights()[0])  # and it trained on from there
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["epoch"] == 2 and state["history"] == history
    assert state["best_val_accuracy"] == max(history["val_accuracy"])

    before = (tmp_path / "last.keras").read_bytes()
    with pytest.raises(FileExistsError, match="resume=True"):
        training.train(_model(), train_ds, val_ds, 3, checkpoint_dir=tmp_path, resume=False, verbose=0)
    assert (tmp_path / "last.keras").read_bytes() == before

    recorder = Recorder()  # a finished run: its history comes back, nothing is trained
    again = training.train(_model(), train_ds, val_ds, 2, checkpoint_dir=tmp_path, verbose=0, callbacks=[recorder])
    assert again == history and recorder.epochs == []


def test_seeding_makes_runs_repeat_and_the_toy_problem_is_learned():
    train_ds, val_ds = _data(n=128)
    runs = []
    for _ in range(2):
        keras.utils.set_random_seed(7)  # the same initial weights
        model = _model()
        history = training.train(model, train_ds.shuffle(128), val_ds, 4, learning_rate=1e-2, seed=3, verbose=0)
        runs.append((history, model.get_weights()))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)
    assert runs[0][0]["val_accuracy"][-1] >= 0.9


def test_progress_bar_ends_with_the_scores_and_puts_validation_on_its_own_line(monkeypatch):
    import io

    out = io.StringIO()
    real = training.progress
    monkeypatch.setattr(training, "progress", lambda **kw: real(file=out, disable=False, ncols=100, **kw))
    bar = training.ProgressBar(2, 0, steps=3)
    bar.on_epoch_begin(0)
    for step in range(3):
        bar.on_train_batch_end(step, {"loss": 1.5, "accuracy": 0.25})
    bar.on_epoch_end(0, {"loss": 1.25, "accuracy": 0.5, "val_loss": 2.0, "val_accuracy": 0.125})
    last, validation = out.getvalue().split("\r")[-1].rstrip("\n").split("\n")
    assert last.startswith("epoch 1/2: 100%") and last.endswith("loss=1.250, acc=0.500]") and len(last) <= 100
    assert validation == " " * len("epoch 1/2") + "  validation: loss=2.000, acc=0.125"


def test_progress_bar_piped_to_a_log_prints_one_plain_line_per_epoch(capsys):
    """With output piped (no terminal, no notebook) tqdm draws nothing; each epoch still leaves its scores."""
    bar = training.ProgressBar(2, 0, steps=3)
    for epoch in range(2):
        bar.on_epoch_begin(epoch)
        assert bar.bar.disable  # pytest's captured stderr is not a terminal
        bar.on_train_batch_end(0, {"loss": 1.5, "accuracy": 0.25})
        bar.on_epoch_end(epoch, {"loss": 1.25, "accuracy": 0.5, "val_loss": 2.0, "val_accuracy": 0.125})
    assert capsys.readouterr().err.splitlines() == [
        f"epoch {n}/2: loss=1.250, acc=0.500; validation: loss=2.000, acc=0.125" for n in (1, 2)]


def test_strategy_builds_and_trains_in_scope():
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    train_ds, val_ds = _data()
    with strategy.scope():
        model = _model()
    history = training.train(model, train_ds, val_ds, 1, strategy=strategy, verbose=0)
    assert len(history["accuracy"]) == 1 and 0.0 <= history["accuracy"][0] <= 1.0


@pytest.mark.parametrize("epochs", [0, -1, 1.5])
def test_bad_epochs(epochs):
    train_ds, val_ds = _data()
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        training.train(_model(), train_ds, val_ds, epochs, verbose=0)


def test_evaluate_scores_a_perfect_localizer():
    """A model whose CAM for class 0 is the image's first channel localizes a bright box exactly."""
    inputs = keras.Input((32, 32, 3))
    features = keras.layers.Conv2D(3, 1, use_bias=False, name="block3_out")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D(name="avg_pool")(features)
    outputs = keras.layers.Dense(2, activation="softmax", name="predictions")(pooled)
    model = keras.Model(inputs, outputs)
    model.get_layer("block3_out").set_weights([np.eye(3, dtype="float32")[None, None]])  # features = image
    model.get_layer("predictions").set_weights([np.array([[1.0, 1.0], [0, 0], [0, 0]]), np.array([1.0, 0.0])])
    images = np.zeros((4, 32, 32, 3), np.uint8)
    boxes = np.array([[0.25, 0.25, 0.75, 0.75], [0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1], [0.125, 0.25, 0.5, 0.875]])
    for image, (y0, x0, y1, x1) in zip(images, (boxes * 32).astype(int)):
        image[y0:y1, x0:x1] = 255
    split = tf.data.Dataset.from_tensor_slices({"image": images, "label": np.zeros(4, np.int64),
                                                "bbox": boxes.astype(np.float32)})
    scores = training.evaluate(model, split)
    assert scores == {"test_accuracy": 1.0, "cam_gt_known_loc": 1.0, "cam_maxboxacc_v2": 1.0, "count": 4}


def test_train_command_never_replaces_a_model_silently(tmp_path, capsys):
    existing = tmp_path / "camlab_cars_tiny.keras"
    existing.write_bytes(b"someone's model")
    assert training.main(["--epochs", "1", "--out", str(tmp_path)]) == 2
    assert existing.read_bytes() == b"someone's model"
    assert capsys.readouterr().err == (f"camlab train: error: {existing} exists; pass --overwrite to replace it "
                                       f"(or choose another --out).\n")
    emblem = tmp_path / "camlab_cars_emblem_tiny.keras"  # --config emblem writes its own file, guarded the same way
    emblem.write_bytes(b"someone's emblem model")
    assert training.main(["--config", "emblem", "--epochs", "1", "--out", str(tmp_path)]) == 2
    assert emblem.read_bytes() == b"someone's emblem model" and existing.read_bytes() == b"someone's model"
    with pytest.raises(SystemExit):
        training.main(["--config", "paint", "--out", str(tmp_path)])


def _val_accuracy(model, split):
    from camlab import data

    batches = data.apply_normalize_on_dataset(split, is_test=True, batch_size=64, size=model.input_shape[1:3])
    labels = np.concatenate([y.numpy() for _, y in batches])
    return float(np.mean(np.argmax(model.predict(batches, verbose=0), -1) == labels))


@pytest.mark.slow
def test_train_default_keeps_the_checkpoint_chosen_on_validation(tmp_path):
    from camlab import data

    (train_split, val_split), info = data.load("camlab_cars/small", split=("train", "validation"),
                                               data_dir=tmp_path / "tfds")
    model, history = training.train_default(train_split, val_split, info, 3, checkpoint_dir=tmp_path / "run",
                                            verbose=0, return_history=True)
    assert model.output_shape == (None, 8) and model.get_layer("block3_out")
    assert len(history["val_accuracy"]) == 3 and training.read_state(tmp_path / "run")["epoch"] == 3
    chosen = training.selected_epoch(history)
    assert int(model.optimizer.iterations) == 2 * chosen  # best.keras: 2 steps (64 images, batches of 32) an epoch
    assert history["val_accuracy"][chosen - 1] == max(history["val_accuracy"])
    assert all(v < max(history["val_accuracy"]) for v in history["val_accuracy"][:chosen - 1])  # the first best
    best = keras.saving.load_model(tmp_path / "run" / "best.keras", compile=False, safe_mode=True)
    for mine, theirs in zip(model.get_weights(), best.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    # the returned model scores on validation what its chosen epoch scored (the 16 validation images)
    assert abs(_val_accuracy(model, val_split) - history["val_accuracy"][chosen - 1]) < 1e-6

    # without a checkpoint folder the best weights are kept in memory
    model2, history2 = training.train_default(train_split, val_split, info, 3, verbose=0, return_history=True)
    assert abs(_val_accuracy(model2, val_split) - max(history2["val_accuracy"])) < 1e-6
    # the same seed repeats the run bit for bit: the initial weights are seeded too (before the model is built)
    assert history2 == history
    for mine, theirs in zip(model2.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    other = training.train_default(train_split, val_split, info, 1, seed=1, verbose=0, restore_best=False)
    assert not np.array_equal(other.get_weights()[0], model.get_weights()[0])  # another seed, another run
    # restore_best=False keeps the last epoch's weights
    model3 = training.train_default(train_split, val_split, info, 2, checkpoint_dir=tmp_path / "run3", verbose=0,
                                    restore_best=False)
    last = keras.saving.load_model(tmp_path / "run3" / "last.keras", compile=False, safe_mode=True)
    for mine, theirs in zip(model3.get_weights(), last.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


def test_selected_epoch_is_the_first_best():
    assert training.selected_epoch({"val_accuracy": [0.2, 0.9, 0.5, 0.9]}) == 2
    assert training.selected_epoch({"val_accuracy": [0.7]}) == 1



def test_permute_labels_shuffles_labels_among_the_same_images():
    images = np.arange(20, dtype=np.uint8).reshape(20, 1, 1, 1) * np.ones((1, 2, 2, 3), np.uint8)
    labels = np.repeat(np.arange(4), 5).astype(np.int64)
    split = tf.data.Dataset.from_tensor_slices({"image": images, "label": labels})
    permuted = list(training.permute_labels(split, seed=3).as_numpy_iterator())
    assert [int(item["image"][0, 0, 0]) for item in permuted] == list(range(20))  # same images, same order
    got = np.array([item["label"] for item in permuted])
    assert got.dtype == np.int64 and sorted(got.tolist()) == sorted(labels.tolist())  # same label counts
    assert (got != labels).sum() >= 10  # most links broken
    again = np.array([item["label"] for item in training.permute_labels(split, seed=3).as_numpy_iterator()])
    np.testing.assert_array_equal(got, again)
