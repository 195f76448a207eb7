"""The spliced JSON array (`ioc/splicing.py`) against a plain join, through every kind of edit."""

from __future__ import annotations

import json
import random

import pytest

from scriptserver_ioc.ioc.splicing import SplicedArray


def plain(texts: list[str]) -> bytes:
    return ("[" + ",".join(texts) + "]").encode("ascii") + b"\0"


def record(n: int) -> str:
    return json.dumps({"id": n, "name": f"set_ei({n})", "args": {"energy": n}})


def test_GIVEN_queue_edited_every_way_WHEN_rebuilt_each_time_THEN_same_bytes_as_a_join():
    rng = random.Random(23)
    spliced = SplicedArray()
    texts: list[str] = []
    made = iter(range(1, 10**6))
    for step in range(600):
        kind = rng.choice(["add_end", "add_at", "remove", "move", "edit", "batch", "clear"])
        if kind == "add_end":
            texts.append(record(next(made)))
        elif kind == "add_at":
            texts.insert(rng.randint(0, len(texts)), record(next(made)))
        elif kind == "remove" and texts:
            del texts[rng.randrange(len(texts))]
        elif kind == "move" and texts:
            texts.insert(rng.randint(0, len(texts) - 1), texts.pop(rng.randrange(len(texts))))
        elif kind == "edit" and texts:
            texts[rng.randrange(len(texts))] = record(next(made))  # a new text object
        elif kind == "batch":
            at = rng.randint(0, len(texts))
            texts[at:at] = [record(next(made)) for _ in range(rng.randint(1, 40))]
        elif kind == "clear" and step % 50 == 0:
            texts.clear()
        value = spliced.build(list(texts))
        assert value == plain(texts), (step, kind)
        assert json.loads(value[:-1]) == [json.loads(t) for t in texts]


@pytest.mark.parametrize("count", [0, 1, 2])
def test_GIVEN_tiny_queue_WHEN_built_twice_or_emptied_THEN_same_bytes_as_a_join(count):
    spliced = SplicedArray()
    texts = [record(n) for n in range(count)]
    assert spliced.build(texts) == plain(texts)
    assert spliced.build(texts) == plain(texts)
    assert spliced.build([]) == b"[]\0"
    same = texts[:1] * 2  # the same text object twice
    assert spliced.build(same) == plain(same)


def test_GIVEN_one_record_added_to_a_large_queue_WHEN_rebuilt_THEN_only_it_is_encoded():
    class Counted(str):
        encoded = 0

        def encode(self, *args):
            Counted.encoded += 1
            return str.encode(self, *args)

    texts = [Counted(record(n)) for n in range(1000)]
    spliced = SplicedArray()
    spliced.build(texts)
    Counted.encoded = 0
    texts.insert(500, Counted(record(5000)))
    assert spliced.build(texts) == plain(texts)
    assert Counted.encoded == 1
