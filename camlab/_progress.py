"""One place that decides how progress bars look, so every long loop in camlab shows one the same way."""
import sys

from tqdm.auto import tqdm as _tqdm


def progress(iterable=None, *, desc=None, total=None, unit="it", leave=True, disable=None, **kwargs):
    """A progress bar around ``iterable`` (tqdm: a widget in notebooks, a text bar in terminals).

    ``disable=None`` hides it when nothing is watching (no terminal and not in a notebook), so logs stay clean.
    """
    return _tqdm(iterable, desc=desc, total=total, unit=unit, leave=leave, disable=disable,
                 file=kwargs.pop("file", sys.stderr), dynamic_ncols=True, **kwargs)
