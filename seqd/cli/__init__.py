"""seqctl, the command-line client of seqd: a thin layer over ``seqd.client.Client``.

``main.py`` maps outcomes to exit statuses; ``quick.py`` reads ``status`` and ``ping``
without argparse, the ``parser`` package every other command line (one module per
noun) and the help; ``commands.py``, ``runs.py``, ``journal.py`` and ``tools.py`` hold
the handlers, ``inputs.py`` the parsing of ``-i``/``--input``, ``output.py`` tables,
formatting and the ``--json`` switch.

May import: ``seqd.client`` (``Client(typed=False)``), ``seqd.rpc.strictjson``,
``seqd.model.status``, ``seqd`` (its version) and the standard library; the Struct
modules only for the type checker, so that seqctl starts fast
(tests/cli/test_imports.py).
"""
