"""Pure privacy code: sealing, key derivation, integrity, clipping, noise, accounting."""
