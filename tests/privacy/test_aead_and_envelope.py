from __future__ import annotations

import pytest

from privacy import aead
from privacy.envelope import (
    RecordAddress,
    SealedRecord,
    open_record,
    rewrap_data_key,
    seal_record,
)


def test_seal_round_trips_and_binds_associated_data():
    key = aead.new_key()
    sealed = aead.seal(key, b"persona", b"ad-1")

    assert aead.unseal(key, sealed, b"ad-1") == b"persona"
    with pytest.raises(aead.AuthenticationError):
        aead.unseal(key, sealed, b"ad-2")


def test_unseal_rejects_a_flipped_byte_and_a_short_blob():
    key = aead.new_key()
    sealed = bytearray(aead.seal(key, b"persona", b""))
    sealed[20] ^= 0x01

    with pytest.raises(aead.AuthenticationError):
        aead.unseal(key, bytes(sealed), b"")
    with pytest.raises(aead.AuthenticationError):
        aead.unseal(key, b"short", b"")


def test_same_plaintext_seals_to_different_bytes():
    key = aead.new_key()

    assert aead.seal(key, b"x", b"") != aead.seal(key, b"x", b"")


def test_associated_data_is_unambiguous_across_fields():
    # Length prefixes: ("ab", "c") and ("a", "bc") must not encode alike.
    first = RecordAddress("ab", "c", 1).associated_data("record")
    second = RecordAddress("a", "bc", 1).associated_data("record")

    assert first != second


@pytest.mark.parametrize(
    "other",
    [
        RecordAddress("memories", "id-2", 1),
        RecordAddress("turns", "id-1", 1),
        RecordAddress("memories", "id-1", 2),
    ],
)
def test_sealed_record_does_not_open_at_another_address(other):
    kek = aead.new_key()
    sealed = seal_record(kek, RecordAddress("memories", "id-1", 1), b"body")

    with pytest.raises(aead.AuthenticationError):
        open_record(kek, other, sealed)


def test_rewrap_keeps_ciphertext_and_needs_the_new_kek():
    old_kek, new_kek = aead.new_key(), aead.new_key()
    address = RecordAddress("memories", "id-1", 1)
    sealed = seal_record(old_kek, address, b"body")

    rewrapped = SealedRecord(
        rewrap_data_key(old_kek, new_kek, address, sealed.wrapped_key), sealed.ciphertext
    )

    assert open_record(new_kek, address, rewrapped) == b"body"
    with pytest.raises(aead.AuthenticationError):
        open_record(old_kek, address, rewrapped)
