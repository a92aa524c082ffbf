"""A stand-in OS keyring for tests: this machine has none (no Secret Service is running).

``keyring`` loads it when ``PYTHON_KEYRING_BACKEND=tests.keyring_backend.FileKeyring``,
through the same mechanism that selects a real backend, so the CLI runs unchanged. It
keeps entries as plain JSON in the file ``FEDPERSONA_TEST_KEYRING`` names (a test's temporary
folder): a real keyring encrypts them; this one exists only to let tests cross processes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

FILE_ENV = "FEDPERSONA_TEST_KEYRING"


class FileKeyring(KeyringBackend):
    priority = 1  # a plain value stands in for keyring's classproperty

    def _path(self) -> Path:
        return Path(os.environ[FILE_ENV])

    def _entries(self) -> dict[str, str]:
        path = self._path()
        return dict(json.loads(path.read_text())) if path.exists() else {}

    def _write(self, entries: dict[str, str]) -> None:
        self._path().write_text(json.dumps(entries))

    def get_password(self, service: str, username: str) -> str | None:
        return self._entries().get(f"{service}\n{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        self._write({**self._entries(), f"{service}\n{username}": password})

    def delete_password(self, service: str, username: str) -> None:
        entries = self._entries()
        if entries.pop(f"{service}\n{username}", None) is None:
            raise PasswordDeleteError(f"no entry for {username}")
        self._write(entries)
