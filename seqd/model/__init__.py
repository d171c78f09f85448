"""Data every layer shares: runs, logs, journal steps, task definitions, statuses,
ids, timestamps, durations, what retention removes, JSON Schema generation and
did-you-mean suggestions, as msgspec Structs and small pure helpers. No I/O, no daemon
state.

May import: ``seqd.errors`` only. Everything else in seqd may import it.
"""
