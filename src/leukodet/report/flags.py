"""Flag rules: configurable thresholds on the differential that prompt expert review (never a diagnosis).

Rules come from YAML (format in docs/report.md; defaults in ``default_flags.yaml`` inside this package)::

    version: 1
    groups: {blasts: [Myeloblast, Lymphoblast, Monoblast]}
    rules:
      - {id: blast_excess, kind: percent_at_least, classes: blasts, threshold: 20, message: blast excess}
      - {id: suspected_apl, kind: any_of, classes: [Abnormal promyelocyte], message: "urgent review: ..."}

Kinds: ``percent_at_least`` (summed % of the WBCs ≥ ``threshold``; optional ``min_cells`` WBCs needed before the
rule is evaluated), ``count_at_least`` (summed count ≥ ``threshold`` cells) and ``any_of`` (at least one cell).
A malformed file is one :class:`FlagRulesError` naming the file and the rule. Classes a rule names that the
model does not know become warnings in the report, not errors (the rule counts them as 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .differential import Differential, wilson_interval

__all__ = [
    "DEFAULT_RULES",
    "KINDS",
    "SEVERITIES",
    "FiredFlag",
    "FlagResult",
    "FlagRule",
    "FlagRulesError",
    "RuleSet",
    "evaluate_flags",
    "load_rules",
    "parse_rules",
]

DEFAULT_RULES = "default_flags.yaml"
KINDS = ("percent_at_least", "count_at_least", "any_of")
SEVERITIES = ("info", "review", "urgent")
_RULE_KEYS = {"id", "kind", "classes", "threshold", "min_cells", "message", "severity"}


class FlagRulesError(ValueError):
    """A flag-rules file that cannot be used; the message names the file and the rule."""


@dataclass(frozen=True)
class FlagRule:
    """One rule: ``classes`` (groups expanded), ``label`` (how the rule named them), the test and its message."""

    id: str
    kind: str
    classes: tuple[str, ...]
    label: str
    message: str
    severity: str = "review"
    threshold: float | None = None
    min_cells: int = 0


@dataclass(frozen=True)
class RuleSet:
    """The rules of one file; ``source`` names it in reports and errors."""

    rules: tuple[FlagRule, ...]
    source: str


@dataclass(frozen=True)
class FiredFlag:
    """A rule that fired, with the numbers that made it fire."""

    rule: FlagRule
    count: int
    total: int
    percent: float | None
    ci95: tuple[float, float] | None
    explanation: str

    def to_json(self) -> dict[str, Any]:
        r = self.rule
        return {
            "id": r.id,
            "message": r.message,
            "severity": r.severity,
            "kind": r.kind,
            "classes": list(r.classes),
            "threshold": r.threshold,
            "count": self.count,
            "total": self.total,
            "percent": self.percent,
            "ci95": None if self.ci95 is None else list(self.ci95),
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class FlagResult:
    """Evaluated rules: those that fired, the ids evaluated, warnings (unknown classes, skipped rules)."""

    fired: tuple[FiredFlag, ...]
    evaluated: tuple[str, ...]
    warnings: tuple[str, ...]
    source: str

    def to_json(self) -> dict[str, Any]:
        return {
            "fired": [f.to_json() for f in self.fired],
            "evaluated": list(self.evaluated),
            "warnings": list(self.warnings),
            "rules": self.source,
        }


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Rules from ``path``, or the packaged defaults when ``path`` is ``None``."""
    if path is None:
        text = resources.files("leukodet.report").joinpath(DEFAULT_RULES).read_text(encoding="utf-8")
        return parse_rules(text, f"default rules (leukodet/report/{DEFAULT_RULES})")
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such flag rules file")
    return parse_rules(p.read_text(encoding="utf-8"), str(p))


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def parse_rules(text: str, where: str) -> RuleSet:
    """Parse and check a rules document; ``where`` names it in every error."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FlagRulesError(f"{where}: not valid YAML: {_one_line(exc)}") from None
    if not isinstance(doc, Mapping):
        raise FlagRulesError(f"{where}: expected a mapping with 'rules' (and optional 'groups', 'version')")
    extra = sorted(set(map(str, doc)) - {"version", "groups", "rules"})
    if extra:
        raise FlagRulesError(f"{where}: unknown top-level key(s) {', '.join(extra)}")
    if doc.get("version", 1) != 1:
        raise FlagRulesError(f"{where}: unsupported version {doc.get('version')!r} (expected 1)")
    groups = _groups(doc.get("groups") or {}, where)
    rules = doc.get("rules")
    if not isinstance(rules, list):
        raise FlagRulesError(f"{where}: 'rules' must be a list of rules")
    parsed = [_rule(r, i, groups, where) for i, r in enumerate(rules)]
    ids = [r.id for r in parsed]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise FlagRulesError(f"{where}: rule id {dup[0]!r} is used more than once")
    return RuleSet(tuple(parsed), where)


def _names(value: Any) -> list[str] | None:
    """A class name or a non-empty list of them, else ``None``."""
    if isinstance(value, str) and value.strip():
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return list(value)
    return None


def _groups(raw: Any, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping):
        raise FlagRulesError(f"{where}: 'groups' must map a group name to a list of class names")
    out = {}
    for name, members in raw.items():
        names = _names(members)
        if names is None:
            raise FlagRulesError(f"{where}: group {name!r} must be a class name or a non-empty list of them")
        out[str(name)] = tuple(names)
    return out


def _number(
    rule: Mapping[str, Any], key: str, low: float, high: float, what: str, whole: bool = False
) -> float:
    """``rule[key]`` as a float in ``[low, high]`` (a whole number if ``whole``), else ``ValueError``."""
    value = rule.get(key)
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and low <= value <= high
    if not ok or (whole and not float(value).is_integer()):
        raise ValueError(f"'{key}' must be {what}, got {value!r}")
    return float(value)


def _rule(raw: Any, index: int, groups: Mapping[str, tuple[str, ...]], where: str) -> FlagRule:
    """One checked rule; any problem is a :class:`FlagRulesError` naming the file and the rule."""
    rid = raw.get("id") if isinstance(raw, Mapping) else None
    name = f"rule {index + 1}" + (f" ({rid!r})" if isinstance(rid, str) else "")
    try:
        return _check_rule(raw, groups)
    except ValueError as exc:
        raise FlagRulesError(f"{where}: {name}: {exc}") from None


def _check_rule(raw: Any, groups: Mapping[str, tuple[str, ...]]) -> FlagRule:
    if not isinstance(raw, Mapping):
        raise ValueError("a rule must be a mapping with id, kind, classes and message")
    extra = sorted(set(map(str, raw)) - _RULE_KEYS)
    if extra:
        raise ValueError(f"unknown key(s) {', '.join(extra)} (allowed: {', '.join(sorted(_RULE_KEYS))})")
    for key in ("id", "message"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise ValueError(f"'{key}' must be a non-empty string")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ValueError(f"'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    names = _names(raw.get("classes"))
    if names is None:
        raise ValueError("'classes' must be a class or group name, or a non-empty list of them")
    classes = tuple(dict.fromkeys(c for n in names for c in groups.get(n, (n,))))
    severity = raw.get("severity", "review")
    if severity not in SEVERITIES:
        raise ValueError(f"'severity' must be one of {', '.join(SEVERITIES)}, got {severity!r}")
    if kind == "any_of" and "threshold" in raw:
        raise ValueError("'threshold' does not apply to kind any_of")
    if kind != "percent_at_least" and "min_cells" in raw:
        raise ValueError(f"'min_cells' does not apply to kind {kind}")
    threshold, min_cells = None, 0
    if kind == "percent_at_least":
        threshold = _number(raw, "threshold", 0.0, 100.0, "a percentage in [0, 100]")
        if "min_cells" in raw:
            min_cells = int(_number(raw, "min_cells", 0, float("inf"), "a whole cell count ≥ 0", True))
    elif kind == "count_at_least":
        threshold = _number(raw, "threshold", 1, float("inf"), "a whole cell count ≥ 1", True)
    label = names[0] if len(names) == 1 else " + ".join(names)
    return FlagRule(raw["id"], kind, classes, label, raw["message"], severity, threshold, min_cells)


def _pct(x: float) -> str:
    return f"{x:.1f}%"


def _fire(rule: FlagRule, k: int, n: int) -> FiredFlag | None:
    """The flag if ``rule`` fires on ``k`` of ``n`` WBCs, else ``None``."""
    ci = wilson_interval(k, n)
    ci95 = None if ci is None else (100.0 * ci[0], 100.0 * ci[1])
    pct = None if n == 0 else 100.0 * k / n
    share = f"{rule.label}: {k} of {n} WBCs"
    if rule.kind == "any_of":
        return FiredFlag(rule, k, n, pct, ci95, f"{share} (any_of fires on ≥ 1 cell)") if k >= 1 else None
    assert rule.threshold is not None
    if rule.kind == "count_at_least":
        ok = k >= rule.threshold
        return FiredFlag(rule, k, n, pct, ci95, f"{share}; {k} ≥ {rule.threshold:g} cells") if ok else None
    if pct is None or 100 * k < rule.threshold * n - 1e-9:
        return None
    assert ci95 is not None
    text = f"{share} = {_pct(pct)} (95% CI {_pct(ci95[0])}–{_pct(ci95[1])}) ≥ {rule.threshold:g}%"
    return FiredFlag(rule, k, n, pct, ci95, text)


def evaluate_flags(rules: RuleSet, diff: Differential, model_classes: Sequence[str]) -> FlagResult:
    """Evaluate every rule on the film's differential.

    Args:
        rules: the rule set.
        diff: the film's differential (percentages are of ``diff.total`` WBCs).
        model_classes: the model's WBC classes (role ``wbc``); rule classes outside them, or the generic
            untyped ``WBC``, give warnings.
    """
    counts = diff.counts()
    untyped = {r.name for r in diff.classes if r.untyped}
    known = {c for c in model_classes if c not in untyped}
    fired, evaluated, warnings = [], [], []
    for rule in rules.rules:
        unknown = [c for c in rule.classes if c not in known]
        if len(unknown) == len(rule.classes):
            warnings.append(
                f"rule {rule.id} not evaluated: {', '.join(unknown)} not a WBC class of the model"
            )
            continue
        if unknown:
            warnings.append(
                f"rule {rule.id}: {', '.join(unknown)} not a WBC class of the model (counted as 0)"
            )
        if rule.kind == "percent_at_least" and diff.total < rule.min_cells:
            warnings.append(
                f"rule {rule.id} not evaluated: {diff.total} WBCs counted, it needs {rule.min_cells}"
            )
            continue
        evaluated.append(rule.id)
        flag = _fire(rule, sum(counts.get(c, 0) for c in rule.classes), diff.total)
        if flag is not None:
            fired.append(flag)
    return FlagResult(tuple(fired), tuple(evaluated), tuple(warnings), rules.source)
