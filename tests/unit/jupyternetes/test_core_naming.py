"""Child names, instance names and label values: deterministic, valid, collision-free."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyternetes.core.naming import (
    ANNOTATION_PURGE,
    LABEL_ENTRY,
    LABEL_INSTANCE,
    LABEL_TEMPLATE,
    child_name,
    instance_name,
    is_dns_label,
    is_label_value,
    is_qualified_name,
    label_value,
)

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
ENTRY = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)


def test_constants() -> None:
    assert LABEL_INSTANCE == "jupyternetes.kadense.io/instance"
    assert LABEL_TEMPLATE == "jupyternetes.kadense.io/template"
    assert LABEL_ENTRY == "jupyternetes.kadense.io/entry"
    assert ANNOTATION_PURGE == "jupyternetes.kadense.io/purge"


def test_child_name_plain_when_safe() -> None:
    assert child_name("jupyter-jovyan", "notebook") == "jupyter-jovyan-notebook"
    assert (
        child_name("8dc366d8a0f05869bfdb6e7eb3d83f65", "workspace")
        == "8dc366d8a0f05869bfdb6e7eb3d83f65-workspace"
    )
    assert child_name("a" * 50, "b" * 12) == "a" * 50 + "-" + "b" * 12  # exactly 63


def test_child_name_long_or_unsafe_is_truncated_with_a_hash() -> None:
    long = child_name("a" * 50, "b" * 13)  # 64 characters
    assert len(long) == 63
    assert DNS_LABEL.match(long)
    assert re.fullmatch(r"a{50}-b{3}-[0-9a-f]{8}", long)
    assert child_name("a" * 50, "b" * 13) == long  # deterministic
    assert child_name("a" * 50, "b" * 14) != long
    dotted = child_name("team.alice", "nb")
    assert re.fullmatch(r"team-alice-nb-[0-9a-f]{8}", dotted)
    assert child_name("team-alice", "nb") == "team-alice-nb" != dotted
    assert re.fullmatch(r"x-9lives-svc-[0-9a-f]{8}", child_name("9lives", "svc", start_with_letter=True))
    assert child_name("lives9", "svc", start_with_letter=True) == "lives9-svc"


@given(instance=st.text(min_size=1, max_size=300), entry=ENTRY, letter=st.booleans())
def test_child_name_is_always_a_valid_label(instance: str, entry: str, letter: bool) -> None:
    name = child_name(instance, entry, start_with_letter=letter)
    assert len(name) <= 63
    assert (DNS_1035 if letter else DNS_LABEL).match(name), name
    assert is_dns_label(name)


@given(st.lists(st.tuples(st.text(min_size=1, max_size=80), ENTRY), min_size=2, max_size=2, unique=True))
def test_child_names_of_different_inputs_differ(pairs: list[tuple[str, str]]) -> None:
    (i1, e1), (i2, e2) = pairs
    n1, n2 = child_name(i1, e1), child_name(i2, e2)
    if f"{i1}-{e1}" != f"{i2}-{e2}":  # the plain form is ambiguous on its own (see docs/api.md)
        assert n1 != n2


def test_instance_name() -> None:
    assert instance_name("jovyan") == "jupyter-jovyan"
    assert instance_name("jovyan", "gpu") == "jupyter-jovyan--gpu"
    assert instance_name("jovyan", prefix="nb") == "nb-jovyan"
    # Anything unsafe is escaped with a hash, so names that would sanitise alike stay distinct.
    assert instance_name("a.b") != instance_name("a-b") == "jupyter-a-b"
    assert re.fullmatch(r"jupyter-a-b---[0-9a-f]{8}", instance_name("a.b"))
    assert instance_name("Alice") != instance_name("alice")
    assert instance_name("a--b") != instance_name("a", "b")
    assert instance_name("a", "b") != instance_name("a-b")
    assert instance_name("alice@example.org") != instance_name("alice_example.org")
    assert len(instance_name("x" * 200)) <= 63
    assert instance_name("x" * 200) != instance_name("x" * 201)
    with pytest.raises(ValueError, match="prefix"):
        instance_name("a", prefix="Bad--Prefix")


USERNAMES = st.one_of(
    st.text(max_size=70),
    st.from_regex(r"[a-z0-9.\-_@]{1,60}", fullmatch=True),
    st.sampled_from(["a", "a-b", "a.b", "a--b", "a-", "-a", "A", "x" * 55, "x" * 56]),
)


@given(username=USERNAMES, servername=st.one_of(st.just(""), USERNAMES))
def test_instance_name_is_always_a_valid_label(username: str, servername: str) -> None:
    name = instance_name(username, servername)
    assert len(name) <= 63, name
    assert DNS_LABEL.match(name), name


@given(st.lists(st.tuples(USERNAMES, st.one_of(st.just(""), USERNAMES)), min_size=2, max_size=2, unique=True))
def test_instance_names_never_collide(pairs: list[tuple[str, str]]) -> None:
    (u1, s1), (u2, s2) = pairs
    assert instance_name(u1, s1) != instance_name(u2, s2)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("", True),
        ("a", True),
        ("a.b_c-d", True),
        ("A" * 63, True),
        ("A" * 64, False),
        ("-a", False),
        ("a_", False),
    ],
)
def test_is_label_value(value: str, valid: bool) -> None:
    assert is_label_value(value) is valid
    assert label_value(value) == value if valid else label_value(value) != value


@given(st.text(max_size=200))
def test_label_value_is_always_valid(s: str) -> None:
    v = label_value(s)
    assert is_label_value(v), v
    if is_label_value(s):
        assert v == s


def test_label_value_keeps_different_inputs_apart() -> None:
    assert label_value("alice@example.org") != label_value("alice#example.org")
    assert re.fullmatch(r"alice-example\.org-[0-9a-f]{8}", label_value("alice@example.org"))


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("app", True),
        ("jupyternetes.kadense.io/userId", True),
        ("example.org/a_b.c-d", True),
        ("/a", False),
        ("a/", False),
        ("Example.org/a", False),
        ("a b", False),
        ("a/b/c", False),
        ("x" * 64, False),
    ],
)
def test_is_qualified_name(key: str, valid: bool) -> None:
    assert is_qualified_name(key) is valid
