"""One place that decides how progress bars look, so every long loop in camlab shows one the same way.

Always a **text** bar (``tqdm.std``), never a widget: a saved notebook keeps text but cannot re-render a widget,
which then shows "0%" forever. In a notebook the bar is ``NOTEBOOK_NCOLS`` characters wide and goes to stdout
(JupyterLab paints stderr red, as if it were an error); in a terminal it goes to stderr at the terminal's width.
"""
import sys

from tqdm.std import tqdm as _tqdm

NOTEBOOK_NCOLS = 100      # wide enough for "epoch 6/6: 100%|####| 125/125 [00:20<00:00, loss=0.123, acc=0.950]"
NOTEBOOK_MININTERVAL = 1.0  # seconds between redraws in a notebook: a saved output holds every redraw


def in_notebook():
    """True inside a Jupyter kernel (JupyterLab, Notebook, nbclient and nbval runs), False in a terminal."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # noqa: BLE001 (an IPython that cannot answer is not a kernel)
        return False
    return getattr(shell, "kernel", None) is not None


def _isatty(file):
    try:
        return bool(file.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed file
        return False


def progress(iterable=None, *, desc=None, total=None, unit="it", leave=True, disable=None, **kwargs):
    """A text progress bar around ``iterable`` (``tqdm.std.tqdm``; any other tqdm argument passes through).

    ``disable=None`` shows it in a notebook or a terminal and hides it when nothing is watching (output piped to
    a file or a log), so logs stay clean; ``file=`` chooses the stream (default: stdout in a notebook, stderr
    elsewhere).
    """
    notebook = in_notebook()
    file = kwargs.pop("file", None) or (sys.stdout if notebook else sys.stderr)
    if disable is None:
        disable = not (notebook or _isatty(file))
    if notebook:
        kwargs.setdefault("ncols", NOTEBOOK_NCOLS)
        kwargs.setdefault("mininterval", NOTEBOOK_MININTERVAL)
    elif "ncols" not in kwargs:
        kwargs.setdefault("dynamic_ncols", True)
    return _tqdm(iterable, desc=desc, total=total, unit=unit, leave=leave, disable=disable, file=file, **kwargs)
