"""One error tree for the whole daemon.

Handlers and plugins raise these; only the dispatcher turns them into JSON-RPC error
objects (``code``, ``message``, ``data.type``, ``data.details``). Anything else that
escapes a handler becomes a generic -32603 with the traceback in the log only.
"""

from __future__ import annotations

from typing import Any, ClassVar

# Standard JSON-RPC 2.0 codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


class SeqdError(Exception):
    """Base of every error the daemon reports on purpose.

    ``type`` is the stable machine string clients switch on; ``code`` is the JSON-RPC
    code; ``details`` is a JSON-serialisable object with specifics (field, limits...).
    """

    code: ClassVar[int] = -32000
    type: ClassVar[str] = "error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}


class ParseError(SeqdError):
    code = PARSE_ERROR
    type = "parse_error"


class InvalidRequest(SeqdError):
    code = INVALID_REQUEST
    type = "invalid_request"


class MethodNotFound(SeqdError):
    code = METHOD_NOT_FOUND
    type = "method_not_found"


class InvalidParams(SeqdError):
    """Params that do not match the method's type; ``details.field`` names the path."""

    code = INVALID_PARAMS
    type = "validation"


class InternalError(SeqdError):
    code = INTERNAL_ERROR
    type = "internal"


class NotFound(SeqdError):
    code = -32001
    type = "not_found"


class Conflict(SeqdError):
    code = -32002
    type = "conflict"


class ValidationFailed(SeqdError):
    """Well-formed params whose content is wrong (a run input against a task schema)."""

    code = -32003
    type = "validation"


class PermissionDenied(SeqdError):
    code = -32004
    type = "permission_denied"


class RateLimited(SeqdError):
    code = -32005
    type = "rate_limited"


class Timeout(SeqdError):
    code = -32006
    type = "timeout"


class Cancelled(SeqdError):
    code = -32007
    type = "cancelled"


class StorageUnavailable(SeqdError):
    code = -32008
    type = "storage_unavailable"


class NotRunnable(SeqdError):
    """The task exists but its definition is invalid (the details say why)."""

    code = -32009
    type = "not_runnable"


class ShuttingDown(SeqdError):
    code = -32010
    type = "shutting_down"


class PluginError(SeqdError):
    """A plugin misbehaved; the message names the plugin."""

    code = -32011
    type = "plugin_error"


class Suspended(Exception):
    """Raised by a task type's ``execute``: the run waits without holding anything.

    It becomes ``suspended`` and runs again from the start (replaying its journal) when
    ``wake_at`` (epoch seconds) passes, or when what ``waiting_for`` names happens:
    ``signal:<name>`` (``runs.signal`` with that name) or ``run:<id>`` (that run ended).
    """

    def __init__(self, wake_at: float | None = None, waiting_for: str | None = None) -> None:
        super().__init__(f"suspended until {wake_at} / {waiting_for}")
        self.wake_at = wake_at
        self.waiting_for = waiting_for


class ToolFailed(SeqdError):
    """A tool ran and failed (a connection refused, a file that is not there...):
    ``details.tool`` names it and ``details.reason`` says what kind of failure, so a
    run or a flow can record it and branch on it."""

    code = -32012
    type = "tool_failed"


class TaskFailed(Exception):
    """Raised by a task type to end a run as ``failed`` with a typed error.

    Not a SeqdError: it describes the outcome of user work, not a refused request.
    """

    def __init__(self, type: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.type = type
        self.message = message
        self.details: dict[str, Any] = details or {}


ALL_ERRORS: tuple[type[SeqdError], ...] = (
    ParseError,
    InvalidRequest,
    MethodNotFound,
    InvalidParams,
    InternalError,
    NotFound,
    Conflict,
    ValidationFailed,
    PermissionDenied,
    RateLimited,
    Timeout,
    Cancelled,
    StorageUnavailable,
    NotRunnable,
    ShuttingDown,
    PluginError,
    ToolFailed,
)
