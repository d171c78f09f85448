"""The ``sqlite`` storage backend, the default: the backend (``backend``), its
versioned schema (``schema``) and its writer thread (``writer``).
"""
