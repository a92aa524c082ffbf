"""Argument types: a bad value is refused with a message that names it."""

from __future__ import annotations

import argparse
import re

import pytest

from cli.argument_types import at_least, positive_seconds
from tests.conftest import cli_env, run_cli


@pytest.mark.parametrize(("text", "seconds"), [("3", 3.0), ("0.5", 0.5), ("600", 600.0)])
def test_positive_seconds_reads_durations(text, seconds):
    assert positive_seconds(text) == seconds


@pytest.mark.parametrize("text", ["0", "-5", "soon", "inf", "nan", ""])
def test_positive_seconds_refuses_and_names_the_value(text):
    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(repr(text))):
        positive_seconds(text)


def test_at_least_refuses_below_the_minimum_and_non_numbers():
    parse = at_least(1)
    assert parse("4") == 4
    with pytest.raises(argparse.ArgumentTypeError, match="expected 1 or more, got 0"):
        parse("0")
    with pytest.raises(argparse.ArgumentTypeError, match="'four'"):
        parse("four")


def test_client_join_refuses_a_bad_give_up_after_before_anything_starts():
    command = ["client", "join", "--superlink", "127.0.0.1:9092", "--give-up-after", "-5"]
    result = run_cli(*command, env=cli_env())
    assert result.returncode == 2
    assert "--give-up-after" in result.stderr
    assert "'-5'" in result.stderr
