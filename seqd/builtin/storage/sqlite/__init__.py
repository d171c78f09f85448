"""The ``sqlite`` storage backend, the default: the backend (``backend``), its
connections (``connections``), its versioned schema (``schema``), its writer thread
(``writer``) and what its failures mean (``faults``).
"""
