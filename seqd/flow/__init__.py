"""Flows: the graph format, its path/template language, the analyzer and the executor."""
