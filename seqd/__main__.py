"""``python -m seqd`` runs the daemon."""

from seqd.daemon import main

main()
