"""The built-in ``file.*`` tools: read, write, list and delete files inside a scope.

Scopes (``params.scope``): ``run`` — the calling run's scratch dir
(``<state_dir>/work/<run id>``, removed with the run); ``task`` — a folder kept per
task (``<tools.files_dir>/tasks/<task>``); ``global`` — one shared folder
(``<tools.files_dir>/global``). A run may use all three (default ``run``); an RPC
caller only ``global`` (``tools.rpc_file_access``). Every path goes through
``seqd.runtime.confine``: checked on its resolved real path, then opened without following
symlinks. All file I/O runs on a thread.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import stat
from collections.abc import Callable
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from seqd import hookimpl
from seqd.errors import ToolFailed, ValidationFailed
from seqd.plugins.tools import Tool, ToolContext
from seqd.runtime.confine import error_of, parent_fd, resolve, root_for

Path = Annotated[str, Meta(min_length=1, max_length=4096, description="relative to the scope")]
ScopeName = Literal["run", "task", "global"]
Encoding = Literal["utf-8", "base64"]
_FILE = os.O_NOFOLLOW | os.O_CLOEXEC


class _P(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    scope: ScopeName | UnsetType = UNSET
    """Default: ``run`` for a run, ``global`` over RPC."""


class ReadParams(_P, kw_only=True):
    path: Path
    encoding: Encoding = "utf-8"
    max_bytes: Annotated[int, Meta(ge=1)] | None = None
    """Default and upper bound: ``tools.file_max_bytes``."""


class ReadResult(msgspec.Struct, kw_only=True):
    path: str
    content: str
    encoding: Encoding
    size: int
    truncated: bool


class WriteParams(_P, kw_only=True):
    path: Path
    content: str
    encoding: Encoding = "utf-8"
    append: bool = False
    make_dirs: bool = True
    """Create missing folders on the way (inside the scope)."""


class WriteResult(msgspec.Struct, kw_only=True):
    path: str
    size: int
    """Bytes written by this call."""


class ListParams(_P, kw_only=True):
    path: Annotated[str, Meta(max_length=4096)] = "."


class ListEntry(msgspec.Struct, kw_only=True):
    name: str
    type: Literal["file", "dir", "symlink", "other"]
    size: int


class ListResult(msgspec.Struct, kw_only=True):
    path: str
    entries: list[ListEntry]


class DeleteParams(_P, kw_only=True):
    path: Path


class DeleteResult(msgspec.Struct, kw_only=True):
    path: str
    deleted: bool
    """False when there was nothing to delete."""


def _scope(params: _P, ctx: ToolContext) -> str:
    return ctx.default_scope if isinstance(params.scope, UnsetType) else params.scope


# -- the blocking halves (on a thread) -------------------------------------------------


def _read(root: str, path: str, limit: int, tool: str) -> tuple[bytes, int]:
    real_root, parts = resolve(root, path, tool)
    if not parts:
        raise ToolFailed(f"{tool}: {path!r} is a directory", {"reason": "is_a_directory"})
    with parent_fd(real_root, parts, tool, path) as dir_fd:
        fd = os.open(parts[-1], os.O_RDONLY | _FILE, dir_fd=dir_fd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise ToolFailed(f"{tool}: {path!r} is not a regular file", {"reason": "not_file"})
            chunks: list[bytes] = []
            left = limit
            while left > 0:
                chunk = os.read(fd, min(left, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks), st.st_size
        finally:
            os.close(fd)


def _write(root: str, path: str, data: bytes, append: bool, make_dirs: bool, tool: str) -> None:
    real_root, parts = resolve(root, path, tool)
    if not parts:
        raise ToolFailed(f"{tool}: {path!r} is a directory", {"reason": "is_a_directory"})
    with parent_fd(real_root, parts, tool, path, create=make_dirs) as dir_fd:
        mode = os.O_APPEND if append else os.O_TRUNC
        fd = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | mode | _FILE, 0o640, dir_fd=dir_fd)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ToolFailed(f"{tool}: {path!r} is not a regular file", {"reason": "not_file"})
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)


def _kind(mode: int) -> Literal["file", "dir", "symlink", "other"]:
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else "other"


def _list(root: str, path: str, tool: str) -> list[ListEntry]:
    real_root, parts = resolve(root, path, tool)
    with parent_fd(real_root, [*parts, "."], tool, path) as fd:
        entries: list[ListEntry] = []
        for name in sorted(os.listdir(fd)):
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            entries.append(ListEntry(name=name, type=_kind(st.st_mode), size=st.st_size))
        return entries


def _delete(root: str, path: str, tool: str) -> bool:
    real_root, parts = resolve(root, path, tool)
    if not parts:
        raise ValidationFailed(f"{tool}: cannot delete the scope's root", {"field": "params.path"})
    with parent_fd(real_root, parts, tool, path) as dir_fd:
        try:
            st = os.stat(parts[-1], dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            os.rmdir(parts[-1], dir_fd=dir_fd)
        else:
            os.unlink(parts[-1], dir_fd=dir_fd)  # a symlink itself, never its target
        return True


async def _off_loop(fn: Callable[..., Any], tool: str, path: str, *args: Any) -> Any:
    try:
        return await asyncio.to_thread(fn, *args)
    except FileNotFoundError as exc:
        raise error_of(tool, path, exc) from None
    except OSError as exc:
        raise error_of(tool, path, exc) from None


# -- the tools -------------------------------------------------------------------------


class FileRead:
    name = "file.read"
    description = "Read a file inside a scope (text or base64), size-capped."
    params_schema = ReadParams
    result_schema = ReadResult

    async def call(self, params: ReadParams, ctx: ToolContext) -> ReadResult:
        cap = ctx.config.tools.file_max_bytes
        limit = min(params.max_bytes or cap, cap)
        root = root_for(ctx.roots, _scope(params, ctx), self.name)
        data, size = await _off_loop(_read, self.name, params.path, root, params.path, limit,
                                     self.name)  # fmt: skip
        if params.encoding == "base64":
            content = base64.b64encode(data).decode()
        else:
            try:
                content = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                if size > limit and exc.start >= len(data) - 3:  # cut inside a character
                    content = data[: exc.start].decode("utf-8")
                else:
                    raise ToolFailed(
                        f'{self.name}: {params.path!r} is not UTF-8 text; use encoding "base64"',
                        {"reason": "not_text", "path": params.path},
                    ) from None
        return ReadResult(path=params.path, content=content, encoding=params.encoding,
                          size=size, truncated=size > len(data))  # fmt: skip


class FileWrite:
    name = "file.write"
    description = "Write (or append to) a file inside a scope."
    params_schema = WriteParams
    result_schema = WriteResult

    async def call(self, params: WriteParams, ctx: ToolContext) -> WriteResult:
        if params.encoding == "base64":
            try:
                data = base64.b64decode(params.content, validate=True)
            except (binascii.Error, ValueError):
                raise ValidationFailed(
                    f"{self.name}: content is not valid base64", {"field": "params.content"}
                ) from None
        else:
            data = params.content.encode("utf-8", "surrogatepass")
        cap = ctx.config.tools.file_max_bytes
        if len(data) > cap:
            raise ValidationFailed(
                f"{self.name}: content is {len(data)} bytes; the limit is {cap}",
                {"field": "params.content", "limit": cap},
            )
        root = root_for(ctx.roots, _scope(params, ctx), self.name)
        await _off_loop(_write, self.name, params.path, root, params.path, data, params.append,
                        params.make_dirs, self.name)  # fmt: skip
        return WriteResult(path=params.path, size=len(data))


class FileList:
    name = "file.list"
    description = "List a folder inside a scope (symlinks are shown, not followed)."
    params_schema = ListParams
    result_schema = ListResult

    async def call(self, params: ListParams, ctx: ToolContext) -> ListResult:
        root = root_for(ctx.roots, _scope(params, ctx), self.name)
        entries = await _off_loop(_list, self.name, params.path, root, params.path, self.name)
        return ListResult(path=params.path, entries=entries)


class FileDelete:
    name = "file.delete"
    description = "Delete a file, a symlink or an empty folder inside a scope."
    params_schema = DeleteParams
    result_schema = DeleteResult

    async def call(self, params: DeleteParams, ctx: ToolContext) -> DeleteResult:
        root = root_for(ctx.roots, _scope(params, ctx), self.name)
        deleted = await _off_loop(_delete, self.name, params.path, root, params.path, self.name)
        return DeleteResult(path=params.path, deleted=deleted)


@hookimpl
def seqd_register_tools(register: Callable[[Tool], None]) -> None:
    for tool in (FileRead(), FileWrite(), FileList(), FileDelete()):
        register(tool)
