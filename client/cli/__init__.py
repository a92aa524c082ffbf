"""The `fedpersona` command line."""
