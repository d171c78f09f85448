"""Key-value state behind the ``kv.*`` tools: entries, prefix listing, names.

Its own module because this state has its own rules: any JSON value (null is not
absent), keys listed in code point order with pages by ``after``, and namespaces and
keys that are text, never paths.
"""

from __future__ import annotations

import asyncio

import pytest

from seqd.errors import ValidationFailed
from seqd.testing.storage.support import BackendMaker, Cases, opened


class KVCases(Cases):
    """``kv_get``, ``kv_set``, ``kv_delete``, ``kv_namespaces`` and ``kv_list``."""

    def test_kv_set_get_delete(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                assert await b.kv_get("ns", "a") is None
                value = {"n": 1, "list": [1, "two", None], "text": "nul\x00 ü ☃"}
                entry = await b.kv_set("ns", "a", value)
                assert (entry.namespace, entry.key, entry.value) == ("ns", "a", value)
                assert await b.kv_get("ns", "a") == entry
                assert await b.kv_get("other", "a") is None  # namespaces are apart
                null = await b.kv_set("ns", "null", None)  # a stored null is not "absent"
                assert await b.kv_get("ns", "null") == null
                newer = await b.kv_set("ns", "a", 2)
                assert newer.updated_at >= entry.updated_at
                assert (await b.kv_get("ns", "a")) == newer
                assert await b.kv_delete("ns", "a") is True
                assert await b.kv_delete("ns", "a") is False
                assert await b.kv_get("ns", "a") is None
            async with opened(make_backend) as b:  # durable across a reopen
                assert await b.kv_get("ns", "null") == null

        self.run(main())

    def test_kv_list_prefix_and_pages(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                keys = ["a", "a/1", "a/2", "a/10", "a0", "b", "é", "☃/x", "a/\U0001f600"]
                for i, key in enumerate(keys):
                    await b.kv_set("ns", key, i)
                await b.kv_set("elsewhere", "a/1", "x")
                listed = [e.key for e in await b.kv_list("ns")]
                assert listed == sorted(keys)
                under = [e.key for e in await b.kv_list("ns", prefix="a/")]
                assert under == sorted(k for k in keys if k.startswith("a/"))
                # pages by ``after``: every key once, in order
                seen: list[str] = []
                after: str | None = None
                while True:
                    page = await b.kv_list("ns", prefix="a", after=after, limit=2)
                    if not page:
                        break
                    assert len(page) <= 2
                    seen.extend(e.key for e in page)
                    after = page[-1].key
                assert seen == sorted(k for k in keys if k.startswith("a"))
                assert await b.kv_list("ns", prefix="zzz") == []
                assert await b.kv_list("ns", limit=0) == []
                values = {e.key: e.value for e in await b.kv_list("ns")}
                assert values == {k: i for i, k in enumerate(keys)}

        self.run(main())

    def test_kv_namespaces_lists_those_with_keys(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                assert await b.kv_namespaces() == []
                for namespace in ("task/b", "global", "task/a ü", "task/b"):
                    await b.kv_set(namespace, "k", 1)
                await b.kv_set("task/empty", "gone", 1)
                await b.kv_delete("task/empty", "gone")
                assert await b.kv_namespaces() == ["global", "task/a ü", "task/b"]

        self.run(main())

    def test_kv_refuses_bad_names(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:
                for namespace, key in (("", "k"), ("ns", ""), ("ns", "a\x00b"),
                                       ("ns", "x" * 10_000), ("ns", "\ud800")):  # fmt: skip
                    with pytest.raises(ValidationFailed):
                        await b.kv_set(namespace, key, 1)
                    with pytest.raises(ValidationFailed):
                        await b.kv_get(namespace, key)
                # path-like keys are just text
                await b.kv_set("../../etc", "../passwd", "x")
                assert (await b.kv_get("../../etc", "../passwd")) is not None

        self.run(main())

    def test_kv_concurrent_writers(self, make_backend: BackendMaker) -> None:
        async def main() -> None:
            async with opened(make_backend) as b:

                async def writer(w: int) -> None:
                    for i in range(20):
                        await b.kv_set("race", f"k{w}", i)
                        await b.kv_set("race", "shared", [w, i])

                await asyncio.gather(*(writer(w) for w in range(6)))
                for w in range(6):
                    assert (await b.kv_get("race", f"k{w}")).value == 19  # type: ignore[union-attr]
                shared = await b.kv_get("race", "shared")
                assert shared is not None and shared.value[1] == 19
                assert len(await b.kv_list("race", limit=100)) == 7

        self.run(main())
