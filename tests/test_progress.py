"""camlab's progress bar: text, never a widget, so a saved notebook shows the finished bar."""
import io
import sys
import types

import pytest
import tqdm.std

from camlab import _progress
from camlab._progress import NOTEBOOK_NCOLS, in_notebook, progress


@pytest.fixture
def fake_kernel(monkeypatch):
    """Pretend to run inside a Jupyter kernel (IPython's shell there has a ``kernel``)."""
    shell = types.SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))


def final_bar(text):
    """What a notebook shows of a stream: the text after the last carriage return of the last line."""
    return text.rstrip("\n").split("\n")[-1].split("\r")[-1]


def test_outside_a_notebook_nothing_watching_means_no_bar():
    out = io.StringIO()  # not a terminal
    assert not in_notebook() or pytest.skip("the test runner itself runs in a kernel")
    for _ in progress(range(5), desc="work", file=out):
        pass
    assert out.getvalue() == ""


def test_the_bar_is_tqdm_text_and_finishes_at_100_percent():
    out = io.StringIO()
    bar = progress(range(7), desc="work", unit="img", file=out, disable=False)
    assert type(bar) is tqdm.std.tqdm  # not tqdm.notebook's widget
    for _ in bar:
        pass
    assert final_bar(out.getvalue()).startswith("work: 100%|")
    assert "7/7" in final_bar(out.getvalue())


def test_in_a_notebook_a_fixed_width_text_bar_goes_to_stdout(fake_kernel, capsys):
    assert in_notebook()
    bar = progress(total=40, desc="epoch 1/2", unit="batch")
    assert type(bar) is tqdm.std.tqdm and not bar.disable
    for _ in range(40):
        bar.update(1)
    bar.set_postfix(loss="0.123", acc="0.950")
    bar.close()
    captured = capsys.readouterr()
    shown = final_bar(captured.out)
    assert captured.err == ""
    assert shown.startswith("epoch 1/2: 100%|") and "40/40" in shown and "acc=0.950" in shown
    assert len(shown) <= NOTEBOOK_NCOLS
    assert "Widget" not in captured.out and "application/vnd.jupyter.widget" not in captured.out


def test_in_a_notebook_disable_true_still_hides_it(fake_kernel, capsys):
    for _ in progress(range(3), disable=True):
        pass
    assert capsys.readouterr().out == ""


def test_an_ipython_that_cannot_answer_is_not_a_notebook(monkeypatch):
    def broken():
        raise RuntimeError("no shell")
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=broken))
    assert _progress.in_notebook() is False
