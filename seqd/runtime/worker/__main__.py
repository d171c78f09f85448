"""``python -m seqd.runtime.worker FD PARENT_PID``: started by
``seqd.runtime.workerpool``, not by hand."""

from __future__ import annotations

from seqd.runtime.worker.main import main

if __name__ == "__main__":
    main()
