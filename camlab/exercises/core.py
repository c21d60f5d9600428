"""Exercises as data: a function name to write, cases, a reference answer, a hint and the solution.

A notebook cell asks the learner to write ``normalize_map``; the next cell runs ``q1.check()``. Checking has two
halves with a plain-data boundary between them:

- ``run_cases(fn, cases)`` runs the learner's function on every case (each time on fresh copies of the inputs)
  and returns only plain data: the answers (``plain``: numbers, strings, lists, numeric arrays; never objects),
  or what went wrong (it raised, it changed its input, it called camlab's own answer for this exercise).
- ``Exercise.judge(outputs)`` compares those answers with the reference's and gives the verdict.

``q.check()`` runs both in the notebook, on the public cases, and says one of:

- **Correct (public checks)**;
- **Incorrect**: which case (its label and a short picture of its input), what was expected, what came back;
- **Not attempted**: the name is not defined yet, or the stub still raises ``NotImplementedError``;
- **Error**: the learner's code raised something else (type, message, and the case that triggered it).

The instructor's grader (``camlab.grading``) runs ``run_cases`` in the learner's kernel, on the public cases and
on hidden ones (``Exercise.hidden_cases(seed)``), and ``judge`` in its own process, with answers it computed
itself: learners and graders share one judge, but only the grader's verdict counts.

An exercise's ``mistakes`` are data: ``(diagnose, message)`` pairs. When a case fails, each ``diagnose(expected,
got, case)`` is asked in turn (on plain data, in the judge); the first that says True adds its ``message`` to the
Incorrect verdict ("your boxes look like x and y are swapped"). ``gives(wrong)`` builds a diagnosis from a typical
wrong function: the answer is what ``wrong`` gives on the case's inputs. Hints are staged: ``hint`` is a list (the
idea, then the API), shown one at a time by ``q.hint(1)``, ``q.hint(2)``, ``q.hint()`` (the next one).

Comparators take ``(expected, got)`` and return ``None`` when they agree, or a short sentence saying what differs:
``close`` (scalars and arrays, shape first), ``box_close`` (normalized boxes), ``none_or`` (an answer that may be
``None``), ``equal`` (anything else). Any function with that signature works as a custom comparator.
"""
from __future__ import annotations

import copy
import html
import inspect
import re
import textwrap
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

STATUSES = ("correct", "incorrect", "not_attempted", "error")

# Every verdict given in this process, and every hint()/solution() view, oldest first (see results_log).
LOG: list[dict] = []


@dataclass
class Case:
    """One input to try: ``fn(*args, **kwargs)``; ``expected=None`` means "ask the reference solution"."""

    args: tuple = ()
    kwargs: dict | None = None
    label: str = ""
    expected: Any = None

    def __post_init__(self):
        if not isinstance(self.args, (tuple, list)):
            raise TypeError(f"Case args must be a tuple of positional arguments, got {type(self.args).__name__}; "
                            f"write Case(args=(x,)) for a single argument.")
        self.args = tuple(self.args)
        self.kwargs = dict(self.kwargs or {})


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one exercise: ``status`` is one of ``STATUSES``; ``message`` says why, in a sentence or two.

    ``scope`` says what was checked: ``"public"`` (the cases a notebook shows) or ``"graded"`` (the grader's,
    hidden cases included); ``passed`` of ``total`` cases gave the reference's answer.
    """

    status: str
    message: str = ""
    scope: str = "public"
    passed: int = 0
    total: int = 0

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def correct(self):
        return self.status == "correct"

    def to_dict(self):
        return {"status": self.status, "message": self.message, "passed": self.passed, "total": self.total}

    def _repr_html_(self):
        return _html_message(self)

    def _ipython_display_(self):
        """Shown like ``check()`` shows it; not again when ``q.check()`` ends the cell that just showed it."""
        if getattr(self, "_shown_in", None) == _execution_count():
            return
        _show(_html_message(self), _text_message(self))

    def __str__(self):
        return _text_message(self)


# --------------------------------------------------------------------------------------------------------------
# Short, readable pictures of values (inputs and answers can be 224x224 arrays: never print them whole).

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def short_repr(value, limit=80):
    """A one-line description of ``value``: small things verbatim, arrays as shape, dtype and range."""
    if isinstance(value, np.ndarray) or _is_tensor(value):
        array = np.asarray(value)
        if array.size <= 6:
            text = np.array2string(array, precision=4, separator=", ").replace("\n", "")
            return f"array({text}, dtype={array.dtype})"
        return f"array of shape {array.shape}, dtype {array.dtype}{_range_text(array)}"
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return f"{type(value).__name__} of {len(value)} items, starting {_clip(repr(list(value[:3])), limit)}"
    if isinstance(value, dict):
        return _clip("{" + ", ".join(f"{k!r}: {short_repr(v, 30)}" for k, v in value.items()) + "}", limit)
    return _clip(_ADDRESS.sub("", repr(value)), limit)


def _clip(text, limit):
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_tensor(value):
    return type(value).__name__ in ("EagerTensor", "Tensor", "Variable", "ResourceVariable")


def _range_text(array):
    if array.size == 0 or array.dtype.kind not in "biuf":
        return ""
    finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
    if finite.size == 0:
        return ", no finite values"
    return f", values in [{finite.min():.4g}, {finite.max():.4g}]"


def _describe_args(case):
    parts = [short_repr(a, 60) for a in case.args] + [f"{k}={short_repr(v, 40)}" for k, v in case.kwargs.items()]
    inputs = "(" + ", ".join(parts) + ")"
    return f"{case.label} {inputs}" if case.label else inputs


# --------------------------------------------------------------------------------------------------------------
# Comparators: (expected, got) -> None when they agree, else a short sentence.

def _as_numeric_array(value):
    """``value`` as a float/int/bool NumPy array, or None when it is not array-like numbers."""
    if value is None or isinstance(value, (str, bytes, dict)):
        return None
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):  # ragged lists and the like
        return None
    return array if array.dtype.kind in "biuf" else None


def close(atol=1e-5, rtol=1e-4):
    """Numbers and arrays agree when the shapes match and ``|got - expected| <= atol + rtol * |expected|``.

    The dtype is not compared (float32 vs float64, list vs array are both fine). NaN in the answer is reported as
    such unless the expected value has NaN in the same places.
    """

    def compare(expected, got):
        want = _as_numeric_array(expected)
        if want is None:
            return equal()(expected, got)
        if got is None:
            return f"expected {_expected_text(want)}, got None (did you forget to `return` the result?)"
        have = _as_numeric_array(got)
        if have is None:
            return f"expected {_expected_text(want)}, got {type(got).__name__} {short_repr(got)}"
        if have.shape != want.shape:
            return f"expected shape {want.shape}, got {have.shape}"
        want_f, have_f = want.astype(np.float64), have.astype(np.float64)
        nan_got, nan_want = np.isnan(have_f), np.isnan(want_f)
        if (nan_got & ~nan_want).any():
            count = int((nan_got & ~nan_want).sum())
            where = "" if have.ndim == 0 else f" ({count} of {have.size} values)"
            return f"your answer contains NaN{where}; expected {_expected_text(want)} (a division by zero?)"
        if (nan_want & ~nan_got).any():
            return f"expected NaN in {int((nan_want & ~nan_got).sum())} places, got numbers there"
        ok = np.isclose(have_f, want_f, atol=atol, rtol=rtol, equal_nan=True)
        if ok.all():
            return None
        if want.ndim == 0:
            return f"expected {float(want_f):.6g}, got {float(have_f):.6g}"
        diff = np.where(ok, 0.0, np.abs(np.nan_to_num(have_f - want_f, nan=0.0, posinf=np.inf, neginf=np.inf)))
        index = tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), diff.shape))
        return (f"{int((~ok).sum())} of {want.size} values differ; the largest difference is at index {index}: "
                f"expected {want_f[index]:.6g}, got {have_f[index]:.6g} "
                f"(expected {_expected_text(want)}; got {_expected_text(have)})")

    compare.__name__ = f"close(atol={atol}, rtol={rtol})"
    return compare


def _expected_text(array):
    if array.ndim == 0:
        return f"{array.item():.6g}" if array.dtype.kind == "f" else repr(array.item())
    if array.size <= 6:
        return np.array2string(array, precision=4, separator=", ").replace("\n", "")
    return f"shape {array.shape}{_range_text(array)}"


def equal():
    """Plain ``==`` (for ints, strings, tuples of them...); arrays are compared element-wise."""

    def compare(expected, got):
        try:
            same = expected == got
            if isinstance(same, np.ndarray) or _is_tensor(same):
                same = bool(np.asarray(same).all()) and np.shape(expected) == np.shape(got)
            same = bool(same)
        except (ValueError, TypeError):
            same = False
        return None if same else f"expected {short_repr(expected)}, got {short_repr(got)}"

    compare.__name__ = "equal()"
    return compare


def none_or(inner=None):
    """For answers that are sometimes ``None`` (e.g. "no box"): None must meet None, anything else goes to ``inner``."""
    inner = inner or close()

    def compare(expected, got):
        if expected is None and got is None:
            return None
        if expected is None:
            return f"expected None for this input, got {short_repr(got)}"
        if got is None:
            return f"expected {short_repr(expected)}, got None"
        return inner(expected, got)

    compare.__name__ = f"none_or({getattr(inner, '__name__', 'compare')})"
    return compare


def box_close(atol=1e-2):
    """Normalized ``[ymin, xmin, ymax, xmax]`` boxes (one, or an (N, 4) stack) agree to ``atol`` per coordinate.

    ``None`` (no box) must meet ``None``.
    """

    def compare(expected, got):
        if expected is None or got is None:
            return none_or(equal())(expected, got)
        want, have = _as_numeric_array(expected), _as_numeric_array(got)
        if have is None:
            return f"expected a box [ymin, xmin, ymax, xmax], got {type(got).__name__} {short_repr(got)}"
        if have.shape != want.shape:
            return f"expected shape {want.shape} (boxes as [ymin, xmin, ymax, xmax]), got {have.shape}"
        if np.isnan(have.astype(np.float64)).any():
            return f"your box contains NaN: {short_repr(have)}"
        if np.allclose(have, want, atol=atol, rtol=0):
            return None
        fmt = lambda a: np.array2string(np.asarray(a, np.float64), precision=3, separator=", ").replace("\n", "")
        hint = ""
        if want.shape[-1:] == (4,) and np.allclose(have[..., [1, 0, 3, 2]], want, atol=atol, rtol=0):
            hint = " (x and y swapped? the order is [ymin, xmin, ymax, xmax])"
        return f"expected box {fmt(want)}, got {fmt(have)}{hint}"

    compare.__name__ = f"box_close(atol={atol})"
    return compare


# --------------------------------------------------------------------------------------------------------------
# Copies of inputs, and noticing a function that changed its input.

def _copy_data(value):
    """A copy of the data parts of ``value`` (arrays, lists, dicts...); other objects (models) are shared."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _copy_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_data(v) for v in value]
    if isinstance(value, tuple):
        return type(value)(*[_copy_data(v) for v in value]) if hasattr(value, "_fields") else \
            tuple(_copy_data(v) for v in value)
    if isinstance(value, (set, bytearray)):
        return copy.copy(value)
    return value


def _same_data(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype and \
            bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same_data(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same_data(x, y) for x, y in zip(a, b))
    if isinstance(a, (set, bytearray)):
        return a == b
    return True  # shared objects (models, tensors): not ours to compare


# --------------------------------------------------------------------------------------------------------------
# Answers as plain data: what crosses from the learner's kernel to the grader, and what q.check() compares.

class NotPlainData(TypeError):
    """An answer that is not plain data (numbers, strings, None, lists/tuples/dicts of them, numeric arrays)."""


_PLAIN_KINDS = "biufcUS"  # NumPy dtype kinds an answer may have: never objects


def plain(value, depth=0):
    """``value`` as plain data: NumPy scalars become Python numbers, tensors become arrays; anything else (objects
    with their own ``__eq__``, object arrays, models...) raises ``NotPlainData`` saying what it was."""
    if depth > 20:
        raise NotPlainData("the answer is nested more than 20 levels deep")
    if value is None:
        return None
    for kind in (bool, int, float, str):  # subclasses (with their own __eq__) become the plain type
        if isinstance(value, kind):
            return kind(value) if type(value) is not kind else value
    if isinstance(value, np.generic):
        if value.dtype.kind not in _PLAIN_KINDS:
            raise NotPlainData(f"a NumPy {value.dtype} scalar")
        return value.item()
    if _is_tensor(value):
        value = np.asarray(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _PLAIN_KINDS or value.dtype.fields is not None:
            raise NotPlainData(f"an array of dtype {value.dtype} (objects cannot be graded)")
        return np.array(value, copy=True)  # a plain ndarray (not a subclass)
    if type(value) in (list, tuple):
        return type(value)(plain(v, depth + 1) for v in value)
    if type(value) is dict and all(type(k) is str for k in value):
        return {k: plain(v, depth + 1) for k, v in value.items()}
    raise NotPlainData(f"{type(value).__name__} {short_repr(value)}")


# --------------------------------------------------------------------------------------------------------------
# Running the learner's function on the cases (in the learner's kernel), watching for calls to the reference.

_MISSING = object()


def _short_name(exercise_name):
    """``"q1"`` of ``"07 q1: IoU of two boxes"`` (the name the notebook imports), else the whole name."""
    found = re.search(r"\bq\d+\b", exercise_name)
    return found.group(0) if found else exercise_name


def _qualified(fn):
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', getattr(fn, '__name__', '?'))}"


def _code_objects(functions):
    """``{code object: dotted name}`` of ``functions`` (functions, or "module.name" strings imported here)."""
    import importlib

    codes = {}
    for fn in functions:
        if isinstance(fn, str):
            module, _, name = fn.rpartition(".")
            try:
                fn = getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError):
                continue
        fn = inspect.unwrap(fn)
        code = getattr(fn, "__code__", None)
        if code is not None:
            codes[code] = _qualified(fn)
    return codes


class _Watch:
    """While active, notes every call of one of ``codes`` in this thread and in threads started meanwhile
    (``sys.setprofile``/``threading.setprofile``): a call by the learner's function, directly, through an alias,
    or through a reference taken at import time, all run the same code object."""

    def __init__(self, codes):
        self.codes, self.calls = codes, []

    def _profile(self, frame, event, arg):
        if event == "call" and frame.f_code in self.codes:
            self.calls.append(self.codes[frame.f_code])

    def __enter__(self):
        import sys
        import threading

        self._previous = sys.getprofile(), threading.getprofile()
        if self.codes:
            threading.setprofile(self._profile)
            sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc):
        import sys
        import threading

        sys.setprofile(self._previous[0])
        threading.setprofile(self._previous[1])
        return False


def run_cases(fn, cases, forbidden=()):
    """Run ``fn`` on each case (fresh copies of the inputs) and return what happened, as plain data.

    Returns ``{"function": "missing"}``, ``{"function": "not_callable", "type": ..., "repr": ...}`` or
    ``{"function": "defined", "outcomes": [...]}`` with one outcome per case: ``{"status": "returned", "value":
    plain answer}``, ``"not_implemented"``, ``"raised"`` (``error``, ``message``), ``"mutated"`` (``changed``:
    argument numbers or names), ``"not_plain"`` (``what``) or ``"delegated"`` (``call``: the dotted name of a
    ``forbidden`` function that ran). Stops after a ``not_implemented``. Verdicts are ``judge``'s job.
    """
    if fn is _MISSING or fn is None:
        return {"function": "missing"}
    if not callable(fn):
        return {"function": "not_callable", "type": type(fn).__name__, "repr": short_repr(fn)}
    codes = _code_objects(forbidden)
    outcomes = []
    for case in cases:
        args, kwargs = _copy_data(case.args), _copy_data(case.kwargs)
        with _Watch(codes) as watch:
            try:
                got = fn(*args, **kwargs)
                outcome = {"status": "returned"}
            except NotImplementedError:
                outcome = {"status": "not_implemented"}
            except Exception as error:  # the learner's code failed: say how
                outcome = {"status": "raised", "error": type(error).__name__, "message": _clip(str(error), 300)}
        if watch.calls:
            outcomes.append({"status": "delegated", "call": watch.calls[0]})
            continue
        if outcome["status"] == "returned":
            changed = [i for i, (a, b) in enumerate(zip(args, case.args), 1) if not _same_data(a, b)]
            changed += [k for k in case.kwargs if not _same_data(kwargs[k], case.kwargs[k])]
            if changed:
                outcome = {"status": "mutated", "changed": changed}
            else:
                try:
                    outcome["value"] = plain(got)
                except NotPlainData as error:
                    outcome = {"status": "not_plain", "what": _clip(str(error), 200)}
        outcomes.append(outcome)
        if outcome["status"] == "not_implemented":
            break
    return {"function": "defined", "outcomes": outcomes}


# --------------------------------------------------------------------------------------------------------------
# Typical mistakes, told apart from other wrong answers: (diagnose, message) pairs on an exercise.

def gives(wrong, compare=None):
    """A diagnosis: the learner's answer agrees (``compare``, default ``close()``) with what ``wrong`` returns on
    the case's inputs (fresh copies) and ``wrong``'s answer is not the expected one."""
    compare = compare or close()

    def diagnose(expected, got, case):
        theirs = plain(wrong(*_copy_data(case.args), **_copy_data(case.kwargs)))
        return compare(theirs, got) is None and compare(expected, theirs) is not None

    diagnose.__name__ = f"gives({getattr(wrong, '__name__', 'wrong')})"
    return diagnose


def _diagnosis(mistakes, expected, got, case):
    """The message of the first of ``mistakes`` whose diagnosis fits, else None (a diagnosis that fails is no)."""
    import warnings

    for diagnose, message in mistakes:
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                if diagnose(expected, got, case):
                    return message
        except Exception:  # noqa: BLE001 - a diagnosis that cannot read this answer does not apply
            continue
    return None


# --------------------------------------------------------------------------------------------------------------

class Exercise:
    """One exercise: the learner writes ``func_name``; ``cases`` say what to try; ``reference`` is the answer key.

    ``cases`` is a list of ``Case``, or a function returning one: called with no argument for the public cases,
    and, when it takes a ``seed``, with seeds the instructor holds for hidden cases (``hidden_cases``). Its cases
    are built on first use (heavy inputs such as a small Keras model cost nothing at import). ``solution`` is
    the text ``solution()`` shows; ``None`` means the solution block of the course notebook (``notebook``, the
    generated ``camlab/exercises/solutions.json``), else the reference's source. ``forbidden``: functions (or
    dotted names) the learner's function must not call, by default the reference itself. ``points`` and
    ``partial_credit`` (the share of cases passed) are for the grader. ``hint``: one text or a list of staged
    hints (the idea, then the API; ``q.hint(n)`` shows hint n). ``mistakes``: ``(diagnose, message)`` pairs, see
    the module's docstring.
    """

    def __init__(self, name, func_name, cases, reference, hint, solution=None, compare=None, description="",
                 notebook=None, forbidden=None, points=1, partial_credit=True, mistakes=()):
        if not callable(reference):
            raise TypeError(f"reference must be the reference function, got {type(reference).__name__}")
        if not (isinstance(cases, (list, tuple)) or callable(cases)):
            raise TypeError("cases must be a list of Case or a function that returns one")
        self.name = name
        self.func_name = func_name
        self.reference = reference
        self.hints = [hint] if isinstance(hint, str) else list(hint)
        if not self.hints or not all(isinstance(h, str) and h for h in self.hints):
            raise TypeError("hint must be a text or a non-empty list of texts")
        self.hint_text = self.hints[0]
        self.mistakes = [tuple(m) for m in mistakes]
        self._next_hint = 0
        self._solution = solution
        self.compare = compare or close()
        self.description = description
        self.notebook = notebook
        self.forbidden = list(forbidden) if forbidden is not None else [reference]
        self.points = points
        caller = inspect.currentframe().f_back
        self._module = caller.f_globals.get("__name__") if caller is not None else None  # to find `q1` for messages
        self.partial_credit = partial_credit
        self._cases_source = cases
        self._cases = None

    def __repr__(self):
        return f"<Exercise {self.name!r}: write `{self.func_name}`>"

    # ---- cases -------------------------------------------------------------------------------------------------
    def _filled(self, raw):
        if not raw:
            raise ValueError(f"exercise {self.name!r} has no cases")
        filled = []
        for case in raw:
            if not isinstance(case, Case):
                raise TypeError(f"exercise {self.name!r}: cases must be Case objects, got {type(case).__name__}")
            if case.expected is None:
                expected = self.reference(*_copy_data(case.args), **_copy_data(case.kwargs))
                case = Case(case.args, case.kwargs, case.label, _Expected(expected))
            filled.append(case)
        return filled

    @property
    def cases(self):
        """The public cases, each with its expected value filled in (computed once, from copies of the inputs)."""
        if self._cases is None:
            self._cases = self._filled(self._cases_source() if callable(self._cases_source) else self._cases_source)
        return self._cases

    @property
    def has_hidden_cases(self):
        """Whether the cases come from a generator that takes a seed."""
        if not callable(self._cases_source):
            return False
        try:
            return "seed" in inspect.signature(self._cases_source).parameters
        except (TypeError, ValueError):
            return False

    def hidden_cases(self, seed):
        """Cases from the same generator as the public ones, drawn with ``seed`` (mixed with this exercise's
        name, so that every exercise gets its own inputs); ``[]`` when the cases are a fixed list."""
        if not self.has_hidden_cases:
            return []
        mixed = np.random.SeedSequence([int(seed) % 2**63, *self.func_name.encode()]).generate_state(1)[0]
        return self._filled(self._cases_source(seed=int(mixed)))

    # ---- checking: run (in the kernel), then judge (wherever the verdict is trusted) ---------------------------
    def run_cases(self, fn, cases=None):
        """``run_cases`` on this exercise's public cases (or ``cases``), watching for calls to ``forbidden``."""
        return run_cases(fn, self.cases if cases is None else cases, self.forbidden)

    def judge(self, outputs, cases=None, hidden=0, scope="public"):
        """The ``CheckResult`` for ``outputs`` (what ``run_cases`` returned) against the reference's answers.

        ``cases``: the cases that were run (default: the public ones); the last ``hidden`` of them are hidden, and
        a message about one of those never shows its input or answers. ``scope`` names what was checked in the
        verdict ("public" checks in a notebook, "graded" by the grader). ``outputs`` may come from an untrusted
        kernel: anything malformed is an ``error``, never ``correct``.
        """
        cases = self.cases if cases is None else cases
        try:
            return self._judge(outputs, cases, hidden, scope)
        except Exception as error:  # malformed outputs (a tampered kernel): fail closed
            return CheckResult("error", f"the answers that came back could not be read ({type(error).__name__}: "
                                        f"{_clip(str(error), 120)}).", scope=scope, total=len(cases))

    def _judge(self, outputs, cases, hidden, scope):
        total = len(cases)
        verdict = lambda status, message, passed=0: CheckResult(status, message, scope=scope, passed=passed,
                                                                 total=total)
        function = outputs.get("function") if isinstance(outputs, dict) else None
        if function == "missing":
            return verdict("not_attempted", f"Define a function named `{self.func_name}` and run its cell, "
                                            f"then check again.")
        if function == "not_callable":
            return verdict("incorrect", f"`{self.func_name}` should be a function, but it is "
                                        f"{_clip(str(outputs.get('type')), 40)} {_clip(str(outputs.get('repr')), 80)}.")
        if function != "defined" or not isinstance(outputs.get("outcomes"), list):
            return verdict("error", "no answers came back from the notebook.")
        outcomes = outputs["outcomes"]
        public = total - hidden
        for outcome in outcomes:
            if isinstance(outcome, dict) and outcome.get("status") == "delegated":
                return verdict("incorrect", f"`{self.func_name}` calls camlab's own answer, "
                                            f"`{_clip(str(outcome.get('call')), 80)}`: write the computation "
                                            f"yourself (its cases were not graded).")
        passed, first = 0, None
        for number, case in enumerate(cases, 1):
            outcome = outcomes[number - 1] if number <= len(outcomes) else {"status": "missing"}
            if not isinstance(outcome, dict):
                outcome = {"status": "missing"}
            is_hidden = number > public
            where = (f"hidden case {number - public} of {hidden} (its input is not shown)" if is_hidden else
                     f"case {number} of {public}, {_describe_args(case)}")
            status = outcome.get("status")
            if status == "returned":
                expected = case.expected.value if isinstance(case.expected, _Expected) else case.expected
                try:
                    difference = self.compare(expected, outcome.get("value"))
                except Exception as error:  # a comparator that cannot read the answer: the answer has the wrong kind
                    difference = f"could not compare the answer ({type(error).__name__}: {_clip(str(error), 120)})"
                if not difference:
                    passed += 1
                    continue
                if first is not None:
                    continue
                named = _diagnosis(self.mistakes, expected, outcome.get("value"), case)
                found = ("incorrect", f"On {where}: " + ("your answer differs from the reference's (the public "
                         "checks pass? then something works only for the public inputs)" if is_hidden and not named
                         else "your answer differs from the reference's" if is_hidden else f"{difference}") + "." +
                         (f" {named}" if named else ""))
            elif status == "not_implemented":
                found = ("not_attempted", f"`{self.func_name}` still raises NotImplementedError: replace the "
                                          f"`raise NotImplementedError()` line with your code.")
            elif status == "raised":
                found = ("error", f"{_clip(str(outcome.get('error')), 60)}: {_clip(str(outcome.get('message')), 300)}"
                                  f" (raised by `{self.func_name}` on {where})")
            elif status == "mutated":
                names = ", ".join(f"argument {c}" if isinstance(c, int) else f"argument `{c}`"
                                  for c in outcome.get("changed", []))
                found = ("incorrect", f"Your function changed its input ({_clip(names, 100)}) on {where}. Work on "
                                      f"a copy (e.g. `x = x.copy()`) or build a new array.")
            elif status == "not_plain":
                found = ("incorrect", f"On {where}: the answer is {_clip(str(outcome.get('what')), 120)}; return "
                                      f"numbers, strings, None, lists or NumPy arrays.")
            else:
                found = ("error", f"no answer came back for {where}.")
            first = first or found
            if found[0] == "not_attempted":
                return verdict(*found)
        if first is None:
            text = f"all {public} cases" if not hidden else f"all {public} public and {hidden} hidden cases"
            return verdict("correct", f"`{self.func_name}` passed {text}.", passed)
        return verdict(first[0], first[1], passed)

    def grade(self, fn=None, namespace=None):
        """The verdict on ``fn`` over the public cases as a ``CheckResult``, displaying nothing.

        Without ``fn``, the function named ``func_name`` is looked up in ``namespace`` (a dict) or, when that is
        not given either, in the caller's globals.
        """
        if fn is None:
            fn = _lookup(self.func_name, namespace if namespace is not None else _caller_globals())
        result = self.judge(self.run_cases(fn))
        LOG.append({"event": "check", "exercise": self.name, "func_name": self.func_name, "status": result.status,
                    "message": result.message, "time": time.time()})
        return result

    def check(self, fn=None):
        """Check the learner's function (by default the one named ``func_name`` in the caller's globals) on the
        public cases. Shows a short coloured verdict and returns the ``CheckResult``.
        """
        if fn is None:
            fn = _lookup(self.func_name, _caller_globals())
        result = self.grade(fn)
        self._passed = fn if result.correct else None
        _show(_html_message(result), _text_message(result))
        object.__setattr__(result, "_shown_in", _execution_count())  # so the cell's Out[] does not repeat it
        return result

    # ---- your function from here on (d2l's idea: the code you write is the code that runs afterwards) -------
    def use(self, fn=None):
        """The function the notebook's later cells call: the learner's ``func_name`` once ``check()`` said Correct
        for that very function in this kernel, else camlab's ``reference`` (so the notebook still runs to the end).

        Shows one line saying which is in use. ``fn``: the learner's function (by default the one named
        ``func_name`` in the caller's globals). Assign the result to another name than ``func_name`` (e.g.
        ``box_iou = q1.use()``), so that the learner's own definition is never replaced by the reference.
        """
        if fn is None:
            fn = _lookup(self.func_name, _caller_globals())
        passed = getattr(self, "_passed", None)
        check = f"{self._variable_name()}.check()"
        if passed is not None and fn is passed:
            chosen, why = fn, f"your `{self.func_name}` (it passed `{check}`)"
        else:
            chosen = self.reference
            state = ("is not defined yet" if fn is _MISSING else
                     "changed since it passed: run `{check}` again" if passed is not None else
                     f"has not passed `{check}` yet").format(check=check)
            why = f"camlab's `{self._reference_name()}` (your `{self.func_name}` {state})"
        LOG.append({"event": "use", "exercise": self.name, "func_name": self.func_name,
                    "yours": chosen is not self.reference, "time": time.time()})
        _show(f"<div><b>Using</b> {html.escape(why)}</div>", f"Using {why}")
        return chosen

    def _variable_name(self):
        """The name the notebook imports this exercise by (``q1``): found in the module that made it."""
        import sys

        module = sys.modules.get(self._module or "")
        for name, value in (vars(module).items() if module is not None else ()):
            if value is self and re.fullmatch(r"q\d+", name):
                return name
        return _short_name(self.name)

    def _reference_name(self):
        """The reference's dotted name; for a lambda that defers an import, the forbidden name it stands for."""
        name = _qualified(self.reference)
        if "<lambda>" in name:
            name = next((f for f in self.forbidden if isinstance(f, str)), name)
        return name

    # ---- help --------------------------------------------------------------------------------------------------
    def _log_view(self, what, **extra):
        solved = any(e.get("event") == "check" and e.get("func_name") == self.func_name and e["status"] == "correct"
                     for e in LOG)
        LOG.append({"event": what, "exercise": self.name, "func_name": self.func_name, "time": time.time(),
                    "after_correct": solved, **extra})

    def hint(self, level=None):
        """Show hint ``level`` (1: the idea, 2: the API, ...; none: the next one, the last one again after it) and
        note the view in the log (it is reported to the instructor)."""
        count = len(self.hints)
        if level is None:
            level = self._next_hint + 1
        if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or not 1 <= level <= count:
            raise ValueError(f"{self.name!r} has {count} hint{'s' if count > 1 else ''}: call hint() or hint(n) "
                             f"with n from 1 to {count}; solution() shows the code.")
        level = int(level)
        self._next_hint = min(level, count - 1)
        self._log_view("hint", level=level)
        title = f"Hint {level} of {count}" if count > 1 else "Hint"
        text = self.hints[level - 1]
        _show(f'<div style="color:#8a6d00"><b>{title}:</b> {html.escape(text)}</div>', f"{title}: {text}")

    def solution_source(self):
        solution = self._solution
        if solution is None and self.notebook:
            solution = notebook_solutions().get(self.notebook, {}).get(self.func_name)
            if solution is None:  # an exam machine (no solutions.json), or a notebook without this block
                return f"# No solution for `{self.func_name}` is available here."
        if solution is None:
            solution = self.reference
        if callable(solution):
            solution = inspect.getsource(solution)
        return textwrap.dedent(solution).strip("\n")

    def solution(self):
        """Show the solution as a code block (and note the view in the log: it is reported to the instructor)."""
        self._log_view("solution")
        source = self.solution_source()
        _show(f"<div><b>Solution:</b><pre><code>{html.escape(source)}</code></pre></div>",
              "Solution:\n" + textwrap.indent(source, "    "))


SOLUTIONS_FILE = "solutions.json"


def notebook_solutions():
    """``{notebook id: {function name: source}}``: the solution blocks of the course notebooks, collected by
    ``python -m camlab student`` into ``camlab/exercises/solutions.json`` (``{}`` when it is not there)."""
    import json
    from importlib import resources

    try:
        text = resources.files("camlab.exercises").joinpath(SOLUTIONS_FILE).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return {}
    return json.loads(text)


@dataclass(frozen=True)
class _Expected:
    """A computed expected value (so that an expected ``None``, e.g. "no box", is told apart from "not given")."""

    value: Any = field(default=None)


def _lookup(name, namespace):
    return namespace.get(name, _MISSING) if namespace is not None else _MISSING


def _caller_globals():
    """The globals of the first frame outside this module (the notebook cell's, in Jupyter)."""
    frame = inspect.currentframe()
    try:
        while frame is not None and frame.f_globals.get("__name__") == __name__:
            frame = frame.f_back
        return frame.f_globals if frame is not None else {}
    finally:
        del frame


# --------------------------------------------------------------------------------------------------------------
# Showing verdicts.

_COLOURS = {"correct": "#1a7f37", "incorrect": "#cf222e", "not_attempted": "#9a6700", "error": "#cf222e"}
_TITLES = {"correct": "Correct", "incorrect": "Incorrect", "not_attempted": "Not attempted", "error": "Error"}


def _title(result):
    return _TITLES[result.status] + (" (public checks)" if result.scope == "public" else "")


def _text_message(result):
    return f"{_title(result)}: {result.message}" if result.message else _title(result)


def _html_message(result):
    return (f'<div style="color:{_COLOURS[result.status]}"><b>{_title(result)}</b>'
            f'{": " + html.escape(result.message) if result.message else ""}</div>')


def _in_notebook():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _execution_count():
    """The running cell's number in IPython, else None."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return getattr(shell, "execution_count", None) if shell is not None else None


def _show(html_text, plain_text):
    if _in_notebook():
        from IPython.display import HTML, display

        display(HTML(html_text))
    else:
        print(plain_text)


def results_log(clear=False):
    """A copy of every verdict (``"event": "check"``) and every ``hint()``/``solution()`` view (``"hint"``,
    ``"solution"``, with ``after_correct``) so far in this process (``clear=True`` empties the log)."""
    entries = [dict(entry) for entry in LOG]
    if clear:
        LOG.clear()
    return entries


__all__ = ["Case", "CheckResult", "Exercise", "NotPlainData", "STATUSES", "box_close", "close", "equal", "gives",
           "none_or",
           "notebook_solutions", "plain", "results_log", "run_cases", "short_repr"]
