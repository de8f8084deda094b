"""The doctor's labelled suite (`benchmarks/doctor_cases.py`) is well formed: every finding code
has at least two fault cases, every design and counterpart builds, passes shape inference and fits
its data (or, for a case marked invalid, is refused with the loss/output error the doctor must
report), every expected place exists, and every preset is a healthy control or a fault case with
its fixed version as counterpart. Nothing is trained here; `benchmarks/doctor.py --verify` trains
them."""
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.doctor_cases import CASES, CONTROLS, FAULT_PRESETS, Case
from benchmarks.doctor_holdout import CASES as HOLDOUT_CASES, CONTROLS as HOLDOUT_CONTROLS
from runtime.doctor.rules import RULES
from runtime.errors import TrainingConfigError, TrainingError
from runtime.graph import GraphModel
from runtime.shapes import infer
from runtime.training import parse_training
from runtime.training.data_fit import check_data_fits
from runtime.training.modes import mode_of, training_data
from runtime.training.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
ALL_CASES, ALL_CONTROLS = CASES + HOLDOUT_CASES, CONTROLS + HOLDOUT_CONTROLS  # both suites
CASE_IDS = [c.name for c in ALL_CASES]
SETTING_PATHS = {s.path for s in SETTINGS}
SECTIONS = {p.rsplit(".", 1)[0] for p in SETTING_PATHS if "." in p}


def _data_problem(design: GraphModel) -> Exception | None:
    """The error that refuses this design's run before training (None when it may run)."""
    analysis = infer(design)
    assert analysis.valid, [p.message for p in analysis.errors]
    try:
        config = parse_training(design.training)
    except TrainingConfigError as err:
        return err
    dataset = training_data(config)  # as the design's training mode sees it
    if mode_of(config).objective is not None:
        return None  # its own objective checks its fit when the run starts (a test runs it)
    try:
        check_data_fits(design, analysis, dataset, config)
    except TrainingError as err:
        return err
    return None


def test_every_code_has_at_least_two_cases():
    counts = Counter(c.code for c in CASES)
    assert set(counts) <= set(RULES), set(counts) - set(RULES)
    thin = {code: counts.get(code, 0) for code in RULES if counts.get(code, 0) < 2}
    assert not thin, f"codes with fewer than two fault cases: {thin}"
    assert len(CASES) >= 44


def test_names_are_unique_and_the_quick_subset_covers_every_code():
    names = [c.name for c in ALL_CASES] + [c.name for c in ALL_CONTROLS]
    assert len(names) == len(set(names))
    assert {c.code for c in CASES if c.quick} == set(RULES)


def test_alternative_answers_are_known_codes():
    for case in ALL_CASES:
        assert set(case.accepted()) <= set(RULES), case.name
        assert case.code not in dict(case.also), case.name


def _check_places(case: Case, design: GraphModel) -> None:
    for place in {p for places in case.accepted().values() for p in places}:
        if place.startswith("training."):
            path = place[len("training."):]
            assert path in SETTING_PATHS or path in SECTIONS, (case.name, place)
        else:
            assert place in design.nodes, (case.name, place, list(design.nodes))


@pytest.mark.parametrize("case", ALL_CASES, ids=CASE_IDS)
def test_case_builds_and_its_places_exist(case):
    design = case.design()
    assert design.training.get("epochs") == case.epochs, "the design's budget is the case's"
    _check_places(case, design)
    problem = _data_problem(design)
    if case.invalid:
        assert problem is not None, "an invalid case must be refused before training"
        assert getattr(problem, "node", None) is None or problem.node in design.nodes
    else:
        assert problem is None, str(problem)
    if case.counterpart is not None:
        fixed = case.counterpart()
        assert _data_problem(fixed) is None
        assert fixed.training.get("epochs") == case.epochs, "same budget as the fault"
        assert fixed.training["dataset"] == design.training["dataset"], "same data"
        assert fixed.training.get("seed", 0) == design.training.get("seed", 0)


def test_designs_are_fresh_on_every_call():
    case = CASES[0]
    first, second = case.design(), case.design()
    assert first is not second
    first.remove_node(next(iter(first.nodes)))
    assert len(second.nodes) == len(case.design().nodes)


def test_every_preset_is_a_control_or_a_fault_with_its_fix():
    stems = {p.stem for p in (ROOT / "presets").glob("*.json")}
    controls = {c.name.removeprefix("preset:") for c in CONTROLS if c.name.startswith("preset:")}
    assert stems == controls | set(FAULT_PRESETS), stems ^ (controls | set(FAULT_PRESETS))
    assert not controls & set(FAULT_PRESETS)
    lesson_faults = {s for s in stems if s.startswith("lesson-") and not s.endswith("-fixed")}
    assert lesson_faults <= set(FAULT_PRESETS)
    for stem in FAULT_PRESETS:
        cases = [c for c in CASES if c.design().name == _preset_name(stem)]
        assert cases, f"no fault case runs the preset {stem}"
        if stem.startswith("lesson-"):
            fixed = cases[0].counterpart()
            assert fixed.name == _preset_name(f"{stem}-fixed")


def _preset_name(stem: str) -> str:
    from runtime.document import load

    return load(ROOT / "presets" / f"{stem}.json").name


@pytest.mark.parametrize("control", ALL_CONTROLS, ids=[c.name for c in ALL_CONTROLS])
def test_control_builds_and_fits_its_data(control):
    design = control.design()
    assert _data_problem(design) is None
    assert control.epochs == design.training.get("epochs", 20)
