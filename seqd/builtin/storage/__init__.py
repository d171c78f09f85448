"""Built-in storage backends: ``sqlite`` (the default) and ``fs`` (plain files). What
they share with each other and with third-party backends (the batching writer thread,
the reader pool, the SQL and record helpers) is in ``seqd.plugins.storage_kit``.
"""
