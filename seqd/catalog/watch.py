"""Watch the task directories and reload the catalog when a task changes.

Event-driven through inotify (``seqd.catalog.inotify``) on each directory and each task folder;
a burst of changes (an editor's save, a ``git checkout``) is debounced into one reload.
Where inotify is unavailable it falls back to checking every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Sequence

from seqd.catalog import inotify

logger = logging.getLogger(__name__)

ROOT_MASK = (
    inotify.IN_CREATE
    | inotify.IN_DELETE
    | inotify.IN_MOVED_FROM
    | inotify.IN_MOVED_TO
    | inotify.IN_ONLYDIR
)
TASK_MASK = (
    inotify.IN_CLOSE_WRITE
    | inotify.IN_CREATE
    | inotify.IN_DELETE
    | inotify.IN_MOVED_FROM
    | inotify.IN_MOVED_TO
    | inotify.IN_ATTRIB
    | inotify.IN_DELETE_SELF
    | inotify.IN_ONLYDIR
)
FALLBACK_INTERVAL_S = 5.0


def add_watches(
    ino: inotify.Inotify, starts: list[tuple[str, int]], depth: int, strict: bool = False
) -> list[tuple[int, str, int]]:
    """Watch each ``(folder, level)`` of ``starts`` and, above the definitions' depth,
    the folders below it; ``(wd, folder, level)`` of each watch. Blocking (a directory
    walk): run it on a thread. A folder that is gone or unwatchable is skipped, except
    a start when ``strict`` (the caller then falls back to polling)."""
    found: list[tuple[int, str, int]] = []

    def watch(folder: str, level: int, must: bool) -> None:
        mask = ROOT_MASK if level == 0 else TASK_MASK if level >= depth else TASK_MASK | ROOT_MASK
        try:
            found.append((ino.add_watch(folder, mask), folder, level))
        except OSError:
            if must:
                raise
            return
        if level >= depth:
            return
        try:
            names = os.listdir(folder)
        except OSError:
            return
        for name in names:
            below = os.path.join(folder, name)
            if not name.startswith(".") and os.path.isdir(below):
                watch(below, level + 1, False)

    for folder, level in starts:
        if os.path.isdir(folder):
            watch(folder, level, strict)
    return found


class TaskWatcher:
    def __init__(
        self,
        dirs: Sequence[str],
        reload: Callable[[], Awaitable[object]],
        debounce_s: float,
        depth: int = 1,
    ) -> None:
        """``depth``: how deep definitions sit below each directory — 1 for tasks
        (``<dir>/<task>/``), 2 for folder tools (``<dir>/<category>/<name>/``)."""
        self.dirs = list(dirs)
        self.depth = depth
        self._levels: dict[int, tuple[str, int]] = {}
        """Watch descriptor -> (folder, its depth below its directory)."""
        self._reload = reload
        self.debounce_s = debounce_s
        self._inotify: inotify.Inotify | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._fallback: asyncio.Task[None] | None = None
        self._adding: set[asyncio.Task[None]] = set()
        """Watches being added on a thread, for new folders; never cancelled (the
        thread would go on using the inotify descriptor)."""

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._inotify = inotify.Inotify()
            await self._watch([(root, 0) for root in self.dirs], strict=True)
            loop.add_reader(self._inotify.fileno(), self._on_readable)
        except OSError as exc:
            logger.warning(
                "inotify unavailable (%s); checking tasks every %gs", exc, FALLBACK_INTERVAL_S
            )
            if self._inotify is not None:
                self._inotify.close()
            self._inotify = None
            self._fallback = asyncio.ensure_future(self._poll())

    async def _watch(self, starts: list[tuple[str, int]], strict: bool = False) -> None:
        """Watch the folders ``starts`` (each with its depth below its directory) and
        those below them, on a thread (a directory walk); the watches are then known
        on the loop."""
        ino = self._inotify
        if ino is None:
            return
        for wd, folder, level in await asyncio.to_thread(
            add_watches, ino, starts, self.depth, strict
        ):
            self._levels[wd] = (folder, level)

    def _on_readable(self) -> None:
        assert self._inotify is not None
        try:
            events = self._inotify.read_events()
        except OSError:
            return
        relevant = [
            e
            for e in events
            if not (e.name or "").startswith(".")
            and not (e.name or "").endswith((".pyc", "~", ".swp"))
            and e.mask != inotify.IN_IGNORED
        ]
        if not relevant:
            return
        new: list[tuple[str, int]] = []
        for event in relevant:
            if event.mask & inotify.IN_ISDIR and event.mask & (
                inotify.IN_CREATE | inotify.IN_MOVED_TO
            ):
                new.extend(self._new_folder(event.wd, event.name))
        if new:
            task = asyncio.ensure_future(self._watch(new))
            self._adding.add(task)
            task.add_done_callback(self._adding.discard)
        self._arm()

    def _new_folder(self, wd: int, name: str) -> list[tuple[str, int]]:
        """Where a folder just created in the folder of ``wd`` is to be watched."""
        known = self._levels.get(wd)
        if known is None:
            return [(os.path.join(root, name), 1) for root in self.dirs]
        parent, level = known
        return [(os.path.join(parent, name), level + 1)] if level < self.depth else []

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self.debounce_s, self._fire)

    def _fire(self) -> None:
        self._timer = None
        if self._task is not None and not self._task.done():
            self._arm()  # a reload is running; go again once it is done
            return
        self._task = asyncio.ensure_future(self._run_reload())

    async def _run_reload(self) -> None:
        try:
            await self._reload()
        except Exception:
            logger.exception("reloading tasks after a change failed")

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(FALLBACK_INTERVAL_S)
            await self._run_reload()

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        ino, self._inotify = self._inotify, None
        if ino is not None:
            asyncio.get_running_loop().remove_reader(ino.fileno())
            if self._adding:  # a thread may be adding watches to it
                await asyncio.wait(self._adding)
            ino.close()
        for task in (self._task, self._fallback):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
