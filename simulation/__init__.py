"""The simulation harness: it stands in for a fleet of real devices.

Synthetic and real-data populations, simulated devices and their run folder, the
in-process transport, the local deployment engine and the Flower apps of a simulation.
It sits above client/ and server/; a real device uses client/ alone.
"""
