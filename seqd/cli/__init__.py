"""seqctl, the command-line client of seqd: a thin layer over ``seqd.client.Client``.

``main.py`` maps outcomes to exit statuses, ``parser.py`` holds the command line and
its help, ``commands.py`` and ``runs.py`` the handlers, ``inputs.py`` the parsing of
``-i``/``--input``, ``output.py`` tables and formatting.
"""
