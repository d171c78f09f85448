"""The ``python`` task type: ``code.py`` defines ``run(ctx, **inputs)``, sync or async.

Task code never runs in the daemon: runs and signature-derived input schemas go to a
pool of worker processes (``seqd.runtime.workerpool``). The daemon only parses ``code.py`` to
report syntax errors and a missing entry function.
"""

from __future__ import annotations

import ast
import asyncio
import copy
import logging
import os
from collections.abc import Callable
from typing import Any

import msgspec

from seqd import hookimpl
from seqd.builtin.tasks.python.durable import DurableOps
from seqd.config.secrets import SecretRef, Secrets
from seqd.config.settings import ConfigError
from seqd.errors import NotRunnable, Suspended, TaskFailed
from seqd.model.runs import Resources
from seqd.model.tasks import Problem
from seqd.model.traces import run_span_id, trace_of
from seqd.plugins.tasktype import Job, Services, TaskSource, TaskType
from seqd.runtime.taskenv import env_problems, helper_env, task_env
from seqd.runtime.workerpool.calls import OpHandler
from seqd.runtime.workerpool.messages import Execute, SchemaRequest
from seqd.runtime.workerpool.pool import PoolSettings, WorkerPool
from seqd.runtime.workerpool.process import WorkerDied, WorkerProcess

logger = logging.getLogger(__name__)

CODE = "code.py"
SCHEMA_CACHE_SIZE = 1024
STAT_KEYS = ("workers", "busy", "idle", "spawned", "recycled", "crashed", "killed")


class PythonOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A python task's own ``config.json`` fields."""

    entry: str = "run"
    """The function in ``code.py`` to call."""
    env: dict[str, str | SecretRef] = {}
    """Set in ``os.environ`` for the run, on top of ``[task_env] passthrough``; a value
    may be ``{"secret": "<name>"}``."""


def _options(source: TaskSource) -> PythonOptions:
    return source.options if isinstance(source.options, PythonOptions) else PythonOptions()


def _filename(source: TaskSource) -> str:
    return os.path.join(source.dir, CODE)


class PythonTaskType:
    """Runs python tasks in worker processes. ``handlers`` maps ``ctx.call`` operation
    names to ``async def handler(job, args)``: the durable operations
    (``seqd.builtin.tasks.python.durable``) and any a plugin adds, before or after ``start``."""

    name = "python"
    options_type: type[msgspec.Struct] | None = PythonOptions
    defining_files: tuple[str, ...] = (CODE,)

    def __init__(self) -> None:
        self._durable = DurableOps()
        self.handlers: dict[str, OpHandler] = self._durable.handlers()
        self.settings = PoolSettings()
        self._pool: WorkerPool | None = None
        self._max_output_bytes = 1024 * 1024
        self._schemas: dict[tuple[str, str | None, str], asyncio.Future[dict[str, Any]]] = {}
        self._schema_slots: asyncio.Semaphore | None = None
        self._secrets = Secrets()

    # -- catalog -------------------------------------------------------------------

    def check(self, source: TaskSource) -> list[Problem]:
        text = source.files.get(CODE)
        if text is None:
            return [Problem(where=CODE, message="missing: define run(ctx, **inputs) in code.py")]
        entry = _options(source).entry
        try:
            tree = ast.parse(text, filename=_filename(source))
            compile(tree, _filename(source), "exec", dont_inherit=True)
        except SyntaxError as exc:
            where = f"{CODE}:{exc.lineno}" if exc.lineno else CODE
            return [Problem(where=where, message=f"syntax error: {exc.msg}")]
        except ValueError as exc:
            return [Problem(where=CODE, message=f"cannot compile: {exc}")]
        fn = None
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == entry:
                fn = node
        if fn is None:
            return [Problem(where=CODE, message=f"no top-level function named {entry!r}")]
        env = env_problems(_options(source).env, self._secrets)
        if env:
            return env
        args = fn.args
        positional = [*args.posonlyargs, *args.args]
        if not positional:
            return [
                Problem(
                    where=f"{CODE}:{fn.lineno}",
                    message=f"{entry}() must take ctx as its first parameter",
                )
            ]
        if len(args.posonlyargs) > 1:
            name = args.posonlyargs[1].arg
            return [
                Problem(
                    where=f"{CODE}:{fn.lineno}",
                    message=f"parameter {name!r} of {entry}() is positional-only; "
                    "inputs are passed by keyword",
                )
            ]
        return []

    async def input_schema(self, source: TaskSource) -> dict[str, Any] | None:
        """Derive the schema from ``entry``'s signature, in a worker; cached per task
        version. Raises ``NotRunnable`` saying why if it cannot be derived."""
        entry = _options(source).entry
        key = (source.dir, source.version, entry)
        while True:
            fut = self._schemas.get(key)
            if fut is None:
                fut = asyncio.get_running_loop().create_future()
                self._forget_old_schemas()
                self._schemas[key] = fut
                try:
                    schema = await self._derive(source, entry)
                except NotRunnable as exc:
                    if exc.details.get("transient"):
                        del self._schemas[key]  # a timeout or a dead worker: ask again
                    fut.set_exception(exc)  # else cached: this version fails the same way
                    fut.exception()  # retrieved: waiters re-raise it, nobody else must
                    raise
                except BaseException:
                    del self._schemas[key]
                    fut.cancel()  # waiters retry
                    raise
                fut.set_result(schema)
                return copy.deepcopy(schema)
            try:
                return copy.deepcopy(await asyncio.shield(fut))
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if fut.cancelled() and task is not None and not task.cancelling():
                    continue
                raise

    def _forget_old_schemas(self) -> None:
        """Bound the cache: a long-lived daemon sees many versions of edited tasks."""
        if len(self._schemas) < SCHEMA_CACHE_SIZE:
            return
        for key in [k for k, f in self._schemas.items() if f.done()][: SCHEMA_CACHE_SIZE // 4]:
            del self._schemas[key]

    async def _derive(self, source: TaskSource, entry: str) -> dict[str, Any]:
        code = source.files.get(CODE)
        if code is None:
            raise NotRunnable(f"task {source.name!r} has no {CODE}", {"where": CODE})
        slots = self._schema_slots
        if slots is None:
            raise RuntimeError("the python task type is not started")
        req = SchemaRequest(task=source.name, filename=_filename(source), code=code, entry=entry)
        timeout = self.settings.schema_timeout_s
        async with slots:
            worker = await self._acquire()
            reuse = False
            try:
                result = await worker.derive_schema(req, timeout)
                reuse = True
            except TimeoutError:
                raise NotRunnable(
                    f"{CODE} of task {source.name!r} did not load within {timeout}s",
                    {"where": CODE, "transient": True},
                ) from None
            except WorkerDied as died:
                raise NotRunnable(
                    f"{CODE}: {died.message}", {"where": CODE, "transient": True}
                ) from None
            finally:
                worker.end_run()
                self._pool_or_fail().release(worker, reuse=reuse)
        if not result.ok or result.error is not None:
            message = result.error.message if result.error else "unknown error"
            details: dict[str, Any] = {"where": CODE}
            if result.error is not None:
                details.update(result.error.details)
            raise NotRunnable(f"cannot derive the inputs of {entry}(): {message}", details)
        schema = msgspec.json.decode(result.schema)
        if not isinstance(schema, dict):
            raise NotRunnable(f"cannot derive the inputs of {entry}()", {"where": CODE})
        return schema

    # -- lifecycle -----------------------------------------------------------------

    async def start(self, services: Services) -> None:
        raw = services.config.task_types.get(self.name, {})
        try:
            self.settings = msgspec.convert(raw, PoolSettings)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"[task_types.{self.name}]: {exc}") from None
        self._max_output_bytes = services.config.limits.max_input_bytes
        self._durable.max_bytes = self._max_output_bytes
        self._schema_slots = asyncio.Semaphore(max(1, min(services.config.workers, 4)))
        self._secrets = services.secrets
        pool = WorkerPool(
            self.settings,
            max_idle=services.config.workers,
            handlers=self.handlers,
            env=helper_env(services.config.task_env.passthrough),
        )
        try:
            await pool.start()
        except (OSError, WorkerDied) as exc:
            await pool.stop(0)
            raise ConfigError(
                f"[task_types.{self.name}]: cannot start {pool.python!r}: {exc}"
            ) from None
        self._pool = pool

    async def stop(self, grace_s: float) -> None:
        if self._pool is not None:
            await self._pool.stop(grace_s)

    def stats(self) -> dict[str, int]:
        if self._pool is None:
            return dict.fromkeys(STAT_KEYS, 0)
        return self._pool.stats()

    # -- runs ----------------------------------------------------------------------

    async def execute(self, job: Job) -> Any:
        source = job.task
        code = source.files.get(CODE)
        if code is None:
            raise TaskFailed("not_runnable", f"task {source.name!r} has no {CODE}")
        run = job.run
        req = Execute(
            run_id=run.id,
            task=source.name,
            attempt=run.attempt,
            task_dir=source.dir,
            work_dir=job.work_path,
            filename=_filename(source),
            code=code,
            entry=_options(source).entry,
            input=msgspec.json.encode(job.input),
            from_signature=source.config.get("inputs") is None,
            max_output_bytes=self._max_output_bytes,
            trace_id=trace_of(run),
            span_id=run_span_id(run.id),
            root_id=run.root_id or run.id,
            parent_id=run.parent_id,
            env=task_env(_options(source).env, self._secrets),
        )
        pool = self._pool_or_fail()
        worker = await self._acquire()
        reuse = cancelled = False
        try:
            result = await worker.execute(req, job)
            reuse = not result.cancelled
        except WorkerDied as died:
            logger.warning(
                "python worker %d died during run %s of task %s (crashed): %s",
                died.pid, run.id, source.name, died.message,
            )  # fmt: skip
            raise TaskFailed("crashed", died.message, died.details) from None
        except asyncio.CancelledError:
            cancelled = True
            await worker.terminate(self.settings.kill_grace_s)
            raise
        finally:
            worker.end_run()
            pool.release(worker, reuse=reuse, cancelled=cancelled)
        job.set_resources(Resources(cpu_s=result.cpu_s, peak_rss_bytes=result.maxrss_bytes))
        if result.ok:
            return msgspec.json.decode(result.output)
        error = result.error
        if error is None:
            raise TaskFailed("crashed", "the worker reported a failure without details")
        if error.type == "suspended":
            raise _suspended(error.details)
        raise TaskFailed(error.type, error.message, error.details)

    async def _acquire(self) -> WorkerProcess:
        try:
            return await self._pool_or_fail().acquire()
        except OSError as exc:
            raise TaskFailed("crashed", f"cannot start a python worker: {exc}") from None

    def _pool_or_fail(self) -> WorkerPool:
        if self._pool is None:
            raise RuntimeError("the python task type is not started")
        return self._pool


def _suspended(details: dict[str, Any]) -> Suspended:
    """The worker's report of a suspended execution, as the engine expects it."""
    wake_at = details.get("wake_at")
    waiting_for = details.get("waiting_for")
    return Suspended(
        wake_at=float(wake_at) if isinstance(wake_at, int | float) else None,
        waiting_for=waiting_for if isinstance(waiting_for, str) else None,
    )


@hookimpl
def seqd_register_task_types(register: Callable[[TaskType], None]) -> None:
    register(PythonTaskType())
