"""Shared test set-up: Qt runs headless everywhere, and runs of unsaved designs go to a
temporary data folder instead of the user's, and runs of saved designs (the presets) to a
temporary folder instead of beside the design."""
import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("LAYERLAB_DATA", tempfile.mkdtemp(prefix="layerlab-test-data-"))
os.environ.setdefault("LAYERLAB_RUNS", tempfile.mkdtemp(prefix="layerlab-test-runs-"))
