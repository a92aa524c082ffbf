"""Pure privacy primitives: sealing, key derivation, integrity digests (no I/O, no frameworks)."""
