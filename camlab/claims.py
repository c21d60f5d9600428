"""Figures in a notebook's prose that none of its outputs show.

A claim in prose is a claim about an output: when a markdown cell says "GT-known accuracy 0.853" or "about
1.4x slower", some cell of the same notebook should print that value. This module finds the figures that no
output backs. ``python -m camlab claims notebooks/NN_topic.ipynb ...`` lists them (exit status 1 when any).

**What counts as a figure** (in a markdown cell's prose):

- a decimal number: ``0.853``, ``43.6``, ``-0.12`` (thousands separators allowed: ``1,092.5``);
- a percentage: ``95%``, ``2.3 %``;
- a ratio: ``1.4x``, ``1.4×``, ``25 x`` (the ``x`` not followed by another number, so ``12x12`` is a size).

Plain integers are not figures: they are mostly counts, list numbers, years, notebook numbers and sizes.

**What is not prose:** fenced code blocks, ```code spans```, LaTeX (``$...$``, ``$$...$$``), HTML tags and
comments, link targets and bare URLs. Numbers glued to letters, underscores or another dot are names, not
figures (``conv5_block3_out``, ``0.1.0``, ``3e-3``). A number right after a version or reference word is not a
figure either: ``Python 3.11``, ``TF >= 2.16``, ``Sec. 3.1``, ``Fig. 2.1``, ``arXiv:1512.04150``, ``v1.2``.

**Figures from elsewhere** (a paper, a dataset's documentation) are listed in the cell as an HTML comment,
which the rendered notebook does not show: ``<!-- claims: ignore 1.9 980 -->`` (say in the prose where they
come from). ``<!-- claims: off -->`` skips the whole cell.

**What backs a figure:** a number that a cell shows - the ``text/plain`` of results and displays, and stream
output (stdout/stderr) - or a numeric literal in a code cell (a parameter the notebook itself sets: a threshold,
an alpha). Matching allows rounding, never more:

- a figure written with ``d`` decimals is backed by a shown number that rounds to it at ``d`` decimals:
  ``0.853`` by ``0.8531``, ``0.85`` by ``0.853``, ``43.6`` by ``43.61`` (but ``0.853`` is not backed by ``0.85``:
  prose may round an output, not add digits to it);
- signs are ignored: ``±43.6`` and ``-43.6`` are backed by ``43.6``;
- a percentage ``p%`` is backed by a number that rounds to ``p`` or by a fraction whose hundredfold does:
  ``85%`` by ``85.3`` or by ``0.853``; ``2.3%`` by ``0.0231``;
- a decimal figure is also backed by a shown percentage: ``0.852`` by ``85.2%``;
- a ratio ``r x`` is backed by a number that rounds to ``r``: ``1.4x`` by ``1.38``.
"""
import argparse
import io
import re
import tokenize
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Figure", "Claim", "figures", "numbers_in", "shown_numbers", "is_backed", "unbacked_claims", "main"]


@dataclass(frozen=True)
class Figure:
    """One figure in prose: its ``text`` as written, its absolute ``value``, ``decimals`` written, its ``kind``
    ("decimal", "percent" or "ratio") and the ``sentence`` it sits in."""
    text: str
    value: float
    decimals: int
    kind: str
    sentence: str = ""


@dataclass(frozen=True)
class Claim:
    """A figure no output backs: the notebook ``path``, the markdown ``cell`` index, and the ``figure``."""
    path: str
    cell: int
    figure: Figure

    def __str__(self):
        return f"{self.path} cell {self.cell}: {self.figure.text!r} in \"{self.figure.sentence}\""


_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
# a number not glued to a word, a dot or a comma-group before it, and not followed by more of a name/version
_FIGURE = re.compile(
    rf"(?<![\w.,])(?P<num>{_NUMBER})"
    r"(?:(?P<pct>\s?%)|(?P<ratio>\s?[x×])(?!\w|\s*\d))?"
    r"(?![\w]|\.\d|,\d)"
)
_OUTPUT_NUMBER = re.compile(rf"(?P<num>{_NUMBER})(?:[eE][-+]?\d+)?(?P<pct>\s?%)?")
# words after which a number is a version or a reference, not a measured figure
_REFERENCE_BEFORE = re.compile(
    r"(?:\b(?:python|tensorflow|tf|keras|numpy|opencv|cv2|tfds|matplotlib|jupyterlab|pip|version|versions|"
    r"release|sec|section|sections|fig|figure|figures|table|tables|eq|equation|chapter|arxiv|doi)\.?:?"
    r"|§|\bv)\s*(?:[<>=~!]=?|[≥≤])?\s*$",
    re.IGNORECASE,
)
_DIRECTIVE = re.compile(r"<!--\s*claims:\s*(?P<what>off|ignore\b(?P<values>[^>]*?))\s*-->", re.IGNORECASE)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

# what is removed from a markdown cell before figures are read (each replaced by a space)
_NOT_PROSE = [
    re.compile(r"```.*?```|~~~.*?~~~", re.DOTALL),   # fenced code
    re.compile(r"`[^`\n]*`"),                         # code spans
    re.compile(r"\$\$.*?\$\$", re.DOTALL),            # display math
    re.compile(r"(?<!\\)\$[^$\n]+(?<!\\)\$"),         # inline math
    re.compile(r"<!--.*?-->", re.DOTALL),             # HTML comments (directives were read before)
    re.compile(r"<[^>\n]+>"),                         # HTML tags
    re.compile(r"\]\([^)\n]*\)"),                     # link targets
    re.compile(r"https?://\S+|www\.\S+"),             # bare URLs
    re.compile(r"(?m)^#+\s*[\d.]+"),                  # section numbers at the start of a heading
]


def _prose(markdown):
    text = markdown
    for pattern in _NOT_PROSE:
        text = pattern.sub(" ", text)
    return text


def _sentence(text, start, end):
    """The sentence around text[start:end], on one line, at most ~160 characters."""
    left = max(text.rfind(". ", 0, start), text.rfind("\n\n", 0, start), text.rfind("\n- ", 0, start))
    right_candidates = [i for i in (text.find(". ", end), text.find("\n\n", end)) if i >= 0]
    right = min(right_candidates) if right_candidates else len(text)
    sentence = " ".join(text[left + 1 if left >= 0 else 0:right + 1].split()).lstrip("- ")
    return sentence if len(sentence) <= 160 else sentence[:157] + "..."


def figures(markdown):
    """The figures in a markdown cell's prose, in order (see the module docstring for the rules)."""
    directive = _DIRECTIVE.search(markdown)
    ignored = set()
    if directive:
        if directive.group("what").lower() == "off":
            return []
        ignored = {v.strip("%x×,;") for v in (directive.group("values") or "").split()}
    text = _prose(markdown)
    found = []
    for match in _FIGURE.finditer(text):
        number, pct, ratio = match.group("num"), match.group("pct"), match.group("ratio")
        decimals = len(number.split(".")[1]) if "." in number else 0
        kind = "percent" if pct else "ratio" if ratio else "decimal" if decimals else None
        if kind is None or number in ignored or number.replace(",", "") in ignored:
            continue
        if _REFERENCE_BEFORE.search(text[max(0, match.start() - 24):match.start()]):
            continue
        found.append(Figure(match.group(0).strip(), float(number.replace(",", "")), decimals, kind,
                            _sentence(text, match.start(), match.end())))
    return found


def numbers_in(text):
    """(value, shown_as_percent) for every number in a piece of output or code."""
    out = []
    for match in _OUTPUT_NUMBER.finditer(_ANSI.sub("", text)):
        try:
            value = float(match.group(0).rstrip("% ").replace(",", ""))
        except ValueError:
            continue
        out.append((abs(value), bool(match.group("pct"))))
    return out


def _code_literals(source):
    """(value, False) for every numeric literal in a code cell (f-string format specs are not literals)."""
    lines = [line for line in source.splitlines(keepends=True) if not line.lstrip().startswith(("%", "!"))]
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO("".join(lines)).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return numbers_in(re.sub(r"[\"'].*?[\"']", " ", source))  # not Python: numbers outside quotes
    out = []
    for token in tokens:
        if token.type == tokenize.NUMBER:
            try:
                out.append((abs(float(token.string.replace("_", "").rstrip("jJ"))), False))
            except ValueError:  # hex, octal, binary
                out.append((float(int(token.string.replace("_", ""), 0)), False))
    return out


def shown_numbers(nb, include_code=True):
    """Every number a notebook shows: in text/plain and stream outputs, and (``include_code``) code literals."""
    numbers = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if include_code:
            numbers.update(_code_literals(cell.source))
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                numbers.update(numbers_in(output.get("text", "")))
            elif output.output_type in ("execute_result", "display_data"):
                numbers.update(numbers_in(output.get("data", {}).get("text/plain", "")))
            elif output.output_type == "error":
                numbers.update(numbers_in(output.get("evalue", "")))
    return numbers


def _rounds_to(value, figure_value, decimals):
    return abs(value - figure_value) <= 0.5 * 10.0 ** -decimals + 1e-9 * max(1.0, abs(figure_value))


def is_backed(figure, numbers):
    """Whether a shown number (``(value, shown_as_percent)`` pairs) backs ``figure``, with the rounding rules."""
    for value, as_percent in numbers:
        candidates = [value]
        if figure.kind == "percent":
            candidates.append(100.0 * value)
        elif figure.kind == "decimal" and as_percent:
            candidates.append(value / 100.0)
        if any(_rounds_to(v, figure.value, figure.decimals) for v in candidates):
            return True
    return False


def unbacked_claims(notebook, include_code=True):
    """The figures in ``notebook``'s markdown (a path or an nbformat notebook) that nothing it shows backs."""
    import nbformat

    if isinstance(notebook, (str, Path)):
        path, nb = str(notebook), nbformat.read(str(notebook), as_version=4)
    else:
        path, nb = "<notebook>", notebook
    numbers = shown_numbers(nb, include_code=include_code)
    return [Claim(path, index, figure)
            for index, cell in enumerate(nb.cells) if cell.cell_type == "markdown"
            for figure in figures(cell.source) if not is_backed(figure, numbers)]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m camlab claims",
                                     description="List the figures in notebooks' prose that no output shows "
                                                 "(rules: camlab/claims.py).")
    parser.add_argument("notebooks", nargs="+", type=Path, help="notebooks (.ipynb) to check")
    parser.add_argument("--outputs-only", action="store_true",
                        help="do not count numeric literals in code cells as backing")
    args = parser.parse_args(argv)
    missing = [p for p in args.notebooks if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(map(str, missing))}")
    total = 0
    for path in args.notebooks:
        claims = unbacked_claims(path, include_code=not args.outputs_only)
        total += len(claims)
        for claim in claims:
            print(claim)
        print(f"{path}: {len(claims)} figure(s) in prose that no output shows", file=sys.stderr)
    return 1 if total else 0
