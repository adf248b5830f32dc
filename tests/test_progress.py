"""Progress bars: tqdm's text bar outside Jupyter, off on request, no warning on import."""

import io
import sys
import types

import tqdm.std

from refimpl import _progress


def test_text_bar_outside_a_kernel_and_disabled_by_the_environment(monkeypatch):
    monkeypatch.delenv("REFIMPL_PROGRESS", raising=False)
    bar = _progress.tqdm(total=3, file=io.StringIO())
    assert type(bar) is tqdm.std.tqdm and not bar.disable
    bar.close()
    monkeypatch.setenv("REFIMPL_PROGRESS", "0")
    bar = _progress.tqdm(total=3, file=io.StringIO())
    assert bar.disable
    bar.close()
    assert not _progress.bars_wanted()


def test_a_kernel_without_ipywidgets_gets_the_text_bar_and_bars_are_wanted(monkeypatch):
    monkeypatch.delenv("REFIMPL_PROGRESS", raising=False)
    shell = types.SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails
    assert _progress.bars_wanted()
    bar = _progress.tqdm(total=3, file=io.StringIO())
    assert type(bar) is tqdm.std.tqdm
    bar.close()
