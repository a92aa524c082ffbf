"""The chat's local training step, driven through the real CLI with a scripted session:
signals gather, the head trains, it is stored sealed and the next turns rank with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from client.profile import Profile
from models.reranking_head import HeadConfig
from models.training import new_head
from models.weights import get_weights
from tests.cli.chat_driver import new_store
from tests.conftest import PASSPHRASE, cli_env, run_cli

FIRST_SESSION = """I play the cello in an orchestra on Tuesdays.
My sister Ines lives in Lisbon near the river.
I am allergic to peanuts and to shellfish.
I work night shifts as a nurse at the city hospital.
My dog Biscuit is a grey whippet.
/end
"""

SECOND_SESSION = """Which instrument do I play on Tuesdays?
/good
Where does my sister live?
/bad
What should I avoid eating at dinner?
/good
Tell me about my dog.
/why
/end
"""


def chat(store: Path, cache: Path, script: str, *extra: str) -> tuple[int, str, str]:
    env = {**cli_env(), "FEDPERSONA_CACHE_DIR": str(cache)}
    result = run_cli(
        "chat", "--store", str(store), "--passphrase-env", "FP_PASS", *extra, env=env, stdin=script
    )
    return result.returncode, result.stdout, result.stderr


def test_signals_train_a_sealed_head_that_the_next_turns_use(
    tmp_path: Path, encoder_cache: Path
) -> None:
    store = new_store(tmp_path)
    code, out, err = chat(store, encoder_cache, FIRST_SESSION, "--train-after", "3")
    assert code == 0, err
    assert "Training your ranking" not in out  # no signal yet: nothing to train on

    code, out, err = chat(store, encoder_cache, SECOND_SESSION, "--train-after", "3")
    assert code == 0, err
    before_training, _, after_training = out.partition("Training your ranking")
    assert after_training, out
    assert "Done: trained on" in after_training
    assert "ordered by your own head" not in before_training
    assert "ordered by your own head" in after_training  # /why after the step

    with Profile.open(store, PASSPHRASE) as profile:
        head = profile.heads.load()
        signals = profile.training.count()
    assert head is not None
    assert 3 <= head.signals <= signals
    untrained = get_weights(new_head(HeadConfig(), seed=0))
    assert any(not np.allclose(a, b) for a, b in zip(head.weights, untrained, strict=True)), (
        "training changed the head"
    )

    written = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    for plaintext in (b"cello", b"Lisbon", b"whippet", b"persona_mask", b"pytorch"):
        assert plaintext not in written, plaintext  # neither the chat nor the head


def test_forgetting_a_signal_forgets_the_head_trained_on_it(
    tmp_path: Path, encoder_cache: Path
) -> None:
    store = new_store(tmp_path)
    for script in (FIRST_SESSION, SECOND_SESSION):
        code, _, err = chat(store, encoder_cache, script, "--train-after", "3")
        assert code == 0, err
    with Profile.open(store, PASSPHRASE) as profile:
        assert profile.heads.load() is not None
    code, out, err = chat(store, encoder_cache, "/forget instrument\n/end\n", "--train-after", "50")
    assert code == 0, err
    assert "training signal" in out
    assert "your trained ranking" in out
    with Profile.open(store, PASSPHRASE) as profile:
        assert profile.heads.load() is None
        assert all("instrument" not in pair.context for pair in profile.training.all())


def test_train_after_zero_never_trains(tmp_path: Path, encoder_cache: Path) -> None:
    store = new_store(tmp_path)
    code, _, err = chat(store, encoder_cache, FIRST_SESSION)
    assert code == 0, err
    code, out, err = chat(store, encoder_cache, SECOND_SESSION, "--train-after", "0")
    assert code == 0, err
    assert "Training your ranking" not in out
    with Profile.open(store, PASSPHRASE) as profile:
        assert profile.training.count() >= 3
        assert profile.heads.load() is None


def test_a_bad_train_after_is_named(tmp_path: Path) -> None:
    result = run_cli("chat", "--store", str(tmp_path / "x"), "--train-after", "-2")
    assert result.returncode != 0
    assert "-2" in result.stderr
