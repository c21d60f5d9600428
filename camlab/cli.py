"""What every ``python -m camlab COMMAND`` shares: its parser, its argument types, and one way to fail.

The rule for the whole command line: argparse checks what it can (positive integers, existing files, folders
that can be created) before any work starts, and every expected failure prints ONE line on stderr,

    camlab COMMAND: error: what is wrong and what to do

and exits with status 2. A traceback means a bug; ``--debug`` shows the traceback of an expected failure too.

A command's ``main(argv)`` is built from three pieces: ``parser(command, ...)`` (an ``ArgumentParser`` whose
errors follow the rule, with ``--debug``), the types below for ``add_argument(type=...)``, and the ``@command``
decorator, which turns a ``CommandError`` raised anywhere in ``main`` into that one line and status 2.
"""
import argparse
import functools
import sys
from pathlib import Path

from camlab import paths

__all__ = ["CommandError", "parser", "command", "positive_int", "nonnegative_int", "existing_file",
           "existing_dir", "output_dir"]

EXIT_ERROR = 2  # argparse's own status for a usage error


class CommandError(Exception):
    """An expected failure of a command (bad input, a missing file): shown as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, command, **kwargs):
        super().__init__(prog=f"python -m camlab {command}", **kwargs)
        self.command = command
        self.add_argument("--debug", action="store_true", help="on an error, show the full Python traceback")

    def error(self, message):
        self.exit(EXIT_ERROR, f"camlab {self.command}: error: {message}; see python -m camlab {self.command} "
                              f"--help\n")


def parser(command, **kwargs):
    """An ``argparse.ArgumentParser`` for ``python -m camlab COMMAND``: usage errors print one line
    ``camlab COMMAND: error: ...`` and exit 2; it has a ``--debug`` option. kwargs go to ArgumentParser."""
    return _Parser(command, **kwargs)


def command(name):
    """Decorator for a command's ``main(argv)``: a ``CommandError`` becomes one line on stderr and return value
    2 (with ``--debug`` in argv, it propagates with its traceback)."""
    def wrap(main):
        @functools.wraps(main)
        def run(argv=None):
            try:
                return main(argv)
            except CommandError as error:
                if "--debug" in (sys.argv[1:] if argv is None else argv):
                    raise
                print(f"camlab {name}: error: {error}", file=sys.stderr)
                return EXIT_ERROR
        return run
    return wrap


# ----------------------------------------------------------------------------------------------------------
# Argument types: add_argument(..., type=positive_int) etc. Each raises ArgumentTypeError with its reason.
# ----------------------------------------------------------------------------------------------------------
def _integer(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def positive_int(text):
    """A whole number >= 1 (epochs, batch sizes, image counts, jobs)."""
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number (1, 2, ...), got {text}")
    return value


def nonnegative_int(text):
    """A whole number >= 0 (a limit where 0 means none)."""
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _looked_in(path):
    return "" if path.is_absolute() else f" (looked in {Path.cwd()})"


def existing_file(text):
    """The path of a file that exists."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder, not a file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}{_looked_in(path)}")
    return path


def existing_dir(text):
    """The path of a folder that exists."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder")
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"no such folder: {text}{_looked_in(path)}")
    return path


def output_dir(text):
    """A folder that exists or can be created (no part of the path is a file)."""
    try:
        return paths.check_output_dir(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
