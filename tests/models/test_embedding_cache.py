"""The embedding cache: vectors come back as embedded, from one file of two arrays."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from models.embedding_cache import EmbeddingCache

TEXTS = ["I have two dogs.", "I live in Lisbon.", "I play the cello."]


def fake_encoder(calls: list[list[str]]) -> Callable[[list[str]], np.ndarray]:
    """Embeds a text as (its length, its first letter's code), recording each call."""

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.array([[len(t), ord(t[0])] for t in texts], np.float32)

    return embed


def test_a_second_cache_on_the_same_file_embeds_nothing_and_returns_the_same_vectors(
    tmp_path: Path,
):
    path, calls = tmp_path / "cache.npz", list[list[str]]()
    first = EmbeddingCache(path, "enc", fake_encoder(calls))(TEXTS)

    again = EmbeddingCache(path, "enc", fake_encoder(calls))
    reread = again(list(reversed(TEXTS)))

    assert calls == [sorted(TEXTS)]  # embedded once, by the first cache
    assert again.misses == 0
    np.testing.assert_array_equal(reread, first[::-1])
    with np.load(path) as stored:
        assert sorted(stored.files) == ["keys", "vectors"]
        assert stored["vectors"].shape == (3, 2)


def test_only_missing_texts_are_embedded_and_the_file_keeps_both(tmp_path: Path):
    path, calls = tmp_path / "cache.npz", list[list[str]]()
    EmbeddingCache(path, "enc", fake_encoder(calls))(TEXTS[:2])

    cache = EmbeddingCache(path, "enc", fake_encoder(calls))
    cache(TEXTS)

    assert calls[1] == [TEXTS[2]]
    assert cache.misses == 1
    assert len(EmbeddingCache(path, "enc", fake_encoder(calls))(TEXTS)) == 3
    assert len(calls) == 2


def test_another_encoder_name_does_not_reuse_the_vectors(tmp_path: Path):
    path, calls = tmp_path / "cache.npz", list[list[str]]()
    EmbeddingCache(path, "enc", fake_encoder(calls))(TEXTS)

    other = EmbeddingCache(path, "other-enc", fake_encoder(calls))
    other(TEXTS)

    assert other.misses == 3


def test_a_file_in_the_older_one_member_per_text_layout_is_read_and_rewritten(tmp_path: Path):
    path = tmp_path / "old.npz"
    vectors = {
        hashlib.sha256(f"enc\0{t}".encode()).hexdigest(): np.full(4, i, np.float32)
        for i, t in enumerate(TEXTS)
    }
    np.savez(path, **vectors)  # type: ignore[arg-type]

    def refuse(texts: list[str]) -> np.ndarray:
        raise AssertionError(f"embedded {texts}")

    read = EmbeddingCache(path, "enc", refuse)(TEXTS)

    np.testing.assert_array_equal(read[:, 0], [0.0, 1.0, 2.0])
    with np.load(path) as rewritten:  # in the new layout, for the next load
        assert sorted(rewritten.files) == ["keys", "vectors"]
    np.testing.assert_array_equal(EmbeddingCache(path, "enc", refuse)(TEXTS), read)


def test_a_file_an_older_version_saved_over_a_new_one_keeps_every_vector(tmp_path: Path):
    # An older version reads a two-array file as two unknown members and saves them back
    # beside the texts it embedded.
    path, calls = tmp_path / "cache.npz", list[list[str]]()
    EmbeddingCache(path, "enc", fake_encoder(calls))(TEXTS[:2])
    with np.load(path) as stored:
        members = {name: stored[name] for name in stored.files}
    key = hashlib.sha256(f"enc\0{TEXTS[2]}".encode()).hexdigest()
    np.savez(path, **members, **{key: np.array([9.0, 9.0], np.float32)})  # type: ignore[arg-type]

    cache = EmbeddingCache(path, "enc", fake_encoder(calls))
    read = cache(TEXTS)

    assert cache.misses == 0
    assert len(calls) == 1
    np.testing.assert_array_equal(read[2], [9.0, 9.0])
    with np.load(path) as rewritten:
        assert sorted(rewritten.files) == ["keys", "vectors"]


def test_two_caches_filling_one_file_keep_each_others_vectors(tmp_path: Path):
    """Two processes (test workers, parallel benchmarks) open the file, then each embeds
    different texts: the second save takes in the first one's vectors."""
    path, calls = tmp_path / "cache.npz", list[list[str]]()
    EmbeddingCache(path, "enc", fake_encoder(calls))(["seed"])
    one = EmbeddingCache(path, "enc", fake_encoder(calls))
    two = EmbeddingCache(path, "enc", fake_encoder(calls))

    one(TEXTS[:2])
    two(TEXTS[2:])

    later = EmbeddingCache(path, "enc", fake_encoder(calls))
    later(["seed", *TEXTS])
    assert later.misses == 0
