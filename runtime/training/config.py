"""The design's `training` block: defaults, validation with located errors, and a typed view.

Everything here is derived from the settings catalogue (settings.py): the defaults, which keys
exist, and how each value is checked. Every bad value is reported with its location
(``training.optimizer.lr``) and a bad block never starts a run.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ..errors import Problem, TrainingConfigError
from ..names import did_you_mean
from .settings import SETTINGS, defaults, get_path, set_path, validate

#: The training block at its declared defaults.
DEFAULTS: dict[str, Any] = defaults()


@dataclass(frozen=True)
class TrainingConfig:
    """A validated training block; `raw` holds it with every default filled in."""

    raw: dict

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    @property
    def dataset(self) -> dict:
        return self.raw["dataset"]

    @property
    def optimizer(self) -> dict:
        return self.raw["optimizer"]

    @property
    def schedule(self) -> dict:
        return self.raw["schedule"]

    @property
    def metrics(self) -> list[str]:
        return self.raw["metrics"]

    @property
    def monitor_key(self) -> str:
        return self.raw["early_stopping"]["monitor"]


def merged_with_defaults(block: dict) -> dict:
    """`block` on top of `DEFAULTS`, one level deep for the nested sections."""
    out = copy.deepcopy(DEFAULTS)
    for key, value in block.items():
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key].update(copy.deepcopy(value))
        else:
            out[key] = copy.deepcopy(value)
    return out


def effective_block(block: dict) -> dict:
    """What a run would use, not yet validated: `block` on top of the defaults, with the defaults
    that depend on other settings (metrics follow the loss; an `early_stopping` section turns
    early stopping on) derived from what the block says."""
    raw = merged_with_defaults(block)
    for setting in SETTINGS:
        if setting.derive is None or _given(block, setting.path):
            continue
        *parents, last = setting.path.split(".")
        node = raw
        try:
            for part in parents:
                node = node[part]
            if isinstance(node, dict):
                node[last] = setting.derive(block, raw)
        except (KeyError, TypeError):
            continue  # a malformed section is reported by validation
    return raw


def with_setting(block: dict, path: str, value: Any) -> dict:
    """A copy of the user's `block` with one setting changed (sections created as needed).

    Defaults that follow from what the block says keep their value: changing early stopping's
    patience does not switch early stopping on by writing an `early_stopping` section.
    """
    out = copy.deepcopy(block)
    before = effective_block(block)
    set_path(out, path, value)
    for setting in SETTINGS:
        if setting.derive is None or setting.path == path or _given(block, setting.path):
            continue
        section = setting.path.rsplit(".", 1)[0]
        if "." in setting.path and _given(out, section) and not _given(block, section):
            set_path(out, setting.path, get_path(before, setting.path))
    return out


def parse_training(block: Any) -> TrainingConfig:
    """Validate a training block; raise `TrainingConfigError` listing every problem."""
    if not isinstance(block, dict):
        raise TrainingConfigError([Problem("'training' must be an object", location="training")])
    raw = effective_block(block)
    problems, sections_ok = _unknown_keys(block, raw)
    if sections_ok:  # fields of a section that is not an object cannot be checked
        for setting in SETTINGS:
            try:
                message = validate(setting, get_path(raw, setting.path), raw)
            except (TypeError, ValueError, OverflowError, RecursionError) as err:
                # a value no check foresaw (a list where a name belongs, a huge integer):
                # still a located problem, never an exception out of the loader
                message = f"cannot use this value ({type(err).__name__}: {err})"
            if message:
                problems.append(Problem(message, location=f"training.{setting.path}"))
    if problems:
        raise TrainingConfigError(problems)
    return TrainingConfig(raw)


def _given(block: dict, path: str) -> bool:
    try:
        get_path(block, path)
    except (KeyError, TypeError):
        return False
    return True


def _unknown_keys(given: dict, raw: dict) -> tuple[list[Problem], bool]:
    """Keys no setting declares and sections that are not objects; and whether every section
    is an object."""
    problems = []
    sections_ok = True
    for key in given:
        if key not in DEFAULTS:
            problems.append(Problem(f"unknown setting '{key}'{did_you_mean(key, list(DEFAULTS))}",
                                    location=f"training.{key}"))
    for section, fields in DEFAULTS.items():
        if not isinstance(fields, dict):
            continue
        if not isinstance(raw[section], dict):
            sections_ok = False
            problems.append(Problem(f"'{section}' must be an object",
                                    location=f"training.{section}"))
            continue
        for key in raw[section]:
            if key not in fields:
                problems.append(Problem(f"unknown setting '{key}' in '{section}'"
                                        f"{did_you_mean(key, list(fields))}",
                                        location=f"training.{section}.{key}"))
    return problems, sections_ok
