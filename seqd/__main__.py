"""``python -m seqd`` runs the daemon."""

from seqd.daemon.main import main

main()
