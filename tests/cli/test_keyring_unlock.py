"""Unlocking from the OS keyring: opt-in (`store keyring set`, `chat --use-keyring`), never
the default, and one clear line where no keyring exists. The keyring is the test stand-in
``tests.keyring_backend.FileKeyring``, chosen through keyring's own PYTHON_KEYRING_BACKEND."""

from __future__ import annotations

import json
from pathlib import Path

from client.process_tree import free_port
from tests.cli.chat_driver import new_store
from tests.conftest import cli_env, run_cli
from tests.keyring_backend import FILE_ENV

NO_KEYRING = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def keyring_env(tmp_path: Path, cache: Path | None = None) -> dict[str, str]:
    env = {
        **cli_env(),
        "PYTHON_KEYRING_BACKEND": "tests.keyring_backend.FileKeyring",
        FILE_ENV: str(tmp_path / "keyring.json"),
    }
    return {**env, "FEDPERSONA_CACHE_DIR": str(cache)} if cache is not None else env


def keyring_cli(store: Path, action: str, env: dict[str, str]) -> tuple[int, str, str]:
    args = ["store", "keyring", action, "--store", str(store), "--passphrase-env", "FP_PASS"]
    result = run_cli(*args, env=env)
    return result.returncode, result.stdout, result.stderr


def keyring_chat(store: Path, env: dict[str, str], script: str) -> tuple[int, str, str]:
    result = run_cli("chat", "--store", str(store), "--use-keyring", env=env, stdin=script)
    return result.returncode, result.stdout, result.stderr


def test_a_saved_passphrase_unlocks_chat_until_it_is_forgotten(
    tmp_path: Path, encoder_cache: Path
) -> None:
    store = new_store(tmp_path)
    env = keyring_env(tmp_path, encoder_cache)
    code, out, err = keyring_cli(store, "set", env)
    assert code == 0, err
    assert "saved the passphrase" in out
    code, out, err = keyring_chat(store, env, "/remember I play the cello\n/end\n")
    assert code == 0, err
    assert "Remembered" in out

    no_passphrase = {k: v for k, v in env.items() if k != "FP_PASS"}
    result = run_cli("chat", "--store", str(store), env=no_passphrase, stdin="/end\n")
    assert result.returncode == 2  # without --use-keyring the keyring is never read
    assert "no terminal to ask for the passphrase" in result.stderr

    code, out, err = keyring_cli(store, "forget", env)
    assert code == 0, err
    assert json.loads((tmp_path / "keyring.json").read_text()) == {}
    code, _, err = keyring_chat(store, env, "/end\n")
    assert code == 2
    assert "holds no passphrase" in err


def test_only_a_passphrase_that_opens_the_store_is_saved(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    env = {**keyring_env(tmp_path), "FP_PASS": "not the passphrase"}
    code, _, err = keyring_cli(store, "set", env)
    assert code == 2
    assert "wrong passphrase" in err
    assert not (tmp_path / "keyring.json").exists()


def test_a_stale_keyring_entry_says_what_to_do_in_chat_and_join(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    env = keyring_env(tmp_path)
    entry = f"fedpersona\n{store.resolve()}"
    (tmp_path / "keyring.json").write_text(json.dumps({entry: "an old passphrase"}))
    code, _, chat_err = keyring_chat(store, env, "/end\n")
    assert code == 2
    assert "store keyring set` again" in chat_err

    closed = free_port()  # never reached: the unlock fails first
    join = ["client", "join", "--store", str(store), "--superlink", f"127.0.0.1:{closed}"]
    result = run_cli(*join, "--insecure", "--use-keyring", env=env)
    assert result.returncode == 2
    assert "store keyring set` again" in result.stderr
    assert "cannot reach a SuperLink" not in result.stderr


def test_without_an_os_keyring_each_command_says_so(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    env = {**cli_env(), **NO_KEYRING}
    for action in ("set", "forget"):
        code, _, err = keyring_cli(store, action, env)
        assert code == 2, err
        assert "no OS keyring is available" in err
    code, _, err = keyring_chat(store, env, "/end\n")
    assert code == 2
    assert "no OS keyring is available" in err


def test_client_join_unlocks_from_the_keyring_when_asked(tmp_path: Path, encoder_cache: Path):
    store = new_store(tmp_path)
    env = keyring_env(tmp_path, encoder_cache)
    code, _, err = keyring_cli(store, "set", env)
    assert code == 0, err
    no_passphrase = {k: v for k, v in env.items() if k != "FP_PASS"}
    closed = free_port()  # nothing listens: the command stops right after unlocking
    args = ["client", "join", "--store", str(store), "--superlink", f"127.0.0.1:{closed}"]

    result = run_cli(*args, "--insecure", "--use-keyring", env=no_passphrase)

    assert result.returncode == 2, result.stderr
    assert "holds 0 training signal(s)" in result.stderr  # the store was opened
    assert "cannot reach a SuperLink" in result.stderr
