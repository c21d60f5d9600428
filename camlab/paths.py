"""Where camlab keeps its data: the dataset cache and the shipped model.

Order of precedence for the data directory: an explicit argument, then the ``CAMLAB_DATA_DIR`` environment
variable, then ``data/`` at the top of the course checkout.
"""
import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
ENV_VAR = "CAMLAB_DATA_DIR"


def data_dir(data_dir=None):
    """The folder that holds camlab's data (created if missing)."""
    chosen = data_dir or os.environ.get(ENV_VAR) or (REPO_DIR / "data")
    path = Path(chosen).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def tfds_dir(data_dir_=None):
    """The TFDS cache inside the data folder: built datasets live here."""
    return data_dir(data_dir_) / "tensorflow_datasets"


def models_dir():
    """Where the shipped, trained default model and its card live (committed with the course)."""
    return REPO_DIR / "data" / "models"


def notebooks_dir():
    return REPO_DIR / "notebooks"


def check_output_dir(path):
    """``path`` as a Path if it is a folder or can be created as one; otherwise a ValueError saying which part
    of it is in the way. Nothing is created: call it before long work, so a bad path fails first."""
    path = Path(path).expanduser()
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                where = "is a file" if part == path else f"is under {part}, which is a file"
                raise ValueError(f"{path} {where}, so it cannot be a folder; choose another folder")
            return path
    return path
