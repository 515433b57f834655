"""Flag rules: the packaged defaults, firing with their numbers, unknown classes, malformed files."""

from __future__ import annotations

from pathlib import Path

import pytest

from leukodet.records.vocab import LLD_CLASSES
from leukodet.report.differential import ClassCount, Differential, class_count
from leukodet.report.flags import FlagRulesError, evaluate_flags, load_rules, parse_rules


def _diff(counts: dict[str, int]) -> Differential:
    total = sum(counts.values())
    rows: tuple[ClassCount, ...] = tuple(class_count(c, counts.get(c, 0), total) for c in LLD_CLASSES[1:])
    return Differential(rows, total, (("None", "artefact", 0),), (), "")


def test_default_rules_load() -> None:
    rules = load_rules()
    assert [r.id for r in rules.rules] == ["blast_excess", "suspected_apl", "atypical_lymphocytes"]
    blast = rules.rules[0]
    assert blast.classes == ("Myeloblast", "Lymphoblast", "Monoblast") and blast.threshold == 20.0
    assert "default_flags.yaml" in rules.source


def test_blast_threshold_is_inclusive_and_reports_numbers() -> None:
    rules = load_rules()
    fired = evaluate_flags(rules, _diff({"Myeloblast": 10, "Monoblast": 10, "Neutrophil": 80}), LLD_CLASSES)
    (flag,) = fired.fired
    assert flag.rule.id == "blast_excess" and (flag.count, flag.total) == (20, 100)
    assert flag.percent == pytest.approx(20.0)
    assert flag.explanation.startswith("blasts: 20 of 100 WBCs = 20.0% (95% CI 13.3%–28.9%) ≥ 20%")
    below = evaluate_flags(rules, _diff({"Myeloblast": 19, "Neutrophil": 81}), LLD_CLASSES)
    assert below.fired == () and below.evaluated == ("blast_excess", "suspected_apl", "atypical_lymphocytes")


def test_empty_differential_fires_nothing() -> None:
    result = evaluate_flags(load_rules(), _diff({}), LLD_CLASSES)
    assert result.fired == () and result.warnings == ()


def test_unknown_classes_are_warnings(tmp_path: Path) -> None:
    classes = ("None", "Myeloblast", "Neutrophil")
    result = evaluate_flags(load_rules(), _diff({"Myeloblast": 30, "Neutrophil": 70}), classes)
    assert [f.rule.id for f in result.fired] == ["blast_excess"]
    assert any(
        "Lymphoblast, Monoblast not a WBC class of the model (counted as 0)" in w for w in result.warnings
    )
    assert any(w.startswith("rule suspected_apl not evaluated") for w in result.warnings)
    assert result.evaluated == ("blast_excess",)


def test_count_rule_and_min_cells(tmp_path: Path) -> None:
    text = """
rules:
  - {id: eos, kind: count_at_least, classes: Eosinophil, threshold: 3, message: eosinophils, severity: info}
  - {id: neut, kind: percent_at_least, classes: [Neutrophil], threshold: 50, min_cells: 100, message: n}
"""
    rules = parse_rules(text, "x.yaml")
    result = evaluate_flags(rules, _diff({"Eosinophil": 3, "Neutrophil": 60}), LLD_CLASSES)
    assert [f.rule.id for f in result.fired] == ["eos"] and result.fired[0].explanation.endswith(
        "3 ≥ 3 cells"
    )
    assert result.warnings == ("rule neut not evaluated: 63 WBCs counted, it needs 100",)


@pytest.mark.parametrize(
    "text,needle",
    [
        ("rules: [", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping"),
        ("rules: {a: 1}", "'rules' must be a list"),
        ("rulez: []", "unknown top-level key(s) rulez"),
        (
            "rules:\n  - {id: a, kind: percent_over, classes: X, message: m}",
            "rule 1 ('a'): 'kind' must be one of",
        ),
        (
            "rules:\n  - {id: a, kind: percent_at_least, classes: X, message: m}",
            "rule 1 ('a'): 'threshold' must be",
        ),
        (
            "rules:\n  - {id: a, kind: percent_at_least, classes: X, threshold: 120, message: m}",
            "in [0, 100]",
        ),
        ("rules:\n  - {id: a, kind: any_of, classes: [], message: m}", "rule 1 ('a'): 'classes' must be"),
        (
            "rules:\n  - {id: a, kind: any_of, classes: X, message: m, threshold: 2}",
            "does not apply to kind any_of",
        ),
        ("rules:\n  - {id: a, kind: any_of, classes: X}", "'message' must be a non-empty string"),
        ("rules:\n  - {kind: any_of, classes: X, message: m}", "rule 1: 'id' must be"),
        ("rules:\n  - {id: a, kind: any_of, classes: X, message: m, colour: red}", "unknown key(s) colour"),
        (
            "rules:\n  - {id: a, kind: any_of, classes: X, message: m, severity: high}",
            "'severity' must be one of",
        ),
        (
            "rules:\n  - {id: a, kind: any_of, classes: X, message: m}\n  - {id: a, kind: any_of, classes: Y, message: m}",
            "rule id 'a' is used more than once",
        ),
        ("groups: {b: 3}\nrules: []", "group 'b' must be"),
        (
            "rules:\n  - {id: a, kind: count_at_least, classes: X, threshold: 1.5, message: m}",
            "whole cell count",
        ),
        ("rules:\n  - 7", "rule 1: a rule must be a mapping"),
    ],
)
def test_malformed_rules_give_one_clear_error(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(FlagRulesError) as info:
        load_rules(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and needle in message and "\n" not in message


def test_second_rule_is_named(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "rules:\n  - {id: ok, kind: any_of, classes: X, message: m}\n"
        "  - {id: broken, kind: percent_at_least, classes: X, threshold: high, message: m}\n"
    )
    with pytest.raises(
        FlagRulesError, match=r"r\.yaml: rule 2 \('broken'\): 'threshold' must be a percentage"
    ):
        load_rules(path)


def test_missing_rules_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such flag rules file"):
        load_rules(tmp_path / "nope.yaml")
