"""How a joined device's ClientApp finds its own store: node config and environment.

``fedpersona client join`` starts a Flower SuperNode with the node config key
``store-path`` naming this device's store, and hands the store's passphrase to the
SuperNode in the environment variable ``FEDPERSONA_DEVICE_PASSPHRASE`` (inherited by the
SuperExec and by each ClientApp process it starts): never on a command line, where any
user of the machine could read it (``ps``), and never on disk. The ClientApp opens that
store, and embeds texts with the device's own ONNX encoder, the one chat retrieval uses.

A node whose config has no ``store-path`` is not a joined device (the simulation harness
opens a simulated device for it). Any node may carry ``participation-cap``: the device's
own ceiling on the rounds of one run it takes part in (client.participation), whatever the
server asks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from client.embedding import default_embedder
from client.profile import Profile
from models.encoded import EmbedFn

STORE_PATH_KEY = "store-path"
PASSPHRASE_ENV = "FEDPERSONA_DEVICE_PASSPHRASE"
PARTICIPATION_CAP_KEY = "participation-cap"


class DeviceConfigError(RuntimeError):
    """A joined device's node config or environment does not say how to open its store."""


def is_joined_device(node_config: Mapping[str, object]) -> bool:
    return STORE_PATH_KEY in node_config


def store_path_config(store: Path) -> str:
    """The ``--node-config`` entry naming ``store`` (a TOML literal string: no escapes)."""
    text = str(store.expanduser().resolve())
    if "'" in text:
        raise DeviceConfigError(f"the store path {text!r} contains a ' which Flower cannot pass")
    return f"{STORE_PATH_KEY}='{text}'"


def participation_cap_config(cap: int) -> str:
    """The ``--node-config`` entry for the device's own participation cap."""
    if cap < 1:
        raise DeviceConfigError(f"a device's own participation cap should be >= 1, got {cap}")
    return f"{PARTICIPATION_CAP_KEY}={cap}"


def node_participation_cap(node_config: Mapping[str, object], default: int | None) -> int | None:
    """The node's own cap if its config sets one, else ``default``."""
    value = node_config.get(PARTICIPATION_CAP_KEY)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DeviceConfigError(f"node config {PARTICIPATION_CAP_KEY}={value!r}: expected >= 1")
    return value


def open_own_device(
    node_config: Mapping[str, object], environ: Mapping[str, str] = os.environ
) -> tuple[Profile, EmbedFn]:
    """This device's unlocked profile and its encoder's embedding function."""
    path = Path(str(node_config[STORE_PATH_KEY]))
    passphrase = environ.get(PASSPHRASE_ENV)
    if not passphrase:
        raise DeviceConfigError(
            f"${PASSPHRASE_ENV} is not set: start the SuperNode with `fedpersona client join`"
        )
    return Profile.open(path, passphrase), _embed()


@cache
def _embed() -> EmbedFn:
    # One encoder per ClientApp process; exported beforehand by `fedpersona client join`.
    return default_embedder().embed
