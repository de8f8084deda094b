"""The preset designs that ship with LayerLab: the top-level `presets/` folder.

Read by the designer's File > Presets menu and by the trainer, whose `init_from` may name a
preset ("preset:NAME") to start from its pre-trained weights.
"""
from __future__ import annotations

from pathlib import Path

from .errors import LayerLabError
from .names import did_you_mean

PRESETS_DIR = Path(__file__).resolve().parent.parent / "presets"


class PresetError(LayerLabError):
    """A preset name that names no preset."""


def preset_names() -> list[str]:
    """Every preset's name (its file name without `.json`), sorted."""
    return sorted(path.stem for path in PRESETS_DIR.glob("*.json"))


def preset_path(name: str) -> Path:
    """The file of the preset called `name` (`lenet-digits`); a PresetError (with the closest
    name) when there is none."""
    path = PRESETS_DIR / f"{name}.json"
    if not name or Path(name).name != name or not path.is_file():
        raise PresetError(f"there is no preset {name!r}{did_you_mean(name, preset_names())}")
    return path
