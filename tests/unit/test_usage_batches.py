"""The meter's upsert batches: no key twice in one statement, at most *size* rows."""

from ngc_pilot.usage_upsert import batches


def test_batches_split_at_a_repeated_key_and_at_the_size():
    rows = [
        {"pilot_id": p, "metric": "m", "window_start": w}
        for p, w in [("A", 1), ("B", 1), ("A", 2), ("A", 1), ("C", 1), ("D", 1)]
    ]
    sizes = [[(r["pilot_id"], r["window_start"]) for r in b] for b in batches(rows, 2)]
    assert sizes == [[("A", 1), ("B", 1)], [("A", 2), ("A", 1)], [("C", 1), ("D", 1)]]
    split = [[(r["pilot_id"], r["window_start"]) for r in b] for b in batches(rows, 10)]
    assert split == [[("A", 1), ("B", 1), ("A", 2)], [("A", 1), ("C", 1), ("D", 1)]]
