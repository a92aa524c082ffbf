"""Readers for the public dialogue data sets, and the ranking task built from them."""
