"""How much each benchmark does: repetitions and a scale factor for counts."""

from __future__ import annotations

import logging

import msgspec

logger = logging.getLogger(__name__)


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    reps: int = 5
    """Repetitions per figure; the reported figure is their median."""
    scale: float = 1.0
    """Multiplies every count (``--quick`` uses a small one to check the bench itself)."""

    def count(self, n: int, minimum: int = 1) -> int:
        return max(minimum, int(n * self.scale))
