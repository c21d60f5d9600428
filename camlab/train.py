"""Training with a progress bar, best and last checkpoints, resuming, seeding and distribution strategies.

A checkpoint folder holds three files:

- ``last.keras``  the model after the latest finished epoch (with its optimizer state, to resume from);
- ``best.keras``  the model of the epoch with the best validation accuracy so far;
- ``state.json``  ``{"epoch": epochs finished, "history": {...}, "best_val_accuracy": ...}``.

Run again with the same folder and ``resume=True`` and training continues at the next epoch with the history
so far. A folder that holds another run is never overwritten silently: resume it, or choose another folder.
"""
import json
import numbers
import os
import platform
import sys
import time
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from camlab import paths  # noqa: E402
from camlab import cli  # noqa: E402
from camlab._progress import progress  # noqa: E402

STATE_FILE, LAST_FILE, BEST_FILE = "state.json", "last.keras", "best.keras"
DEFAULT_LEARNING_RATE = 3e-3
DEFAULT_SEED = 42
DEFAULT_EPOCHS = 6
DEFAULT_BATCH_SIZE = 32


class ProgressBar(keras.callbacks.Callback):
    """One tqdm bar per run (camlab._progress), advanced per batch, showing loss and accuracy."""

    def __init__(self, epochs, initial_epoch, steps=None, verbose=1):
        super().__init__()
        self.epochs, self.initial_epoch, self.steps, self.verbose = epochs, initial_epoch, steps, verbose
        self.bar = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.verbose:
            self.bar = progress(total=self.steps, desc=f"epoch {epoch + 1}/{self.epochs}", unit="batch")

    def on_train_batch_end(self, batch, logs=None):
        if self.bar is not None:
            self.bar.update(1)
            if logs:
                self.bar.set_postfix(_scores(logs, ""))

    def on_epoch_end(self, epoch, logs=None):
        """The bar ends with the epoch's training loss and accuracy; the validation scores get a line of their
        own below it (all four do not fit a 100-column notebook bar, which would cut them off)."""
        if self.bar is not None:
            logs = logs or {}
            desc = f"epoch {epoch + 1}/{self.epochs}"
            validation = ", ".join(f"{k}={v}" for k, v in _scores(logs, "val_").items())
            if self.bar.disable:  # output piped to a log: no bar was drawn, so one plain line per epoch
                training = ", ".join(f"{k}={v}" for k, v in _scores(logs, "").items())
                print(f"{desc}: {training}" + (f"; validation: {validation}" if validation else ""),
                      file=sys.stderr, flush=True)
            else:
                self.bar.set_postfix(_scores(logs, ""))
                self.bar.close()
                if validation:
                    self.bar.write(f"{' ' * len(desc)}  validation: {validation}", file=self.bar.fp)
            self.bar = None


def _scores(logs, prefix):
    """``{"loss": "0.123", "acc": "0.950"}`` from Keras logs, for the keys starting with ``prefix``."""
    names = {"loss": "loss", "accuracy": "acc"}
    return {short: f"{logs[prefix + key]:.3f}" for key, short in names.items() if prefix + key in logs}


class Checkpointer(keras.callbacks.Callback):
    """After each epoch: save ``last.keras``, ``best.keras`` when validation accuracy improved, then the state."""

    def __init__(self, folder, history, best):
        super().__init__()
        self.folder, self.history, self.best = Path(folder), history, best

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        _save_atomically(self.model, self.folder / LAST_FILE)
        score = (logs or {}).get("val_accuracy", (logs or {}).get("accuracy"))
        if score is not None and (self.best is None or score > self.best):
            self.best = float(score)
            _save_atomically(self.model, self.folder / BEST_FILE)
        state = {"epoch": epoch + 1, "history": self.history, "best_val_accuracy": self.best}
        tmp = self.folder / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.folder / STATE_FILE)  # atomic: an interrupted write never leaves a broken state


def _save_atomically(model, path):
    """``model.save(path)`` via a temporary file in the same folder and ``os.replace``: a save killed halfway
    leaves the previous ``path`` intact (Keras only writes ``.keras`` names, hence ``last.partial.keras``)."""
    tmp = path.with_name(path.stem + ".partial.keras")
    model.save(tmp)
    os.replace(tmp, path)


class CheckpointError(ValueError):
    """A checkpoint folder's file cannot be read; the message says which one and the ways out."""


def _ways_out(folder, broken):
    """What to do when ``broken`` (last.keras or state.json) cannot be read: the best checkpoint, or start over."""
    best = folder / BEST_FILE
    if not best.is_file():
        use_best = ""
    elif broken.name == LAST_FILE:  # state.json is fine: resume from the best epoch's weights
        use_best = f"resume from the best epoch instead: copy {best} over {folder / LAST_FILE}, or "
    else:  # without the state there is nothing to resume, but the best model so far is intact
        use_best = f"start a new run from the best model so far (--weights {best} --checkpoint-dir NEW), or "
    return (f"To go on, {use_best}start the run over: `python -m camlab train --overwrite` (train(..., "
            f"overwrite=True)), or choose another checkpoint folder.")


def read_state(checkpoint_dir):
    """The saved state of a run in ``checkpoint_dir`` ({"epoch", "history", ...}) or None; ``CheckpointError``
    when ``state.json`` is there but unreadable."""
    folder = Path(checkpoint_dir)
    path = folder / STATE_FILE
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path} is corrupt (not valid JSON: {error}). " + _ways_out(folder, path)) from None
    if not isinstance(state, dict) or not isinstance(state.get("epoch"), int) or not isinstance(
            state.get("history"), dict):
        raise CheckpointError(f"{path} is not a camlab training state (no 'epoch' and 'history'). "
                              + _ways_out(folder, path))
    return state


def _compile(model, learning_rate, optimizer):
    optimizer = optimizer or keras.optimizers.Adam(learning_rate=learning_rate)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def train(model, train_ds, val_ds, epochs, *, learning_rate=DEFAULT_LEARNING_RATE, optimizer=None,
          checkpoint_dir=None, resume=True, seed=DEFAULT_SEED, strategy=None, verbose=1, callbacks=(),
          overwrite=False):
    """Train ``model`` on batched (images, labels) data for ``epochs`` epochs in total; return the history dict.

    - Seeds Python, NumPy and TensorFlow (``keras.utils.set_random_seed(seed)``) before fitting. The model's
      initial weights were drawn when it was built, and a dataset shuffled without its own seed drew its order
      when it was made: for a run that repeats, call ``keras.utils.set_random_seed(seed)`` before building the
      model too (``train_default`` does) and give the dataset a seed. Then two runs on the same machine and
      TensorFlow version give the same history, bit for bit (tests/test_train.py). Other hardware or thread
      counts may round float sums differently; on a GPU add ``tf.config.experimental.enable_op_determinism()``.
    - Compiles with Adam(learning_rate) (a float or a keras LearningRateSchedule; or your ``optimizer``) and
      sparse categorical cross-entropy + accuracy.
    - ``checkpoint_dir``: writes last/best ``.keras`` files and ``state.json`` after every epoch. If the folder
      already holds a run, ``resume=True`` continues it at the next epoch (restoring the model and optimizer
      from ``last.keras`` and the history so far); ``resume=False`` refuses to overwrite it; ``overwrite=True``
      deletes it and starts over. Checkpoints are written atomically (a killed save keeps the previous one); a
      file that cannot be read all the same raises ``CheckpointError`` naming it and the ways out.
    - ``strategy``: a ``tf.distribute`` strategy; the model is compiled (and, when resuming, loaded) in its scope.
      The model you pass should have been built under the same scope.
    - ``verbose``: 1 shows a progress bar per epoch, 0 nothing.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    keras.utils.set_random_seed(seed)
    history, best, initial_epoch = {}, None, 0
    folder = Path(checkpoint_dir).expanduser() if checkpoint_dir is not None else None
    if folder is not None:
        paths.check_output_dir(folder)  # a file in the way fails now, not after the first epoch
        if overwrite:
            for name in (STATE_FILE, LAST_FILE, BEST_FILE):
                (folder / name).unlink(missing_ok=True)
    state = read_state(folder) if folder is not None else None
    if state is not None and not resume:
        raise FileExistsError(
            f"{folder} already holds a training run ({state['epoch']} epochs done). Pass resume=True to continue "
            f"it, or choose another checkpoint_dir; camlab never overwrites a run silently."
        )
    scope = strategy.scope() if strategy is not None else _NullScope()
    with scope:
        _compile(model, learning_rate, optimizer)
        if state is not None:
            # last.keras holds the weights and the optimizer's state: load both into this model.
            model.optimizer.build(model.trainable_variables)
            try:
                model.load_weights(folder / LAST_FILE)
            except (zipfile.BadZipFile, OSError, ValueError) as error:
                raise CheckpointError(
                    f"{folder / LAST_FILE} cannot be resumed from ({type(error).__name__}: {error}); a save may "
                    f"have been interrupted. " + _ways_out(folder, folder / LAST_FILE)) from None
            history, best, initial_epoch = state["history"], state.get("best_val_accuracy"), state["epoch"]
            if verbose:
                print(f"Resuming {folder} after epoch {initial_epoch} of {epochs}.")
    if initial_epoch >= epochs:
        return history  # nothing left to do
    cbs = list(callbacks)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        cbs.append(Checkpointer(folder, history, best))
    cbs.append(ProgressBar(epochs, initial_epoch, _cardinality(train_ds), verbose))
    fit = model.fit(train_ds, validation_data=val_ds, epochs=int(epochs), initial_epoch=initial_epoch,
                    callbacks=cbs, verbose=0, shuffle=False)  # shuffling is the dataset's job
    if folder is None:
        history = {key: [float(v) for v in values] for key, values in fit.history.items()}
    return history


class _NullScope:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _cardinality(ds):
    n = int(ds.cardinality()) if hasattr(ds, "cardinality") else -1
    return n if n >= 0 else None


def permute_labels(split, seed=DEFAULT_SEED):
    """The split with its labels shuffled among its examples (a fixed permutation from ``seed``): the data
    randomization test of Adebayo et al. (NeurIPS 2018). The images and the label counts stay the same; the
    link between an image and its class is gone, so a model trained on it can only memorize. The split
    must yield its items in a fixed order (a TFDS split read without shuffle_files does)."""
    labels = np.array([int(label) for label in split.map(lambda item: item["label"]).as_numpy_iterator()])
    shuffled = np.random.default_rng(seed).permutation(labels).astype(labels.dtype)
    pairs = tf.data.Dataset.zip((split, tf.data.Dataset.from_tensor_slices(shuffled)))
    return pairs.map(lambda item, label: {**item, "label": tf.cast(label, item["label"].dtype)})


def train_default(train_split, val_split, info, epochs=DEFAULT_EPOCHS, *, backbone="tiny", weights=None,
                  seed=DEFAULT_SEED, batch_size=DEFAULT_BATCH_SIZE, learning_rate=DEFAULT_LEARNING_RATE,
                  checkpoint_dir=None, restore_best=True, verbose=1, callbacks=(), return_history=False,
                  overwrite=False, permuted_labels=False):
    """The course's recipe: a CAM model for ``info``'s classes, trained on unbatched TFDS splits; returns it
    (or ``(model, history)`` with ``return_history=True``).

    ``val_split`` is what checkpoints are chosen on: pass the validation split (``data.load(split=("train",
    "validation", "test"))``), never the test split, which is scored once, after training (``evaluate``).
    With ``restore_best`` the returned model holds the weights of the epoch with the best validation accuracy
    (the first such epoch; from ``best.keras`` when ``checkpoint_dir`` is given), not the last epoch's.
    ``seed`` is set (``keras.utils.set_random_seed``) before the model is built, so the initial weights, the
    data order and the training repeat: the same call on the same machine gives the same history and weights.
    Images are prepared at the model's input size and kept in memory; Adam's learning rate follows a cosine
    decay from ``learning_rate`` to 0 over the run. ``checkpoint_dir`` makes the run resumable (see ``train``;
    ``overwrite=True`` starts a run there over).
    ``permuted_labels=True`` trains on the training split with its labels permuted (``permute_labels``), for
    the data randomization test; the test split keeps its true labels.
    """
    from camlab import data, models

    keras.utils.set_random_seed(seed)  # before building: the initial weights are drawn here
    model = models.build_cam_model(info.features["label"].num_classes, backbone=backbone, weights=weights)
    if permuted_labels:
        train_split = permute_labels(train_split, seed)
    size = tuple(model.input_shape[1:3])
    train_ds = data.apply_normalize_on_dataset(train_split, batch_size=batch_size, size=size, seed=seed, cache=True)
    val_ds = data.apply_normalize_on_dataset(val_split, is_test=True, batch_size=64, size=size, cache=True)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * int(train_ds.cardinality()))
    callbacks = list(callbacks)
    if restore_best and checkpoint_dir is None:  # no best.keras to reload: keep the best weights in memory
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=epochs,
                                                       restore_best_weights=True))
    history = train(model, train_ds, val_ds, epochs, learning_rate=schedule, checkpoint_dir=checkpoint_dir,
                    seed=seed, verbose=verbose, callbacks=callbacks, overwrite=overwrite)
    best_file = Path(checkpoint_dir).expanduser() / BEST_FILE if checkpoint_dir is not None else None
    if restore_best and best_file is not None and best_file.is_file():
        model.load_weights(best_file)
    return (model, history) if return_history else model


def selected_epoch(history):
    """The epoch (1-based) whose weights ``train_default`` keeps: the first with the best validation accuracy."""
    return int(np.argmax(history["val_accuracy"])) + 1


# ----------------------------------------------------------------------------------------------------------
# Scoring a trained model (test accuracy and CAM localization), for the model card and the benchmark
# ----------------------------------------------------------------------------------------------------------

def evaluate(model, test_split, batch_size=64, threshold=0.2, iou_threshold=0.5, feature_layer=None):
    """Test accuracy and CAM localization scores of ``model`` over an unbatched TFDS split.

    camlab.evaluation.evaluate_localization scores the CAM of the true class, at the model's input size,
    from the same forward pass as the predictions:
    - cam_gt_known_loc: hit = IoU >= iou_threshold with the box of the largest region of
      cam >= threshold * max(cam) (the CAM paper's rule);
    - cam_maxboxacc_v2: MaxBoxAccV2 (Choe et al., CVPR 2020; IoU 0.3 / 0.5 / 0.7, best map threshold each).
    Returns {"test_accuracy", "cam_gt_known_loc", "cam_maxboxacc_v2", "count"}.
    """
    from camlab.evaluation import evaluate_localization

    row = evaluate_localization(model, test_split, methods=("cam",), layer=feature_layer,
                                size=tuple(model.input_shape[1:3]), threshold=threshold,
                                iou_threshold=iou_threshold, batch_size=batch_size, show_progress=False).rows[0]
    return {"test_accuracy": row["top1_acc"], "cam_gt_known_loc": row["loc_acc"],
            "cam_maxboxacc_v2": row["max_box_acc_v2"], "count": row["images"]}


# ----------------------------------------------------------------------------------------------------------
# The command line: python -m camlab train
# ----------------------------------------------------------------------------------------------------------

def machine_description():
    """'2 cores (CPU model), Linux x86_64, TensorFlow ..., Keras ..., load average 1.0' (the CPU may be shared)."""
    cpu = platform.processor() or "CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return (f"{len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()} cores "
            f"({cpu}), {platform.system()} {platform.machine()}, TensorFlow {tf.__version__}, "
            f"Keras {keras.__version__}{load}")


def _weights_arg(text):
    """--weights: 'imagenet' or an existing weights file."""
    return text if text == "imagenet" else str(cli.existing_file(text))


@cli.command("train")
def main(argv=None):
    """``python -m camlab train``: train the default CAM model on the embedded dataset; write .keras + card."""
    from camlab import data, models

    parser = cli.parser("train", description=main.__doc__)
    parser.add_argument("--config", default="default", choices=tuple(models.PRETRAINED),
                        help="which shipped model to make: 'default' (camlab_cars) or 'emblem' (camlab_cars/emblem)")
    parser.add_argument("--epochs", type=cli.positive_int, default=DEFAULT_EPOCHS)
    parser.add_argument("--backbone", default="tiny", choices=models.BACKBONES)
    parser.add_argument("--weights", default=None, type=_weights_arg,
                        help="initial weights: 'imagenet' (resnet50; downloads) or a .keras/.weights.h5 file")
    parser.add_argument("--out", default=str(paths.models_dir()), type=cli.output_dir,
                        help="folder for the .keras model and its card")
    parser.add_argument("--checkpoint-dir", default=None, type=cli.output_dir,
                        help="checkpoints (default runs/<model>-seed<seed>; an unfinished run there resumes)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--batch-size", type=cli.positive_int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--learning-rate", type=float, default=DEFAULT_LEARNING_RATE)
    parser.add_argument("--data-dir", default=None, type=cli.output_dir,
                        help="data folder (default data/ or $CAMLAB_DATA_DIR)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing model in --out, and start a run in --checkpoint-dir over")
    parser.add_argument("--permute-labels", action="store_true",
                        help="train on permuted labels (data randomization test); the model is named *_permuted")
    args = parser.parse_args(argv)

    dataset = models.PRETRAINED_DATASETS[args.config]
    name = dataset.replace("/", "_") + f"_{args.backbone}" + ("_permuted" if args.permute_labels else "")
    # camlab_cars_tiny, camlab_cars_emblem_tiny, camlab_cars_tiny_permuted
    out = Path(args.out).expanduser()
    model_file, card_file = out / f"{name}.keras", out / f"{name}.json"
    if model_file.exists() and not args.overwrite:
        raise cli.CommandError(f"{model_file} exists; pass --overwrite to replace it (or choose another --out).")
    checkpoint_dir = Path(args.checkpoint_dir or paths.REPO_DIR / "runs" / f"{name}-seed{args.seed}")

    try:
        if not args.overwrite:
            read_state(checkpoint_dir)  # a corrupt state.json fails now, before the data is loaded
        (train_split, val_split, test_split), info = data.load(dataset, split=("train", "validation", "test"),
                                                                data_dir=paths.tfds_dir(args.data_dir))
        machine_at_start = machine_description()
        start = time.perf_counter()
        model, history = train_default(train_split, val_split, info, args.epochs, backbone=args.backbone,
                                       weights=args.weights, seed=args.seed, batch_size=args.batch_size,
                                       learning_rate=args.learning_rate, checkpoint_dir=checkpoint_dir,
                                       return_history=True, overwrite=args.overwrite,
                                       permuted_labels=args.permute_labels)
    except CheckpointError as error:
        raise cli.CommandError(error) from error
    seconds = time.perf_counter() - start
    scores = evaluate(model, test_split)  # the test split's one use: scored once, after training
    chosen = selected_epoch(history)

    out.mkdir(parents=True, exist_ok=True)
    model.save(model_file)
    command = "python -m camlab train " + " ".join(argv if argv is not None else [])
    card = {
        "model": model_file.name,
        "backbone": args.backbone,
        "initial_weights": args.weights or "random (trained from scratch)",
        "input_shape": list(model.input_shape[1:]),
        "feature_layer": "block3_out" if args.backbone == "tiny" else "conv5_block3_out",
        "classes": info.features["label"].names,
        "dataset": {"name": info.name, "version": str(info.version), "config": info.config_name,
                    "train_examples": info.splits["train"].num_examples,
                    "validation_examples": info.splits["validation"].num_examples,
                    "test_examples": info.splits["test"].num_examples},
        "training_command": command.strip(),
        "seed": args.seed,
        "permuted_labels": args.permute_labels,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": f"Adam, cosine decay from {args.learning_rate} to 0 over the run",
        "checkpoint_selection": "the epoch with the best validation accuracy (validation split); the test split "
                                "is scored once, on that checkpoint",
        "selected_epoch": chosen,
        "validation_accuracy": round(history["val_accuracy"][chosen - 1], 4),
        "test_accuracy": round(scores["test_accuracy"], 4),
        "cam_gt_known_loc": round(scores["cam_gt_known_loc"], 4),
        "cam_gt_known_loc_rule": "IoU >= 0.5; box of the largest region above 0.2 x the map's max (CAM paper)",
        "cam_maxboxacc_v2": round(scores["cam_maxboxacc_v2"], 4),
        "history": history,
        "history_note": "val_* = the validation split, after each epoch",
        "training_seconds": round(seconds, 1),
        "machine": f"{machine_at_start}; at the end: load average {os.getloadavg()[0]:.1f}",
        "keras_file_bytes": model_file.stat().st_size,
    }
    card_file.write_text(json.dumps(card, indent=1) + "\n")
    print(f"Wrote {model_file} and {card_file}: test accuracy {scores['test_accuracy']:.3f}, "
          f"CAM GT-known loc {scores['cam_gt_known_loc']:.3f}, MaxBoxAccV2 {scores['cam_maxboxacc_v2']:.3f} "
          f"(epoch {chosen}, chosen on validation), {seconds:.0f} s of training.")
    return 0
