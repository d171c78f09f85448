"""Built-in storage backends: ``sqlite`` (the default) and ``fs`` (plain files), and
the writer thread both use to group commits (``batch_writer``).
"""
