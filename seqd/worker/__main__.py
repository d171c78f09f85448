"""``python -m seqd.worker FD PARENT_PID``: started by ``seqd.workerpool``, not by hand."""

from __future__ import annotations

from seqd.worker.main import main

if __name__ == "__main__":
    main()
