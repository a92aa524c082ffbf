"""The store's passphrase in the OS keyring: an opt-in way to unlock, never the default.

``fedpersona store keyring set`` checks the passphrase against the store and saves it in
the operating system's keyring (macOS Keychain, Windows Credential Locker, the Secret
Service on Linux: GNOME Keyring, KWallet) through the ``keyring`` package, one entry per
store file; ``fedpersona chat --use-keyring`` then unlocks without a prompt, and
``fedpersona store keyring forget`` deletes the entry. Whoever can use the logged-in
session's keyring can then open the store: that is the trade this option makes.
``keyring`` picks the backend (``PYTHON_KEYRING_BACKEND`` or its configuration file can
name one); when it finds none, these commands say so and nothing is stored.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import keyring
from keyring.errors import KeyringError, NoKeyringError, PasswordDeleteError

from cli.failures import UsageError
from client.profile import Profile
from client.store.errors import WrongPassphraseError

SERVICE = "fedpersona"
NO_BACKEND = (
    "no OS keyring is available here (the `keyring` package found no backend: on Linux "
    "that needs a running Secret Service such as GNOME Keyring or KWallet); unlock with "
    "the passphrase prompt instead"
)


class KeyringUnavailableError(UsageError):
    """No keyring backend, or the keyring refused (exit code 2, nothing stored)."""


def entry_name(store: Path) -> str:
    """One entry per store file, named by its absolute path."""
    return str(store.expanduser().resolve())


def save_passphrase(store: Path, passphrase: str) -> None:
    try:
        keyring.set_password(SERVICE, entry_name(store), passphrase)
    except NoKeyringError:
        raise KeyringUnavailableError(NO_BACKEND) from None
    except KeyringError as error:
        raise KeyringUnavailableError(f"the OS keyring refused to store it: {error}") from None


def keyring_passphrase(store: Path) -> str:
    try:
        value = keyring.get_password(SERVICE, entry_name(store))
    except NoKeyringError:
        raise KeyringUnavailableError(NO_BACKEND) from None
    except KeyringError as error:
        raise KeyringUnavailableError(f"the OS keyring could not be read: {error}") from None
    if value is None:
        raise KeyringUnavailableError(
            f"the OS keyring holds no passphrase for {entry_name(store)}; "
            "save one with `fedpersona store keyring set`"
        )
    return value


def open_with_keyring(store: Path) -> tuple[Profile, str]:
    """The store opened with the keyring's passphrase, and that passphrase.

    A passphrase changed since it was saved gets its own message (both `chat` and
    `client join` say the same), not the generic wrong-passphrase line."""
    passphrase = keyring_passphrase(store)
    try:
        return Profile.open(store, passphrase), passphrase
    except WrongPassphraseError:
        raise WrongPassphraseError(
            f"the passphrase in the OS keyring does not open {store} (changed since?); "
            "run `fedpersona store keyring set` again"
        ) from None


def forget_passphrase(store: Path) -> bool:
    """Delete the entry; False when there was none."""
    try:
        keyring.delete_password(SERVICE, entry_name(store))
    except PasswordDeleteError:
        return False
    except NoKeyringError:
        raise KeyringUnavailableError(NO_BACKEND) from None
    except KeyringError as error:
        raise KeyringUnavailableError(f"the OS keyring refused: {error}") from None
    return True


def add_unlock_arguments(parser: argparse.ArgumentParser) -> None:
    """``--store``, and how to unlock it without a prompt: a variable, or the keyring."""
    parser.add_argument("--store", type=Path, default=None, help="store file (as `store`)")
    unlock = parser.add_mutually_exclusive_group()
    unlock.add_argument(
        "--passphrase-env", metavar="NAME", help="read the passphrase from variable NAME"
    )
    unlock.add_argument(
        "--use-keyring",
        action="store_true",
        help="unlock with the passphrase saved by `fedpersona store keyring set` (opt-in)",
    )
