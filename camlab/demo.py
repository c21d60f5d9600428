"""The course's main job, end to end (``./camlab.sh demo`` or ``python -m camlab demo``).

1. Build (or find) the embedded default dataset.
2. Load the shipped CAM model, or train one with ``--train``.
3. Over the whole test split: classify, compute CAM and Grad-CAM, turn each map into a box, and score the boxes
   against the ground truth (GT-known accuracy, MaxBoxAcc V1/V2).
4. Write a figure: originals, CAM and Grad-CAM overlays, predicted and true boxes.
5. Real photos: CAM of the ImageNet classifier (EfficientNet-Lite0, converted offline from a PyPI wheel) for
   each photo's own label, with the box from the map beside the hand-drawn boxes (a second figure).

Everything runs offline on a CPU.
"""
import argparse
import time
from pathlib import Path

from camlab import cli
from camlab.paths import REPO_DIR

DEFAULT_FIGURE = REPO_DIR / "outputs" / "demo.png"
METHODS = ("cam", "grad_cam")
TITLES = {"cam": "CAM", "grad_cam": "Grad-CAM"}
PHOTO_NAMES = ("chelsea", "astronaut", "motorcycle", "rocket")  # a large object, two classes, several, a small one


def _figure_arg(text):
    """The figure's path: its folder must exist or be creatable (checked before the work, not after)."""
    return cli.output_dir(str(Path(text).expanduser().parent)) / Path(text).name


def parse_args(argv):
    parser = cli.parser("demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", action="store_true",
                        help="train a fresh model from scratch instead of using the shipped one")
    parser.add_argument("--epochs", type=cli.positive_int, default=None, help="epochs for --train (default: the shipped recipe)")
    parser.add_argument("--max-images", type=cli.positive_int, default=None,
                        help="evaluate on the first N test images only (default: the whole test split)")
    parser.add_argument("--figure", type=_figure_arg, default=DEFAULT_FIGURE, help=f"where to write the figure "
                        f"(default: {DEFAULT_FIGURE.relative_to(REPO_DIR)})")
    parser.add_argument("--photos-figure", type=_figure_arg, default=None,
                        help="where to write the real-photo figure (default: beside --figure, *_photos.png)")
    parser.add_argument("--examples", type=cli.positive_int, default=4, help="test images shown in the figure")
    parser.add_argument("--data-dir", default=None, type=cli.output_dir, help="data folder (default: data/ or $CAMLAB_DATA_DIR)")
    return parser.parse_args(argv)


def get_model(args, train_ds, val_ds, info):
    """The shipped model, or with --train a fresh one trained by the same recipe as `python -m camlab train`."""
    from camlab import models

    if not args.train:
        print("Loading the shipped model (data/models/) ...")
        return models.load_pretrained()
    from camlab import train

    print("Training a model from scratch (--train) ...")
    return train.train_default(train_ds, val_ds, info, epochs=args.epochs or train.DEFAULT_EPOCHS)


def example_figure(model, items, path, class_names=None):
    """One row per test image: the original with its true box, then each method's overlay with both boxes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from camlab import boxes, cam, data, viz

    size = tuple(model.input_shape[1:3])
    batch = np.stack([data.normalize_and_resize_img(item, size)[0].numpy() for item in items])
    labels = [int(item["label"]) for item in items]
    maps = {m: cam.compute_maps(model, batch, method=m, class_index=labels) for m in METHODS}

    fig, axes = plt.subplots(len(items), 1 + len(METHODS), figsize=(3.2 * (1 + len(METHODS)) + 1, 3.2 * len(items)),
                             squeeze=False, layout="constrained")
    for row, item in enumerate(items):
        image = item["image"]
        axes[row, 0].imshow(viz.draw_boxes(image, [item["bbox"]], colors=[viz.GT_COLOR], outline=viz.OUTLINE_COLOR))
        name = class_names[labels[row]] if class_names else f"label {labels[row]}"
        axes[row, 0].set_title(f"true class: {name}", fontsize=11)
        for col, method in enumerate(METHODS, start=1):
            result = maps[method]
            heat = result.maps[row]
            shown = viz.overlay(image, heat)
            pred_box = boxes.cam_to_bbox(np.asarray(_resize(heat, image.shape[:2])), threshold=0.2)
            drawn = [item["bbox"]] + ([pred_box] if pred_box is not None else [])
            shown = viz.draw_boxes(shown, drawn, colors=[viz.GT_COLOR, viz.MAP_BOX_COLOR][: len(drawn)],
                                   outline=viz.OUTLINE_COLOR)
            score = boxes.iou(pred_box, item["bbox"]) if pred_box is not None else 0.0
            p = float(result.probabilities[row, labels[row]])
            axes[row, col].imshow(shown)
            axes[row, col].set_title(f"{TITLES[method]}: IoU {score:.2f}, p {p:.2f}", fontsize=11)
    for ax in axes.ravel():
        ax.axis("off")
    viz.map_colorbar(list(axes[:, 1:].ravel()), shrink=0.6)
    fig.suptitle("white: true box, magenta: box from the map (largest region above 0.2 x max)", fontsize=12)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def photos_figure(path, names=PHOTO_NAMES):
    """Real photos: the ImageNet model's CAM for each photo's label, its box (largest region above 0.2 x max)
    in magenta and the hand-drawn boxes of that label in white, with the IoU of the best match. Returns the
    path and the mean of those IoUs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from camlab import boxes, cam, models, viz
    from camlab.datasets import camlab_photos

    model = models.load_imagenet()
    photos = [camlab_photos.get_photo(name) for name in names]
    pictures = [camlab_photos.read_photo(photo.name) for photo in photos]
    batch = np.stack([models.prepare_image(picture) for picture in pictures])
    result = cam.compute_maps(model, batch, "cam", class_index=[photo.label for photo in photos])
    fig, axes = plt.subplots(1, len(photos), figsize=(3.4 * len(photos) + 1, 3.6), squeeze=False,
                             layout="constrained")
    scores = []
    for ax, photo, picture, heat in zip(axes[0], photos, pictures, result.maps):
        gts = [box for box, inst in zip(camlab_photos.normalized_boxes(photo, *picture.shape[:2]), photo.instances)
               if inst.label == photo.label]
        found = boxes.cam_to_bbox(np.asarray(_resize(heat, picture.shape[:2])), threshold=0.2)
        score = max(boxes.iou(found, gt) for gt in gts) if found is not None else 0.0
        scores.append(score)
        shown = viz.draw_boxes(viz.overlay(picture, _resize(heat, picture.shape[:2])),
                               gts + ([found] if found is not None else []),
                               colors=[viz.GT_COLOR] * len(gts) + [viz.MAP_BOX_COLOR], outline=viz.OUTLINE_COLOR)
        ax.imshow(shown)
        ax.set_title(f"{camlab_photos.short_name(photo.label)}: IoU {score:.2f}", fontsize=11)
        ax.axis("off")
    viz.map_colorbar(list(axes[0]), shrink=0.7)
    fig.suptitle("EfficientNet-Lite0 (ImageNet) CAM on real photos; white: hand-drawn box, magenta: box from "
                 "the map", fontsize=12)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path, float(np.mean(scores))


def _resize(heat, shape):
    import cv2

    return cv2.resize(heat, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def main(argv=None):
    args = parse_args(argv or [])
    start = time.perf_counter()
    from camlab import data, metrics

    print("Step 1/5  dataset: building or locating the embedded default ...")
    (train_ds, val_ds, test_ds), info = data.load(split=("train", "validation", "test"), data_dir=args.data_dir)
    sizes = " / ".join(f"{info.splits[name].num_examples} {name}" for name in ("train", "validation", "test"))
    print(f"          {info.name} {info.version}: {sizes} images, {info.features['label'].num_classes} classes")

    print("Step 2/5  model")
    model = get_model(args, train_ds, val_ds, info)  # with --train, checkpoints are chosen on validation

    print("Step 3/5  CAM and Grad-CAM over the test split, boxes, scores")
    evaluated = test_ds if args.max_images is None else test_ds.take(args.max_images)
    report = metrics.evaluate_localization(model, evaluated, methods=METHODS)
    print(report)

    print("Step 4/5  figure")
    items = list(test_ds.take(args.examples).as_numpy_iterator())
    path = example_figure(model, items, args.figure, info.features["label"].names)
    print(f"Figure written to {path}")
    print("Step 5/5  real photos: the ImageNet classifier's CAM against hand-drawn boxes")
    photos_path = args.photos_figure or path.with_name(path.stem + "_photos.png")
    photos_path, mean_iou = photos_figure(photos_path)
    print(f"          mean IoU of the map's box with the hand-drawn box, {len(PHOTO_NAMES)} photos: {mean_iou:.3f}")
    print(f"Photo figure written to {photos_path}")
    print(f"Done in {time.perf_counter() - start:.0f} s.")
    return 0
