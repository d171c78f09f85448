"""seqctl, the command-line client of seqd: a thin layer over ``seqd.client.Client``.

``main.py`` maps outcomes to exit statuses (and errors to JSON with ``--json``);
``quick.py`` reads ``status`` and ``ping`` without argparse, the ``parser`` package
every other command line (one module per noun) and the help; ``commands.py``,
``runs.py``, ``listing.py`` (``runs ls``), ``each.py`` (``run --each``),
``journal.py``, ``tools.py`` and ``completion.py`` (``completion``, ``__complete``)
hold the handlers, ``inputs.py`` the parsing of ``-i``/``--input``, ``output.py``
tables, formatting and the ``--json`` switch, ``progress.py`` the spinner and the
progress bar shown on a terminal, ``reconnect.py`` the riding out of a daemon restart
while waiting.

May import: ``seqd.client`` (``Client(typed=False)``), ``seqd.rpc.strictjson``,
``seqd.model.status``, ``seqd.model.suggest`` (on error paths only), ``seqd`` (its
version), ``shtab`` (the ``completion`` command only) and the standard library; the
Struct modules only for the type checker, so that seqctl starts fast
(tests/cli/test_imports.py).
"""
