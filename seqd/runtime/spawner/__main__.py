"""``python -m seqd.runtime.spawner FD PARENT_PID``: started by the daemon, not by hand."""

from __future__ import annotations

from seqd.runtime.spawner.server import main

if __name__ == "__main__":
    main()
