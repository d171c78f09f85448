"""Work dirs of finished commands, emptied and kept to be renamed into place for later
runs (``SparePool``).

Its own module because reusing a directory safely (only a plain private one of ours,
never following a link the command may have left) is a policy of its own, apart from
starting commands (``seqd.runtime.spawner.launch``). Runs in the spawner process: the
standard library only.
"""

from __future__ import annotations

import os
import stat


class SparePool:
    """Emptied work dirs, kept to be renamed into place for later runs.

    On this project's machines a file or directory created and deleted per run costs
    hundreds of microseconds of kernel time (ext4 scans past recently freed inodes);
    two renames cost a few. A work dir holding only plain files goes to the spare dir
    with its input file kept (the next run writes over it; the same input is in the
    store beside it anyway) and every other file unlinked; one holding directories is
    left to the caller, which removes the whole tree. At most ``MAX_SPARES`` wait;
    past that, dirs are removed. Spares left by an earlier spawner are removed when
    this one first keeps one.
    """

    MAX_SPARES = 64

    def __init__(self) -> None:
        self._free: dict[str, list[str]] = {}
        self._made = 0

    def take(self, work_dir: str, spare_dir: str | None) -> None:
        """Put a private directory at ``work_dir``: a spare, else a new one."""
        free = self._free.get(spare_dir) if spare_dir is not None else None
        while free:
            spare = free.pop()
            try:
                os.rename(spare, work_dir)
                return
            except FileNotFoundError:
                continue  # removed behind our back: try the next one
            except OSError:
                _remove_tree_quietly(spare)
                break
        try:
            os.mkdir(work_dir, 0o700)
        except FileExistsError:
            pass
        except FileNotFoundError:  # the first run: the work root is not there yet
            os.makedirs(work_dir, 0o700, exist_ok=True)

    def put(self, work_dir: str | None, spare_dir: str | None, keep: str | None) -> bool:
        """Empty ``work_dir`` (but for ``keep``) and keep it as a spare, or remove it;
        False if it holds directories or went away — the caller then removes what is
        left."""
        if work_dir is None:
            return False
        free = self._free.setdefault(spare_dir, []) if spare_dir is not None else None
        try:
            # The command may have changed its work dir: only a plain private directory
            # of ours is emptied here (a symlink is never followed) or reused.
            if not _private(os.lstat(work_dir), stat.S_IFDIR, 0o700):
                return False
            spare = free is not None and len(free) < self.MAX_SPARES
            with os.scandir(work_dir) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        return False
                    if not (
                        spare
                        and entry.name == keep
                        and _private(entry.stat(follow_symlinks=False), stat.S_IFREG, 0o600)
                    ):
                        os.unlink(entry.path)
            if free is None or spare_dir is None or not spare:
                os.rmdir(work_dir)
                return True
            if not self._made:
                _remove_tree_quietly(spare_dir)
                os.makedirs(spare_dir, 0o700, exist_ok=True)
            self._made += 1
            target = os.path.join(spare_dir, str(self._made))
            os.rename(work_dir, target)
            free.append(target)
        except OSError:
            return False
        return True


def _private(st: os.stat_result, kind: int, mode: int) -> bool:
    """Of that kind, ours, with exactly that mode and one link: safe to reuse."""
    return (
        stat.S_IFMT(st.st_mode) == kind
        and stat.S_IMODE(st.st_mode) == mode
        and st.st_uid == os.getuid()
        and (kind == stat.S_IFDIR or st.st_nlink == 1)
    )


def _remove_tree_quietly(path: str | None) -> None:
    if path is not None:
        import shutil

        shutil.rmtree(path, ignore_errors=True)
