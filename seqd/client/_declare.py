"""How a method's steps become a method of both clients: :func:`unary` (one value)
and :func:`stream` (items to iterate), and :func:`params_from` for methods that share
their parameters.

Its own module because this is type-level machinery apart from what a call does
(``_calls``). At run time :func:`unary` and :func:`stream` make plain functions, bound
to the client like any method; the function calls the client's driver (``_unary`` or
``_stream``) with the steps. For the type checker they are descriptors whose
``__get__`` gives the method's signature with a value on ``Client`` and an awaitable or
an async iterator on ``AsyncClient``. Imports neither msgspec nor ``typing`` at run
time: it is on ``seqctl``'s start-up path.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterator
    from typing import (
        Any,
        Concatenate,
        Generic,
        ParamSpec,
        Protocol,
        Self,
        TypeAlias,
        TypeVar,
        overload,
    )

    from seqd.client._calls import Exchange

    P = ParamSpec("P")
    T = TypeVar("T")
    R = TypeVar("R")


# -- steps -----------------------------------------------------------------------------
# For the type checker, unary and stream are descriptors typed by the client they are
# read from; at run time, decorators that make a plain function (see _method).

if TYPE_CHECKING:
    Steps: TypeAlias = Generator[Exchange, Any, T]
    """A unary method's steps: they yield exchanges and return the method's value."""
    Stream: TypeAlias = Generator[Exchange | T, Any, None]
    """A stream method's steps: they yield exchanges and the items of the stream."""

    class Blocking(Protocol):
        """The sync client's drivers."""

        def _unary(self, steps: Steps[T], /) -> T: ...
        def _stream(self, steps: Stream[T], /) -> Iterator[T]: ...

    class Awaiting(Protocol):
        """The asyncio client's drivers."""

        def _unary(self, steps: Steps[T], /) -> Coroutine[Any, Any, T]: ...
        def _stream(self, steps: Stream[T], /) -> AsyncIterator[T]: ...

    class unary(Generic[P, T]):
        """A method that returns one value: ``client.name(...)`` on ``Client``,
        ``await client.name(...)`` on ``AsyncClient``."""

        func: Callable[Concatenate[Any, P], Steps[T]]

        def __init__(self, func: Callable[Concatenate[Any, P], Steps[T]]) -> None: ...
        @overload
        def __get__(self, client: None, owner: type[Any]) -> Self: ...
        @overload
        def __get__(self, client: Blocking, owner: type[Any] | None = None) -> Callable[P, T]: ...
        @overload
        def __get__(
            self, client: Awaiting, owner: type[Any] | None = None
        ) -> Callable[P, Coroutine[Any, Any, T]]: ...
        def __get__(self, client: Any, owner: Any = None) -> Any: ...

    class stream(Generic[P, T]):
        """A method that yields items: ``for x in client.name(...)`` on ``Client``,
        ``async for x in client.name(...)`` on ``AsyncClient``."""

        func: Callable[Concatenate[Any, P], Stream[T]]

        def __init__(self, func: Callable[Concatenate[Any, P], Stream[T]]) -> None: ...
        @overload
        def __get__(self, client: None, owner: type[Any]) -> Self: ...
        @overload
        def __get__(
            self, client: Blocking, owner: type[Any] | None = None
        ) -> Callable[P, Iterator[T]]: ...
        @overload
        def __get__(
            self, client: Awaiting, owner: type[Any] | None = None
        ) -> Callable[P, AsyncIterator[T]]: ...
        def __get__(self, client: Any, owner: Any = None) -> Any: ...

    class BlockingCall(Protocol):
        @overload
        def __call__(self, method: str, params: Any = None, result_type: None = None) -> Any: ...
        @overload
        def __call__(self, method: str, params: Any, result_type: type[T]) -> T: ...

    class AwaitingCall(Protocol):
        @overload
        def __call__(
            self, method: str, params: Any = None, result_type: None = None
        ) -> Coroutine[Any, Any, Any]: ...
        @overload
        def __call__(
            self, method: str, params: Any, result_type: type[T]
        ) -> Coroutine[Any, Any, T]: ...

    class generic_call(unary[..., Any]):
        """``call(method, params, result_type)``: a unary method whose value is typed
        by the ``result_type`` it is given."""

        @overload
        def __get__(self, client: None, owner: type[Any]) -> Self: ...
        @overload
        def __get__(self, client: Blocking, owner: type[Any] | None = None) -> BlockingCall: ...
        @overload
        def __get__(self, client: Awaiting, owner: type[Any] | None = None) -> AwaitingCall: ...
        def __get__(self, client: Any, owner: Any = None) -> Any: ...

else:

    def unary(func):
        return _method(func, "_unary")

    def stream(func):
        return _method(func, "_stream")

    generic_call = unary


def _method(func: Callable[..., Any], driver: str) -> Callable[..., Any]:
    """The method defined by the steps function ``func``: it makes the steps and hands
    them to the client's ``driver``. ``func`` stays reachable as ``.func``."""

    def method(client: Any, /, *args: Any, **kwargs: Any) -> Any:
        return getattr(client, driver)(func(client, *args, **kwargs))

    _describe(method, func)
    method.__wrapped__ = func  # type: ignore[attr-defined]  # for inspect.signature
    method.func = func  # type: ignore[attr-defined]
    return method


def params_from(
    build: Callable[P, dict[str, Any]],
) -> Callable[[Callable[[Any, dict[str, Any]], R]], Callable[Concatenate[Any, P], R]]:
    """For methods that take the same parameters (``list_runs`` and ``iter_runs``):
    the decorated steps function gets ``build(*args, **kwargs)``, the request's params,
    and the method the parameters of ``build``, declared once there."""

    def decorate(func: Callable[[Any, dict[str, Any]], R]) -> Callable[Concatenate[Any, P], R]:
        def with_params(client: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
            return func(client, build(*args, **kwargs))

        _describe(with_params, func)
        return with_params

    return decorate


def _describe(wrapper: Callable[..., Any], func: Callable[..., Any]) -> None:
    """``wrapper`` named and documented as ``func`` (``functools.wraps`` without
    importing functools)."""
    wrapper.__name__ = func.__name__
    wrapper.__qualname__ = func.__qualname__
    wrapper.__doc__ = func.__doc__
