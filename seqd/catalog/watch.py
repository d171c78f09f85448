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

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._inotify = inotify.Inotify()
            self._add_watches()
            loop.add_reader(self._inotify.fileno(), self._on_readable)
        except OSError as exc:
            logger.warning(
                "inotify unavailable (%s); checking tasks every %gs", exc, FALLBACK_INTERVAL_S
            )
            self._inotify = None
            self._fallback = asyncio.ensure_future(self._poll())

    def _add_watches(self) -> None:
        assert self._inotify is not None
        for root in self.dirs:
            if not os.path.isdir(root):
                continue
            self._levels[self._inotify.add_watch(root, ROOT_MASK)] = (root, 0)
            self._watch_below(root, 1)

    def _watch_below(self, parent: str, level: int) -> None:
        """Watch the folders of ``parent`` (at ``level``) and, above the definitions'
        depth, their folders too."""
        assert self._inotify is not None
        try:
            names = os.listdir(parent)
        except OSError:
            return
        for name in names:
            folder = os.path.join(parent, name)
            if os.path.isdir(folder) and not name.startswith("."):
                self._watch_folder(folder, level)

    def _watch_folder(self, folder: str, level: int) -> None:
        assert self._inotify is not None
        mask = TASK_MASK if level >= self.depth else TASK_MASK | ROOT_MASK
        with contextlib.suppress(OSError):
            self._levels[self._inotify.add_watch(folder, mask)] = (folder, level)
        if level < self.depth:
            self._watch_below(folder, level + 1)

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
        for event in relevant:
            if event.mask & inotify.IN_ISDIR and event.mask & (
                inotify.IN_CREATE | inotify.IN_MOVED_TO
            ):
                self._watch_new_folder(event.wd, event.name)
        self._arm()

    def _watch_new_folder(self, wd: int, name: str) -> None:
        known = self._levels.get(wd)
        if known is not None and self._inotify is not None:
            parent, level = known
            if level < self.depth and os.path.isdir(os.path.join(parent, name)):
                self._watch_folder(os.path.join(parent, name), level + 1)
            return
        for root in self.dirs:
            folder = os.path.join(root, name)
            if os.path.isdir(folder) and self._inotify is not None:
                with contextlib.suppress(OSError):
                    self._inotify.add_watch(folder, TASK_MASK)

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
        if self._inotify is not None:
            asyncio.get_running_loop().remove_reader(self._inotify.fileno())
            self._inotify.close()
            self._inotify = None
        for task in (self._task, self._fallback):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
