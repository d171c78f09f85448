"""Path confinement for the ``file.*`` and ``shell.exec`` tools.

A path from params is relative to a scope's root. It is checked twice:

1. **resolved**: ``os.path.realpath(root/path)`` must stay under the root's real path
   (``os.path.commonpath``), so ``..``, absolute paths and symlinks anywhere in the
   path cannot lead out — the error says where it would have led;
2. **opened**: the resolved path is then opened one component at a time from a
   descriptor of the root, each with ``O_NOFOLLOW`` (``openat``). A symlink swapped in
   after the check, at any depth, makes the open fail instead of being followed.

The blocking calls here run on a worker thread (the tools call them through
``asyncio.to_thread``). Its own module because the file tools and ``shell.exec`` both
confine paths, and must do it the same way.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager

from seqd.errors import PermissionDenied, ToolFailed, ValidationFailed

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def root_for(roots: dict[str, str], scope: str, tool: str) -> str:
    root = roots.get(scope)
    if root is None:
        open_ = ", ".join(sorted(roots)) or "none"
        raise PermissionDenied(
            f"{tool}: scope {scope!r} is not open to this caller (open: {open_})",
            {"field": "params.scope", "scope": scope},
        )
    return root


def resolve(root: str, path: str, tool: str) -> tuple[str, list[str]]:
    """(real root, components of the resolved path below it); raises if it escapes."""
    if "\0" in path:
        raise ValidationFailed(f"{tool}: path contains NUL", {"field": "params.path"})
    if os.path.isabs(path):
        raise PermissionDenied(
            f"{tool}: path {path!r} is absolute; paths are relative to the scope's root",
            {"field": "params.path", "path": path},
        )
    os.makedirs(root, mode=0o750, exist_ok=True)
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, path))
    if os.path.commonpath([real_root, real]) != real_root:
        raise PermissionDenied(
            f"{tool}: path {path!r} leads outside its scope (to {real})",
            {"field": "params.path", "path": path},
        )
    rel = os.path.relpath(real, real_root)
    parts = [] if rel == "." else rel.split(os.sep)
    return real_root, parts


def _os_error(tool: str, path: str, exc: OSError) -> Exception:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR) and isinstance(exc, OSError):
        return PermissionDenied(
            f"{tool}: {path!r} changed under us or holds a symlink where a folder should "
            f"be ({os.strerror(exc.errno or 0)}); refused",
            {"field": "params.path", "path": path},
        )
    reason = {
        errno.ENOENT: "not_found",
        errno.EEXIST: "exists",
        errno.EISDIR: "is_a_directory",
        errno.ENOTEMPTY: "not_empty",
        errno.EACCES: "permission",
        errno.ENOSPC: "no_space",
    }.get(exc.errno or 0, "os_error")
    return ToolFailed(
        f"{tool}: {path!r}: {exc.strerror or exc}",
        {"tool": tool, "reason": reason, "path": path},
    )


@contextmanager
def parent_fd(
    root: str, parts: list[str], tool: str, path: str, create: bool = False
) -> Iterator[int]:
    """A descriptor of the folder holding ``parts[-1]`` (of the root itself for no
    parts), reached with ``O_NOFOLLOW`` at every step; ``create`` makes missing folders."""
    try:
        fd = os.open(root, _DIR_FLAGS)
    except OSError as exc:
        raise _os_error(tool, path, exc) from None
    try:
        for part in parts[:-1]:
            try:
                next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                try:
                    os.mkdir(part, 0o750, dir_fd=fd)
                except FileExistsError:
                    pass
                next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        yield fd
    except OSError as exc:
        raise _os_error(tool, path, exc) from None
    finally:
        os.close(fd)


def error_of(tool: str, path: str, exc: OSError) -> Exception:
    """An ``OSError`` from an operation on a confined path as the error callers see."""
    return _os_error(tool, path, exc)
