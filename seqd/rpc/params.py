"""The base of every method's params and the field types several methods share.

Its own module so that the wire types of one area can live in a module of their own
(``observing``, ``retention``) beside ``protocol``, which gathers every method in ``METHODS``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from seqd.model.tasks import TASK_NAME_PATTERN


class Params(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every method's params: strict, so a misspelt field is an error."""


Limit = Annotated[int, Meta(ge=1, le=1000)]
TaskName = Annotated[str, Meta(pattern=TASK_NAME_PATTERN, description="a task name")]
RunId = Annotated[str, Meta(pattern=r"^[0-9a-f]{8,64}$", description="a run id")]
