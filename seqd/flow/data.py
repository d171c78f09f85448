"""The data a running flow's templates see, and rendering a state's fields from it.

``$.input``, ``$.steps.<state>`` and ``$.flow`` (plus ``$.item``/``$.index`` in a map
item, ``$.result`` in an output, ``$.error`` in a fallback). Its own module so that a
template error becomes the state's ``mapping`` failure in one place, wherever a field is
rendered: the driver, the acting states, map items and compensation.
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET

from seqd.flow.outcome import StateFailed
from seqd.flow.template import TemplateError, render
from seqd.model.runs import RunError

Data = dict[str, Any]


def render_field(template: Any, data: Data, where: str) -> Any:
    """``template`` rendered against ``data``; a template error fails the state."""
    try:
        return render(template, data)
    except TemplateError as exc:
        raise StateFailed(
            RunError(type="mapping", message=f"{where}: {exc}", details={"field": where})
        ) from None


def render_input(template: Any, data: Data, where: str) -> Any:
    """An input or params template: ``{}`` when there is none."""
    return {} if template is UNSET else render_field(template, data, where)
