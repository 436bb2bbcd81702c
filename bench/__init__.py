"""FairSlot's flash-crowd benchmark: ``python -m bench.run`` (see bench/README.md)."""
