"""The wire: JSON-RPC 2.0 envelopes and the Params/Result type of every method
(``protocol``), the strict JSON codec (``strictjson``), the Unix-socket server with its
framing and limits (``server``), pushing notifications to a connection (``push``),
dispatch, bytes in and bytes out (``dispatch``), and the OpenRPC document
(``openrpc``).

Knows nothing of the engine, the catalog or storage: the method handlers live in
``seqd.api`` and are registered into a ``Dispatcher``. May import: ``seqd.model``,
``seqd.errors``.
"""
