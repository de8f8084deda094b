"""The Doctor's state, without widgets: the findings about the design on screen and the child
process that runs the pre-flight check.

`DoctorFindings` merges the three sources, worst first:

* static rules, recomputed whenever the design's analysis changes (like shape errors);
* the pre-flight check ("Check design"), run by `PreflightRunner` in a child process
  (`main.py doctor FILE --json`): training never runs in the editor's process;
* the live doctor of the current training run (its `diagnosis` events, kept by the RunRecord).

Everything it holds describes the design on screen: a new or opened design clears the check's and
the run's findings, and a finding whose node has gone is not listed. The widget is
designer/doctor_panel.py.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from runtime.data import get_spec
from runtime.doctor import SEVERITIES, Finding, static_findings
from runtime.doctor.preflight import load_data
from runtime.document import to_dict
from runtime.errors import DatasetError, LayerLabError
from runtime.lazy import import_in_background, imported

from .design_process import DesignProcess
from .run_data import RunRecord
from .session import DesignSession

#: A check that takes longer than this is ended (the pre-flight takes seconds for the presets).
CHECK_TIMEOUT_MS = 180_000
SOURCE_WORDS = {"static": "from the design", "preflight": "from the check", "live": "training"}
#: The live plot that shows what a finding measured: "gradients", "activations" or "loss" (all on
#: the Training plots' Live page; the activations follow the selected node).
PLOT_OF_CODE = {
    **dict.fromkeys(("vanishing_gradients", "exploding_gradients"), "gradients"),
    **dict.fromkeys(("dead_units", "saturation"), "activations"),
    **dict.fromkeys(("lr_too_high", "lr_too_low", "slow_convergence", "stuck_at_chance",
                     "overfitting", "underfitting"), "loss"),
}
#: Severities that bring the Doctor forward when a run first reports one.
ALARMING = ("error", "warning")


@dataclass(frozen=True)
class Shown:
    """A finding as listed: where it came from and, for a live one, the step it cleared at."""

    finding: Finding
    source: str  # "static", "preflight" or "live"
    cleared_at: int | None = None

    @property
    def key(self) -> tuple:
        return self.finding.key

    def where(self) -> str:
        """Where it points and where it came from, e.g. "fc1 · training, step 120"."""
        f = self.finding
        origin = SOURCE_WORDS[self.source]
        if self.cleared_at is not None:
            origin = f"cleared at step {self.cleared_at}"
        elif self.source == "live" and f.step is not None:
            origin += f", step {f.step}"
        return f"{f.where} · {origin}"


class DoctorFindings(QObject):
    """The findings about the design on screen, from its three sources.

    Signals:
        changed(): the list changed (`shown()` and `by_node()` say what it is now).
        alarmed(): a run reported its first current warning or error (once per run).

    `static_error` says why the static rules could not run on the design (None when they ran):
    their silence then is not a clean bill of health.
    """

    changed = Signal()
    alarmed = Signal()

    def __init__(self, session: DesignSession, parent: QObject | None = None):
        super().__init__(parent)
        self.session = session
        self.static: list[Finding] = []
        self.preflight: list[Finding] = []
        self.live: list[Shown] = []
        self.static_error: str | None = None
        self._alarmed_by: RunRecord | None = None  # the run that last brought the panel forward
        self._dataset_key: str | None = None
        self._dataset = None
        # the rules that read the data run again once torch is in (it loads after the first paint)
        self._await_torch = QTimer(self)
        self._await_torch.setInterval(200)
        self._await_torch.setSingleShot(True)
        self._await_torch.timeout.connect(self.recompute_static)
        self._awaited = False
        session.analysis_changed.connect(self.recompute_static)
        session.model_replaced.connect(self.clear_results)

    # --- sources ---------------------------------------------------------------------------
    def dataset(self):
        """The design's dataset (loaded once per dataset block), or None when it cannot load."""
        base = self.session.path.parent if self.session.path else None
        training = self.session.model.training or {}
        key = json.dumps([training.get("dataset"), training.get("seed"), str(base)],
                         sort_keys=True, default=str)
        if key != self._dataset_key:
            if not imported("torch"):  # loading data needs torch: never wait for it here
                if self._awaited:  # still not in after a wait: nobody is importing it
                    import_in_background("torch")
                self._awaited = True
                self._await_torch.start()
                return None
            self._dataset_key, self._dataset = key, None  # keep one: datasets can be large
            try:
                self._dataset = load_data(self.session.model, base)
            except Exception:  # noqa: BLE001 (a broken dataset is the form's to report)
                self._dataset = None
        return self._dataset

    def recompute_static(self, analysis=None) -> None:
        """Run the static rules on the design as it is now (on every analysis change)."""
        model = self.session.model
        analysis = analysis if analysis is not None else self.session.analysis
        try:
            found = static_findings(model, analysis, self.dataset() if analysis.valid else None)
            error = None
        except Exception as err:  # noqa: BLE001 (a rule's bug must not break editing)
            found, error = [], describe_error(err)
        self.static, self.static_error = found, error
        self.changed.emit()  # even when the same: the nodes the others point at may have changed

    def set_preflight(self, findings: list[Finding]) -> None:
        self.preflight = list(findings)
        self.changed.emit()

    def set_live(self, run: RunRecord | None) -> None:
        """Show the live findings of `run` (None: none)."""
        live = []
        for event in (run.diagnoses.values() if run is not None else ()):
            try:
                finding = Finding.from_json(event["finding"])
            except (KeyError, TypeError, ValueError):
                continue
            cleared = event.get("step") if event.get("status") == "withdrawn" else None
            live.append(Shown(finding, "live", cleared))
        if live != self.live:
            self.live = live
            self.changed.emit()
        if run is not None and run is not self._alarmed_by and any(
                s.cleared_at is None and s.finding.severity in ALARMING for s in live):
            self._alarmed_by = run
            self.alarmed.emit()

    def clear_results(self) -> None:
        """Forget the check's and the run's findings (another design is on screen)."""
        self.preflight, self.live = [], []
        self.changed.emit()

    def forget(self, key: tuple) -> None:
        """Drop the check's and the run's findings with this key (their fix was applied)."""
        self.preflight = [f for f in self.preflight if f.key != key]
        self.live = [s for s in self.live if s.key != key]
        self.changed.emit()

    # --- reading ---------------------------------------------------------------------------
    def shown(self) -> list[Shown]:
        """Every finding to list, errors first; the design's own (static) findings win over the
        check's and the run's with the same key, a current live finding over the check's."""
        nodes = self.session.model.nodes
        active = [s for s in self.live if s.cleared_at is None]
        cleared = [s for s in self.live if s.cleared_at is not None]
        candidates = ([Shown(f, "static") for f in self.static] + active
                      + [Shown(f, "preflight") for f in self.preflight if f.stage != "static"]
                      + cleared)
        seen, out = set(), []
        for item in candidates:
            if item.key in seen or (item.finding.node and item.finding.node not in nodes):
                continue
            seen.add(item.key)
            out.append(item)
        rank = {s: i for i, s in enumerate(SEVERITIES)}
        return sorted(out, key=lambda s: (s.cleared_at is not None, rank[s.finding.severity]))

    def by_node(self) -> dict[str, list[tuple[str, str]]]:
        """(severity, title) of the current findings on each node, worst first (for badges)."""
        out: dict[str, list[tuple[str, str]]] = {}
        for item in self.shown():
            if item.finding.node and item.cleared_at is None:
                out.setdefault(item.finding.node, []).append((item.finding.severity,
                                                              item.finding.title))
        return out


def describe_error(err: Exception) -> str:
    """An exception in a sentence: its message, or its type when the message says nothing."""
    text = str(err).strip()
    if isinstance(err, LayerLabError) and text:
        return text
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def parse_findings(entries) -> list[Finding]:
    """The findings of a check's JSON ("findings": [...]); an entry that does not parse is
    skipped (a newer runtime's finding must not break an older designer)."""
    findings = []
    for entry in entries or []:
        try:
            findings.append(Finding.from_json(entry))
        except (KeyError, TypeError, ValueError):
            continue
    return findings


class PreflightRunner(DesignProcess):
    """Runs `main.py doctor FILE --json` on a copy of the design in a child process.

    Signals:
        finished(dict): the check ran; its JSON ({"findings": [...], "preflight": {...}}).
        failed(str): it could not run (a broken design, a crash, a timeout); the reason.
    """

    finished = Signal(object)  # object: a dict signal would become a QVariantMap, sorted by key
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent, prefix="layerlab-doctor-")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._timed_out)

    def command(self, design_file: Path, lr_finder: bool = False) -> list[str]:
        return ["doctor", str(design_file), "--json", *(["--lr-finder"] if lr_finder else [])]

    def start(self, session: DesignSession, lr_finder: bool = False) -> None:
        """Check the design as it is now; relative dataset paths resolve against its folder.
        With `lr_finder`, the check also sweeps the learning rate (its JSON's
        preflight.lr_curve and preflight.suggested_lr)."""
        base = session.path.parent if session.path else Path.cwd()
        name = session.path.name if session.path else session.model.name or "the design"
        self._launch(design_for_check(to_dict(session.model), base), name,
                     lambda file: self.command(file, lr_finder), workdir=base)
        self._timer.start(CHECK_TIMEOUT_MS)

    def _cleanup(self) -> None:
        self._timer.stop()
        super()._cleanup()

    def _timed_out(self) -> None:
        if self.process is not None:
            self.cancel()
            self.failed.emit(f"the check took more than {CHECK_TIMEOUT_MS // 1000} s and was "
                             "ended")

    def _could_not_start(self, reason: str) -> None:
        self.failed.emit(f"the check could not start: {reason}")

    def _ended(self, code: int, normal: bool, out: str, err: str, shown_as: str) -> None:
        try:
            data = json.loads(out)
        except ValueError:
            data = None
        if normal and isinstance(data, dict) and isinstance(data.get("findings"), list) \
                and code == 0:
            self.finished.emit(data)
            return
        message = (data or {}).get("error") if isinstance(data, dict) else None
        text = self.named(message, shown_as) if message else err
        lines = [line for line in text.splitlines() if line.strip()]
        self.failed.emit(" ".join(lines[-3:]) if lines else
                         f"the check ended with exit code {code}")


def design_for_check(document: dict, base: Path) -> dict:
    """The design document with its dataset's relative file paths made absolute against `base`
    (the design's folder): the check reads a copy in a temporary folder, and `main.py doctor`
    resolves relative paths against the folder of the file it reads."""
    block = (document.get("training") or {}).get("dataset")
    try:
        spec = get_spec(block.get("name")) if isinstance(block, dict) else None
    except DatasetError:
        spec = None
    if spec is None or not isinstance(block.get("params") or {}, dict):
        return document
    params = dict(block.get("params") or {})
    if "path" in block and "path" not in params and "path" in spec.param_names():
        params["path"] = block["path"]  # the block-level spelling load_dataset accepts
    changed = False
    for param in spec.params:
        value = params.get(param.name, param.default)
        if param.kind == "path" and isinstance(value, str) and value \
                and not Path(value).is_absolute():
            params[param.name] = str(base / value)
            changed = True
    if not changed:
        return document
    return {**document, "training": {**document["training"],
                                     "dataset": {**block, "params": params}}}
