"""Print the `uv pip install` options that reproduce this machine's pip configuration.

`make install` installs with uv (several times faster than pip here), but uv reads none of
pip's configuration (pip.conf, PIP_* variables): the package indexes, find-links folders and
constraint files that pip would use are read from `pip config list` and passed on, so that uv
installs from the same places with the same caps as pip would. pip takes the best version
across all its indexes; uv's default takes the first index that has a package, hence
`--index-strategy unsafe-best-match` (uv's documented equivalent of pip's behaviour).
"""

from __future__ import annotations

import subprocess
import sys

# pip's setting -> the uv option that means the same (uv docs, "pip compatibility").
OPTIONS = {
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
    "constraint": "--constraint",
}


def pip_settings(listing: str) -> dict[str, str]:
    """`pip config list` lines (``global.find-links='/opt/wheels'``) as setting -> value.

    Later lines win: pip lists its files first and its environment variables last, and an
    environment variable overrides a file's value of the same setting.
    """
    settings: dict[str, str] = {}
    for line in listing.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        settings[key.rsplit(".", 1)[-1]] = value.strip().strip("'\"")
    return settings


def uv_options(settings: dict[str, str]) -> list[str]:
    """uv options for the settings uv has an equivalent of (pip takes several values
    of one setting separated by whitespace)."""
    options = ["--index-strategy", "unsafe-best-match"]
    for setting, option in OPTIONS.items():
        for value in settings.get(setting, "").split():
            options += [option, value]
    return options


def main() -> None:
    listing = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    print(" ".join(uv_options(pip_settings(listing))))


if __name__ == "__main__":
    main()
