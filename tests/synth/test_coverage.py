"""Every class and every attribute value appears in 500 fields (labels-only path, same sampling code)."""

from __future__ import annotations

from collections import Counter

from leukodet.records.vocab import LLD_ATTRIBUTES, LLD_CLASSES
from leukodet.synth.generate import plan_dataset_field, split_plan


def test_every_class_and_attribute_value_in_500_fields() -> None:
    classes: Counter[int] = Counter()
    values: Counter[tuple[str, int | None]] = Counter()
    per_field = []
    for split, index in split_plan(500):
        plan, _ = plan_dataset_field(0, split, index)
        wbcs = plan.wbcs()
        per_field.append(len(wbcs))
        for o in wbcs:
            classes[int(o.class_id or 0)] += 1
            values.update(o.attributes.items())
    assert set(classes) == set(range(len(LLD_CLASSES)))
    for name, vals in LLD_ATTRIBUTES.items():
        for v in range(len(vals)):
            assert values[(name, v)] > 0, (name, vals[v])
    assert min(per_field) >= 1 and max(per_field) <= 6
    assert 2.6 < sum(per_field) / len(per_field) < 3.4


def test_class_none_has_no_attributes() -> None:
    for index in range(40):
        plan, _ = plan_dataset_field(1, "train", index)
        for o in plan.wbcs():
            if o.class_id == 0:
                assert all(v is None for v in o.attributes.values())
            else:
                assert all(v in (0, 1) for v in o.attributes.values())
