"""Shared test set-up: Qt runs headless everywhere, and runs of unsaved designs go to a
temporary data folder instead of the user's, and runs of saved designs (the presets) to a
temporary folder instead of beside the design."""
import atexit
import os
import shutil
import tempfile


def _temporary_folder(variable: str, prefix: str) -> None:
    """`variable` names a fresh folder, removed when the test session ends (unless it was set
    from outside: then it is the caller's). A pytest-xdist worker inherits the folders its
    controller made and makes its own, so no two processes' tests see each other's runs."""
    made_here = f"{variable}_MADE_BY_TESTS"
    if variable not in os.environ or os.environ.get(made_here):
        folder = os.environ[variable] = tempfile.mkdtemp(prefix=prefix)
        os.environ[made_here] = "1"
        atexit.register(shutil.rmtree, folder, ignore_errors=True)


os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_temporary_folder("LAYERLAB_DATA", "layerlab-test-data-")
_temporary_folder("LAYERLAB_RUNS", "layerlab-test-runs-")
