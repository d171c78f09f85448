"""The tool service: lookup, validation, admin-only tools, rate limits, trace events,
failures as typed errors, and the key-value tools with their cache."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from seqd import hookimpl
from seqd.errors import (
    NotFound,
    PermissionDenied,
    RateLimited,
    ToolFailed,
    ValidationFailed,
)
from seqd.plugins.tools import ToolContext
from seqd.plugins.tracing import ToolCall
from seqd.storage.kvcache import KVCache
from seqd.tools.ratelimit import KeyedBuckets, TokenBucket
from tests.tools.conftest import RPC, USER, Env, run_caller


class Crashy:
    name = "test.crash"
    description = "Raises, or returns what is not JSON."
    params_schema: dict[str, Any] = {
        "type": "object",
        "properties": {"how": {"enum": ["raise", "object", "ok"]}, "token": {"type": "string"}},
        "required": ["how"],
    }
    result_schema: dict[str, Any] = {}

    async def call(self, params: dict[str, Any], ctx: ToolContext) -> Any:
        if params["how"] == "raise":
            raise RuntimeError("boom")
        if params["how"] == "object":
            return object()
        return {"caller": ctx.caller.kind, "roots": sorted(ctx.roots)}


class BadName:
    name = "NotDotted"
    description = "a name the registry refuses to call"
    params_schema: dict[str, Any] = {"type": "object"}
    result_schema: dict[str, Any] = {}

    async def call(self, params: Any, ctx: ToolContext) -> Any:
        return None


class TestPlugin:
    @hookimpl
    def seqd_register_tools(self, register: Any) -> None:
        register(Crashy())
        register(BadName())


def test_lookup_validation_and_failures(env: Env) -> None:
    async def main() -> None:
        async with env.service(plugins={"testtools": TestPlugin()}) as svc:
            with pytest.raises(NotFound) as nf:
                await svc.call("no.such", {}, RPC)
            assert nf.value.details == {"tool": "no.such"}
            with pytest.raises(ValidationFailed) as missing:
                await svc.call("test.crash", {}, RPC)
            assert missing.value.details["field"] == "params.how"
            with pytest.raises(ValidationFailed) as wrong:
                await svc.call("test.crash", {"how": "sideways"}, RPC)
            assert wrong.value.details["field"] == "params.how"
            with pytest.raises(ToolFailed) as crashed:
                await svc.call("test.crash", {"how": "raise"}, RPC)
            assert crashed.value.details == {"tool": "test.crash", "reason": "crashed"}
            with pytest.raises(ToolFailed) as bad:
                await svc.call("test.crash", {"how": "object"}, RPC)
            assert bad.value.details["reason"] == "bad_result"
            with pytest.raises(ToolFailed) as unusable:
                await svc.call("NotDotted", {}, RPC)
            assert unusable.value.details["reason"] == "not_usable"
            info = {t.name: t for t in await svc.list()}
            assert info["NotDotted"].valid is False
            assert info["test.crash"].plugin == "testtools" and info["test.crash"].valid
            assert info["file.read"].params_schema["required"] == ["path"]  # type: ignore[index]
            ok = await svc.call("test.crash", {"how": "ok"}, run_caller())
            assert ok == {"caller": "run", "roots": ["global", "run", "task"]}
            assert await svc.call("test.crash", {"how": "ok"}, RPC) == {
                "caller": "rpc",
                "roots": ["global"],
            }

    env.run(main())


def test_every_call_is_a_trace_event_with_secrets_redacted(env: Env) -> None:
    async def main() -> None:
        async with env.service(plugins={"testtools": TestPlugin()}) as svc:
            await svc.call("test.crash", {"how": "ok", "token": "s3cr3t"}, run_caller())
            with pytest.raises(ToolFailed):
                await svc.call("test.crash", {"how": "raise"}, RPC)
            with pytest.raises(ValidationFailed):
                await svc.call("test.crash", {"how": 1, "x": "y" * 1000}, USER)

    env.run(main())
    calls = [e for e in env.events if isinstance(e, ToolCall)]
    assert [c.outcome for c in calls] == ["ok", "tool_failed", "validation"]
    first = calls[0]
    assert (first.tool, first.caller, first.task) == ("test.crash", "run", "job")
    assert "s3cr3t" not in first.params and '"token":"***"' in first.params
    assert first.duration_s >= 0 and first.error is None
    assert calls[1].error == "RuntimeError: boom" and calls[1].uid == 0
    assert len(calls[2].params) <= 200 and calls[2].uid == USER.uid


def test_tool_roles_over_rpc_and_from_runs(env: Env) -> None:
    """shell.exec, http.request and file.* need an admin by default, whether an RPC
    caller or a run (acting with its submitter's role) calls them; other tools an
    operator. The config moves any tool, or a whole category, to another role."""
    argv = {"argv": ["true"]}

    async def main() -> None:
        async with env.service() as svc:
            for caller in (USER, run_caller(role="operator")):
                for tool, params in (
                    ("shell.exec", argv),
                    ("file.list", {}),
                    ("http.request", {"url": "https://example.com/"}),
                ):
                    with pytest.raises(PermissionDenied) as info:
                        await svc.call(tool, params, caller)
                    assert info.value.details["needed"] == "admin"
                    assert info.value.details["role"] == "operator"
                await svc.call("kv.set", {"key": "k", "value": 1}, caller)
            with pytest.raises(PermissionDenied):
                await svc.call("kv.get", {"key": "k"}, run_caller(role="reader"))
            assert (await svc.call("shell.exec", argv, RPC))["exit_code"] == 0
            assert (await svc.call("shell.exec", argv, run_caller()))["exit_code"] == 0
            assert (await svc.get("file.read")).role == "admin"
            assert (await svc.get("kv.get")).role == "operator"
        roles = {"shell.exec": "operator", "kv.*": "admin"}
        async with env.service(roles=roles, admin_only=["task.run"]) as svc:
            assert (await svc.call("shell.exec", argv, USER))["exit_code"] == 0
            with pytest.raises(PermissionDenied):
                await svc.call("kv.set", {"key": "k", "value": 1}, USER)
            info = await svc.get("task.run")
            assert info.role == "admin" and info.admin_only
            with pytest.raises(PermissionDenied):  # the defaults still hold
                await svc.call("file.list", {}, USER)

    env.run(main())


def test_per_tool_rate_limit(env: Env) -> None:
    async def main() -> None:
        rates = {"kv.get": {"rate_per_s": 2.0, "burst": 3}}
        async with env.service(rates=rates) as svc:
            for _ in range(3):
                await svc.call("kv.get", {"key": "k"}, RPC)
            with pytest.raises(RateLimited) as info:
                await svc.call("kv.get", {"key": "k"}, RPC)
            retry = info.value.details["retry_after"]
            assert 0 < retry <= 0.5 and info.value.details["tool"] == "kv.get"
            await svc.call("kv.set", {"key": "k", "value": 1}, RPC)  # others unaffected
            await asyncio.sleep(retry + 0.05)
            await svc.call("kv.get", {"key": "k"}, RPC)
            state = svc.rate_states()["kv.get"]
            assert state.limited == 1 and state.burst == 3
            assert (await svc.get("kv.get")).rate is not None

    env.run(main())


def test_token_bucket_refills_at_its_rate() -> None:
    now = [100.0]
    bucket = TokenBucket(4.0, 2, clock=lambda: now[0])
    assert bucket.take() == 0 and bucket.take() == 0
    assert bucket.take() == pytest.approx(0.25)
    now[0] += 0.25
    assert bucket.take() == 0
    now[0] += 10
    assert bucket.state().tokens == 2  # capped at burst
    keyed = KeyedBuckets(1.0, 1, clock=lambda: now[0])
    keyed.check(1, "uid 1")
    keyed.check(2, "uid 2")  # buckets are per key
    with pytest.raises(RateLimited) as info:
        keyed.check(1, "uid 1")
    assert info.value.details["retry_after"] == pytest.approx(1.0)
    assert set(keyed.states()) == {"1", "2"}
    with pytest.raises(ValueError):
        TokenBucket(0, 1)


# -- kv --------------------------------------------------------------------------------


def test_kv_namespaces(env: Env) -> None:
    async def main() -> None:
        async with env.service() as svc:
            a, b = run_caller(task="alpha"), run_caller(task="beta")
            await svc.call("kv.set", {"key": "n", "value": 1}, a)
            await svc.call("kv.set", {"key": "n", "value": 2}, b)
            await svc.call("kv.set", {"key": "n", "value": 3, "scope": "global"}, a)
            assert (await svc.call("kv.get", {"key": "n"}, a))["value"] == 1
            assert (await svc.call("kv.get", {"key": "n"}, b))["value"] == 2
            assert (await svc.call("kv.get", {"key": "n"}, RPC))["value"] == 3  # global
            assert (await svc.call("kv.get", {"key": "n", "task": "beta"}, RPC))["value"] == 2
            with pytest.raises(PermissionDenied):
                await svc.call("kv.get", {"key": "n", "task": "beta"}, a)
            with pytest.raises(ValidationFailed) as info:
                await svc.call("kv.get", {"key": "n", "scope": "task"}, RPC)
            assert info.value.details["field"] == "params.task"
            missing = await svc.call("kv.get", {"key": "nothing"}, a)
            assert missing == {"key": "nothing", "found": False, "value": None, "updated_at": None}
            await svc.call("kv.set", {"key": "null", "value": None}, a)
            assert (await svc.call("kv.get", {"key": "null"}, a))["found"] is True
            for i in range(5):
                await svc.call("kv.set", {"key": f"p/{i}", "value": i}, a)
            page = await svc.call("kv.list", {"prefix": "p/", "limit": 2}, a)
            assert [e["key"] for e in page["entries"]] == ["p/0", "p/1"] and page["next"] == "p/1"
            rest = await svc.call("kv.list", {"prefix": "p/", "after": "p/1"}, a)
            assert [e["key"] for e in rest["entries"]] == ["p/2", "p/3", "p/4"]
            assert rest["next"] is None
            assert (await svc.call("kv.delete", {"key": "p/0"}, a))["deleted"] is True
            assert (await svc.call("kv.get", {"key": "p/0"}, a))["found"] is False
            with pytest.raises(ValidationFailed) as big:
                await svc.call("kv.set", {"key": "big", "value": "x" * 2_000_000}, a)
            assert big.value.details["field"] == "params.value"

    env.run(main())


def test_kv_cache_stays_correct_after_writes(env: Env) -> None:
    """Reads are served from the cache, and never stale after an acknowledged write —
    also with reads and writes of one key racing, and past the LRU's size."""

    async def main() -> None:
        async with env.service(kv_cache_entries=8) as svc:
            cache = svc.kv
            storage = cache.storage
            await cache.set("ns", "k", 1)
            before = cache.misses
            assert (await cache.get("ns", "k")).value == 1  # type: ignore[union-attr]
            assert cache.misses == before  # served from memory
            await storage.kv_set("ns", "k", "behind the cache's back")
            assert (await cache.get("ns", "k")).value == 1  # type: ignore[union-attr]
            await cache.set("ns", "k", 2)
            assert (await cache.get("ns", "k")).value == 2  # type: ignore[union-attr]
            assert await cache.delete("ns", "k") is True
            assert await cache.get("ns", "k") is None
            assert await storage.kv_get("ns", "k") is None

            async def reader() -> None:
                for _ in range(50):
                    await cache.get("ns", "race")

            async def writer() -> None:
                for i in range(50):
                    await cache.set("ns", "race", i)
                    got = await cache.get("ns", "race")
                    assert got is not None and got.value == i

            await asyncio.gather(reader(), writer(), reader())
            assert (await cache.get("ns", "race")).value == 49  # type: ignore[union-attr]
            assert (await storage.kv_get("ns", "race")).value == 49  # type: ignore[union-attr]
            for i in range(20):  # past the LRU's size
                await cache.set("ns", f"many{i}", i)
            assert cache.stats()["entries"] <= 8
            for i in range(20):
                assert (await cache.get("ns", f"many{i}")).value == i  # type: ignore[union-attr]

            uncached = KVCache(storage, 0)
            await uncached.set("ns", "z", 1)
            await storage.kv_set("ns", "z", 2)
            assert (await uncached.get("ns", "z")).value == 2  # type: ignore[union-attr]

    env.run(main())


def test_tool_struct_params_reach_the_tool_typed(env: Env) -> None:
    from seqd.builtin.tools.file import ReadParams

    schema = msgspec.json.schema(ReadParams)
    top = schema["$defs"]["ReadParams"]

    async def main() -> None:
        async with env.service() as svc:
            info = await svc.get("file.read")
            assert info.params_schema == top  # the Struct's own schema, not a $ref
            with pytest.raises(ValidationFailed) as bad:
                await svc.call("file.read", {"path": "x", "max_bytes": 0}, RPC)
            assert bad.value.details["field"] == "params.max_bytes"

    env.run(main())
