"""Every access decision, in one place: may this caller manage that run, call that
tool, see that run's data; and what it sees of a run or of the daemon's status.

The callers are RPC peers (``seqd.rpc.dispatch.Caller``) and runs acting for their
submitters (``seqd.plugins.tools.ToolCaller``); both are a ``Principal``: a uid (None:
the daemon itself) and a role. Methods carry their own least role and the dispatcher
checks it before any handler runs; everything finer is decided here.

``run_view`` is the function anything that shows a run to a caller goes through (RPC
results, and pushed events): a run the caller may not see the data of comes back with
its input, output, error details and idempotency key hidden and ``redacted`` set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from msgspec.structs import replace

from seqd.access.roles import Roles
from seqd.config.settings import DEFAULT_TOOL_ROLES, Config
from seqd.errors import PermissionDenied
from seqd.model.roles import Role, at_least
from seqd.model.runs import Run, RunError
from seqd.rpc.status import StatusResult, StorageInfo

HIDDEN = "hidden: another user's run"
DEFAULT_TOOL_ROLE: Role = "operator"


class Principal(Protocol):
    """Who acts: a uid (None for the daemon itself) and the role it has."""

    @property
    def uid(self) -> int | None: ...

    @property
    def role(self) -> Role: ...


@dataclass(frozen=True)
class Actor:
    uid: int | None
    role: Role


DAEMON = Actor(uid=None, role="admin")
"""The daemon acting on its own (a parent cancelling its children, recovery)."""


class Policy:
    def __init__(self, config: Config, roles: Roles) -> None:
        self.roles = roles
        """Who has which role (peers, and runs' submitters)."""
        self.share_run_data = config.access.share_run_data
        tool_roles = {**DEFAULT_TOOL_ROLES, **config.tools.roles}
        for name in config.tools.admin_only:  # the deprecated spelling of the same rule
            tool_roles[name] = "admin"
        self.tool_roles: Mapping[str, Role] = tool_roles

    # -- runs ------------------------------------------------------------------------

    @staticmethod
    def owns(who: Principal, run: Run) -> bool:
        """Whether ``who`` submitted ``run`` (a run nobody submitted is nobody's)."""
        return who.uid is not None and run.submitted_by == who.uid

    def may_manage(self, who: Principal, run: Run) -> bool:
        """Cancel, signal or retry: admins any run, operators their own."""
        if who.role == "admin":
            return True
        return at_least(who.role, "operator") and self.owns(who, run)

    def check_manage(self, who: Principal, run: Run, verb: str) -> None:
        if not self.may_manage(who, run):
            raise PermissionDenied(
                f"only the user who submitted a run, or an admin, may {verb} it",
                {"id": run.id, "submitted_by": run.submitted_by, "uid": who.uid},
            )

    def sees_data(self, who: Principal, run: Run) -> bool:
        """Whether ``who`` may see ``run``'s input, output, error, logs and journal."""
        if who.role == "admin" or self.owns(who, run):
            return True
        return self.share_run_data and at_least(who.role, "reader")

    def check_data(self, who: Principal, run: Run, what: str) -> None:
        if not self.sees_data(who, run):
            raise PermissionDenied(
                f"the {what} of another user's run are only shown to admins "
                "(access.share_run_data)",
                {"id": run.id, "submitted_by": run.submitted_by, "uid": who.uid},
            )

    def run_view(self, who: Principal, run: Run) -> Run:
        """``run`` as ``who`` may see it."""
        if self.sees_data(who, run):
            return run
        error = run.error
        return replace(
            run,
            input={},
            output=None,
            error=None if error is None else RunError(type=error.type, message=HIDDEN),
            idempotency_key=None,
            redacted=True,
        )

    # -- tools -----------------------------------------------------------------------

    def tool_role(self, name: str) -> Role:
        """The least role that may call tool ``name``: its own entry, else its
        category's (``file.*``), else ``operator``."""
        role = self.tool_roles.get(name)
        if role is None:
            role = self.tool_roles.get(name.split(".", 1)[0] + ".*", DEFAULT_TOOL_ROLE)
        return role

    def check_tool(self, who: Principal, name: str) -> None:
        needed = self.tool_role(name)
        if not at_least(who.role, needed):
            raise PermissionDenied(
                f"tool {name!r} needs the role {needed!r}; the caller has {who.role!r} "
                "(tools.roles)",
                {"tool": name, "uid": who.uid, "role": who.role, "needed": needed},
            )

    # -- the daemon ------------------------------------------------------------------

    @staticmethod
    def status_view(who: Principal, status: StatusResult) -> StatusResult:
        """Where the daemon keeps things is for admins: others see no paths."""
        if who.role == "admin":
            return status
        return replace(
            status,
            socket=None,
            state_dir=None,
            task_dirs=None,
            storage=StorageInfo(name=status.storage.name, location=None),
        )
