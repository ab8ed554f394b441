"""The control plane's records: frozen, slotted attrs classes that survive Thespian's pickling."""

from __future__ import annotations

import inspect
import pickle

import attrs
import pytest

from aiway.actors.runtime.thespian import control as c

RECORDS = [
    kind
    for _, kind in inspect.getmembers(c, inspect.isclass)
    if kind.__module__ == c.__name__ and kind is not c.RemoteTarget
]


def sample(kind: type) -> object:
    """An instance of ``kind`` with a plausible value in every field."""
    values: dict[str, object] = {}
    for field in attrs.fields(kind):
        hint = str(field.type)
        if field.default is not attrs.NOTHING and not isinstance(field.default, attrs.Factory):
            continue
        if hint == "Start":
            values[field.name] = sample(c.Start)
        elif hint.startswith("bytes"):
            values[field.name] = b"{}"
        elif hint.startswith("int"):
            values[field.name] = 7
        elif hint.startswith("bool"):
            values[field.name] = True
        elif hint.startswith("str"):
            values[field.name] = "x"
        elif hint.startswith("tuple"):
            values[field.name] = ()
        else:
            values[field.name] = None
    return kind(**values)


def test_there_are_records_to_check() -> None:
    assert len(RECORDS) >= 30


@pytest.mark.parametrize("kind", RECORDS, ids=lambda kind: kind.__name__)
def test_each_record_is_a_frozen_slotted_attrs_class_that_pickles(kind: type) -> None:
    assert attrs.has(kind)
    assert "__slots__" in vars(kind) and not hasattr(sample(kind), "__dict__")
    record = sample(kind)
    fields = attrs.fields(kind)
    if fields:
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            setattr(record, fields[0].name, None)
    back = pickle.loads(pickle.dumps(record, pickle.HIGHEST_PROTOCOL))
    assert type(back) is kind
    assert attrs.asdict(back) == attrs.asdict(record)


def test_create_keeps_a_copy_of_its_requirements_or_none() -> None:
    wanted = {"aiway.model": True}
    assert c.Create(1, "core", wanted).requirements == wanted
    assert c.Create(1, "core", wanted).requirements is not wanted
    assert c.Create(1, "core", {}).requirements is None
