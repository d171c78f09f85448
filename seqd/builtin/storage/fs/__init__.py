"""The ``fs`` storage backend: the original system's file layout, made safe. The
backend (``backend``, the plugin's entry point) and one module per concern: the store's
shared machinery (``store``), run records (``runs``), logs and journals on the loop
(``seqs``) and on disk (``logs``), key-value state (``kv``), file primitives
(``files``), the in-memory index (``index``), locks (``locks``), the writer thread
(``writer``) and its blocking operations (``ops``), and the scan at open (``scan``).
"""
