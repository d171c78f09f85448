"""The standard-library codec (``Client(typed=False)``), which is what ``seqctl`` uses.

Importing msgspec costs ``seqctl`` more than everything else it does (it pulls in
``typing``, ``inspect``, ``decimal``, ``datetime``...), so the CLI decodes with the
standard library's C accelerator instead (``seqd.rpc.strictjson``: ``json`` without its
import of ``re``). JSON objects become :class:`AttrDict`, which reads like the typed
result (``st.storage.name``) and is a plain dict otherwise. Results are not checked
against the method's type; a member the reply lacks is a :class:`MissingField`
(a :class:`ProtocolError`) when it is read.
"""

from __future__ import annotations

from seqd.client._codec import ABSENT, Absent, Message, ProtocolError, WireError, preview
from seqd.rpc import strictjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    _Dict = dict[str, Any]
else:
    _Dict = dict


class MissingField(ProtocolError, AttributeError):
    """A reply lacked a member the caller read: the daemon speaks another version."""


class AttrDict(_Dict):
    """A JSON object whose members read as attributes too: ``st.storage.name`` as
    well as ``st["storage"]["name"]`` and ``st.runs.get("queued")``. Otherwise a
    plain dict: ``json.dumps`` writes it as is."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise MissingField(f"the reply has no field {name!r}") from None


class PlainCodec:
    """Requests and replies as strict compact JSON (UTF-8); JSON objects in replies
    become AttrDicts."""

    def __init__(self) -> None:
        self._decoder = strictjson.Decoder(object_hook=AttrDict)

    def encode(self, value: Any) -> bytes:
        return strictjson.dumps(value, default=_builtins).encode()

    def decode_line(self, line: bytes) -> list[Message]:
        try:
            decoded = self._decoder.loads(line.decode())
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise ProtocolError(f"not a JSON-RPC message: {exc}: {preview(line)}") from None
        items = decoded if isinstance(decoded, list) else [decoded]
        return [_message(item, line) for item in items]

    def result(self, msg: Message, method: str, result_type: Any) -> Any:
        return msg.result

    def event(self, params: Any) -> Any:
        if not isinstance(params, AttrDict) or not isinstance(params.get("topic"), str):
            raise ProtocolError(f"not an event: {params!r:.200}")
        return params


CODEC = PlainCodec()


def _builtins(value: object) -> Any:
    """A msgspec Struct passed as params to a plain client: converted by msgspec, which
    the caller has imported already (it made the Struct)."""
    import msgspec

    return msgspec.to_builtins(value)


def _message(item: Any, line: bytes) -> Message:
    """The same members, with the same types, as the typed codec's ``Incoming``."""
    if not isinstance(item, dict):
        raise _bad(line, f"expected an object, got {type(item).__name__}")
    id = item.get("id", ABSENT)
    if not (id is None or isinstance(id, str | Absent) or _is_int(id)):
        raise _bad(line, "`id` must be an integer, a string or null")
    method = item.get("method", ABSENT)
    if not isinstance(method, str | Absent):
        raise _bad(line, "`method` must be a string")
    if not isinstance(item.get("jsonrpc", ""), str):
        raise _bad(line, "`jsonrpc` must be a string")
    error = item.get("error", ABSENT)
    if not isinstance(error, Absent):
        if not (
            isinstance(error, dict)
            and _is_int(error.get("code"))
            and isinstance(error.get("message"), str)
        ):
            raise _bad(line, "`error` must be an object with an integer code and a message")
        error = WireError(error["code"], error["message"], error.get("data"))
    return Message(id, item.get("result", ABSENT), error, method, item.get("params"))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bad(line: bytes, why: str) -> ProtocolError:
    return ProtocolError(f"not a JSON-RPC message: {why}: {preview(line)}")
