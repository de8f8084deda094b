"""The training loop: a compiled design, a dataset on the device, events out, commands in.

Small datasets live as tensors on the training device and are batched by index (no per-sample
DataLoader on the hot path). Every step checks the loss and the gradient norm in one device sync,
so NaN/Inf stops the run before it corrupts the weights, with the node where it appeared.
"""
from __future__ import annotations

import contextlib
import math
import os
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

import torch

from ..compile import compile_joined, compile_model
from ..document import to_dict
from ..errors import DatasetError, PeerLost, TrainingConfigError, TrainingError
from ..graph import GraphModel
from ..data.base import NamedTensors
from ..names import INPUTS_ATTRIBUTE
from ..networks import is_multi_network
from ..shapes import infer
from .augment import augment
from .callbacks import Callback
from .checkpoints import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint
from .config import TrainingConfig, parse_training
from .data_feed import Feed, Placement, choose, worker_count
from .data_fit import activation_warning, check_data_fits, check_structure
from .devices import autocast_plan, pick_device
from .distributed import (Reducer, check_batches, close_group, init_group, lost_peer,
                          rank_device, share, threads_per_process, world, wrap)
from .events import (EpochEnd, Error, Event, FitEnd, FitStart, LrChanged, Monitor, Step, RunWarning,
                     from_json)
from .losses import LOSSES, compute_loss
from .memory import check_fits, device_memory, fitting_batch, run_bytes
from .metrics import MetricAccumulator, higher_is_better
from .modes import mode_of, training_data
from .outputs import (HeadsAccumulator, heads_forward, heads_loss, is_multi_io,
                      output_heads,
                      own_loss_config)
from .monitor import MonitorSample, MonitorSchedule, first_non_finite_node
from .optimizers import base_lr, load_state_by_name, make_optimizer, multiplier_groups
from .regularizers import apply_max_norm, l1_penalty
from .report import EvaluationContext, validation_report
from .schedules import RunShape, Schedule

STEP_EVENT_INTERVAL = 0.05  # seconds between per-step loss events (20 Hz is plenty for a plot)
# Besides the loss (read back and checked on every batch), some batches also read back the gradient
# norms and the training-metric sums. Their spacing adapts so this costs about 1 % of training:
# every batch for networks whose steps take a few milliseconds or more, up to every 32nd for tiny
# ones (a 1 ms MLP step would otherwise pay over 10 %). The first batch of every epoch is checked.
#: Samples per forward pass when evaluating (no gradients, so larger than training batches).
EVAL_BATCH = 1024
#: Outputs beyond this size explain a non-finite loss by divergence rather than bad targets.
OVERFLOW_HINT = 1e6
CHECK_BUDGET = 0.01
MAX_CHECK_EVERY = 32
#: A run that checks every batch still times a plain one this often, to re-measure the cost.
CHECK_REPROBE = 50
_NO_AUTOCAST = contextlib.nullcontext()  # reusable: entering it does nothing
#: float16's loss scale at the start of a run (torch's default), halved until gradients fit.
INITIAL_LOSS_SCALE = 2.0 ** 16


def cpu_threads(setting: int | str) -> int:
    """CPU threads for training: 'auto' leaves one core free for the editor (at least one).

    Small networks train fastest on one thread; extra threads mostly help large convolutions, and
    oversubscribed cores make every step many times slower.
    """
    if setting != "auto":
        return int(setting)
    return max(1, min((os.cpu_count() or 1) - 1, 8))


class Trainer:
    """Trains one design. Build it, then call `fit()`; control it from callbacks or another thread.

    Args:
        design: The design to train (its `training` block is used unless `config` is given).
        config: A training block (dict) or a parsed `TrainingConfig`.
        callbacks: Receive events (see `Callback`).
        base_dir: Folder that relative dataset paths are resolved against.
        checkpoint_dir: Where `last.pt` and `best.pt` are written (None: no checkpoints).
        resume: A checkpoint to continue from (its weights, optimiser, schedule and epoch).
        dataset: A ready `Dataset` (otherwise the training block's dataset is loaded).
        init_from: A checkpoint (path or loaded dict) whose weights start a new run: loaded
            node by node where they fit (`transfer_weights`) after compiling, before the first
            step; the optimiser, schedule and epoch start afresh. What happened is in
            `transfer_report`. Refused together with `resume`.
    """

    def __init__(self, design: GraphModel, config: TrainingConfig | dict | None = None,
                 callbacks: Iterable[Callback] = (), base_dir: str | Path | None = None,
                 checkpoint_dir: str | Path | None = None, resume: str | Path | None = None,
                 dataset: Any = None, init_from: str | Path | dict | None = None):
        if init_from is not None and resume:
            raise TrainingError("init_from and resume cannot be used together: resume continues "
                                "a run (its weights, optimiser, schedule and epoch), init_from "
                                "starts a new run from another run's weights", "design")
        self.design = design
        # under torchrun: this process's rank; only rank 0 has callbacks (events, files)
        self.world = world()
        if config is None:
            config = design.training
        self.config = config if isinstance(config, TrainingConfig) else parse_training(config)
        self.callbacks = list(callbacks) if self.world.main else []
        self.base_dir = Path(base_dir) if base_dir else None
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.resume_path = Path(resume) if resume else None
        self.init_from = init_from
        self.transfer_report = None
        self.dataset = dataset
        self.history: list[EpochEnd] = []
        self.epoch_extras: dict[str, float] = {}  # added to the next epoch_end's metrics
        self.current_node: str | None = None  # the node a mode with its own objective trains
        # state a mode keeps beside the model and optimiser (a second optimiser): objects with
        # state_dict/load_state_dict, saved in checkpoints under their names
        self.extra_states: dict[str, Any] = {}
        # how the end-of-run report makes outputs, when a mode validates one way and uses the
        # model another (seq2seq: teacher-forced validation, greedy decoding in use)
        self.report_forward: Any = None
        self.step = 0
        self.epoch = 0
        self._stop = False
        self._paused = False
        self._pending_lr: float | None = None
        self.doctor = None
        self.reducer: Reducer | None = None  # the collectives of a run on several processes
        self._group_opened = False
        self._loss_weight = 1.0  # this rank's share of the global batch, times the ranks
        self._stop_agreed = self._pause_agreed = False
        self._agreed_lr: float | None = None  # rank 0's new learning rate, for the next step
        if self.config["monitoring"]["doctor"] and self.world.main:
            from ..doctor.live import LiveDoctor

            self.doctor = LiveDoctor()
            self.callbacks.append(self.doctor)

    # --- control (safe to call from callbacks or another thread) ---------------------------
    def request_stop(self) -> None:
        self._stop = True

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False

    @property
    def paused(self) -> bool:
        return self._paused

    def set_lr(self, lr: float) -> None:
        """Change the learning rate from the next step on (schedules follow the change)."""
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise ValueError(f"learning rate must be a positive number, got {lr!r}")
        self._pending_lr = float(lr)

    # --- events ---------------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        for cb in self.callbacks:
            cb.on_event(self, event)

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    # --- set-up ---------------------------------------------------------------------------
    def _setup(self) -> None:
        cfg = self.config
        analysis = infer(self.design)
        if not analysis.valid:
            first = analysis.errors[0]
            raise TrainingError("the design has errors: " + "; ".join(
                f"{p.node + ': ' if p.node else ''}{p.message}" for p in analysis.errors),
                "design", first.node)
        self.mode = mode_of(cfg)
        check_structure(self.design, cfg)  # the one check the designer's Train button makes
        joined = self.mode.joins_networks and is_multi_network(self.design)
        self.device = pick_device(cfg["device"])
        if self.world.active:
            self._join_group()
        torch.manual_seed(cfg["seed"])
        if self.dataset is None:
            try:
                self.dataset = training_data(cfg, self.base_dir)
            except DatasetError as err:
                raise TrainingError(str(err), "data") from None
        else:  # a dataset given as it loads: as this mode sees it (idempotent)
            self.dataset = self.mode.prepare(self.dataset)
        ds = self.dataset
        self.heads = None  # several Outputs (or named data): each its own loss and metrics
        if self.mode.objective is None:  # a mode with its own objective checks its own fit
            if is_multi_io(self.design, ds):
                self.heads = output_heads(self.design, cfg)
            else:
                self.config = cfg = own_loss_config(self.design, cfg)
            check_data_fits(self.design, analysis, ds, cfg)
        self.model = (compile_joined(self.design) if joined
                      else compile_model(self.design, analysis)).to(self.device)
        # the training step calls the generated forward directly: GraphModule.__call__ wraps it
        # in error-message formatting and nn.Module's hook dispatch, which the trainer never
        # uses on the whole model (monitoring hooks sit on its layers), ~2 % of a tiny MLP step
        self._forward = self.model.forward
        self._eval_forward = self.model  # validation and the report (a mode may replace both)
        if self.heads is not None:
            names = ([name for name, _ in getattr(self.model, INPUTS_ATTRIBUTE)]
                     if isinstance(ds.x, NamedTensors) else None)
            self._forward = self._eval_forward = heads_forward(self.model, names)
        self.node_specs = {n.id: self.design.registry.get(n.type)
                           for n in self.design.nodes.values()}
        self.trainable = [p for p in self.model.parameters() if p.requires_grad]
        # every network's (a GAN's discriminator too, though the run's optimiser moves only
        # the generator's)
        self.trainable_params = sum(p.numel() for p in self.trainable)
        if not self.trainable:
            raise TrainingError("every layer is frozen (trainable: false), so there is nothing "
                                "to train", "design")
        self.named_trainable = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        from ..data import training_split
        try:
            train_idx, val_idx = training_split(ds, cfg.dataset, cfg["seed"])
        except DatasetError as err:
            raise TrainingError(str(err), "data") from None
        self._corrupting = self.mode.corrupts(cfg["mode"])
        n = len(train_idx)
        if n == 0:
            raise TrainingError("the training split is empty: lower validation_split or add "
                                "samples", "data")
        batch = cfg["batch_size"]
        self.batch_size = n if batch == "full" else min(batch, n)  # global: split over ranks
        if self.world.active:
            check_batches(n, self.batch_size, self.world)
        # before the first batch is made
        rank_batch = math.ceil(self.batch_size / self.world.size)
        check_fits(analysis, rank_batch, self.device)
        self.placement = self._placement(ds.x, run_bytes(analysis, rank_batch))
        # in memory: one plain copy of the whole data set (pinning it first would cost a second
        # host copy and the time to lock its pages, for a transfer that happens once)
        self.feed = Feed(ds.x, ds.y, self.device, self.placement)
        self.x, self.y = self.feed.x, self.feed.y
        # validation sees one damaged copy, drawn once (seeded): its loss measures denoising
        self.x_eval = self.mode.corrupt(self.x, cfg["mode"], torch.Generator().manual_seed(
            cfg["seed"] + 1)) if self._corrupting else self.x
        self.train_idx, self.val_idx = train_idx.to(self.device), val_idx.to(self.device)
        self._analysis = analysis
        self.steps_per_epoch = math.ceil(n / self.batch_size)
        # read on every step, looked up once
        self._loss_fn = (LOSSES[cfg["loss"]].compute if self.heads is None
                         else heads_loss(self.heads))
        if self.mode.objective is not None:  # e.g. contrastive divergence for an RBM
            # before the optimiser: the mode may narrow the parameters it moves
            self._forward, self._loss_fn, self._eval_forward = self.mode.objective(self)
        groups = multiplier_groups(self.named_trainable, {
            n.id: n.params.get("lr_multiplier", 1.0) for n in self.design.nodes.values()})
        # in the optimiser's order (group by group): checkpoints name its state in this order
        self.named_trainable = [pair for group in groups
                                for pair in zip(group["names"], group["params"])]
        self.trainable = [p for _, p in self.named_trainable]
        self.optimizer = make_optimizer(groups, cfg.optimizer)
        self.monitor_mode = "max" if higher_is_better(cfg.monitor_key) else "min"
        self.schedule = Schedule(self.optimizer, cfg.schedule, RunShape(
            cfg.optimizer["lr"], cfg["epochs"], self.steps_per_epoch, self.monitor_mode))
        self.autocast = autocast_plan(cfg["mixed_precision"], cfg["mixed_precision_dtype"],
                                      self.device)
        self.amp = self.autocast.dtype is not None
        self._amp_dtype = getattr(torch, self.autocast.dtype) if self.amp else None
        # settings read on every step, looked up once
        self._l1 = cfg["regularization"]["l1"]
        self._max_norm = cfg["regularization"]["max_norm"]
        self._clip = (cfg["gradient_clipping"]["mode"], cfg["gradient_clipping"]["value"])
        self.scaler = (torch.amp.GradScaler("cuda", init_scale=INITIAL_LOSS_SCALE)
                       if self.autocast.scaled else None)
        self.generator = torch.Generator().manual_seed(cfg["seed"])
        # draws the epoch's order, the same on every rank; augmentation and corruption draw
        # per sample, so a rank with its own share draws from its own generator
        self.batch_generator = self.generator if not self.world.active else \
            torch.Generator().manual_seed(cfg["seed"] * 7919 + self.world.rank + 1)
        self.monitor_schedule = MonitorSchedule(
            cfg["monitoring"]["every"],
            total_steps=cfg["epochs"] * self.steps_per_epoch)
        # starts by checking every other batch, so it can compare checked and plain steps
        self.check_schedule = MonitorSchedule("auto", CHECK_BUDGET, MAX_CHECK_EVERY, min_every=1,
                                              start_every=2, reprobe=CHECK_REPROBE)
        self.best: dict | None = None
        self.start_epoch = 1
        if self.resume_path:
            self._load_checkpoint(self.resume_path)
        if self.init_from is None and self.resume_path is None and cfg["init_from"]:
            self.init_from = cfg["init_from"]  # the design's own "start from weights" setting
        unknown = [n for n in cfg["init_skip"] if n not in self.design.nodes]
        if unknown and self.init_from is not None:  # before a preset may pre-train for minutes
            raise TrainingError(f"training.init_skip names {', '.join(map(repr, unknown))}, "
                                f"which {'is not a node' if len(unknown) == 1 else 'are not nodes'}"
                                " of this design", "design")
        if isinstance(self.init_from, (str, Path)):
            # a path relative to the design's folder, or a preset (pre-trained here if need be)
            from .pretrained import resolve_start

            self.init_from = resolve_start(self.init_from, self.base_dir, self,
                                           self.design.registry)
        if self.init_from is not None:
            self._init_weights()
        self._forward_local = self._forward  # without DDP: re-runs that look for NaN
        if self.world.active:
            self._wrap_ddp()

    def _placement(self, x: Any, reserved: int) -> Placement:
        """Where the inputs live (dataset.loading); a mode that reworks or corrupts the whole
        data set at once needs it in memory."""
        block = self.config.dataset
        loading = block["loading"]
        if self._corrupting or self.mode.objective is not None:
            if loading == "stream":
                raise TrainingError(f"training mode {self.mode.id} works on the whole data set "
                                    "in memory: set dataset.loading to 'auto' or 'memory'",
                                    "data")
            loading = "memory"
        workers = worker_count(block["workers"], self.world.local_size if self.world.active
                               else 1)
        return choose(x, self.device, loading, workers, reserved)

    def _join_group(self) -> None:
        """Several processes (torchrun): this rank's device, the process group, the reducer."""
        if self.mode.objective is not None:
            raise TrainingError(f"training mode {self.mode.id} trains with its own objective, "
                                "which runs in one process only: train it without "
                                "--nproc-per-node / torchrun", "design")
        self.device = rank_device(self.world, self.device)
        self._group_opened = init_group(self.world, self.device)
        self.reducer = Reducer(self.world, self.device)

    def _wrap_ddp(self) -> None:
        """DDP around the compiled model, after any weights were loaded (every rank loads the
        same). The trainer keeps the plain model for checkpoints, monitoring and evaluation."""
        self.ddp = wrap(self.model, self.device)
        if self.world.rank > 0:  # Dropout masks of its own: rank 0's stream on every rank would
            # give the same masks to the k-th sample of every share (rank 0 keeps the seed's)
            torch.manual_seed(self.config["seed"] * 7919 + 104729 * self.world.rank
                              + self.start_epoch)
        if self.heads is not None:
            names = ([name for name, _ in getattr(self.model, INPUTS_ATTRIBUTE)]
                     if isinstance(self.dataset.x, NamedTensors) else None)
            self._forward = heads_forward(self.ddp, names)
        else:
            self._forward = self.ddp.forward
        # monitoring spacing: what rank 0 proposes, and what all ranks use (agreed each step)
        self._spacing = self._agreed_spacing = self.monitor_schedule.every

    # --- the loop -------------------------------------------------------------------------
    def fit(self) -> FitEnd:
        """Run training to the end (or a stop); returns the fit_end event. Raises on failure."""
        started = time.perf_counter()
        threads = torch.get_num_threads()
        settled = False
        try:
            torch.set_num_threads(threads_per_process(self.config["threads"], self.world)
                                  if self.world.active else cpu_threads(self.config["threads"]))
            self._setup()
            end = self._fit(started)
            settled = True
            return end
        except KeyboardInterrupt:  # Ctrl-C: an ending, not a failure (the last checkpoint stands)
            end = self._end_event("interrupted", started,
                                  f"interrupted at epoch {self.epoch}, step {self.step}")
            self._call("on_fit_end", end)
            self.emit(end)
            raise
        except BaseException as err:
            failure = (PeerLost(err) if self.world.active and lost_peer(err) else
                       _as_training_error(err, getattr(self, "batch_size", None),
                                          getattr(self, "device", None), self._largest_layer(),
                                          self._fitting_batch()))
            self._call("on_exception", failure)
            self.emit(Error.of(failure))
            end = self._end_event("failed", started, str(failure))
            self._call("on_fit_end", end)
            self.emit(end)
            if failure is err:
                raise
            raise failure from err
        finally:
            torch.set_num_threads(threads)
            if self._group_opened:
                # DDP holds the process group: let it go first, so the group's threads end
                # here and not during the interpreter's teardown
                self.ddp, self._forward = None, self._forward_local
                close_group(settled)
                self._group_opened = False

    def _fit(self, started: float) -> FitEnd:
        cfg = self.config
        start_event = FitStart(
            design=self.design.name, dataset=cfg.dataset["name"],
            device=(f"{self.device.type}, {self.world.size} processes" if self.world.active
                    else str(self.device)),
            epochs=cfg["epochs"], start_epoch=self.start_epoch,
            steps_per_epoch=self.steps_per_epoch, batch_size=self.batch_size,
            train_samples=len(self.train_idx), val_samples=len(self.val_idx),
            params=sum(p.numel() for p in self.model.parameters()),
            trainable_params=self.trainable_params,
            task=self.dataset.task, num_classes=self.dataset.num_classes,
            lr=base_lr(self.optimizer), mixed_precision=self.amp,
            precision=self.autocast.dtype or "float32",
            loss=cfg["loss"], metrics=list(cfg.metrics), data=self.placement.describe())
        self._call("on_fit_start", start_event)
        self.emit(start_event)
        warning = (activation_warning(self.design, cfg["loss"])
                   if self.mode.objective is None else None)  # a mode's own loss is not read
        if warning is not None:
            self.emit(RunWarning(*warning))
        if self.autocast.note is not None:
            self.emit(RunWarning(self.autocast.note))
        status = "completed"
        es = cfg["early_stopping"]
        waited = 0
        self._train_started = time.perf_counter()
        self._samples_seen = 0
        for epoch in range(self.start_epoch, cfg["epochs"] + 1):
            self.epoch = epoch
            self._call("on_epoch_start", epoch)
            scale = self.scaler.get_scale() if self.scaler is not None else None
            train = self._train_epoch(epoch)
            if scale is not None:
                self._warn_skipped_steps(epoch, scale, self.scaler.get_scale())
            if self._stop and train is None:
                status = "stopped"
                break
            val = self._evaluate() if len(self.val_idx) else {}
            self._call("on_validation_end", val)
            event = self._epoch_event(epoch, train, val)
            self.history.append(event)
            monitored = event.get(cfg.monitor_key)
            self.schedule.after_epoch(monitored)
            improved = self._update_best(epoch, monitored, es["min_delta"])
            waited = 0 if improved else waited + 1
            self._save_checkpoints(improved)
            self._call("on_epoch_end", event)
            self.emit(event)
            if self.reducer.any(self._stop) if self.reducer is not None else self._stop:
                self._stop = True
                status = "stopped"
                break
            if es["enabled"] and waited > es["patience"]:
                status = "early_stopped"
                break
        if self.history and len(self.val_idx) and self.world.main:  # a model and data to judge
            self._emit_report()
        end = self._end_event(status, started)
        self._call("on_fit_end", end)
        self.emit(end)
        return end

    def _train_epoch(self, epoch: int) -> dict | None:
        """One pass over the training split; None when a stop arrived before any batch ran."""
        order = self.train_idx[torch.randperm(len(self.train_idx), generator=self.generator)
                               .to(self.device)]
        # each step's rows (this rank's share of the global batch) and the global batch's size
        sizes, chunks = [], []
        for i in range(self.steps_per_epoch):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            sizes.append(len(idx))
            if self.reducer is not None:
                start, end = share(len(idx), self.world)
                idx = idx[start:end]
            chunks.append(idx)
        # streamed data is read ahead by worker processes
        fed = self.feed.batches(chunks, self.x, self.y)
        try:
            return self._run_epoch(epoch, sizes, fed)
        finally:
            fed.close()  # a stop mid-epoch ends the readers

    def _run_epoch(self, epoch: int, sizes: list[int],
                   fed: Iterator[tuple[Any, Any]]) -> dict | None:
        cfg = self.config
        self.model.train()
        acc = self._accumulator()
        last_emit = 0.0
        ran = 0
        aug = cfg["augmentation"]
        augmenting = aug["flip"] or aug["shift"] or aug["noise"] > 0
        batch_end = [cb.on_batch_end for cb in self.callbacks  # only callbacks that listen
                     if getattr(type(cb), "on_batch_end", None) not in (None,
                                                                        Callback.on_batch_end)]
        bins = cfg["monitoring"]["histogram_bins"]
        timing = self.monitor_schedule.adaptive
        checks = self.check_schedule
        dist = self.reducer
        generator = self.batch_generator
        for i in range(self.steps_per_epoch):
            # several ranks stop together, on the stop they agreed on in a step's all_reduce
            if self._stop_agreed if dist is not None else self._stop:
                break
            step_start = time.thread_time()  # CPU time: steadier than wall time on a busy machine
            self.step += 1
            batch_samples = sizes[i]
            xb, yb = next(fed)
            if dist is not None:  # this rank's share; its loss weighs by the share's size
                self._loss_weight = len(yb) * self.world.size / batch_samples
            if augmenting:
                xb = (xb.map(lambda t: augment(t, aug, self.dataset.kind, generator))
                      if isinstance(xb, NamedTensors)
                      else augment(xb, aug, self.dataset.kind, generator))
            if self._corrupting:
                xb = self.mode.corrupt(xb, cfg["mode"], generator)
            sampled = self.monitor_schedule.due(self.step)
            sample = MonitorSample(self.model, self.node_specs, bins) if sampled else None
            try:
                # several ranks check every batch: the metric sums are reduced per epoch and
                # must cover the same batches on every rank
                full = dist is not None or i == 0 or sampled or checks.due(self.step)
                loss_value = self._step(xb, yb, acc, sample, full_check=full)
            finally:
                if sample is not None:
                    sample.remove_hooks()
            ran += 1
            self._samples_seen += batch_samples
            if sample is not None:
                nodes = sample.finish()["nodes"]
                if dist is not None:
                    nodes = dist.monitor(nodes, len(yb))
                self.emit(Monitor(self.step, epoch, nodes))
            seconds = time.thread_time() - step_start
            if not sampled:
                checks.record(self.step, seconds, full)
            if timing or sampled:
                self.monitor_schedule.record(self.step, seconds, sampled)
            if dist is not None:  # rank 0's new spacing goes out with the next step
                self._spacing, self.monitor_schedule.every = (self.monitor_schedule.every,
                                                              self._agreed_spacing)
            now = time.perf_counter()
            if now - last_emit >= STEP_EVENT_INTERVAL or i == self.steps_per_epoch - 1:
                last_emit = now
                self.emit(Step(self.step, epoch, cfg["epochs"], i + 1, self.steps_per_epoch,
                               loss_value, base_lr(self.optimizer),
                               self._eta(epoch, i + 1)))
            for hook in batch_end:
                hook(self, self.step)
            if self._pause_agreed if dist is not None else self._paused:
                self._wait_while_paused()
        if not ran:
            return None
        if dist is not None:
            dist.accumulator(acc)
        return acc.result()

    def _warn_skipped_steps(self, epoch: int, before: float, after: float) -> None:
        """float16's gradient scaler halves its scale at each step it skips (gradients that
        overflowed): say so, or the run seems to train while its weights stand still."""
        if after >= before:
            return
        if before == INITIAL_LOSS_SCALE and epoch == self.start_epoch:
            return  # a fresh scaler halves from its start to find its level: not a finding
        skipped = round(math.log2(before / after))
        self.emit(RunWarning(
            f"epoch {epoch}: at least {skipped} step{'s' if skipped != 1 else ''} skipped: their "
            f"float16 gradients overflowed (the loss scale fell from {before:g} to {after:g}); "
            "a scaler finds its level in the first steps, but skipping that goes on means values "
            "beyond float16's range: set mixed_precision_dtype to bfloat16, or turn mixed "
            "precision off"))

    def _step(self, xb: torch.Tensor, yb: torch.Tensor, acc: MetricAccumulator,
              sample: MonitorSample | None, full_check: bool = True) -> float:
        """One optimisation step. Every step checks the loss for NaN/Inf before the weights move;
        with `full_check` (or a monitoring sample) it also checks the gradients and adds the batch
        to the training metrics, all in one device sync."""
        if self.reducer is not None:  # several ranks change the rate at the same step
            if self._agreed_lr is not None:
                self._pending_lr, self._agreed_lr = self._agreed_lr, None
                self._apply_pending_lr()
        elif self._pending_lr is not None:
            self._apply_pending_lr()
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            output = self._forward(xb)
            loss = self._loss_fn(output, yb)
        # DDP averages the ranks' gradients: weighting each by its share of the global batch
        # makes that average the global batch's mean (shares can differ by one sample)
        total = loss * self._loss_weight if self.reducer is not None else loss
        if self._l1 > 0:
            total = total + self._l1 * l1_penalty(self.trainable)
        if self.scaler is not None:
            self.scaler.scale(total).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            total.backward()
        full_check = full_check or sample is not None
        norms: list[torch.Tensor] = []
        metric_values: list[float] = []
        if full_check:
            grads = [p.grad for p in self.trainable if p.grad is not None]
            norms = torch._foreach_norm(grads) if grads else []
            partials = acc.partials(output, yb)
            values = torch.stack([loss.detach().float(), *norms, *partials]).tolist()
            loss_value, norm_values = values[0], values[1:1 + len(norms)]
            metric_values = values[1 + len(norms):]
        else:
            loss_value, norm_values = loss.item(), []
        local_loss = loss_value
        if self.reducer is not None:  # the global batch's loss, stop and monitoring spacing
            loss_value, stop, paused, spacing, lr = self.reducer.step(
                local_loss, len(yb), self._stop, self._paused, self._spacing, self._pending_lr)
            self._stop_agreed, self._pause_agreed = stop, paused
            if lr is not None:  # applied by every rank at the next step
                self._agreed_lr, self._pending_lr = lr, None
            self._agreed_spacing = self.monitor_schedule.every = spacing
        if not math.isfinite(loss_value):
            raise self._nan_error("loss", xb)
        if norm_values and self.scaler is None and not all(map(math.isfinite, norm_values)):
            raise self._nan_error("gradients", xb)
        clip_mode, clip_value = self._clip
        if clip_mode == "norm":
            torch.nn.utils.clip_grad_norm_(self.trainable, clip_value)
        elif clip_mode == "value":
            torch.nn.utils.clip_grad_value_(self.trainable, clip_value)
        if sample is not None:
            sample.after_backward()
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        if self._max_norm is not None:
            apply_max_norm(self.named_trainable, self._max_norm)
        if self.schedule.per_step:
            self.schedule.after_batch()
        acc.add_loss(local_loss, yb)  # a run on several ranks sums them at the epoch's end
        if full_check:
            acc.add(metric_values, yb)
        return loss_value

    def _autocast(self):
        return (torch.autocast(self.device.type, dtype=self._amp_dtype) if self.amp
                else _NO_AUTOCAST)

    @torch.no_grad()
    def _evaluate(self) -> dict:
        cfg = self.config
        self.model.eval()
        acc = self._accumulator()
        idx = self.val_idx
        if self.reducer is not None:  # each rank evaluates its share; the sums are added
            start, end = share(len(idx), self.world)
            idx = idx[start:end]
        for output, target in self.evaluation_batches(idx):
            with self._autocast():
                loss = (compute_loss(cfg["loss"], output, target) if self.heads is None
                        else self._loss_fn(output, target))
            acc.update(output, target, loss)
        if self.reducer is not None:
            self.reducer.accumulator(acc)
        return acc.result()

    def _accumulator(self) -> MetricAccumulator | HeadsAccumulator:
        """Sums the loss and metrics of an epoch (per Output, with several)."""
        if self.heads is not None:
            return HeadsAccumulator(self.heads)
        return MetricAccumulator(self.config.metrics, self.config["loss"])

    def evaluation_batches(self, idx: torch.Tensor, batch: int = EVAL_BATCH,
                           forward: Any = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(output, target) for `idx` in order, batch by batch, as validation computes them
        (or as `forward` does; the model is put in evaluation mode; call under
        torch.no_grad)."""
        self.model.eval()
        forward = forward or self._eval_forward
        chunks = [idx[start:start + batch] for start in range(0, len(idx), batch)]
        fed = self.feed.batches(chunks, self.x_eval, self.y)
        try:
            for xb, yb in fed:
                with self._autocast():
                    output = forward(xb)
                yield output, yb
        finally:
            fed.close()

    def evaluation_context(self, output: str | None = None) -> EvaluationContext:
        """The trained model with its data and loss, as the end-of-run report reads them; with
        several Outputs, those of `output` alone."""
        used = self.report_forward or self._eval_forward

        def forward(x: torch.Tensor) -> torch.Tensor:
            self.model.eval()
            with self._autocast():
                return used(x)
        if output is None:
            return EvaluationContext(self.dataset, LOSSES[self.config["loss"]], self.x_eval,
                                     self.y, self.train_idx, self.val_idx,
                                     lambda idx: self.evaluation_batches(idx, forward=used),
                                     forward)
        index = [head.node for head in self.heads].index(output)
        y = self.y[output] if isinstance(self.y, NamedTensors) else self.y

        def batches(idx: torch.Tensor) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            for outputs, targets in self.evaluation_batches(idx):
                yield _nth(outputs, index), targets[output]
        return EvaluationContext(self.dataset.target(output), self.heads[index].spec,
                                 self.x_eval, y, self.train_idx, self.val_idx, batches,
                                 lambda x: _nth(forward(x), index))

    def _emit_report(self) -> None:
        """The end-of-run validation report (one per Output); a failure here is a warning, never
        a failed run."""
        for output in ([None] if self.heads is None else [h.node for h in self.heads]):
            try:
                report = validation_report(self.evaluation_context(output), output=output)
            except Exception as err:  # the weights are trained: keep the run
                self.emit(RunWarning("could not compute the validation report"
                                     f"{f' of {output}' if output else ''}: "
                                     f"{type(err).__name__}: {err}"))
                continue
            self.emit(report)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch: int = EVAL_BATCH) -> torch.Tensor:
        """Outputs of the trained model for `x` (evaluation mode), on the CPU; a tuple, one per
        Output, for a design with several."""
        self.model.eval()
        outs = [self._eval_forward(x[i:i + batch].to(self.device))
                for i in range(0, len(x), batch)]
        if outs and isinstance(outs[0], tuple):
            return tuple(torch.cat([o[k].float().cpu() for o in outs])
                         for k in range(len(outs[0])))
        return torch.cat([o.float().cpu() for o in outs])

    # --- helpers --------------------------------------------------------------------------
    def _fitting_batch(self) -> int | None:
        """The batch size the memory estimate says fits this device, when it can tell."""
        analysis, device = getattr(self, "_analysis", None), getattr(self, "device", None)
        available = device_memory(device) if device is not None else None
        return fitting_batch(analysis, available) if analysis and available else None

    def _largest_layer(self) -> str | None:
        """The node whose module holds the most parameters (named when memory runs out)."""
        model = getattr(self, "model", None)
        if model is None:
            return None
        sizes = {name: sum(p.numel() for p in module.parameters())
                 for name, module in model.named_children()}
        return max(sizes, key=sizes.get) if sizes and max(sizes.values()) > 0 else None

    def _wait_while_paused(self) -> None:
        if self.reducer is not None:
            return self._wait_while_paused_together()
        while self._paused and not self._stop:
            self._call("on_idle")
            time.sleep(0.02)

    def _wait_while_paused_together(self) -> None:
        """Every rank waits while rank 0 (which gets Pause/Resume) is paused, asking it a few
        times a second: a collective that waited the whole pause would hit the group's
        timeout. A stop while paused ends the wait and is agreed on in the next step."""
        self._pause_agreed = False
        while True:
            self._call("on_idle")  # rank 0's callbacks read Resume and Stop
            time.sleep(0.2)
            if not self.reducer.any(self._paused and not self._stop):
                return

    def _apply_pending_lr(self) -> None:
        if self._pending_lr is None:
            return
        lr, self._pending_lr = self._pending_lr, None
        old = base_lr(self.optimizer)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_multiplier", 1.0)
        if old > 0:
            self.schedule.rescale(lr / old)
        self.emit(LrChanged(self.step, lr, old))

    def _eta(self, epoch: int, step_in_epoch: int) -> float | None:
        elapsed = time.perf_counter() - self._train_started
        done = (epoch - self.start_epoch) * self.steps_per_epoch + step_in_epoch
        total = (self.config["epochs"] - self.start_epoch + 1) * self.steps_per_epoch
        return elapsed / done * (total - done) if done else None

    def _epoch_event(self, epoch: int, train: dict, val: dict) -> EpochEnd:
        elapsed = time.perf_counter() - self._train_started
        metrics = {}
        for name in train:  # the configured metrics (and with several Outputs, each one's)
            if name == "loss":
                continue
            metrics[f"train_{name}"] = train[name]
            if val:
                metrics[f"val_{name}"] = val[name]
        # figures a training mode measures itself (an RBM's free energy), train_/val_ named
        metrics.update(self.epoch_extras)
        self.epoch_extras = {}
        return EpochEnd(epoch, self.config["epochs"], self.step, train["loss"],
                        val["loss"] if val else None, metrics,
                        base_lr(self.optimizer),
                        self._samples_seen / max(elapsed, 1e-9), elapsed,
                        self._eta(epoch, self.steps_per_epoch))

    def _update_best(self, epoch: int, value: float | None, min_delta: float) -> bool:
        if value is None or not math.isfinite(value):
            return False
        if self.best is not None:
            gain = (value - self.best["value"]) if self.monitor_mode == "max" \
                else (self.best["value"] - value)
            if gain <= min_delta:
                return False
        self.best = {"monitor": self.config.monitor_key, "value": value, "epoch": epoch}
        return True

    def _end_event(self, status: str, started: float, message: str | None = None) -> FitEnd:
        return FitEnd(status, len(self.history), self.step, time.perf_counter() - started,
                      getattr(self, "best", None),
                      self.history[-1].to_json() if self.history else None, message)

    def _nan_error(self, what: str, xb: torch.Tensor) -> TrainingError:
        node = None
        if self.mode.objective is not None:
            # a mode with its own forward (an RBM stage on features): the design's forward
            # cannot re-run on its batch; the node it trains now is the one to name
            node = self.current_node
            return TrainingError(f"{what} became NaN/Inf at step {self.step} (epoch "
                                 f"{self.epoch}) in node '{node}': lower the learning rate or "
                                 "add gradient clipping", "nan", node)
        if what == "gradients":
            order = [n for n in self.design.topological_order() if n in self.node_specs]
            # a gradient whose norm overflows counts too: its values can all be finite
            bad = {name.split(".", 1)[0] for name, p in self.model.named_parameters()
                   if p.grad is not None and not torch.isfinite(p.grad.float().norm())}
            node = next((n for n in reversed(order) if n in bad), None)
        else:
            node = first_non_finite_node(self.model, xb, self.design.topological_order(),
                                         self._forward_local)
        where = f" in node '{node}'" if node else ""
        hint = ("lower the learning rate, add gradient clipping, or normalise the inputs"
                if node or what == "gradients" else self._finite_output_hint(xb))
        return TrainingError(f"{what} became NaN/Inf at step {self.step} (epoch {self.epoch})"
                             f"{where}: {hint}", "nan", node)

    @torch.no_grad()
    def _finite_output_hint(self, xb: torch.Tensor) -> str:
        """Why the loss is not finite when every output is: huge outputs, or the targets."""
        outputs = self._forward_local(xb)
        largest = max((float(o.abs().max()) for o in (
            outputs if isinstance(outputs, tuple) else (outputs,)) if o.numel()), default=0.0)
        if largest > OVERFLOW_HINT:
            return (f"the outputs grew so large (up to {largest:.1e}) that the loss overflowed: "
                    "lower the learning rate or add gradient clipping")
        return ("the network's outputs are finite, so the loss got invalid values: check the "
                "targets and the loss function")

    # --- checkpoints ----------------------------------------------------------------------
    def checkpoint_state(self) -> dict:
        """Everything needed to resume, loadable with torch.load(weights_only=True)."""
        return {"format": CHECKPOINT_FORMAT, "version": 1, "design": to_dict(self.design),
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "trainable": [name for name, _ in self.named_trainable],
                "schedule": self.schedule.state_dict(), "epoch": self.epoch, "step": self.step,
                "best": self.best, "history": [event.to_json() for event in self.history],
                "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state(),
                "extra": {name: state.state_dict() for name, state in self.extra_states.items()},
                # fp16's loss scale: a resumed run starts from it instead of 65536 again
                "scaler": self.scaler.state_dict() if self.scaler is not None else None}

    def _save_checkpoints(self, improved: bool) -> None:
        if self.checkpoint_dir is None or not self.world.main:  # ranks hold the same weights
            return
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        state = self.checkpoint_state()
        save_checkpoint(state, self.checkpoint_dir / "last.pt")
        if improved:
            save_checkpoint(state, self.checkpoint_dir / "best.pt")

    def _load_checkpoint(self, path: Path) -> None:
        state = load_checkpoint(path)
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as err:
            raise TrainingError(f"checkpoint {path} does not fit this design: {err}",
                                "design") from None
        self._load_optimizer_state(state, path)
        for name, held in self.extra_states.items():
            if name not in state.get("extra", {}):
                raise TrainingError(f"checkpoint {path} was not saved by a {self.mode.id} run "
                                    f"(it has no {name} state): start a new run", "design")
            held.load_state_dict(state["extra"][name])
        self.schedule.load_state_dict(state["schedule"], self.optimizer)
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.epoch = state["step"], state["epoch"]
        self.best = state["best"]
        self.history = [from_json(event) for event in state["history"]]
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        self.start_epoch = self.epoch + 1

    def _init_weights(self) -> None:
        """Start from another run's weights where they fit; refuse a checkpoint where none do."""
        from .transfer import transfer_weights

        report = transfer_weights(self.model, self.design, self.init_from,
                                  self.config["init_skip"])
        self.transfer_report = report
        if report.weighted and not report.loaded:
            raise TrainingError(f"nothing in {report.source} fits this design: "
                                f"{report.summary()}", "design")

    def _load_optimizer_state(self, state: dict, path: Path) -> None:
        """The optimiser's state, matched to the parameters by name: a layer frozen (or unfrozen)
        since the checkpoint simply has no state (or starts fresh), instead of shifting the
        others' momenta onto the wrong tensors."""
        saved = state["optimizer"]
        names = state.get("trainable")  # in the saved optimiser's order
        if names is None:  # a checkpoint from before names were kept: only an exact fit works
            multipliers = [g.get("lr_multiplier", 1.0) for g in self.optimizer.param_groups]
            try:
                self.optimizer.load_state_dict(saved)  # replaces the groups' settings whole
                for group, multiplier in zip(self.optimizer.param_groups, multipliers):
                    group["lr_multiplier"] = multiplier
            except ValueError:
                raise TrainingError(f"checkpoint {path} was saved with other layers frozen (or "
                                    "other learning-rate multipliers) and predates LayerLab's "
                                    "frozen-layer resume: set the layers as they were, or start "
                                    "a new run", "design") from None
            return
        load_state_by_name(self.optimizer, [name for name, _ in self.named_trainable], saved,
                           names)


def _nth(outputs: Any, index: int) -> torch.Tensor:
    """Output `index` of a forward that returns one tensor per Output."""
    return outputs[index] if isinstance(outputs, tuple) else outputs


def _as_training_error(err: BaseException, batch: int | None, device: torch.device | None,
                       largest: str | None = None, fits: int | None = None) -> BaseException:
    if isinstance(err, TrainingError):
        return err
    if isinstance(err, TrainingConfigError):
        return TrainingError(str(err), "design")
    if _out_of_memory(err):
        smaller = (f" such as {fits} (what the memory estimate says fits)"
                   if fits and batch and fits < batch else
                   f" such as {max(batch // 2, 1)}" if batch else "")
        where = f" (the largest layer is '{largest}')" if largest else ""
        return TrainingError(f"out of memory on {device or 'the device'} with batch size {batch}"
                             f"{where}: try a smaller batch size{smaller} or a smaller network",
                             "oom", largest)
    return TrainingError(f"training crashed: {type(err).__name__}: {err}", "crash")


#: How allocators word running out of memory (CUDA, the CPU allocator, Apple MPS).
_OOM_WORDS = ("out of memory", "can't allocate memory", "alloc_cpu", "failed to allocate")


def _out_of_memory(err: BaseException) -> bool:
    if isinstance(err, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(err).lower()
    return isinstance(err, RuntimeError) and any(words in text for words in _OOM_WORDS)
