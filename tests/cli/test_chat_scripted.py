"""`fedpersona chat` without a terminal (one message per line), and against a local
OpenAI-compatible server: what the server receives, and a stream cut mid-reply."""

from __future__ import annotations

import json
from pathlib import Path

from client.app_profiles import builtin_profile
from client.llm import policy_text
from tests.cli.chat_driver import new_store
from tests.client.llm_fake_server import (
    Handler,
    Route,
    chunk,
    drop_connection,
    fake_server,
    sse_route,
    start_events,
    write_event,
)
from tests.conftest import cli_env, run_cli

COMPLETIONS = ("POST", "/v1/chat/completions")


def chat(store: Path, cache: Path, script: str, *extra: str) -> tuple[int, str, str]:
    env = {**cli_env(), "FEDPERSONA_CACHE_DIR": str(cache)}
    result = run_cli(
        "chat",
        "--store",
        str(store),
        "--passphrase-env",
        "FP_PASS",
        *extra,
        env=env,
        stdin=script,
    )
    return result.returncode, result.stdout, result.stderr


def test_a_scripted_session_reads_one_message_per_line(tmp_path: Path, encoder_cache: Path) -> None:
    store = new_store(tmp_path)
    code, out, err = chat(
        store, encoder_cache, "I play the cello in an orchestra.\n/end\n", "--offline"
    )
    assert code == 0, err
    code, out, err = chat(store, encoder_cache, "Which instrument do I play?\n/why\n")
    assert code == 0, err
    assert "No language model is connected" in out
    assert "cello" in out.split("Memories considered")[0]  # in the answer itself
    assert "kept" in out.split("Memories considered")[1]  # and /why says why
    assert "Session saved" in out


def test_the_server_receives_role_and_policy_before_the_persona(
    tmp_path: Path, encoder_cache: Path
) -> None:
    store = new_store(tmp_path)
    code, _, err = chat(
        store, encoder_cache, "/remember I always want exact medication doses\n", "--offline"
    )
    assert code == 0, err
    route = sse_route([chunk("See a pharmacist"), chunk(" about doses.", "stop")])
    with fake_server({COMPLETIONS: route}) as server:
        code, out, err = chat(
            store,
            encoder_cache,
            "How much ibuprofen should I take for medication doses?\n",
            "--backend",
            server.url,
            "--model",
            "llama3.2",
            "--profile",
            "health-information",
        )
        requests = [seen.body for seen in server.seen if seen.path.endswith("/completions")]
    assert code == 0, err
    assert "See a pharmacist about doses." in out
    system = requests[0]["messages"][0]
    assert system["role"] == "system"
    policy = policy_text(builtin_profile("health-information"))
    assert system["content"].startswith(policy)  # role, then the policy, unchanged
    persona_at = system["content"].index("exact medication doses")
    assert len(policy) <= system["content"].index("# About the user") < persona_at


def _cut_then_answer() -> tuple[list[int], Route]:
    calls: list[int] = []

    def route(handler: Handler) -> None:
        calls.append(1)
        if len(calls) == 1:  # the first reply: a piece, then the server dies
            start_events(handler)
            write_event(handler, chunk("I was say"))
            drop_connection(handler)
        else:
            sse_route([chunk("Back again.", "stop")])(handler)

    return calls, route


def test_a_stream_cut_mid_reply_keeps_the_turn_and_the_session_goes_on(
    tmp_path: Path, encoder_cache: Path
) -> None:
    store = new_store(tmp_path)
    _, route = _cut_then_answer()
    with fake_server({COMPLETIONS: route}) as server:
        code, out, err = chat(
            store,
            encoder_cache,
            "My sister lives in Oslo.\nAre you still there?\n",
            "--backend",
            server.url,
            "--model",
            "llama3.2",
        )
        requests = [seen.body for seen in server.seen if seen.path.endswith("/completions")]
    assert code == 0, err
    errors = [line for line in err.splitlines() if line.startswith("fedpersona: ")]
    assert len(errors) == 1, err  # one line, no traceback
    assert "the reply so far is kept" in errors[0]
    assert "Your message is kept" in errors[0]
    assert "I was say" in out
    assert "Back again." in out
    second = json.dumps(requests[1]["messages"])
    assert "My sister lives in Oslo." in second  # the cut turn's message was kept
    exported = run_cli(
        "store", "export", "--store", str(store), "--passphrase-env", "FP_PASS", env=cli_env()
    )
    assert "My sister lives in Oslo." in exported.stdout


def test_a_script_creates_a_missing_store_only_with_create(
    tmp_path: Path, encoder_cache: Path
) -> None:
    store = tmp_path / "fresh" / "me.fpstore"

    refused = chat(store, encoder_cache, "Hello\n")
    created = chat(store, encoder_cache, "/remember I sing in a choir\n", "--create")
    reopened = chat(store, encoder_cache, "/profile\n")

    assert refused[0] == 2
    assert "no store at" in refused[2]
    assert created[0] == 0, created[2]
    assert reopened[0] == 0, reopened[2]
    assert "choir" in reopened[1]
