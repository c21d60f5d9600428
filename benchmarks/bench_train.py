"""Benchmark: build the embedded dataset, train the tiny CAM model from scratch, localize with CAM.

Measures, in one run on this machine:
- seconds to build camlab_cars (into a fresh temporary folder, so the build is really timed);
- seconds of training per epoch and the validation accuracy after each epoch, the seconds until validation
  accuracy first reached 90% (evaluation time excluded; target: <= 180 s on 2 CPU cores); the test split is
  scored once, on the checkpoint chosen on validation (test accuracy target: >= 90%);
- CAM GT-known localization accuracy of the result over the whole test split (IoU >= 0.5 with the box of the
  largest region above 0.2 x max; target >= 0.75), and MaxBoxAccV2 (target >= 0.75).

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
from camlab import data, paths, train as training  # noqa: E402


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
        (train_split, val_split, test_split), info = data.load(split=("train", "validation", "test"),
                                                                data_dir=data_dir)
        build_seconds = time.perf_counter() - start

        clock = EpochClock()
        model, history = training.train_default(train_split, val_split, info, args.epochs, seed=args.seed,
                                                verbose=0, callbacks=[clock], return_history=True)
        scores = training.evaluate(model, test_split)

    elapsed = np.cumsum(clock.seconds)
    reached = [t for t, acc in zip(elapsed, history["val_accuracy"]) if acc >= 0.9]
    print(f"\nMachine at start: {machine_start}\nMachine at end:   {describe()}\n")
    print(f"Dataset build: {build_seconds:.1f} s" + (" (cached, not built)" if args.keep_data else "")
          + f" ({info.splits['train'].num_examples} train / {info.splits['validation'].num_examples} validation / "
             f"{info.splits['test'].num_examples} test images)\n")
    print("| epoch | training s (cumulative) | validation accuracy |\n|---:|---:|---:|")
    for epoch, (t, acc) in enumerate(zip(elapsed, history["val_accuracy"]), 1):
        print(f"| {epoch} | {t:.0f} | {acc:.3f} |")
    print()
    print("| measure | value | target |\n|---|---:|---:|")
    print(f"| seconds of training to >= 90% validation accuracy | {reached[0]:.0f} |" if reached
          else "| seconds of training to >= 90% validation accuracy | not reached |", "<= 180 |")
    print(f"| chosen epoch (best validation accuracy) | {training.selected_epoch(history)} | |")
    print(f"| test accuracy (scored once) | {scores['test_accuracy']:.3f} | >= 0.90 |")
    print(f"| CAM GT-known loc (IoU >= 0.5, 0.2 x max) | {scores['cam_gt_known_loc']:.3f} | >= 0.75 |")
    print(f"| CAM MaxBoxAccV2 (IoU 0.3/0.5/0.7) | {scores['cam_maxboxacc_v2']:.3f} | >= 0.75 |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
