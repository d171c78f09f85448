"""``python -m seqd.cli`` is ``seqctl``."""

from __future__ import annotations

from seqd.cli.main import run

if __name__ == "__main__":
    run()
