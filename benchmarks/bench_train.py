"""Benchmark: build the embedded dataset, train the tiny CAM model from scratch, localize with CAM.

Measures, in one run on this machine:
- seconds to build camlab_cars (into a fresh temporary folder, so the build is really timed);
- seconds of training per epoch and the test accuracy after each epoch, the seconds until test accuracy
  first reached 90% (evaluation time excluded; target: <= 180 s on 2 CPU cores);
- CAM GT-known localization accuracy of the result over the whole test split (IoU >= 0.5 with the box of the
  largest region above 0.2 x max; target >= 0.75), and MaxBoxAccV2 when camlab.metrics is there.

Run: .venv/bin/python benchmarks/bench_train.py [--epochs 6] [--keep-data]
The CPU may be shared with other work: the machine line reports the load average at start and end.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from _machine import describe  # noqa: E402
from camlab import data, models, paths, train as training  # noqa: E402


class EpochClock(keras.callbacks.Callback):
    """Training seconds per epoch (wall time of the epoch's batches, validation excluded)."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.last = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(self.last - self.start)


def cam_scores(model, test_split):
    """MaxBoxAccV2 with camlab.cam + camlab.metrics (if present), plus their GT-known accuracy as a cross-check."""
    try:
        from camlab import cam, metrics
    except ImportError:
        return {}
    size = tuple(model.input_shape[1:3])

    def prepare(item):
        return data.normalize_and_resize_img(item, size), item["bbox"]

    batches = test_split.map(prepare).batch(100)
    maps, boxes = [], []
    for (images, labels), gt in batches:
        maps.append(cam.class_activation_map(model, images.numpy(), class_index=labels.numpy(), size=size))
        boxes.append(gt.numpy())
    maps, boxes = np.concatenate(maps), np.concatenate(boxes)
    return {"maxboxacc_v2": metrics.max_box_acc(maps, boxes)["value"],
            "gt_known_loc (camlab.metrics)": metrics.localization_accuracy(maps, boxes)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=training.DEFAULT_EPOCHS)
    parser.add_argument("--seed", type=int, default=training.DEFAULT_SEED)
    parser.add_argument("--keep-data", action="store_true", help="use the cached dataset; don't time a build")
    args = parser.parse_args(argv)
    machine_start = describe()

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = paths.tfds_dir() if args.keep_data else Path(tmp)
        start = time.perf_counter()
        (train_split, test_split), info = data.load(data_dir=data_dir)
        build_seconds = time.perf_counter() - start

        model = models.build_cam_model(info.features["label"].num_classes)
        size = tuple(model.input_shape[1:3])
        train_ds = data.apply_normalize_on_dataset(train_split, batch_size=training.DEFAULT_BATCH_SIZE, size=size,
                                                   seed=args.seed, cache=True)
        test_ds = data.apply_normalize_on_dataset(test_split, is_test=True, batch_size=64, size=size, cache=True)
        clock = EpochClock()
        schedule = keras.optimizers.schedules.CosineDecay(
            training.DEFAULT_LEARNING_RATE, decay_steps=args.epochs * int(train_ds.cardinality()))
        history = training.train(model, train_ds, test_ds, args.epochs, learning_rate=schedule, seed=args.seed,
                                 verbose=0, callbacks=[clock])
        scores = training.evaluate(model, test_split)
        scores.update(cam_scores(model, test_split))

    elapsed = np.cumsum(clock.seconds)
    reached = [t for t, acc in zip(elapsed, history["val_accuracy"]) if acc >= 0.9]
    print(f"\nMachine at start: {machine_start}\nMachine at end:   {describe()}\n")
    print(f"Dataset build: {build_seconds:.1f} s" + (" (cached, not built)" if args.keep_data else "")
          + f" ({info.splits['train'].num_examples} train / {info.splits['test'].num_examples} test images)\n")
    print("| epoch | training s (cumulative) | test accuracy |\n|---:|---:|---:|")
    for epoch, (t, acc) in enumerate(zip(elapsed, history["val_accuracy"]), 1):
        print(f"| {epoch} | {t:.0f} | {acc:.3f} |")
    print()
    print("| measure | value | target |\n|---|---:|---:|")
    print(f"| seconds of training to >= 90% test accuracy | {reached[0]:.0f} |" if reached
          else "| seconds of training to >= 90% test accuracy | not reached |", "<= 180 |")
    print(f"| final test accuracy | {scores['test_accuracy']:.3f} | >= 0.90 |")
    print(f"| CAM GT-known loc (IoU >= 0.5, 0.2 x max) | {scores['cam_gt_known_loc']:.3f} | >= 0.75 |")
    for key in ("gt_known_loc (camlab.metrics)", "maxboxacc_v2"):
        if key in scores:
            print(f"| {key} | {scores[key]:.3f} | {'>= 0.75' if key == 'maxboxacc_v2' else 'same as above'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
