"""Loading task code and running one request in the worker.

Code arrives as text with its real path: it is compiled with that path (tracebacks
name the file) and its lines are put in ``linecache`` (tracebacks show the version
that ran, not whatever is on disk now). A module is executed once per worker and code
version, then reused by later runs of the same version. Its own module: everything
between a request frame and its result frame; ``main`` only loops.
"""

from __future__ import annotations

import copy
import linecache
import os
import resource
import signal
import sys
import types
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec

from seqd.runtime.worker.channel import CancelGuard, Channel
from seqd.runtime.worker.context import Context, TaskCancelled
from seqd.runtime.worker.durable import Durable, Suspend
from seqd.runtime.worker.replay import Nondeterminism
from seqd.runtime.worker.stdio import LogWriter
from seqd.runtime.workerpool.messages import ErrorInfo, Execute, Result, SchemaRequest, SchemaResult
from seqd.runtime.workerpool.ops import ENCODE_ERRORS

MODULE_CACHE_SIZE = 16


class Failed(Exception):
    """A run failure with its final type and message (no traceback needed)."""

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(info.message)
        self.info = info


def _module_name(task: str) -> str:
    return "seqd_task_" + "".join(c if c.isalnum() else "_" for c in task)


class Runner:
    """Executes requests from the daemon, one at a time, in the main thread."""

    def __init__(self, channel: Channel, guard: CancelGuard, writers: Sequence[LogWriter]) -> None:
        self._channel = channel
        self._guard = guard
        self._writers = writers
        self._modules: dict[tuple[str, str], types.ModuleType] = {}
        self._structs: dict[tuple[str, str, str], type[msgspec.Struct]] = {}
        self._json = msgspec.json.Encoder()
        self._durable: Durable | None = None
        """The durable state of the execution in progress (suspended? diverged?)."""
        self._environ = dict(os.environ)
        """The worker's own environment (the daemon's allowlist): each run starts from
        it plus its task's ``env``, whatever an earlier run set."""

    # -- code loading --------------------------------------------------------------

    def _load(self, task: str, filename: str, code: str) -> types.ModuleType:
        key = (filename, code)
        module = self._modules.get(key)
        if module is not None:
            return module
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        compiled = compile(code, filename, "exec", dont_inherit=True)
        module = types.ModuleType(_module_name(task))
        module.__file__ = filename
        sys.modules[module.__name__] = module
        exec(compiled, module.__dict__)  # noqa: S102 - running task code is the point
        if len(self._modules) >= MODULE_CACHE_SIZE:
            self._modules.pop(next(iter(self._modules)))
        self._modules[key] = module
        return module

    def _entry(self, module: types.ModuleType, entry: str) -> Callable[..., Any]:
        fn = getattr(module, entry, None)
        if not callable(fn):
            raise Failed(
                ErrorInfo(type="exception", message=f"code.py defines no function {entry!r}")
            )
        return fn  # type: ignore[no-any-return]

    def _struct(self, key: tuple[str, str, str], fn: Callable[..., Any]) -> type[msgspec.Struct]:
        struct = self._structs.get(key)
        if struct is None:
            struct = self._structs[key] = input_struct(fn)
        return struct

    # -- requests ------------------------------------------------------------------

    def schema(self, req: SchemaRequest) -> SchemaResult:
        try:
            module = self._load(req.task, req.filename, req.code)
            fn = self._entry(module, req.entry)
            struct = self._struct((req.filename, req.code, req.entry), fn)
            schema = struct_schema(struct)
            return SchemaResult(ok=True, schema=self._json.encode(schema))
        except Failed as exc:
            return SchemaResult(ok=False, error=exc.info)
        except Exception as exc:
            return SchemaResult(ok=False, error=exception_info(exc, req.filename))
        finally:
            self._flush()

    def execute(self, req: Execute) -> Result:
        self_before = resource.getrusage(resource.RUSAGE_SELF)
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        output = b"null"
        error: ErrorInfo | None = None
        cancelled = False
        # Undo what an earlier run may have changed in this process.
        os.environ.clear()
        os.environ.update(self._environ)
        os.environ.update(req.env)
        signal.signal(signal.SIGTERM, self._guard.on_sigterm)
        sys.stdout, sys.stderr = self._writers[0], self._writers[1]
        self._guard.start_run()
        self._durable = None
        try:
            output = self._execute(req)
        except Suspend as exc:
            error = suspended_info(self._durable, exc)
        except Nondeterminism as exc:
            error = ErrorInfo(type="nondeterminism", message=exc.message, details=exc.details)
        except TaskCancelled:
            cancelled = True
            error = ErrorInfo(
                type="crashed",
                message="the worker was terminated (SIGTERM) during the run",
                details={"signal": "SIGTERM"},
            )
        except Failed as exc:
            error = exc.info
        except SystemExit as exc:
            self._guard.end_run()
            self._exit_like(exc)
        except BaseException as exc:
            error = durable_info(self._durable) or exception_info(exc, req.filename)
        finally:
            self._guard.end_run()
            self._durable = None
        self._flush()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (
            usage.ru_utime
            - self_before.ru_utime
            + usage.ru_stime
            - self_before.ru_stime
            + children.ru_utime
            - children_before.ru_utime
            + children.ru_stime
            - children_before.ru_stime
        )
        return Result(
            ok=error is None,
            output=output,
            error=error,
            cancelled=cancelled,
            cpu_s=max(cpu, 0.0),
            maxrss_bytes=usage.ru_maxrss * 1024,
        )

    def _execute(self, req: Execute) -> bytes:
        os.chdir(req.task_dir)
        data = msgspec.json.decode(req.input)
        if not isinstance(data, dict):
            raise Failed(ErrorInfo(type="validation", message="the input must be an object"))
        module = self._load(req.task, req.filename, req.code)
        fn = self._entry(module, req.entry)
        if req.from_signature:
            kwargs = self._convert(fn, (req.filename, req.code, req.entry), data)
        else:
            kwargs = data
            _check_binding(fn, kwargs)
        ctx = Context(
            run_id=req.run_id,
            task=req.task,
            attempt=req.attempt,
            input=data,
            work_dir=req.work_dir,
            task_dir=req.task_dir,
            link=self._channel,
            max_bytes=req.max_output_bytes,
            trace_id=req.trace_id,
            span_id=req.span_id,
            root_id=req.root_id or req.run_id,
            parent_id=req.parent_id,
        )
        self._durable = ctx._durable
        result = fn(ctx, **kwargs)
        if isinstance(result, Awaitable):
            result = run_awaitable(result, self._guard)
        # Task code that swallowed a Suspend or a Nondeterminism (a bare except) still
        # ends the way the durable operation said.
        if ctx._durable.broken is not None:
            raise ctx._durable.broken
        if ctx._durable.suspended is not None:
            raise ctx._durable.suspended
        try:
            encoded = self._json.encode(result)
        except ENCODE_ERRORS as exc:
            raise Failed(
                ErrorInfo(
                    type="invalid_output",
                    message=f"output is not JSON-serialisable: {type(result).__name__}: {exc}",
                )
            ) from None
        if len(encoded) > req.max_output_bytes:
            raise Failed(
                ErrorInfo(
                    type="invalid_output",
                    message=f"output is {len(encoded)} bytes as JSON; the limit is "
                    f"{req.max_output_bytes}",
                )
            )
        return encoded

    def _convert(
        self, fn: Callable[..., Any], key: tuple[str, str, str], data: dict[str, Any]
    ) -> dict[str, Any]:
        struct = self._struct(key, fn)
        try:
            converted = msgspec.convert(data, struct)
        except msgspec.ValidationError as exc:
            raise Failed(ErrorInfo(type="validation", message=f"invalid input: {exc}")) from None
        kwargs = {name: getattr(converted, name) for name in struct.__struct_fields__}
        if not struct.__struct_config__.forbid_unknown_fields:
            kwargs.update((k, v) for k, v in data.items() if k not in kwargs)
        return kwargs

    def _flush(self) -> None:
        for writer in self._writers:
            writer.flush_partial()

    def _exit_like(self, exc: SystemExit) -> None:
        """``sys.exit()`` in task code ends the worker as it would end a script."""
        code = exc.code
        if code is not None and not isinstance(code, int):
            print(code, file=sys.stderr)
            code = 1
        self._flush()
        os._exit(code or 0)


def suspended_info(durable: Durable | None, exc: Suspend) -> ErrorInfo:
    """The report of a suspended execution (the first suspension is the one that
    counts: later durable operations only re-raised it)."""
    first = durable.suspended if durable is not None and durable.suspended else exc
    return ErrorInfo(
        type="suspended",
        message=str(first),
        details={"wake_at": first.wake_at, "waiting_for": first.waiting_for},
    )


def durable_info(durable: Durable | None) -> ErrorInfo | None:
    """Task code that caught a Suspend or Nondeterminism and raised something else
    instead still ends as the durable operation said."""
    if durable is None:
        return None
    if durable.broken is not None:
        broken = durable.broken
        return ErrorInfo(type="nondeterminism", message=broken.message, details=broken.details)
    if durable.suspended is not None:
        return suspended_info(durable, durable.suspended)
    return None


def _check_binding(fn: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    import inspect

    try:
        inspect.signature(fn).bind(None, **kwargs)
    except TypeError as exc:
        raise Failed(
            ErrorInfo(type="validation", message=f"the input does not fit {fn.__name__}(): {exc}")
        ) from None
    except ValueError:
        return  # no signature to check (a builtin); let the call decide


def input_struct(fn: Callable[..., Any]) -> type[msgspec.Struct]:
    """The Struct of ``fn``'s parameters after ``ctx``: annotations (missing ones are
    ``Any``) and defaults kept; unknown keys forbidden unless it takes ``**kwargs``."""
    import inspect

    sig = inspect.signature(fn, eval_str=True)
    params = list(sig.parameters.values())
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if not params or params[0].kind not in positional:
        raise TypeError(f"{fn.__name__}() must take ctx as its first parameter")
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    extra = False
    for p in params[1:]:
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            extra = True
            continue
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        if p.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise TypeError(f"parameter {p.name!r} is positional-only; inputs are keywords")
        annotation = Any if p.annotation is p.empty else p.annotation
        if p.default is p.empty:
            fields.append((p.name, annotation))
        else:
            fields.append((p.name, annotation, _default(p.default)))
    return msgspec.defstruct("Inputs", fields, kw_only=True, forbid_unknown_fields=not extra)


def _default(value: Any) -> Any:
    if isinstance(value, list | dict | set | bytearray) and value:
        return msgspec.field(default_factory=lambda: copy.deepcopy(value))
    return value


def struct_schema(struct: type[msgspec.Struct]) -> dict[str, Any]:
    """The JSON Schema of the inputs, inline at the top (nested types under $defs)."""
    _, components = msgspec.json.schema_components([struct], ref_template="#/$defs/{name}")
    schema = dict(components.pop(struct.__name__))
    schema.pop("title", None)
    if components:
        schema["$defs"] = components
    return schema


def exception_info(exc: BaseException, filename: str) -> ErrorInfo:
    """``exception`` error with the traceback from the first frame in task code."""
    import traceback

    kind = type(exc)
    try:
        message = f"{kind.__name__}: {exc}"
    except Exception:
        message = f"{kind.__name__}: <unprintable>"
    tb = exc.__traceback__
    start = tb
    while start is not None and start.tb_frame.f_code.co_filename != filename:
        start = start.tb_next
    try:
        text = "".join(traceback.format_exception(kind, exc, start or tb))
    except Exception:
        text = "".join(traceback.format_tb(start or tb)) + message + "\n"
    return ErrorInfo(
        type="exception",
        message=message,
        details={"exception": f"{kind.__module__}.{kind.__qualname__}", "traceback": text},
    )


def run_awaitable(awaitable: Awaitable[Any], guard: CancelGuard) -> Any:
    """Run an async task to completion; SIGTERM cancels it (so its ``finally`` blocks
    run inside the loop) and surfaces as ``TaskCancelled``."""
    import asyncio

    by_signal = False

    async def supervise() -> Any:
        nonlocal by_signal
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(awaitable)

        def cancel() -> None:
            nonlocal by_signal
            by_signal = True
            task.cancel()

        loop.add_signal_handler(signal.SIGTERM, cancel)
        try:
            return await task
        finally:
            loop.remove_signal_handler(signal.SIGTERM)

    try:
        return asyncio.run(supervise())
    except asyncio.CancelledError:
        if by_signal:
            raise TaskCancelled("the run was cancelled") from None
        raise
    finally:
        signal.signal(signal.SIGTERM, guard.on_sigterm)
