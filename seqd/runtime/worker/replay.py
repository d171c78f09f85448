"""Matching task code's durable operations against the journal of its attempt.

Task code is replayed from the start after a restart or a suspension. Its durable
operations are numbered in the order the code makes them (1, 2, ...); the journal holds
what operation number N was the last time — its kind, its name and how far it got.
Replay is exact only if the code makes the same operations in the same order every
time, so a different kind or name at a number is reported as ``Nondeterminism`` instead
of handing the code a result that belongs to another operation. Its own module: a pure
algorithm over journal entries, tested alone.
"""

from __future__ import annotations

from collections import Counter

from seqd.runtime.workerpool.ops import Entry

LABELS = {
    "step": "ctx.step",
    "tool": "ctx.tool",
    "child": "ctx.run_task/start_task",
    "sleep": "ctx.sleep",
    "signal": "ctx.wait_signal",
}


def describe(kind: str, name: str) -> str:
    """``ctx.step('charge')``: an operation as the user wrote it."""
    label = LABELS.get(kind, kind)
    return f"{label}()" if kind == "sleep" else f"{label}({name!r})"


class Nondeterminism(BaseException):
    """The code made another durable operation than the journal records at that
    position. A ``BaseException``, and remembered by the context: the attempt fails
    with type ``nondeterminism`` even if task code catches it."""

    def __init__(self, attempt: int, index: int, recorded: Entry, kind: str, name: str) -> None:
        self.index = index
        self.details = {
            "attempt": attempt,
            "op": index,
            "journal": {"kind": recorded.kind, "name": recorded.name},
            "code": {"kind": kind, "name": name},
        }
        self.message = (
            f"durable operation #{index} of attempt {attempt}: the code called "
            f"{describe(kind, name)} where the journal records "
            f"{describe(recorded.kind, recorded.name)}; task code must make the same "
            "durable calls in the same order on every replay (docs/durable.md)"
        )
        super().__init__(self.message)


class Replay:
    """This attempt's journal, one merged ``Entry`` per operation number, and the
    position of the code in it."""

    def __init__(self, attempt: int, entries: list[Entry]) -> None:
        self.attempt = attempt
        self.index = 0
        """The number of the last operation the code made."""
        self._ops: dict[int, Entry] = {}
        self._last = max((e.index for e in entries), default=0)
        self._waits: Counter[str] = Counter()
        for entry in entries:
            known = self._ops.get(entry.index)
            if known is None:
                self._ops[entry.index] = Entry(
                    entry.index, entry.kind, entry.name, entry.status, dict(entry.data)
                )
            else:
                # Later entries of one operation (a child's end after its start) carry
                # its progress; its kind and name are those it was first recorded as.
                known.status = entry.status
                known.data.update(entry.data)

    def next(self, kind: str, name: str) -> Entry | None:
        """Advance to the code's next operation: what the journal records for it, or
        None if it is new. Raises ``Nondeterminism`` if the journal records another."""
        self.index += 1
        recorded = self._ops.get(self.index)
        if recorded is not None and (recorded.kind != kind or recorded.name != name):
            raise Nondeterminism(self.attempt, self.index, recorded, kind, name)
        return recorded

    def get(self, index: int) -> Entry | None:
        return self._ops.get(index)

    def replaying(self) -> bool:
        """Whether the code is where an earlier execution of this attempt has been:
        the journal records operations after the code's last one."""
        return self.index < self._last

    def note(self, entry: Entry) -> None:
        """Remember what an operation recorded in this execution (a child's start), so
        that a later look at it (``handle.result()``) need not ask again."""
        known = self._ops.get(entry.index)
        if known is None:
            self._ops[entry.index] = entry
        else:
            known.status = entry.status
            known.data.update(entry.data)

    def ordinal(self, signal: str) -> int:
        """How many waits on ``signal`` the code has made so far, this one included:
        the k-th wait on a name receives the k-th signal of that name."""
        self._waits[signal] += 1
        return self._waits[signal]
