"""seqctl's dashboard commands: ``web token``, ``web tokens``, ``web revoke``.

Results are ``AttrDict``s read through the field names of ``seqd.rpc.tokens``."""

from __future__ import annotations

from seqd.cli.output import short_time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from seqd.cli.output import Out
    from seqd.client import Client


def token(client: Client, args: argparse.Namespace, out: Out) -> int:
    created = client.call("tokens.create", {"ttl_s": int(args.ttl), "label": args.label})

    def as_text(t: Any) -> None:
        out.line(t.token)
        out.error(f"token {t.id} acts as uid {t.uid} until {short_time(t.expires)}")

    out.result(created, as_text)
    return 0


def tokens(client: Client, args: argparse.Namespace, out: Out) -> int:
    found = client.call("tokens.list", {})

    def as_text(result: Any) -> None:
        if not result.tokens:
            out.line("no tokens")
            return
        rows = [(t.id, t.uid, t.label, short_time(t.created), short_time(t.expires))
                for t in result.tokens]  # fmt: skip
        out.table(["id", "uid", "label", "created", "expires"], rows)

    out.result(found, as_text)
    return 0


def revoke(client: Client, args: argparse.Namespace, out: Out) -> int:
    out.result(client.call("tokens.revoke", {"id": args.id}), lambda t: out.line(f"revoked {t.id}"))
    return 0
