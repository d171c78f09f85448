"""Built-in tools, one module per category: ``file.*``, ``http.request``, ``kv.*``,
``shell.exec`` and ``task.run``.
"""
