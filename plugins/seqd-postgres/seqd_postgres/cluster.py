"""Multi-node: this daemon as one node of the store (``seqd.plugins.storage.SharedQueue``).

A node writes its row when it joins and renews it by a heartbeat every third of its
lease. It claims queued runs for its free slots; each claimed run carries the node id
and an epoch, which every later write of the run checks (the backend's fencing, with
``fence``). A node whose row ran out of lease is dead: the first node to notice takes
its runs over (a new epoch fences the old holder out) and recovers them as a restart
does. Nodes wake each other with ``NOTIFY`` on one channel per schema, heard on a
connection of its own; when that connection is lost the notes missed are made up for
by a claim and a takeover as soon as it is back, and a slow poll backs everything up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any

import msgspec
import psycopg

from seqd.model.nodes import Node, NodeInfo, Note
from seqd.model.runs import Run, RunChange
from seqd.plugins.storage_kit import sql
from seqd_postgres import cluster_sql as c
from seqd_postgres import transitions
from seqd_postgres.connections import Conn, Connections

logger = logging.getLogger(__name__)

_NOTE = msgspec.json.Decoder(Note)
_INFO = msgspec.json.Decoder(NodeInfo)
_ENCODE = msgspec.json.Encoder()

Reader = Callable[[Callable[[Conn], Awaitable[Any]]], Awaitable[Any]]
Writer = Callable[[str, Any], Awaitable[Any]]


def _text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Cluster:
    """The node's side of the shared queue; ``held`` maps each run it holds to its epoch."""

    def __init__(
        self,
        connections: Connections,
        schema: str,
        read: Reader,
        write: Writer,
        lease_s: float,
    ) -> None:
        self.connections = connections
        self.channel = f"seqd_{schema}"[:63]
        self.node_id = ""
        self.lease_s = lease_s
        self.held: dict[str, int] = {}
        self.nodes_alive = 1
        """Nodes whose lease runs, as of the last heartbeat."""
        self._read = read
        self._write = write
        self._info: NodeInfo | None = None
        self._on_note: Callable[[Note], None] = lambda _note: None
        self._tasks: list[asyncio.Task[None]] = []
        self._unsure = False
        self._room: Callable[[str], int] = lambda _task: 0
        self._fresh: set[str] = set()
        """Runs inserted held by this node that its engine has not taken yet."""
        """A claim or takeover failed without an answer: it may have committed, so runs
        may be held here unknown to this node (``take_over`` finds them)."""

    # -- joining and leaving -------------------------------------------------------------

    async def join(self, info: NodeInfo, on_note: Callable[[Note], None]) -> None:
        self._info, self._on_note, self.node_id = info, on_note, info.id
        await self._expire_gone(info.host)
        await self._write(c.JOIN, (info.id, _ENCODE.encode(info).decode(), self.lease_s))
        self.nodes_alive = int((await self._read(self._beat))[2])
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._heartbeat(), name="seqd-postgres-heartbeat"),
            loop.create_task(self._listen(), name="seqd-postgres-listen"),
        ]
        logger.info("joined the cluster as node %s (lease %gs)", info.id, self.lease_s)

    async def _expire_gone(self, host: str) -> None:
        """End at once the lease of nodes on this host whose process is gone (this
        daemon's earlier life, mostly): their runs need not wait out the lease."""

        async def rows(conn: Conn) -> list[tuple[Any, ...]]:
            return await (await conn.execute(c.NODE_ROWS)).fetchall()

        gone = []
        for node_id, data in await self._read(rows):
            info = _INFO.decode(data)
            if info.host == host and _pid_gone(info.pid):
                gone.append(node_id)
        if gone:
            await self._write(c.EXPIRE, (gone,))
            logger.info("nodes of this host whose process is gone: %s", ", ".join(gone))

    async def leave(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if not self.node_id:
            return
        await self._write(c.GIVE_BACK, (self.node_id,))
        await self._write(c.EXPIRE, ([self.node_id],))
        await self.notify(Note(kind="dead"))
        await self.notify(Note(kind="queued"))

    # -- leases ------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                row = await self._read(self._beat)
            except Exception as exc:  # an outage: fencing keeps the runs safe meanwhile
                logger.warning("heartbeat of node %s failed: %s", self.node_id, exc)
                continue
            mine, dead, self.nodes_alive = int(row[0]), int(row[1]), int(row[2])
            with contextlib.suppress(Exception):  # the next heartbeat prunes instead
                await self._read(transitions.prune)
            if not mine:
                await self._lost()
            if dead:
                self._on_note(Note(kind="dead"))

    async def _beat(self, conn: Conn) -> tuple[Any, ...]:
        row = await (await conn.execute(c.HEARTBEAT, (self.lease_s, self.node_id))).fetchone()
        assert row is not None
        return row

    async def _lost(self) -> None:
        """Another node took this one's runs over (it was paused or cut off past its
        lease): they are gone from here; join again, as a new holder of nothing."""
        logger.error(
            "node %s lost its lease: its runs were taken over by other nodes", self.node_id
        )
        self.held.clear()
        self._on_note(Note(kind="lost"))
        await self._write(c.JOIN, (self.node_id, _ENCODE.encode(self._info).decode(), self.lease_s))

    async def transitions(self, after: int, limit: int) -> list[RunChange]:
        return await self._read(partial(transitions.read, after=after, limit=limit))  # type: ignore[no-any-return]

    # -- claims --------------------------------------------------------------------------

    async def claim(self, limit: int, limits: Mapping[str, int]) -> list[Run]:
        if limit < 1:
            return []
        params = {"node": self.node_id, "limited": list(limits), "n": limit}

        async def unlimited(conn: Conn) -> list[tuple[Any, ...]]:
            return await (await conn.execute(c.CLAIM, params)).fetchall()

        try:
            rows = await self._read(unlimited)
            for task, most in limits.items():
                if len(rows) >= limit:
                    break
                free = limit - len(rows)
                rows += await self._read(partial(self._claim_task, task=task, most=most, free=free))
        except BaseException:
            self._unsure = True
            raise
        return self._hold(rows)

    async def _claim_task(
        self, conn: Conn, task: str, most: int, free: int
    ) -> list[tuple[Any, ...]]:
        """At most ``free`` runs of ``task`` (this node's slots left), and no more than
        leave fewer than ``most`` held cluster-wide."""
        async with conn.transaction():
            await conn.execute(c.TASK_LOCK, (c.TASK_LOCK_CLASS, task))
            held = await (await conn.execute(c.TASK_HELD, (task,))).fetchone()
            room = min(free, most - int(held[0] if held else 0))
            if room <= 0:
                return []
            params = {"node": self.node_id, "task": task, "n": room}
            return await (await conn.execute(c.CLAIM_TASK, params)).fetchall()

    async def take_over(self) -> list[Run]:
        async def take(conn: Conn) -> list[tuple[Any, ...]]:
            return await (await conn.execute(c.TAKE_OVER, {"node": self.node_id})).fetchall()

        async def unknown(conn: Conn) -> list[tuple[Any, ...]]:
            params = (self.node_id, list(self.held))
            return await (await conn.execute(c.HELD_UNKNOWN, params)).fetchall()

        try:
            rows = await self._read(take)
            if self._unsure:
                rows += await self._read(unknown)
                self._unsure = False
        except BaseException:
            self._unsure = True
            raise
        runs = self._hold(rows)
        if runs:
            logger.warning("node %s took over %d run(s) of dead nodes", self.node_id, len(runs))
        return runs

    def _hold(self, rows: list[tuple[Any, ...]]) -> list[Run]:
        """The runs of a claim or takeover, now held, in the order they are to start
        (``RETURNING`` has none): highest priority first, then the oldest."""
        runs = []
        for data, epoch in rows:
            run = sql.RUN_DECODER.decode(data)
            self.held[run.id] = int(epoch)
            runs.append(run)
        return sorted(runs, key=lambda run: (-run.priority, run.id))

    def offer(self, room: Callable[[str], int]) -> None:
        self._room = room

    def wants_new(self, task: str) -> bool:
        return self._room(task) - len(self._fresh) > 0

    def fresh(self, run_id: str) -> None:
        """``run_id`` was inserted held by this node, under epoch 1."""
        self.held[run_id] = 1
        self._fresh.add(run_id)

    def take_fresh(self, run_id: str) -> bool:
        if run_id in self._fresh:
            self._fresh.discard(run_id)
            return True
        return False

    def holds(self, run_id: str) -> bool:
        return run_id in self.held

    def release(self, run_id: str) -> None:
        self.held.pop(run_id, None)

    def fence(self, run_id: str) -> tuple[str, int] | None:
        """The lease a write of ``run_id`` must still hold: None for a run this node
        does not hold (a signal to a run elsewhere, a cancel of a queued run)."""
        epoch = self.held.get(run_id)
        return None if epoch is None else (self.node_id, epoch)

    # -- notes ---------------------------------------------------------------------------

    async def notify(self, note: Note) -> None:
        await self._write(c.NOTIFY, (self.channel, _ENCODE.encode(note).decode()))

    async def _listen(self) -> None:
        delay = 0.2
        while True:
            conn: Conn | None = None
            try:
                conn = await self.connections.connect()
                await conn.execute(f'LISTEN "{self.channel}"')
                delay = 0.2
                # Notes sent while nobody listened are made up for: claim, take over.
                self._on_note(Note(kind="queued"))
                self._on_note(Note(kind="dead"))
                async for message in conn.notifies():
                    try:
                        note = _NOTE.decode(message.payload)
                    except msgspec.DecodeError:
                        logger.warning("a note that is not seqd's on %s", self.channel)
                        continue
                    self._on_note(note)
            except (psycopg.Error, OSError) as exc:
                logger.warning("listening for other nodes failed: %s; again soon", exc)
            finally:
                if conn is not None:
                    with contextlib.suppress(psycopg.Error, OSError):
                        await conn.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def nodes(self) -> list[Node]:
        async def rows(conn: Conn) -> list[tuple[Any, ...]]:
            return await (await conn.execute(c.LIST_NODES)).fetchall()

        return [
            Node(
                info=_INFO.decode(data),
                heartbeat_at=_text(beat),
                expires_at=_text(expires),
                alive=bool(alive),
                runs_held=int(held),
            )
            for data, beat, expires, alive, held in await self._read(rows)
        ]
