"""What every explorer shares: controls, a figure redrawn from computed data, a safe display.

An explorer is a plain object, not a widget. It owns

* ``controls``: a dict of ipywidgets controls, keyed by the name of the value they set;
* ``compute()``: a pure function of the control values that returns the data behind the plot
  (tests drive the controls from Python and check this data);
* ``draw(data)``: draws that data on ``self.figure`` (a bare matplotlib ``Figure``, never pyplot,
  so the inline backend does not display it a second time);
* ``widget``: the assembled box (controls, a note line, the figure as a PNG ``Image``).

Displayed in a notebook, an explorer sends one output with three representations: the live
widget view, a PNG of the figure at the current settings and a plain-text message. JupyterLab
with ipywidgets shows the widget; a frontend without a widget manager (nbclient, nbgrader,
nbconvert, GitHub) keeps the static picture and the message. Nothing waits for a frontend and
nothing is written to stderr.
"""

from __future__ import annotations

import base64
import html
import io
import warnings
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

NO_FRONTEND_MESSAGE = (
    "{title}: the interactive controls need a widget frontend (JupyterLab with ipywidgets). "
    "Shown here: the picture at the default settings."
)


def figure_png(figure: Figure, dpi: int = 80) -> bytes:
    """Render ``figure`` to PNG bytes with the Agg canvas (no pyplot, no GUI)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def quiet_call(fn: Callable, *args, **kwargs) -> Any:
    """Call ``fn`` with NumPy floating-point warnings and Python warnings silenced.

    Students' functions overflow, divide by zero, ...: the explorer shows that in its note
    instead of letting a warning reach stderr (nbgrader scores stderr output as a failure).
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _current_execution_count() -> int | None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return None
    shell = get_ipython()
    return None if shell is None else getattr(shell, "execution_count", None)


class Explorer:
    """Base class: subclasses build ``self.controls`` and implement ``compute`` and ``draw``."""

    title = "Explorer"
    figsize: tuple[float, float] = (9.0, 3.6)
    dpi = 80
    #: matplotlib layout engine; None for explorers that place their axes themselves (faster).
    layout: str | None = "constrained"

    def __init__(self) -> None:
        self.figure = Figure(figsize=self.figsize, layout=self.layout)
        FigureCanvasAgg(self.figure)
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.note = widgets.HTML(layout=widgets.Layout(min_height="1.6em"))
        self.data: Any = None
        self.png = b""
        self.error: Exception | None = None
        self.notes: list[str] = []
        self._displayed_in: int | None = None
        self._widget: widgets.Widget | None = None
        self._building = True

    # -- to implement -------------------------------------------------------------------------
    def compute(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def draw(self, data: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def layout_controls(self) -> widgets.Widget:
        """The controls as a widget; the default is a wrapping row of all of them."""
        return widgets.HBox(
            list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap")
        )

    # -- shared machinery ---------------------------------------------------------------------
    def _finish_init(self) -> None:
        """Call at the end of a subclass ``__init__``: wire the controls, draw once."""
        for control in self.controls.values():
            if hasattr(control, "value"):
                control.observe(self.refresh, names="value")
        self._building = False
        self.refresh()

    @property
    def values(self) -> dict[str, Any]:
        """The current value of every control, by name."""
        return {k: c.value for k, c in self.controls.items() if hasattr(c, "value")}

    def set(self, **values: Any) -> Explorer:
        """Set several controls at once (one redraw); unknown names raise ``KeyError``."""
        unknown = sorted(set(values) - set(self.controls))
        if unknown:
            raise KeyError(
                f"unknown control(s) {unknown}; this explorer has {sorted(self.controls)}"
            )
        self._building = True
        try:
            for name, value in values.items():
                self.controls[name].value = value
        finally:
            self._building = False
        self.refresh()
        return self

    def refresh(self, change: Any = None) -> None:
        """Recompute the data from the controls and redraw the figure.

        Floating-point warnings are silenced (a diverging optimizer or an exploding stack is
        something to show, not to print on stderr). An error while computing or drawing keeps
        the previous picture and becomes a note: a slider must never leave a traceback behind.
        """
        if self._building:
            return
        self.notes = []
        self.error = None
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                data = self.compute()
                self.figure.clear()
                self.draw(data)
                png = figure_png(self.figure, self.dpi)
        except Exception as exc:
            self.error = exc
            self.notes.append(f"could not redraw with these settings ({type(exc).__name__}: {exc})")
        else:
            self.data, self.png = data, png
            self.image.value = png
        self.note.value = " ".join(
            f"<span style='color:#a04000'>⚠ {html.escape(n)}</span>" for n in self.notes
        )

    @property
    def widget(self) -> widgets.Widget:
        """The assembled widget: title, controls, note line, figure."""
        if self._widget is None:
            header = widgets.HTML(f"<b>{html.escape(self.title)}</b>")
            self._widget = widgets.VBox(
                [header, self.layout_controls(), self.note, self.image],
                layout=widgets.Layout(width="100%"),
            )
        return self._widget

    @property
    def message(self) -> str:
        """What a frontend without widgets shows above the static picture."""
        text = NO_FRONTEND_MESSAGE.format(title=self.title)
        if self.notes:
            text += " Note: " + " ".join(self.notes)
        return text

    def mimebundle(self) -> dict[str, Any]:
        """The display data: widget view, static PNG, HTML and plain-text fallbacks."""
        png = self.png
        encoded = base64.b64encode(png).decode("ascii")
        bundle: dict[str, Any] = {
            "text/plain": self.message,
            "image/png": encoded,
            "text/html": (
                f"<p><i>{html.escape(self.message)}</i></p>"
                f"<img src='data:image/png;base64,{encoded}' alt='{html.escape(self.title)}'/>"
            ),
        }
        view = self.widget._repr_mimebundle_()
        if view and "application/vnd.jupyter.widget-view+json" in view:
            key = "application/vnd.jupyter.widget-view+json"
            bundle[key] = view[key]
        return bundle

    def show(self) -> Explorer:
        """Display the explorer in the notebook (once per cell; see ``_ipython_display_``)."""
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is None:  # a plain Python script: nothing can show the picture
            print(
                f"{self.title}: open it in JupyterLab to see and move it (.png holds the picture)"
            )
            return self
        display(self.mimebundle(), raw=True)
        self._displayed_in = _current_execution_count()
        return self

    def _ipython_display_(self) -> None:
        # The factory functions display the explorer and return it; when that call is also the
        # last line of the cell, IPython asks again: skip the duplicate in the same execution.
        count = _current_execution_count()
        if count is not None and count == self._displayed_in:
            return
        self.show()

    def __repr__(self) -> str:
        values = ", ".join(f"{k}={v!r}" for k, v in self.values.items())
        return f"<{type(self).__name__} {values}>"
