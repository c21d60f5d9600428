"""`camlab_photos`: real photos of ImageNet-1k objects, each object instance boxed by hand.

The photos are the sample images that scikit-image, scikit-learn and Matplotlib bundle inside their wheels, so
they install from PyPI with those packages and are read from the installed files: nothing is downloaded and
camlab redistributes none of them. (scikit-image fetches some of its other samples from the internet with
pooch; those are left out, and the files here are opened by path so that nothing can start a download.)

``PHOTOS`` is the table: for each photo its file, its ImageNet-1k label (index into the 1000 classes) and the
other labels accepted as correct, every object instance with its own label and pixel box, and the photo's
licence as its package states it. ``read_photo(name)`` returns a photo as uint8 RGB (H, W, 3).

Boxes are ``[ymin, xmin, ymax, xmax]`` in pixels (edges, so ``ymax`` may equal the height), drawn by hand
around the whole visible object, parts cut off by the image edge ending at that edge. They were checked by eye
on the figure ``plot_photos()`` draws, saved as docs/camlab_photos.jpg by
``plot_photos(ncols=5).savefig("docs/camlab_photos.jpg", dpi=100, pil_kwargs={"quality": 85})``.

The TFDS builder serves the same table as one ``test`` split with cars196's features (``image``, ``label``,
``bbox`` = the main object's box, normalized) plus every instance (``bboxes``, ``bbox_labels``), the other
accepted labels (``alternatives``), ``source`` and ``licence``.
"""
import dataclasses
import importlib.util
import io
from pathlib import Path

import cv2
import numpy as np
import tensorflow_datasets as tfds

from camlab.models import imagenet_classes

# The 1000 ImageNet-1k class names in index order (synonyms separated by ", "); models.imagenet_classes says
# where they come from.
IMAGENET_NAMES = tuple(imagenet_classes())

# Where each package states its sample images' licences.
_SKIMAGE_DOCS = "scikit-image's skimage.data.{}() docstring (skimage/data/_fetchers.py)"
_SKLEARN_README = "scikit-learn's sklearn/datasets/images/README.txt"
_PIP_NAMES = {"skimage": "scikit-image", "sklearn": "scikit-learn", "matplotlib": "matplotlib"}


@dataclasses.dataclass(frozen=True)
class Instance:
    """One object in a photo: its ImageNet-1k class index and its box [ymin, xmin, ymax, xmax] in pixels."""
    label: int
    box: tuple


@dataclasses.dataclass(frozen=True)
class Photo:
    """One photo: where it is installed, what it shows, and its licence."""
    name: str
    package: str  # the importable package holding the file
    file: str  # the file's path inside that package
    label: int  # the photo's main ImageNet-1k class (index)
    alternatives: tuple  # other ImageNet-1k class names accepted as correct for the main object
    instances: tuple  # every boxed object (Instance), the main object's first
    licence: str  # as the package states it, and where
    note: str = ""

    @property
    def source(self):
        return f"{_PIP_NAMES[self.package]}: {self.package}/{self.file}"


PHOTOS = (
    Photo("chelsea", "skimage", "data/chelsea.png", 281, ("tiger cat", "Egyptian cat"),
          (Instance(281, (0, 0, 300, 395)),),
          "CC0 by the photographer (Stefan van der Walt); " + _SKIMAGE_DOCS.format("chelsea"),
          "A cat's head filling the frame, cut by the top, left and bottom edges."),
    Photo("coffee", "skimage", "data/coffee.png", 967, ("cup", "coffee mug"),
          (Instance(967, (18, 172, 308, 412)),),
          "CC0 by the photographer (Rachel Michetti); " + _SKIMAGE_DOCS.format("coffee"),
          "An espresso cup (box: the cup and its handle, not the saucer)."),
    Photo("camera", "skimage", "data/camera.png", 872, (),
          (Instance(872, (185, 230, 512, 406)), Instance(759, (138, 258, 196, 331)),
           Instance(869, (118, 0, 512, 305))),
          "CC0 by the photographer (Lav Varshney); " + _SKIMAGE_DOCS.format("camera"),
          "Grayscale (read as RGB). Three classes: a tripod (cut by the bottom edge), the camera on it (a "
          "camcorder; ImageNet's nearest class is reflex camera) and the cameraman's long coat (cut by the left "
          "and bottom edges)."),
    Photo("astronaut", "skimage", "data/astronaut.png", 812, (),
          (Instance(812, (0, 355, 290, 462)), Instance(518, (345, 278, 512, 512))),
          "No known copyright restrictions, released into the public domain (NASA); "
          + _SKIMAGE_DOCS.format("astronaut"),
          "Eileen Collins (no ImageNet class for an astronaut) with a space shuttle model, cut by the top edge, "
          "and her helmet, cut by the bottom and right edges."),
    Photo("motorcycle", "skimage", "data/motorcycle_left.png", 665, ("motor scooter, scooter",),
          (Instance(665, (18, 93, 450, 682)), Instance(478, (30, 527, 100, 589)), Instance(478, (63, 588, 100, 636)),
           Instance(478, (77, 634, 101, 678)), Instance(478, (182, 612, 278, 684))),
          "Not stated by scikit-image: the Middlebury 2014 stereo benchmark (Scharstein et al., GCPR 2014), "
          "down-sampled; " + _SKIMAGE_DOCS.format("stereo_motorcycle"),
          "A motorcycle (ImageNet-1k has none; its nearest classes are moped and motor scooter) in a garage "
          "with four cartons on its shelves."),
    Photo("rocket", "skimage", "data/rocket.jpg", 657, ("projectile, missile", "space shuttle"),
          (Instance(657, (127, 310, 406, 334)),),
          "Captured by SpaceX and released into the public domain; " + _SKIMAGE_DOCS.format("rocket"),
          "A Falcon 9 on its launch pad: a small, thin object between lightning towers."),
    Photo("flower", "sklearn", "datasets/images/flower.jpg", 985, (),
          (Instance(985, (87, 170, 362, 446)), Instance(985, (375, 288, 427, 468))),
          "CC BY 2.0, photo from vultilion's Flickr photostream (the README's attribution line repeats "
          "danielbuechele, its links point to vultilion); " + _SKLEARN_README,
          "A dahlia (ImageNet-1k has no dahlia; its nearest class is daisy) and a second one cut by the "
          "bottom edge."),
    Photo("china", "sklearn", "datasets/images/china.jpg", 698, ("stupa, tope", "monastery"),
          (Instance(698, (30, 62, 427, 376)),),
          "CC BY 2.0 (photo by danielbuechele on Flickr); " + _SKLEARN_README,
          "The Tower of Buddhist Incense at the Summer Palace, Beijing; its foot, hidden by trees, is boxed "
          "down to the bottom edge."),
    Photo("grace_hopper", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg", 652, ("suit, suit of clothes",),
          (Instance(652, (330, 10, 600, 512)), Instance(906, (410, 213, 485, 302))),
          "Not stated by Matplotlib (mpl-data/sample_data/README.txt names none): a U.S. Navy photograph of "
          "Commodore Grace M. Hopper (1984), a work of the U.S. federal government and so public domain in "
          "the U.S. (as Wikimedia Commons records it)",
          "Grace Hopper in Navy uniform (cut by the bottom and right edges) and tie."),
    Photo("clock", "skimage", "data/clock_motion.png", 892, ("analog clock",),
          (Instance(892, (93, 143, 215, 283)),),
          "Released into the public domain by the photographer (Stefan van der Walt); "
          + _SKIMAGE_DOCS.format("clock"),
          "Grayscale (read as RGB). A wall clock blurred by moving the camera: a hard case."),
)
_BY_NAME = {photo.name: photo for photo in PHOTOS}


def get_photo(name):
    """The ``PHOTOS`` entry called ``name``."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"No photo {name!r} in camlab_photos; the photos are: {', '.join(_BY_NAME)}.") from None


def photo_path(name):
    """The installed file of photo ``name`` (found without importing its package, so without any download)."""
    photo = get_photo(name)
    spec = importlib.util.find_spec(photo.package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"Photo {name!r} ships with {_PIP_NAMES[photo.package]}, which is not installed. Install it: "
            f"`pip install {_PIP_NAMES[photo.package]}`.", name=photo.package)
    path = Path(list(spec.submodule_search_locations)[0]) / photo.file
    if not path.is_file():
        raise FileNotFoundError(
            f"Photo {name!r}: {path} is missing from the installed {_PIP_NAMES[photo.package]}. Reinstall it "
            f"(`pip install --force-reinstall {_PIP_NAMES[photo.package]}`); a version that no longer bundles "
            f"the file cannot serve it.")
    return path


def read_photo(name):
    """Photo ``name`` as uint8 RGB (H, W, 3), at its own size; grayscale photos are repeated into 3 channels."""
    path = photo_path(name)
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"Photo {name!r}: OpenCV could not decode {path}; reinstall "
                         f"{_PIP_NAMES[get_photo(name).package]}.")
    return np.ascontiguousarray(bgr[..., ::-1])


def normalized_boxes(photo, height, width):
    """The photo's instance boxes as float32 (K, 4) ``[ymin, xmin, ymax, xmax]`` in [0, 1]."""
    boxes = np.array([inst.box for inst in photo.instances], np.float32)
    return boxes / np.array([height, width, height, width], np.float32)


def main_box_index(photo):
    """Index of the main object's box: the largest instance of the photo's main label."""
    areas = [(ymax - ymin) * (xmax - xmin) if inst.label == photo.label else -1.0
             for inst in photo.instances for ymin, xmin, ymax, xmax in [inst.box]]
    return int(np.argmax(areas))


def short_name(label):
    """An ImageNet-1k class's first synonym ("tabby, tabby cat" -> "tabby")."""
    return IMAGENET_NAMES[int(label)].split(", ")[0]


def plot_photos(names=None, ncols=4, thickness=None):
    """A figure of the photos (all, or those in ``names``) with every hand-drawn box, labelled by class.

    Boxes of the same class share a colour within a photo; titles give the photo's name and main label.
    ``thickness``: box width in pixels (default: ``viz.box_thickness`` of each photo). Returns the
    ``matplotlib.figure.Figure``.
    """
    from camlab import viz

    photos = [get_photo(name) for name in (names if names is not None else [p.name for p in PHOTOS])]
    images = [read_photo(photo.name) for photo in photos]
    colors = []
    for photo in photos:
        order = list(dict.fromkeys(inst.label for inst in photo.instances))  # classes in first-seen order
        colors.append([viz.PALETTE[order.index(inst.label) % len(viz.PALETTE)] for inst in photo.instances])
    return viz.box_grid(
        images,
        [normalized_boxes(photo, *image.shape[:2]) for photo, image in zip(photos, images)],
        labels=[[short_name(inst.label) for inst in photo.instances] for photo in photos],
        colors=colors,
        titles=[f"{photo.name}: {short_name(photo.label)} ({photo.label})" for photo in photos],
        ncols=ncols, thickness=thickness)


# ----------------------------------------------------------------------------------------------------------
# The TFDS builder
# ----------------------------------------------------------------------------------------------------------

class CamlabPhotos(tfds.core.GeneratorBasedBuilder):
    """Real photos of ImageNet-1k objects with hand-drawn boxes, read from installed packages."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {
        "1.0.0": "First release: 10 photos from scikit-image, scikit-learn and Matplotlib, 19 boxed instances.",
    }

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls):
        """This file. (TFDS 4.9.10 works it out with `importlib_resources`, which Python >= 3.9 lacks.)"""
        return Path(__file__)

    def _info(self):
        label = tfds.features.ClassLabel(names=IMAGENET_NAMES)
        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(None, None, 3), dtype=np.uint8),
                "label": label,
                "bbox": tfds.features.BBoxFeature(),
                "bboxes": tfds.features.Sequence(tfds.features.BBoxFeature()),
                "bbox_labels": tfds.features.Sequence(tfds.features.ClassLabel(names=IMAGENET_NAMES)),
                "alternatives": tfds.features.Sequence(tfds.features.ClassLabel(names=IMAGENET_NAMES)),
                "id": tfds.features.Text(),
                "source": tfds.features.Text(),
                "licence": tfds.features.Text(),
            }),
            supervised_keys=("image", "label"),
            disable_shuffling=True,  # examples in PHOTOS order
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download: the photos are installed files
        return {"test": self._generate_examples()}

    def _generate_examples(self):
        for photo in PHOTOS:
            image = read_photo(photo.name)
            boxes = normalized_boxes(photo, *image.shape[:2])
            # PNG-encode with OpenCV (BGR order in, lossless), so the stored pixels are read_photo's exactly.
            png = io.BytesIO(cv2.imencode(".png", image[..., ::-1])[1].tobytes())
            yield photo.name, {
                "image": png,
                "label": photo.label,
                "bbox": tfds.features.BBox(*boxes[main_box_index(photo)]),
                "bboxes": [tfds.features.BBox(*box) for box in boxes],
                "bbox_labels": [inst.label for inst in photo.instances],
                "alternatives": list(photo.alternatives),
                "id": photo.name,
                "source": photo.source,
                "licence": photo.licence,
            }
