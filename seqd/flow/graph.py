"""The flow graph format: what ``tasks/<name>/graph.json`` holds, as msgspec Structs.

Decoding is strict (an unknown or misspelt key is an error naming its path) and the
state kinds are a tagged union on ``type``, so a graph that decodes is well formed;
what decoding cannot see (missing states, unreachable states, bad paths, unknown tasks)
is the analyzer's job (``seqd.flow.analyze``). Values written as "templates" are JSON in
which strings that are paths (``"$.steps.fetch.output.items[0]"``) are replaced by the
value they point at (``seqd.flow.template``); nothing is ever evaluated as code.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

DEFAULT_MAX_STATE_ENTRIES = 1000


class Spec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """Base of every graph object: keyword fields, unknown keys are errors."""


class Retry(Spec, kw_only=True):
    """Retries of a state (each attempt is its own child run, recorded with its error)."""

    max_attempts: int = 3
    """Attempts in all, the first included (1 = no retry)."""
    backoff_s: float = 1.0
    """Delay before the second attempt."""
    factor: float = 2.0
    """Each further delay is the previous one times ``factor``..."""
    max_backoff_s: float | None = None
    """...capped at this."""
    jitter: float = 0.0
    """Fraction (0..1) of each delay added or taken away at random."""
    errors: list[str] = msgspec.field(default_factory=lambda: ["*"])
    """Error types retried (``timeout``, ``exit_code``, ``exception``...); ``*`` is any
    error except ``cancelled``."""


class Catch(Spec, kw_only=True):
    """On a failure whose type is in ``errors`` (``*``: any), go to ``next``."""

    errors: list[str]
    next: str


class Compensate(Spec, kw_only=True):
    """The task that undoes a completed state when the flow later fails (saga)."""

    task: str
    input: Any = UNSET
    """Template; ``$.result`` is the compensated state's output. Default: ``{}``."""


class Condition(Spec, kw_only=True):
    """A test on the flow's data: a path and exactly one operator, or one combinator.

    ``{"path": "$.steps.check.output.n", "gt": 3}``;
    ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}``.
    A path that does not exist makes every operator false except ``exists: false``;
    comparing values of different kinds (a string with a number) is false, not an error.
    """

    path: str | None = None
    equals: Any = UNSET
    not_equals: Any = UNSET
    gt: float | str | UnsetType = UNSET
    gte: float | str | UnsetType = UNSET
    lt: float | str | UnsetType = UNSET
    lte: float | str | UnsetType = UNSET
    in_: list[Any] | UnsetType = msgspec.field(default=UNSET, name="in")
    contains: Any = UNSET
    """The value (a list or a string) contains this."""
    matches: str | UnsetType = UNSET
    """A regular expression the whole string value must match (at most 200 characters)."""
    exists: bool | UnsetType = UNSET
    is_type: (
        Literal["string", "number", "integer", "boolean", "null", "array", "object"] | UnsetType
    ) = msgspec.field(default=UNSET, name="type")
    all: list[Condition] | UnsetType = UNSET
    any: list[Condition] | UnsetType = UNSET
    not_: Condition | UnsetType = msgspec.field(default=UNSET, name="not")


class Choice(Spec, kw_only=True):
    when: Condition
    next: str


class StateBase(Spec, tag_field="type", kw_only=True):
    comment: str = ""


class Flowing(StateBase, kw_only=True):
    """A state that continues: exactly one of ``next`` and ``end``."""

    next: str | None = None
    end: bool = False


class Acting(Flowing, kw_only=True):
    """A state that does work (task, tool, parallel, map): failure handling applies.

    On failure, in order: ``retry`` (if the error type is listed), then the first
    ``catch`` whose errors match (``on_timeout`` is ``catch: [{errors: [timeout]}]``
    written first), then ``fallback`` (its value becomes the output and the flow goes on
    to ``next``), else the flow fails (and compensations run).
    """

    timeout_s: float | None = None
    retry: Retry | None = None
    catch: list[Catch] = []
    on_timeout: str | None = None
    fallback: Any = UNSET
    """Template: the output to use instead of failing; ``$.error`` is the error."""
    compensate: Compensate | None = None
    output: Any = UNSET
    """Template shaping what is stored as ``$.steps.<name>.output``; ``$.result`` is the
    raw result. Default: the raw result."""


class TaskState(Acting, tag="task", kw_only=True):
    """Run a task (any type, flows included) as a child run."""

    task: str
    input: Any = UNSET
    """Template for the child's input; default ``{}``."""


class ToolState(Acting, tag="tool", kw_only=True):
    """Call a tool from the registry."""

    tool: str
    params: Any = UNSET
    """Template for the tool's parameters; default ``{}``."""


class SubGraph(Spec, kw_only=True):
    """A branch of a parallel state, or the body a map state runs per item."""

    start: str
    states: dict[str, State]
    output: Any = UNSET
    """Template for the branch's result; default: the output of its last state."""


Join = Literal["all", "any", "all_settled"]
"""``all``: every branch must succeed (output: list of branch results; the first failure
cancels the others unless ``cancel_on_failure`` is false, and fails the state);
``any``: the first success wins (the others are cancelled; output: its result; fails
when all fail); ``all_settled``: all run to the end (output: a list of
``{"status", "output", "error"}``; never fails)."""


class ParallelState(Acting, tag="parallel", kw_only=True):
    branches: list[SubGraph]
    join: Join = "all"
    cancel_on_failure: bool = True


class MapState(Acting, tag="map", kw_only=True):
    """Run ``task`` (or the ``iterator`` graph) once per item of a list, at most
    ``concurrency`` at once (0: no limit beyond the daemon's workers)."""

    items: str
    """Path to the list."""
    concurrency: int = 0
    task: str | None = None
    input: Any = UNSET
    """With ``task``: template per item (``$.item``, ``$.index``); default ``$.item``
    when it is an object, else ``{"item": <item>}``."""
    iterator: SubGraph | None = None
    join: Join = "all"
    cancel_on_failure: bool = True


class ChoiceState(StateBase, tag="choice", kw_only=True):
    choices: list[Choice]
    default: str | None = None
    """Where to go when no choice matches; without it the flow fails (``no_choice``)."""


class WaitState(Flowing, tag="wait", kw_only=True):
    """A durable delay: exactly one of ``seconds``, ``seconds_path``, ``until``."""

    seconds: float | None = None
    seconds_path: str | None = None
    until: str | None = None
    """An RFC 3339 time, or a path to one."""


class SucceedState(StateBase, tag="succeed", kw_only=True):
    output: Any = UNSET
    """Template for the flow's output; default: the graph's ``output`` mapping, else the
    output of the state that led here."""


class FailState(StateBase, tag="fail", kw_only=True):
    error: str = "failed"
    """The error type the flow fails with."""
    message: str = ""
    """May interpolate paths: ``"bad row {{ $.steps.check.output.row }}"``."""


State = (
    TaskState
    | ToolState
    | ParallelState
    | MapState
    | ChoiceState
    | WaitState
    | SucceedState
    | FailState
)

STATE_TYPES: tuple[type[StateBase], ...] = (
    TaskState,
    ToolState,
    ParallelState,
    MapState,
    ChoiceState,
    WaitState,
    SucceedState,
    FailState,
)


class Undecoded(StateBase, tag="undecoded", kw_only=True):
    """Stands for a state whose JSON did not decode, so that the rest of the graph can
    still be analysed (``load_graph(partial=True)``): it keeps where the state said it
    goes, and counts as a way to finish (so nothing is blamed on what is unknown). Never
    part of a graph that runs, and never decoded from JSON (not in ``State``)."""

    targets: list[tuple[str, str]] = []
    """``(field, state)`` of every transition the raw state spelt out."""


class Graph(SubGraph, kw_only=True):
    """The whole ``graph.json``."""

    schema_: str | UnsetType = msgspec.field(default=UNSET, name="$schema")
    comment: str = ""
    max_state_entries: int = DEFAULT_MAX_STATE_ENTRIES
    """How often any one state may be entered in a run: a loop in the graph cannot
    run forever by mistake."""
