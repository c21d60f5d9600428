"""camlab: Class Activation Maps, from a trained classifier to boxes and their evaluation.

The modules follow the course, one room per step:

- ``camlab.data``     the embedded default dataset, the real ones, and the lesson's preprocessing (notebook 01)
- ``camlab.models``   CAM-ready classifiers: backbone -> feature map -> GAP -> softmax Dense (02)
- ``camlab.train``    training with progress, checkpoints and resuming (03)
- ``camlab.cam``      one batched engine for CAM, Grad-CAM and their relatives (04, 05)
- ``camlab.boxes``    box formats, IoU, boxes from maps (06, 07)
- ``camlab.metrics``  maps + boxes -> numbers: localization accuracy, MaxBoxAcc, pointing games (07, 09)
- ``camlab.evaluation`` model + data -> report: deletion/insertion, average drop, sanity checks, a dataset (09)
- ``camlab.viz``      overlays, boxes drawn, comparison figures (all)

Submodules are imported on demand, so ``import camlab`` stays quick and TensorFlow is only loaded by the
modules that need it.
"""
import os as _os

# TensorFlow reads this once, when it is first imported: set it before any camlab module imports TensorFlow.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"


def _version_tuple(text):
    parts = []
    for piece in str(text).split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple((parts + [0, 0, 0])[:3])


def require(version):
    """Check that the installed camlab is at least ``version``, then load TensorFlow quietly.

    Every notebook calls this first. An older camlab raises a RuntimeError that says how to update, instead
    of failing later with a confusing AttributeError. Returns the installed version.
    """
    if _version_tuple(__version__) < _version_tuple(version):
        raise RuntimeError(
            f"This notebook expects camlab {version} or newer, but camlab {__version__} is installed "
            f"(from {_os.path.dirname(__file__)}). Update it from the course folder with "
            f"`./camlab.sh setup` (or `pip install -e .`), then restart the kernel."
        )
    import tensorflow as tf  # noqa: F401  (imported here so its start-up messages land in this cell)

    tf.config.list_physical_devices()  # device discovery also prints once; do it now, not mid-lesson
    return __version__
