"""Issue 14: bad input gets one clear message (what is wrong, what to do), never a traceback or a silent result.

Every test asserts the message itself. Command-line cases run in-process through ``camlab.__main__.main``, as
``python -m camlab ...`` would: status 2 and exactly one line ``camlab COMMAND: error: ...`` on stderr.
"""
import argparse
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from camlab import boxes, cam, cli, metrics, models, train as training
from camlab.__main__ import main as camlab_main


def run_cli(capsys, *argv):
    """(exit status, stderr lines) of ``python -m camlab ARGV``, run in this process."""
    try:
        status = camlab_main(list(argv))
    except SystemExit as exit_:
        status = exit_.code
    return status, capsys.readouterr().err.splitlines()


def assert_one_error(capsys, argv, command, *fragments):
    status, lines = run_cli(capsys, *argv)
    assert status == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"camlab {command}: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# ----------------------------------------------------------------------------------------------------------
# Maps
# ----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_model():
    return models.build_cam_model(3, input_shape=(16, 16, 3))


@pytest.mark.parametrize("method", [cam.class_activation_map, cam.grad_cam, cam.score_cam])
def test_maps_refuse_a_nan_pixel_saying_which_image_and_where(small_model, method):
    images = np.random.default_rng(0).uniform(0, 1, (3, 16, 16, 3)).astype(np.float32)
    images[1, 5, 7, 2] = np.nan
    images[2, 0, 0, 0] = np.inf
    with pytest.raises(ValueError) as error:
        method(small_model, images)
    assert str(error.value).startswith(
        "images[1] has a non-finite pixel (nan) at row 5, column 7, channel 2 (2 non-finite values in all); "
        "so do images [2]. Maps need finite pixels in [0, 1]")
    with pytest.raises(ValueError, match=r"^the image has a non-finite pixel \(inf\) at row 0, column 0, "
                                         r"channel 0\. Maps need finite pixels"):
        method(small_model, images[2])
    assert method(small_model, np.nan_to_num(images, nan=0.5, posinf=1.0)).shape == (3, 2, 2)  # finite: fine


def test_grad_cam_without_a_model_says_what_it_expects_and_got():
    image = np.zeros((16, 16, 3), np.float32)
    with pytest.raises(TypeError, match=r"^model must be a Keras model \(keras\.Model\), got None\. Load one "
                                        r"first, e\.g\. camlab\.models\.load_pretrained\(\)"):
        cam.grad_cam(None, image)
    with pytest.raises(TypeError, match=r"got 'model\.keras'\."):
        cam.class_activation_map("model.keras", image)
    item = {"image": np.zeros((20, 30, 3), np.uint8), "label": 0}
    with pytest.raises(TypeError, match=r"^model must be a Keras model \(keras\.Model\), got None\."):
        cam.generate_grad_cam(None, "block3_out", item)  # the lesson's interface says the same


# ----------------------------------------------------------------------------------------------------------
# Thresholds: one check (camlab.boxes.check_threshold), the same message in every function that takes one
# ----------------------------------------------------------------------------------------------------------
CAM = np.outer(np.hanning(12), np.hanning(12)).astype(np.float32)
GT = [[0.0, 0.0, 1.0, 1.0]]


def _message(value, name="threshold", positive=False):
    with pytest.raises(ValueError) as error:
        boxes.check_threshold(value, name, positive)
    return str(error.value)


def test_check_threshold_messages():
    assert _message(-0.5) == "threshold must be between 0 and 1 (a fraction, 0.2 = 20%); got -0.5."
    assert _message(1.5) == "threshold must be between 0 and 1 (a fraction, 0.2 = 20%); got 1.5."
    assert _message(20) == ("threshold must be between 0 and 1 (a fraction, 0.2 = 20%); got 20.0. A percentage? "
                            "Divide it by 100: 0.2.")
    assert _message("0.2") == ("threshold must be a number between 0 and 1, not the string '0.2'. Pass the "
                               "number 0.2, without quotes.")
    assert _message("high") == "threshold must be a number between 0 and 1, not the string 'high'."
    assert _message(float("nan")).endswith("got nan.")
    assert _message(None) == "threshold must be one number between 0 and 1; got None."
    assert _message(True) == "threshold must be one number between 0 and 1; got True."
    assert _message([0.2, 0.3]) == "threshold must be one number between 0 and 1; got [0.2, 0.3]."
    assert _message(0, "iou_threshold", positive=True) == (
        "iou_threshold must be between 0 (excluded) and 1 (a fraction, 0.2 = 20%); got 0.0.")
    for ok in (0, 0.0, 1, np.float32(0.25), np.int64(1), tf.constant(0.5)):
        assert isinstance(boxes.check_threshold(ok), float)


@pytest.mark.parametrize("bad", [-0.5, 1.5, "0.2"])
def test_every_function_taking_a_threshold_gives_the_same_message(bad):
    expected = re.escape(_message(bad))
    calls = [
        lambda: boxes.cam_to_bbox(CAM, bad),
        lambda: boxes.boxes_from_map(CAM, threshold=bad),
        lambda: metrics.localization_accuracy([CAM], GT, threshold=bad),
        lambda: metrics.evaluate_localization(None, [], threshold=bad),  # checked before the model is used
    ]
    for call in calls:
        with pytest.raises(ValueError, match=f"^{expected}$"):
            call()
    with pytest.raises(ValueError, match=f"^{re.escape(_message(bad, 'score_thresh'))}$"):
        boxes.get_bbox(CAM, score_thresh=bad)
    with pytest.raises(ValueError, match=f"^{re.escape(_message(bad, 'cam_thresholds[1]'))}$"):
        metrics.max_box_acc([CAM], GT, cam_thresholds=[0.1, bad])
    with pytest.raises(ValueError, match=f"^{re.escape(_message(bad, 'iou_threshold', positive=True))}$"):
        metrics.localization_accuracy([CAM], GT, iou_threshold=bad)


def test_threshold_edges_keep_their_documented_results():
    assert np.allclose(boxes.cam_to_bbox(CAM, 0.0), [1 / 12, 1 / 12, 11 / 12, 11 / 12])  # hanning ends are 0
    assert boxes.cam_to_bbox(CAM, 1.0) is None  # strictly above the maximum: no pixel
    with pytest.raises(ValueError, match=r"^thresholds is empty"):
        metrics.region_ious([CAM], GT, [])


# ----------------------------------------------------------------------------------------------------------
# The command line
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, fragment", [
    (["--epochs", "0"], "argument --epochs: must be a positive whole number (1, 2, ...), got 0"),
    (["--epochs", "-1"], "argument --epochs: must be a positive whole number (1, 2, ...), got -1"),
    (["--epochs", "two"], "argument --epochs: expected a whole number, got 'two'"),
    (["--batch-size", "0"], "argument --batch-size: must be a positive whole number (1, 2, ...), got 0"),
    (["--weights", "missing.keras"], "argument --weights: no such file: missing.keras (looked in "),
])
def test_train_arguments(capsys, argv, fragment):
    assert_one_error(capsys, ["train", *argv], "train", fragment, "; see python -m camlab train --help")


def test_train_output_paths_under_a_file_fail_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder")
    assert_one_error(capsys, ["train", "--out", str(blocker / "models")], "train",
                     f"argument --out: {blocker / 'models'} is under {blocker}, which is a file, so it cannot be a "
                     f"folder; choose another folder")
    assert_one_error(capsys, ["train", "--out", str(tmp_path), "--checkpoint-dir", str(blocker)], "train",
                     f"argument --checkpoint-dir: {blocker} is a file, so it cannot be a folder")


def test_evaluate_max_images(capsys):
    assert_one_error(capsys, ["evaluate", "--max-images", "-3"], "evaluate",
                     "argument --max-images: must be a positive whole number (1, 2, ...), got -3")


def test_execute_refuses_what_is_not_a_notebook(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("print('hi')\n")
    assert_one_error(capsys, ["execute", str(text)], "execute", f"argument notebooks: {text} is not a notebook: "
                                                                 f"pass .ipynb files")
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    assert_one_error(capsys, ["execute", str(broken)], "execute",
                     f"argument notebooks: {broken} is not valid notebook JSON (Notebook does not appear to be JSON",
                     f"repair it in a text editor or restore it (git checkout -- {broken})")
    other = tmp_path / "list.ipynb"
    other.write_text("[1, 2]")
    assert_one_error(capsys, ["execute", str(other)], "execute", f"{other} is not a readable notebook (")
    assert_one_error(capsys, ["execute", str(tmp_path / "gone.ipynb")], "execute",
                     f"no such file: {tmp_path / 'gone.ipynb'}")


def test_build_data_dir_that_is_a_file(tmp_path, capsys):
    blocker = tmp_path / "data"
    blocker.write_text("")
    assert_one_error(capsys, ["build-data", "--data-dir", str(blocker)], "build-data",
                     f"argument --data-dir: {blocker} is a file, so it cannot be a folder; choose another folder")


def test_student_with_a_missing_solutions_folder_is_an_error(tmp_path, capsys):
    missing = tmp_path / "missing-folder"
    for argv in (["student", "--solutions", str(missing)], ["student", "--check", "--solutions", str(missing)]):
        assert_one_error(capsys, argv, "student", f"argument --solutions: no such folder: {missing}")
    assert not missing.exists()


def test_student_reports_a_broken_solution_notebook_in_one_line(tmp_path, capsys):
    (tmp_path / "01_broken.ipynb").write_text("not json")
    assert_one_error(capsys, ["student", "--solutions", str(tmp_path)], "student",
                     f"{tmp_path / '01_broken.ipynb'} is not valid notebook JSON")


def test_an_expected_failure_is_one_line_and_debug_shows_the_traceback(tmp_path, capsys):
    (tmp_path / "camlab_cars_tiny.keras").write_bytes(b"a model")
    assert_one_error(capsys, ["train", "--out", str(tmp_path)], "train",
                     f"{tmp_path / 'camlab_cars_tiny.keras'} exists; pass --overwrite to replace it")
    with pytest.raises(cli.CommandError, match="exists; pass --overwrite"):
        camlab_main(["train", "--out", str(tmp_path), "--debug"])


def test_cli_types():
    assert cli.positive_int("3") == 3 and cli.nonnegative_int("0") == 0
    with pytest.raises(argparse.ArgumentTypeError, match=r"^must be 0 or more, got -1$"):
        cli.nonnegative_int("-1")
    with pytest.raises(argparse.ArgumentTypeError, match=r"is a folder, not a file$"):
        cli.existing_file(".")


# ----------------------------------------------------------------------------------------------------------
# Training: atomic checkpoints, corrupt files, output paths
# ----------------------------------------------------------------------------------------------------------
def _data(n=32):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (n, 16, 16, 3)).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices((images, np.arange(n) % 2))
    return ds.batch(16), ds.batch(32)


def _model():
    return models.build_cam_model(2, input_shape=(16, 16, 3))


def _one_epoch_run(folder):
    train_ds, val_ds = _data()
    training.train(_model(), train_ds, val_ds, 1, checkpoint_dir=folder, verbose=0)
    return train_ds, val_ds


@pytest.mark.slow  # two short trainings
def test_a_save_killed_halfway_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    train_ds, val_ds = _one_epoch_run(tmp_path)
    before = (tmp_path / "last.keras").read_bytes()
    real_save = keras.Model.save

    def killed_save(self, path, *args, **kwargs):
        real_save(self, path, *args, **kwargs)
        with open(path, "r+b") as handle:  # the process dies halfway through writing the file
            handle.truncate(100)
        raise KeyboardInterrupt("killed during the save")

    monkeypatch.setattr(keras.Model, "save", killed_save)
    with pytest.raises(KeyboardInterrupt):
        training.train(_model(), train_ds, val_ds, 2, checkpoint_dir=tmp_path, verbose=0)
    monkeypatch.setattr(keras.Model, "save", real_save)
    assert (tmp_path / "last.keras").read_bytes() == before
    assert training.read_state(tmp_path)["epoch"] == 1
    history = training.train(_model(), train_ds, val_ds, 2, checkpoint_dir=tmp_path, verbose=0)
    assert len(history["loss"]) == 2  # resumed after epoch 1, nothing lost


@pytest.mark.slow  # two short trainings
def test_a_corrupt_last_checkpoint_names_the_file_and_the_ways_out(tmp_path):
    train_ds, val_ds = _one_epoch_run(tmp_path)
    (tmp_path / "last.keras").write_bytes(b"PK\x03\x04 half a zip")
    with pytest.raises(training.CheckpointError) as error:
        training.train(_model(), train_ds, val_ds, 2, checkpoint_dir=tmp_path, verbose=0)
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'last.keras'} cannot be resumed from (BadZipFile: ")
    assert (f"resume from the best epoch instead: copy {tmp_path / 'best.keras'} over {tmp_path / 'last.keras'}, "
            f"or start the run over: `python -m camlab train --overwrite` (train(..., overwrite=True))") in message
    history = training.train(_model(), train_ds, val_ds, 1, checkpoint_dir=tmp_path, verbose=0, overwrite=True)
    assert len(history["loss"]) == 1 and training.read_state(tmp_path)["epoch"] == 1  # started over


@pytest.mark.parametrize("content, reason", [
    ('{"epoch": 1, "hist', "is corrupt (not valid JSON: "),
    ('{"epochs": 1}', "is not a camlab training state (no 'epoch' and 'history')"),
])
def test_a_corrupt_state_names_the_file_and_the_ways_out(tmp_path, capsys, content, reason):
    (tmp_path / "state.json").write_text(content)
    (tmp_path / "best.keras").write_bytes(b"")
    with pytest.raises(training.CheckpointError) as error:
        training.read_state(tmp_path)
    assert str(error.value).startswith(f"{tmp_path / 'state.json'} {reason}")
    assert str(error.value).endswith(
        f"To go on, start a new run from the best model so far (--weights {tmp_path / 'best.keras'} --checkpoint-dir "
        f"NEW), or start the run over: `python -m camlab train --overwrite` (train(..., overwrite=True)), or choose "
        f"another checkpoint folder.")
    # On the command line it is one line, before any data is loaded.
    assert_one_error(capsys, ["train", "--out", str(tmp_path / "out"), "--checkpoint-dir", str(tmp_path)], "train",
                     f"{tmp_path / 'state.json'} {reason}", "--overwrite")


def test_a_checkpoint_dir_under_a_file_fails_before_the_first_epoch(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    train_ds, val_ds = _data()

    class Started(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            raise AssertionError("training started")

    with pytest.raises(ValueError, match=f"^{re.escape(str(blocker / 'run'))} is under {re.escape(str(blocker))}, "
                                         f"which is a file"):
        training.train(_model(), train_ds, val_ds, 1, checkpoint_dir=blocker / "run", verbose=0,
                       callbacks=[Started()])

