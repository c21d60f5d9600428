"""`camlab_cars`: a small, generated stand-in for Cars196 that builds offline in seconds.

Every image shows one toy "car" (a rounded body on two wheels) on a cluttered background. The car's
class is written on the car itself, twice:

- a class-specific **paint pattern** over the whole body (stripes in one of four directions, checks, dots,
  a grid or rings) - evidence spread over the object, so a class activation map covers the car;
- a class-specific **emblem** on the front of the body - a small, strong part, like the badge the lesson's
  ResNet50 lit up on real cars.

Everything else is random and carries no class evidence: body and paint colours, the car's size, aspect,
position and direction, the clutter behind it (plain-coloured blobs, bars and smooth noise) and the image
size (96 to 160 pixels a side, like photos of varying shape). Each example is drawn from its own random
generator seeded by (seed, stream, index), so a version and seed always produce the same images.

Three splits. ``test`` is its own stream. ``train`` and ``validation`` are carved from one train stream of
``num_train + num_validation`` examples: a permutation seeded by (seed, 2) picks which indices go to
``validation`` (see ``split_indices``), so validation looks exactly like training data, never overlaps it, and
is the same for every build of a version and seed. Choose checkpoints and settings on ``validation``; score
``test`` once, at the end. An example's ``id`` names its stream and index (``train_00042``, ``test_00007``), so
the ids of train and validation never collide.

Two ways the class is carried, one config each:

- ``default`` (and ``small``): paint pattern **and** emblem, as above;
- ``emblem``: **only** the emblem, drawn larger and from 8 glyphs that stay distinct at a few pixels
  (``EMBLEM_NAMES``); the body's paint pattern is drawn at random, independent of the class. Image by image,
  everything else (background, the car's size, position, colours, its box, the label index) is the same as in
  ``default``, so the two configs differ only in where the class lives. This reproduces WSOL's best-known
  failure, part domination: a CAM lights the small discriminative part, and its boxes are too small.

Features follow TFDS's cars196: ``image`` (uint8, varying size), ``label`` (ClassLabel), ``bbox``
(normalized ``[ymin, xmin, ymax, xmax]`` of the whole car, wheels included) and ``id``; plus ``emblem_bbox``,
the box of the emblem's disc (the part), in the same format.
"""
import dataclasses
import io
from pathlib import Path

import cv2
import numpy as np
import tensorflow_datasets as tfds

CLASS_NAMES = (
    "hstripe", "vstripe", "slash", "backslash", "checker", "polka", "grid", "rings",
)
EMBLEM_NAMES = (
    "triangle", "inverted_triangle", "square", "diamond", "plus", "cross", "star", "ring",
)  # the emblem config's classes: the glyph on the emblem
SPLIT_IDS = {"train": 0, "test": 1}  # the random streams; "validation" is carved from the "train" stream
CARVE_ID = 2  # seeds the permutation that carves validation out of the train stream
MIN_SIDE, MAX_SIDE = 96, 160
DEFAULT_SEED = 2026
EMBLEM_CONFIG_RADIUS = 0.35  # the emblem config's emblem radius, a fraction of the body's height


# ----------------------------------------------------------------------------------------------------------
# Drawing (NumPy for the patterns, OpenCV for shapes)
# ----------------------------------------------------------------------------------------------------------

def paint_pattern(label, u, v, period):
    """Boolean paint mask of class ``label`` in body coordinates ``u`` (along the car) and ``v`` (across).

    ``period`` is the pattern's wavelength in pixels; every pattern is about half painted, so the amount of
    paint tells nothing about the class, only its arrangement does.
    """
    a, b = u / period, v / period
    name = CLASS_NAMES[label]
    if name == "hstripe":
        return (b % 1.0) < 0.5
    if name == "vstripe":
        return (a % 1.0) < 0.5
    if name == "slash":
        return ((a + b) / np.sqrt(2) % 1.0) < 0.5
    if name == "backslash":
        return ((a - b) / np.sqrt(2) % 1.0) < 0.5
    if name == "checker":
        return ((np.floor(a) + np.floor(b)) % 2) == 0
    if name == "polka":
        return ((a % 1.0 - 0.5) ** 2 + (b % 1.0 - 0.5) ** 2) < 0.16
    if name == "grid":
        return ((a % 1.0) < 0.3) | ((b % 1.0) < 0.3)
    if name == "rings":
        return (np.hypot(a - a.mean(), b - b.mean()) * 1.2 % 1.0) < 0.5
    raise ValueError(f"unknown class {label}")


def emblem_polygon(label, center, radius):
    """The class's emblem as polygon vertices (int32, (K, 2) x/y) around ``center``."""
    sides = (3, 4, 5, 6, 8, 10, 12, 0)[label]
    cx, cy = center
    if sides == 0:  # a plus sign
        r, w = radius, radius * 0.35
        pts = [(-w, -r), (w, -r), (w, -w), (r, -w), (r, w), (w, w), (w, r), (-w, r), (-w, w), (-r, w),
               (-r, -w), (-w, -w)]
        return np.array([(cx + x, cy + y) for x, y in pts], np.int32)
    angles = np.arange(sides) * 2 * np.pi / sides - np.pi / 2
    radii = np.full(sides, radius, float)
    if sides >= 10:  # stars: alternate inner and outer points
        radii[1::2] *= 0.45
    return np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1).astype(np.int32)


def draw_glyph(image, name, center, radius, colour):
    """Draw the emblem config's glyph ``name`` (one of ``EMBLEM_NAMES``), ``radius`` px, onto ``image`` in place.

    Eight shapes told apart by corners, orientation and holes rather than by a count of sides, so a small CNN
    can read them at a radius of a few pixels.
    """
    cx, cy = center
    r = radius

    def poly(points):
        pts = np.array([(cx + x * r, cy + y * r) for x, y in points], np.int32)
        cv2.fillPoly(image, [pts], colour, cv2.LINE_AA)

    if name == "triangle":
        poly([(0, -1), (0.95, 0.75), (-0.95, 0.75)])
    elif name == "inverted_triangle":
        poly([(0, 1), (0.95, -0.75), (-0.95, -0.75)])
    elif name == "square":
        poly([(-0.75, -0.75), (0.75, -0.75), (0.75, 0.75), (-0.75, 0.75)])
    elif name == "diamond":
        poly([(0, -1), (1, 0), (0, 1), (-1, 0)])
    elif name in ("plus", "cross"):
        w = 0.33
        arm = [(-w, -1), (w, -1), (w, 1), (-w, 1)]
        for angle in ((0, np.pi / 2) if name == "plus" else (np.pi / 4, -np.pi / 4)):
            c, s_ = np.cos(angle), np.sin(angle)
            poly([(x * c - y * s_, x * s_ + y * c) for x, y in arm])
    elif name == "star":
        angles = np.arange(10) * np.pi / 5 - np.pi / 2
        radii = np.where(np.arange(10) % 2 == 0, 1.0, 0.42)
        poly(list(zip(radii * np.cos(angles), radii * np.sin(angles))))
    elif name == "ring":
        cv2.circle(image, (int(cx), int(cy)), max(1, int(round(0.75 * r))), colour, max(1, int(round(0.35 * r))),
                   cv2.LINE_AA)
    else:
        raise ValueError(f"unknown glyph {name!r}; use one of {', '.join(EMBLEM_NAMES)}")


def random_colour(rng, low=0, high=256):
    return tuple(int(c) for c in rng.integers(low, high, 3))


def draw_background(rng, height, width):
    """Smooth coloured noise plus plain blobs and bars: clutter with no stripes, checks or emblems."""
    coarse = rng.integers(0, 256, (rng.integers(2, 5), rng.integers(2, 5), 3)).astype(np.float32)
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(rng.integers(4, 10)):
        colour = random_colour(rng)
        kind = rng.integers(3)
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(min(height, width) // 12, min(height, width) // 3))
        if kind == 0:
            cv2.ellipse(image, (x, y), (size, int(size * rng.uniform(0.4, 1.0))), float(rng.uniform(0, 180)),
                        0, 360, colour, -1, cv2.LINE_AA)
        elif kind == 1:
            cv2.line(image, (x, y), (int(rng.integers(0, width)), int(rng.integers(0, height))), colour,
                     int(rng.integers(2, 6)), cv2.LINE_AA)
        else:
            cv2.rectangle(image, (x, y), (x + size, y + int(size * rng.uniform(0.5, 1.5))), colour, -1)
    return np.clip(image, 0, 255)


def draw_car(rng, image, label, class_in="paint+emblem", emblem_radius=0.25, paint_rng=None):
    """Draw a car of class ``label`` onto ``image`` in place; returns ``(car_box, emblem_box)``, each
    [ymin, xmin, ymax, xmax] in pixels (the emblem's: its disc).

    ``class_in="paint+emblem"``: the paint pattern and the emblem (``emblem_polygon``) both show the class.
    ``class_in="emblem"``: only the emblem does (glyph ``EMBLEM_NAMES[label]``); the paint pattern is drawn at
    random from ``paint_rng`` (a separate generator, so ``rng`` draws exactly what it draws for the default).
    ``emblem_radius``: the emblem's radius as a fraction of the body's height (its disc is 1.1 times that).
    """
    if class_in not in ("paint+emblem", "emblem"):
        raise ValueError(f"class_in must be 'paint+emblem' or 'emblem', got {class_in!r}")
    if not 0 < emblem_radius <= 0.4:
        raise ValueError(f"emblem_radius must be in (0, 0.4] of the body height (the disc must fit on the "
                         f"body), got {emblem_radius!r}")
    height, width = image.shape[:2]
    body_w = rng.uniform(0.4, 0.8) * width
    body_h = min(body_w * rng.uniform(0.35, 0.6), 0.65 * height)
    wheel_r = body_h * rng.uniform(0.22, 0.3)
    total_h = body_h + wheel_r
    x0 = rng.uniform(0, width - body_w)
    y0 = rng.uniform(0, height - total_h)
    x1, y1 = x0 + body_w, y0 + body_h

    # Body: a rounded rectangle (rectangle plus rounded corners via a blurred-and-thresholded mask).
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    corner = 0.25 * body_h
    dx = np.maximum(np.maximum(x0 + corner - xx, xx - (x1 - corner)), 0)
    dy = np.maximum(np.maximum(y0 + corner - yy, yy - (y1 - corner)), 0)
    body = np.hypot(dx, dy) <= corner

    # Paint pattern in the body's own frame (rotated a little, scaled with the body).
    angle = rng.uniform(-0.25, 0.25)
    period = body_h * rng.uniform(0.22, 0.32)
    cu, cv_ = (x0 + x1) / 2, (y0 + y1) / 2
    u = (xx - cu) * np.cos(angle) + (yy - cv_) * np.sin(angle)
    v = -(xx - cu) * np.sin(angle) + (yy - cv_) * np.cos(angle)
    if class_in == "emblem":
        paint_rng = paint_rng if paint_rng is not None else np.random.default_rng()
        paint = paint_pattern(int(paint_rng.integers(len(CLASS_NAMES))), u, v, period)
    else:
        paint = paint_pattern(label, u, v, period)

    base = np.array(random_colour(rng), np.float32)
    ink = np.array(random_colour(rng), np.float32)
    while np.abs(base - ink).sum() < 200:  # make sure the pattern is visible
        ink = np.array(random_colour(rng), np.float32)
    image[body & ~paint] = base
    image[body & paint] = ink

    # Wheels, centred on the body's lower edge.
    wheel_y, radius_px = int(round(y1)), int(round(wheel_r))
    for frac in (0.22, 0.78):
        centre = (int(round(x0 + frac * body_w)), wheel_y)
        cv2.circle(image, centre, radius_px, (20, 20, 20), -1, cv2.LINE_AA)
        cv2.circle(image, centre, max(1, int(round(wheel_r * 0.4))), (170, 170, 170), -1, cv2.LINE_AA)
    bottom = min(wheel_y + radius_px + 1, height)  # +1: the anti-aliased rim

    # Emblem on the front (left or right end), on a plain disc so it reads as one part.
    front_left = rng.random() < 0.5
    radius = emblem_radius * body_h  # the disc (1.1 radius) stays inside the body
    if 1.2 * radius <= 0.18 * body_w:  # always so for the default radius (body_h <= 0.6 body_w)
        ex = x0 + (0.18 if front_left else 0.82) * body_w
    else:  # a larger emblem moves inwards so its disc stays on the body
        ex = x0 + 1.2 * radius if front_left else x1 - 1.2 * radius
    ey = y0 + 0.45 * body_h
    light = float(base.mean() + ink.mean()) / 2 < 128
    disc, mark = ((235, 235, 235), (15, 15, 15)) if light else ((15, 15, 15), (235, 235, 235))
    disc_r = int(radius * 1.1)
    cv2.circle(image, (int(ex), int(ey)), disc_r, disc, -1, cv2.LINE_AA)
    if class_in == "emblem":
        draw_glyph(image, EMBLEM_NAMES[label], (ex, ey), radius * 0.9, mark)
    else:
        cv2.fillPoly(image, [emblem_polygon(label, (ex, ey), radius * 0.9)], mark, cv2.LINE_AA)
    emblem_box = np.array([int(ey) - disc_r - 1, int(ex) - disc_r - 1, int(ey) + disc_r + 2, int(ex) + disc_r + 2],
                          np.float32)  # the disc's pixels, anti-aliased rim included
    car_box = np.array([y0, x0, bottom, x1], np.float32)
    emblem_box = np.concatenate([np.maximum(emblem_box[:2], car_box[:2]), np.minimum(emblem_box[2:], car_box[2:])])
    return car_box, emblem_box


def split_indices(seed, num_train, num_validation):
    """Indices of the train stream that form each split: ``{"train": [...], "validation": [...]}``, sorted.

    The stream holds ``num_train + num_validation`` examples; a permutation seeded by ``(seed, CARVE_ID)`` sends
    its first ``num_validation`` entries to validation and the rest to train.
    """
    order = np.random.default_rng([seed, CARVE_ID]).permutation(num_train + num_validation)
    return {"train": np.sort(order[num_validation:]).tolist(), "validation": np.sort(order[:num_validation]).tolist()}


def render(seed, split, index, class_in="paint+emblem", emblem_radius=0.25, num_classes=len(CLASS_NAMES)):
    """One example as a dict: ``image`` (uint8 HxWx3), ``label``, ``bbox`` and ``emblem_bbox`` (normalized).

    Deterministic in (seed, split, index); ``split`` names the stream, "train" or "test" (validation examples
    are train-stream examples). ``class_in`` and ``emblem_radius`` as in ``draw_car``; the random paint of
    ``class_in="emblem"`` comes from its own generator, so everything else matches the default image.
    """
    rng = np.random.default_rng([seed, SPLIT_IDS[split], index])
    paint_rng = np.random.default_rng([seed, SPLIT_IDS[split], index, 1])
    label = int(rng.integers(num_classes))
    height, width = (int(s) for s in rng.integers(MIN_SIDE, MAX_SIDE + 1, 2))
    image = draw_background(rng, height, width)
    box, emblem_box = draw_car(rng, image, label, class_in, emblem_radius, paint_rng)
    image = image + rng.normal(0, rng.uniform(2, 10), image.shape)  # sensor noise everywhere
    image = np.clip(image, 0, 255).astype(np.uint8)
    scale = np.array([height, width, height, width], np.float32)
    return {"image": image, "label": label, "bbox": np.clip(box / scale, 0.0, 1.0),
            "emblem_bbox": np.clip(emblem_box / scale, 0.0, 1.0)}


def render_example(seed, split, index, num_classes=len(CLASS_NAMES)):
    """One default-config example as (uint8 image HxWx3, label, normalized bbox); see ``render``."""
    example = render(seed, split, index, num_classes=num_classes)
    return example["image"], example["label"], example["bbox"]


# ----------------------------------------------------------------------------------------------------------
# The TFDS builder
# ----------------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class CamlabCarsConfig(tfds.core.BuilderConfig):
    """How many examples each split gets, the seed they are drawn from, and where the class lives."""
    num_train: int = 4000
    num_validation: int = 500
    num_test: int = 800
    seed: int = DEFAULT_SEED
    class_in: str = "paint+emblem"  # or "emblem": only the emblem carries the class (see draw_car)
    emblem_radius: float = 0.25  # fraction of the body's height


class CamlabCars(tfds.core.GeneratorBasedBuilder):
    """Toy cars whose paint pattern and emblem decide the class; generated, nothing downloaded."""

    VERSION = tfds.core.Version("2.1.0")
    RELEASE_NOTES = {
        "1.0.0": "First release: 8 classes (paint pattern + emblem), cluttered backgrounds, 96-160 px images.",
        "2.0.0": "A validation split, carved from the train stream by a seeded permutation (split_indices): "
                 "the train stream now holds 4500 examples, 500 of them validation and 4000 train, so the train "
                 "split's membership changed. Images are drawn exactly as in 1.0.0; the test split is unchanged.",
        "2.1.0": "The emblem config (the class only in the emblem; random paint) and its emblem_small twin; every "
                 "config gains the feature emblem_bbox (the emblem disc's box). The default config's images, "
                 "labels, boxes and splits are those of 2.0.0.",
    }
    BUILDER_CONFIGS = [
        CamlabCarsConfig(name="default", description="4000 train / 500 validation / 800 test images."),
        CamlabCarsConfig(name="small", description="64 train / 16 validation / 32 test images (for tests).",
                         num_train=64, num_validation=16, num_test=32),
        CamlabCarsConfig(name="emblem", description="Part domination under control: the same cars as default, "
                         "but only the emblem (a glyph, radius 0.35 of the body's height) carries the class; "
                         "the paint is random. 4000 train / 500 validation / 800 test images.",
                         class_in="emblem", emblem_radius=EMBLEM_CONFIG_RADIUS),
        CamlabCarsConfig(name="emblem_small", description="The emblem config's 64 train / 16 validation / 32 test "
                         "images (for tests).", num_train=64, num_validation=16, num_test=32, class_in="emblem",
                         emblem_radius=EMBLEM_CONFIG_RADIUS),
    ]
    DEFAULT_CONFIG_NAME = "default"

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls):
        """This file. (TFDS 4.9.10 works it out with `importlib_resources`, which Python >= 3.9 lacks.)"""
        return Path(__file__)

    def class_names(self):
        """The paint patterns' names, or the emblems' glyph names when only the emblem carries the class."""
        return EMBLEM_NAMES if self.builder_config.class_in == "emblem" else CLASS_NAMES

    def _info(self):
        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(None, None, 3), dtype=np.uint8),
                "label": tfds.features.ClassLabel(names=self.class_names()),
                "bbox": tfds.features.BBoxFeature(),
                "emblem_bbox": tfds.features.BBoxFeature(),
                "id": tfds.features.Text(),
            }),
            supervised_keys=("image", "label"),
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download
        config = self.builder_config
        carved = split_indices(config.seed, config.num_train, config.num_validation)
        return {
            "train": self._generate_examples("train", carved["train"]),
            "validation": self._generate_examples("train", carved["validation"]),
            "test": self._generate_examples("test", range(config.num_test)),
        }

    def _generate_examples(self, stream, indices):
        config = self.builder_config
        for index in indices:
            example = render(config.seed, stream, index, config.class_in, config.emblem_radius)
            key = f"{stream}_{index:05d}"
            # PNG-encode with OpenCV (BGR order in, lossless): about 3x faster than TFDS's own eager encoder.
            png = io.BytesIO(cv2.imencode(".png", example["image"][..., ::-1])[1].tobytes())
            yield key, {"image": png, "label": example["label"], "bbox": tfds.features.BBox(*example["bbox"]),
                        "emblem_bbox": tfds.features.BBox(*example["emblem_bbox"]), "id": key}
