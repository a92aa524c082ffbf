from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from privacy import integrity
from privacy.aead import new_key
from privacy.envelope import RecordAddress, seal_record
from privacy.kdf import KdfParams, default_params, derive_kek


def test_derive_kek_matches_argon2id_computed_directly():
    params = KdfParams(memory_kib=8192, iterations=2, lanes=1, salt=b"s" * 16)
    expected = Argon2id(salt=b"s" * 16, length=32, iterations=2, lanes=1, memory_cost=8192).derive(
        b"pass"
    )

    assert derive_kek("pass", params) == expected


def test_derive_kek_depends_on_passphrase_and_salt():
    params = KdfParams(memory_kib=8192, iterations=1)
    other_salt = KdfParams(memory_kib=8192, iterations=1)

    assert derive_kek("a", params) != derive_kek("b", params)
    assert derive_kek("a", params) != derive_kek("a", other_salt)


def test_scrypt_params_derive_a_key_of_the_right_length():
    params = KdfParams(algorithm="scrypt", memory_kib=8192, iterations=1)

    assert len(derive_kek("pass", params)) == 32


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"memory_kib": 1024}, "below the floor"),
        ({"iterations": 0}, "iterations"),
        ({"iterations": 101}, "iterations"),
        ({"memory_kib": 2**31}, "above the ceiling"),
        ({"lanes": 0}, "lanes"),
        ({"lanes": 2**20}, "lanes"),
        ({"algorithm": "md5"}, "Unknown KDF"),
        ({"salt": b"x"}, "salt"),
        ({"algorithm": "scrypt", "memory_kib": 10000}, "power of two"),
    ],
)
def test_kdf_params_reject_bad_values_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        KdfParams(**kwargs)


def test_kdf_params_survive_json_and_default_is_memory_hard():
    params = default_params()

    assert KdfParams.from_json(params.to_json()) == params
    assert params.memory_kib >= 64 * 1024


def test_empty_passphrase_is_refused():
    with pytest.raises(ValueError, match="empty"):
        derive_kek("", KdfParams(memory_kib=8192, iterations=1))


def test_set_digest_is_order_independent_and_removal_cancels():
    key = new_key()
    kek = new_key()
    terms = []
    for record_id in ("a", "b", "c"):
        address = RecordAddress("memories", record_id, 1)
        terms.append(integrity.record_term(key, address, seal_record(kek, address, b"x")))

    forward = integrity.EMPTY_DIGEST
    for term in terms:
        forward = integrity.xor(forward, term)
    backward = integrity.EMPTY_DIGEST
    for term in reversed(terms):
        backward = integrity.xor(backward, term)

    assert forward == backward
    assert integrity.xor(integrity.xor(forward, terms[1]), terms[1]) == forward
    assert integrity.xor(forward, terms[1]) != forward


def test_keyed_tag_hides_value_and_depends_on_key():
    key = new_key()

    tag = integrity.keyed_tag(key, "persona-category", "preferences")

    assert tag == integrity.keyed_tag(key, "persona-category", "preferences")
    assert tag != integrity.keyed_tag(new_key(), "persona-category", "preferences")
    assert tag != hashlib.sha256(b"preferences").hexdigest()[:32]
