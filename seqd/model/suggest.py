"""Did-you-mean: the names close to one that was not found.

Its own module because every place that looks a name up — tasks, tools, config fields,
flow states, RPC methods, seqctl's commands — answers a typo the same way, with the
same notion of "close" (``difflib``'s ratio, as Python's own error messages use).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # seqctl suggests commands without importing typing
    from collections.abc import Iterable
    from typing import Any

    from seqd.errors import SeqdError

CUTOFF = 0.6
"""How alike two names must be (``difflib.SequenceMatcher.ratio``) to be suggested."""
MANY = 500
"""Past this many candidates, only those of about the same length are compared."""


def close_matches(word: str, candidates: Iterable[object], n: int = 3) -> list[str]:
    """The (at most ``n``) candidates closest to ``word``, best first."""
    import difflib  # only on the error path: it imports re and friends

    names = [c for c in candidates if isinstance(c, str)]
    if len(names) > MANY:
        # Keep a typo among 10,000 names cheap: only names of about the same length.
        names = [c for c in names if abs(len(c) - len(word)) <= 2]
    return difflib.get_close_matches(word, names, n=n, cutoff=CUTOFF)


def did_you_mean(word: str, candidates: Iterable[object]) -> str:
    """``"; did you mean 'store'?"`` when a candidate is close to ``word``, else ``""``."""
    close = close_matches(word, candidates, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def unknown(
    message: str,
    word: str,
    candidates: Iterable[object],
    details: dict[str, Any],
    error: type[SeqdError] | None = None,
) -> SeqdError:
    """The error for a name that does not exist (``message``: "no task named 'helo'"),
    with the close ones in the message and in ``details.did_you_mean``; a
    ``NotFound`` unless ``error`` says another kind."""
    from seqd.errors import NotFound

    close = close_matches(word, candidates)
    if close:
        message += f"; did you mean {close[0]!r}?"
        details = {**details, "did_you_mean": close}
    return (error or NotFound)(message, details)
