"""Benchmarks of fedpersona components (run each as ``python -m bench.<name>``)."""
