"""Class roles: what each class of a vocabulary is, so a film report counts WBCs as WBCs.

A detector's classes mix kinds of objects: LLD's 14 WBC types plus ``None`` (artefacts), BCCD's ``WBC``, ``RBC``
and ``Platelets``, WBCAtt's 7 peripheral-blood classes. The report needs to know which classes enter the WBC
differential, which are red cells or platelets (counted per field, never as WBCs), and which are counted apart.
Every class has one role:

- ``wbc``: a white cell; a WBC type (``Myeloblast``) or the generic, untyped ``WBC`` (:func:`is_untyped_wbc`).
- ``rbc``: a red cell.
- ``platelet``: a platelet.
- ``artefact``: counted apart from everything else (LLD ``None``: artefacts, bare nuclei, unnamed cells).
- ``other``: any other object (e.g. nucleated red cells, WBCAtt ``Erythroblast``), counted apart.

Roles are declared in the dataset YAML (``roles:`` beside ``names:``, a list in class order or a mapping
``{class: role}``), stored in the checkpoint (metadata ``class_roles``) and read by the report. A class without a
declared role takes its default from :data:`KNOWN_ROLES` (LLD, BCCD, BCDD, WBCAtt names; case-insensitive); a
class with neither is an error when a report needs it (:func:`class_roles`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .vocab import GENERIC_WBC, LLD_WBC_TYPES, WBCATT_CLASSES

__all__ = [
    "ARTEFACT",
    "KNOWN_ROLES",
    "OTHER",
    "PLATELET",
    "RBC",
    "ROLES",
    "WBC",
    "RolesError",
    "class_roles",
    "declared_roles",
    "default_role",
    "is_untyped_wbc",
    "known_roles",
    "model_roles",
]

WBC, RBC, PLATELET, ARTEFACT, OTHER = "wbc", "rbc", "platelet", "artefact", "other"
ROLES: tuple[str, ...] = (WBC, RBC, PLATELET, ARTEFACT, OTHER)
"""The roles a class can have, in report order."""

_UNTYPED_WBC_NAMES = frozenset(
    {GENERIC_WBC.lower(), "leukocyte", "leucocyte", "white blood cell", "white cell"}
)

KNOWN_ROLES: dict[str, str] = {
    **{name.lower(): WBC for name in LLD_WBC_TYPES},
    **{name.lower(): WBC for name in WBCATT_CLASSES if name != "Erythroblast"},
    **{name: WBC for name in _UNTYPED_WBC_NAMES},
    "ig": WBC,  # immature granulocytes (WBCAtt / PBC)
    "none": ARTEFACT,  # LLD class 0
    "not a wbc": ARTEFACT,  # a reviewer's mark on a model without an artefact class (leukodet.serve)
    "rbc": RBC,
    "red blood cell": RBC,
    "erythrocyte": RBC,
    "platelet": PLATELET,
    "platelets": PLATELET,  # BCCD
    "thrombocyte": PLATELET,
    "erythroblast": OTHER,  # a nucleated red cell: reported per 100 WBCs, never in the differential
}
"""Default role of the known vocabularies' class names (lower case): LLD's 14 types and ``None``, BCCD and
BCDD (``WBC``, ``RBC``, ``Platelets``), WBCAtt/PBC (7 classes), the synthetic generator (``RBC``, ``Platelet``)."""


class RolesError(ValueError):
    """A role that is not one of :data:`ROLES`, a role for an unknown class, or a class with no role."""


def default_role(name: str) -> str | None:
    """The known role of a class name (case-insensitive), ``None`` when the name is not known."""
    return KNOWN_ROLES.get(str(name).strip().lower())


def is_untyped_wbc(name: str) -> bool:
    """Whether a WBC class is the generic one (``WBC``, ``leukocyte``...): a white cell of no named type."""
    return str(name).strip().lower() in _UNTYPED_WBC_NAMES


def _check_role(role: Any, what: str, where: str) -> str:
    if role not in ROLES:
        raise RolesError(f"{where}: role {role!r} of {what} is not one of {', '.join(ROLES)}")
    return str(role)


def declared_roles(raw: Any, classes: Sequence[str], where: str = "roles") -> dict[str, str]:
    """The roles a dataset YAML declares: ``raw`` is a list in class order (``null`` = default) or a mapping
    ``{class name or id: role}``; returns ``{class: role}`` of the declared ones.

    Raises:
        RolesError: naming ``where`` for a list of the wrong length, an unknown class or an unknown role.
    """
    names = list(classes)
    if raw is None:
        return {}
    if isinstance(raw, list):
        if len(raw) != len(names):
            raise RolesError(f"{where}: {len(raw)} roles for {len(names)} classes (one per class, in order)")
        return {n: _check_role(r, repr(n), where) for n, r in zip(names, raw) if r is not None}
    if isinstance(raw, dict):
        out = {}
        for key, role in raw.items():
            name = names[key] if isinstance(key, int) and 0 <= key < len(names) else str(key)
            if name not in names:
                raise RolesError(f"{where}: {key!r} is not a class (classes: {', '.join(names)})")
            out[name] = _check_role(role, repr(name), where)
        return out
    raise RolesError(f"{where}: 'roles' must be a list (one per class) or a mapping {{class: role}}")


def known_roles(classes: Sequence[str], declared: Mapping[str, str] | None = None) -> list[str | None]:
    """One role per class: the declared one, else the default, else ``None`` (unknown)."""
    declared = declared or {}
    return [declared.get(c) or default_role(c) for c in classes]


def class_roles(
    classes: Sequence[str],
    stored: Sequence[str | None] | Mapping[str, str] | None = None,
    *,
    where: str = "the model",
) -> tuple[str, ...]:
    """The role of every class, from ``stored`` roles (a checkpoint's ``class_roles`` list, or a mapping),
    else the defaults.

    Raises:
        RolesError: naming the classes that have no role, and how to give them one.
    """
    names = list(classes)
    if stored is None:
        given: dict[str, str] = {}
    elif isinstance(stored, Mapping):
        given = {str(k): str(v) for k, v in stored.items() if v is not None}
    else:
        if len(stored) != len(names):
            raise RolesError(f"{where}: {len(stored)} class roles for {len(names)} classes")
        given = {n: r for n, r in zip(names, stored) if r is not None}
    for name, role in given.items():
        _check_role(role, repr(name), where)
    roles = known_roles(names, given)
    missing = [n for n, r in zip(names, roles) if r is None]
    if missing:
        raise RolesError(
            f"{where}: class {', '.join(map(repr, missing))} has no role and none can be inferred; declare one "
            f"of {', '.join(ROLES)} (dataset YAML 'roles:' beside 'names:' before training, or --role NAME=ROLE)"
        )
    return tuple(r for r in roles if r is not None)


def model_roles(
    metadata: Mapping[str, Any],
    classes: Sequence[str],
    override: Sequence[str | None] | Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    """The role of every class of a checkpoint: ``override`` (list or ``{class: role}``), else the stored
    ``class_roles``, else the names' defaults; :class:`~leukodet.records.roles.RolesError` for a class with none."""
    stored = metadata.get("class_roles")
    merged: dict[str, str] = {}
    if stored is not None and len(stored) == len(classes):
        merged.update({c: r for c, r in zip(classes, stored) if r is not None})
    if isinstance(override, Mapping):
        merged.update({str(k): str(v) for k, v in override.items()})
    elif override is not None:
        return class_roles(classes, override)
    name = (
        metadata.get("model_config", {}).get("name")
        if isinstance(metadata.get("model_config"), dict)
        else None
    )
    return class_roles(classes, merged, where=f"model {name}" if name else "the model")
