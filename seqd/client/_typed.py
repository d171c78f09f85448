"""The msgspec codec (``Client()``, ``AsyncClient``): results decoded into the
method's Result Struct from ``seqd.rpc.protocol`` (or the type the caller asks for).

The envelope is decoded first with ``result`` left as raw JSON, so that the result
is decoded once, straight into its type, by a decoder built once per type.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from seqd.client._codec import ABSENT, Message, ProtocolError, WireError, preview
from seqd.model.events import AnyEvent, TopicEvent
from seqd.rpc.protocol import METHODS


class _WireError(msgspec.Struct):
    """Lenient about ``data``, so an odd one is not a crash."""

    code: int
    message: str
    data: Any = None


class _Incoming(msgspec.Struct):
    """Any message a server may send: a response, a notification or a request."""

    jsonrpc: str = "2.0"
    id: int | str | UnsetType | None = UNSET
    result: msgspec.Raw | UnsetType = UNSET
    error: _WireError | UnsetType = UNSET
    method: str | UnsetType = UNSET
    params: Any = None


class TypedCodec:
    """Requests with one msgspec encoder; replies into ``_Incoming``, then results
    into their types."""

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()
        self._incoming = msgspec.json.Decoder(_Incoming | list[_Incoming])
        self._decoders: dict[Any, msgspec.json.Decoder[Any]] = {}

    def encode(self, value: Any) -> bytes:
        return self._encoder.encode(value)

    def decode_line(self, line: bytes) -> list[Message]:
        try:
            decoded = self._incoming.decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ProtocolError(f"not a JSON-RPC message: {exc}: {preview(line)}") from None
        return [_message(m) for m in (decoded if isinstance(decoded, list) else [decoded])]

    def result(self, msg: Message, method: str, result_type: Any) -> Any:
        rtype = result_type_for(method, result_type)
        decoder = self._decoders.get(rtype)
        if decoder is None:
            decoder = self._decoders[rtype] = msgspec.json.Decoder(rtype)
        try:
            return decoder.decode(msg.result)
        except msgspec.ValidationError as exc:
            raise ProtocolError(f"unexpected result for {method}: {exc}") from None

    def event(self, params: Any) -> Any:
        try:
            return msgspec.convert(params, AnyEvent)
        except msgspec.ValidationError:
            pass  # a topic another part of the daemon added: generic
        try:
            return msgspec.convert(params, TopicEvent)
        except msgspec.ValidationError as exc:
            raise ProtocolError(f"not an event: {exc}") from None


CODEC = TypedCodec()


def result_type_for(method: str, result_type: Any = None) -> Any:
    """The type a result decodes into: the one given, else the method's, else Any."""
    if result_type is not None:
        return result_type
    spec = METHODS.get(method)
    return spec.result if spec is not None else Any


def _message(m: _Incoming) -> Message:
    err = m.error
    return Message(
        ABSENT if isinstance(m.id, UnsetType) else m.id,
        ABSENT if isinstance(m.result, UnsetType) else m.result,
        ABSENT if isinstance(err, UnsetType) else WireError(err.code, err.message, err.data),
        ABSENT if isinstance(m.method, UnsetType) else m.method,
        m.params,
    )
