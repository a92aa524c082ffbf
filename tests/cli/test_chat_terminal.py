"""`fedpersona chat` end to end in a pseudo-terminal: memory across processes, /why,
/forget, /profile, /good, /export, a wrong passphrase and Ctrl-C mid-reply."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pexpect

from tests.cli.chat_driver import end, new_store, say, spawn_chat, unlock
from tests.client.llm_fake_server import (
    Handler,
    chunk,
    end_chunks,
    fake_server,
    start_events,
    write_event,
)
from tests.conftest import cli_env, run_cli


def test_a_later_session_answers_from_what_an_earlier_one_was_told(
    tmp_path: Path, encoder_cache: Path
) -> None:
    store = new_store(tmp_path)
    first = spawn_chat(store, encoder_cache, "--offline")
    unlock(first)
    say(first, "My dog is called Biscuit and she is a beagle.")
    say(first, "I live in Lisbon.")
    summary = end(first)
    assert "Session saved" in summary

    second = spawn_chat(store, encoder_cache, "--offline")  # a new process
    unlock(second)
    answer = say(second, "What is my dog called?")
    why = say(second, "/why")
    end(second)

    assert "No language model is connected" in answer
    assert "Biscuit" in answer
    assert "kept" in why
    assert "Biscuit" in why
    assert "relevant" in why  # the validator's reason for keeping it


def test_forget_removes_a_fact_so_a_later_session_cannot_retrieve_it(
    tmp_path: Path, encoder_cache: Path
) -> None:
    store = new_store(tmp_path)
    first = spawn_chat(store, encoder_cache, "--offline")
    unlock(first)
    say(first, "I am allergic to peanuts.")
    say(first, "My favourite colour is green.")
    end(first)

    second = spawn_chat(store, encoder_cache, "--offline")
    unlock(second)
    assert "peanuts" in say(second, "What am I allergic to?")
    forgot = say(second, "/forget peanuts")
    end(second)
    assert "Forgot" in forgot
    assert "keys are destroyed" in forgot

    third = spawn_chat(store, encoder_cache, "--offline")
    unlock(third)
    answer = say(third, "What am I allergic to?")
    profile = say(third, "/profile")
    end(third)
    assert "peanuts" not in answer.lower()
    assert "peanuts" not in profile.lower()
    exported = run_cli(
        "store",
        "export",
        "--store",
        str(store),
        "--passphrase-env",
        "FP_PASS",
        env={"FP_PASS": "test passphrase, not a real one"},
    )
    assert exported.returncode == 0, exported.stderr
    assert "peanut" not in exported.stdout.lower()
    assert "green" in exported.stdout  # only what was asked for went


def test_remember_profile_feedback_and_export(tmp_path: Path, encoder_cache: Path) -> None:
    store = new_store(tmp_path)
    child = spawn_chat(store, encoder_cache, "--offline")
    unlock(child)
    remembered = say(child, "/remember I am vegetarian")
    profile = say(child, "/profile")
    say(child, "Do I eat meat?")
    good = say(child, "/good")
    again = say(child, "/good")
    out = tmp_path / "me.json"
    wrote = say(child, f"/export {out}")
    helped = say(child, "/help")
    end(child)

    assert "Remembered" in remembered
    assert "vegetarian" in profile
    assert "from " in profile
    assert "training signal(s) stored" in good
    assert "No reply to rate" in again
    assert "owner-only" in wrote
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["training_pairs"], "the /good signal is in the store"
    assert "/forget" in helped
    assert "/why" in helped


def test_a_wrong_passphrase_ends_with_one_line_and_exit_code_2(
    tmp_path: Path, encoder_cache: Path
) -> None:
    store = new_store(tmp_path)
    child = spawn_chat(store, encoder_cache, "--offline")
    child.expect_exact(f"Passphrase for {store}: ")
    child.sendline("not the passphrase")
    child.expect(pexpect.EOF)
    child.close()

    lines = [line for line in str(child.before).splitlines() if line.strip()]
    assert child.exitstatus == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith("fedpersona: wrong passphrase")
    assert "Traceback" not in str(child.before)


def test_a_missing_store_is_created_after_asking_twice(tmp_path: Path, encoder_cache: Path) -> None:
    store = tmp_path / "new" / "me.fpstore"
    child = spawn_chat(store, encoder_cache, "--offline")
    child.expect_exact("Create it? [y/N]")
    child.sendline("y")
    child.expect("New passphrase: ")
    child.sendline("a fresh passphrase")
    child.expect("Repeat it: ")
    child.sendline("a fresh passphrase")
    child.expect_exact("you> ")
    end(child)
    assert store.exists()

    refused = run_cli(
        "chat", "--store", str(tmp_path / "none.fpstore"), "--passphrase-env", "P", env={"P": "x"}
    )
    assert refused.returncode == 2
    assert "no store at" in refused.stderr
    assert "--create" in refused.stderr
    assert not (tmp_path / "none.fpstore").exists()


def test_ctrl_c_mid_reply_stops_the_reply_and_keeps_the_session(
    tmp_path: Path, encoder_cache: Path
) -> None:
    def slow(handler: Handler) -> None:
        start_events(handler)
        write_event(handler, chunk("Let me think"))
        time.sleep(3)  # a slow model: the person gives up waiting
        try:
            write_event(handler, chunk(" about it.", "stop"))
            write_event(handler, "[DONE]")
            end_chunks(handler)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client hung up on purpose: no traceback from the server's thread

    store = new_store(tmp_path)
    with fake_server({("POST", "/v1/chat/completions"): slow}) as server:
        child = spawn_chat(store, encoder_cache, "--backend", server.url, "--model", "m")
        unlock(child)
        child.sendline("Plan my week of revision.")
        child.expect_exact("Let me think")
        child.sendintr()
        child.expect_exact("(reply stopped; your message is kept)")
        child.expect_exact("you> ")
        summary = end(child)

    assert "Session saved" in summary
    exported = run_cli(
        "store", "export", "--store", str(store), "--passphrase-env", "FP_PASS", env=cli_env()
    )
    assert "Plan my week of revision." in exported.stdout
