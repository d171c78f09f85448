"""The base of every method's params and the field types several methods share.

Its own module so that the wire types of one area can live in a module of their own
(``observing``) beside ``protocol``, which gathers every method in ``METHODS``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta


class Params(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every method's params: strict, so a misspelt field is an error."""


Limit = Annotated[int, Meta(ge=1, le=1000)]
