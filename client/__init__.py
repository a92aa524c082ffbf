"""The device: encrypted store, persona, memory tiers and the command line."""
