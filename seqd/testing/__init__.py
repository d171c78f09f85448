"""Contract suites that plugin authors reuse to check their plugins
(``seqd.testing.storage``: the storage conformance suite)."""
