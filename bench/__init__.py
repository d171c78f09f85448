"""The seqd benchmark suite behind ``make bench`` (``python -m bench.run``).

Each benchmark starts its own daemon(s) on a private temporary directory, measures
several repetitions and reports medians, with ratios against a baseline measured in the
same run: the machine is shared and noisy, so absolute figures from another day or
another box are not comparable, ratios mostly are. Nothing here is a test: a missed
target is reported, never raised.
"""
