"""Shell tasks' metrics: a stdout line ``::metric [KIND] NAME=VALUE [LABEL=VALUE ...]``
records a sample of a task metric instead of going to the run's log.

``KIND`` is ``counter`` (the default: VALUE is added), ``gauge`` (set) or
``histogram`` (observed); label values are single words (no spaces). A line that
starts with ``::metric`` but cannot be read is logged with a system line saying why,
so a typo shows in ``seqctl runs logs``. Lines past the run's log cap are dropped
unread, metric lines included.

Its own module because it is a small language of its own between shell commands and
the daemon: the format, its parsing and the sink that applies it.
"""

from __future__ import annotations

from seqd.model.metrics import KINDS, metric_problem
from seqd.model.runs import LogStream
from seqd.plugins.tasktype import Job

PREFIX = "::metric"

Sample = tuple[str, float, str, dict[str, str]]


def parse_metric_line(text: str) -> Sample | str:
    """The sample on a ``::metric`` line, or why it is not one."""
    words = text.split()
    if not words or words[0] != PREFIX:
        return f"a metric line starts with {PREFIX!r} and a space"
    words = words[1:]
    kind = "counter"
    if words and words[0] in KINDS:
        kind, words = words[0], words[1:]
    if not words or "=" not in words[0]:
        return "expected NAME=VALUE after ::metric [KIND]"
    name, _, number = words[0].partition("=")
    try:
        value = float(number)
    except ValueError:
        return f"{number!r} is not a number"
    labels: dict[str, str] = {}
    for word in words[1:]:
        label, sep, label_value = word.partition("=")
        if not sep:
            return f"{word!r}: labels are LABEL=VALUE"
        labels[label] = label_value
    problem = metric_problem(name, value, kind, labels)
    return problem if problem is not None else (name, value, kind, labels)


class MetricSink:
    """A command's output sink: ``::metric`` lines on stdout become samples of the
    job's metrics, every other line goes to the job's log."""

    def __init__(self, job: Job) -> None:
        self._job = job

    def log(self, stream: LogStream, text: str) -> None:
        if stream == "stdout" and text.startswith(PREFIX):
            sample = parse_metric_line(text)
            if isinstance(sample, str):
                self._job.log(stream, text)
                self._job.log("system", f"not a metric line: {sample}")
            else:
                self._job.metric(*sample)
            return
        self._job.log(stream, text)

    @property
    def log_full(self) -> bool:
        return self._job.log_full

    async def wait_logged(self, backlog_bytes: int = 1 << 20) -> None:
        await self._job.wait_logged(backlog_bytes)
