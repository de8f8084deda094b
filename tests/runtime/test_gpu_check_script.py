"""benchmarks/gpu_check.py runs its whole path on the CPU (`--device cpu`), and its checks fail."""
import re

import pytest
import torch

from benchmarks import gpu_check

QUICK = ["--device", "cpu", "--steps", "10", "--steps-compared", "4"]


def _row(out: str, preset: str) -> list[str]:
    return next(line for line in out.splitlines() if line.startswith(preset + " ")).split()


def test_cpu_mode_trains_presets_and_prints_one_table(capsys):
    rc = gpu_check.main([*QUICK, "--presets", "lesson-perceptron-xor-fixed",
                         "lesson-overfitting-fixed"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "2 of 2 presets passed, data placements passed" in out
    # the image folder streamed by worker processes trains as the same images in memory
    assert re.search(r"data stream: 0\.0e\+00 loss err, [\d,]+ samples/s", out), out
    xor = _row(out, "lesson-perceptron-xor-fixed")
    assert xor[-1] == "ok"
    fp32_err, bf16_err = map(float, re.findall(r"\d\.\de[+-]\d\d", " ".join(xor)))
    assert fp32_err == 0.0  # the same fp32 run on the same device repeats exactly
    assert 0.0 < bf16_err < gpu_check.RTOL["bf16"]  # autocast ran: bfloat16 rounds differently
    dropout = _row(out, "lesson-overfitting-fixed")
    assert "yes" in dropout  # its Dropout draws device random numbers: compared statistically


def test_a_failed_check_exits_non_zero(capsys, monkeypatch):
    monkeypatch.setitem(gpu_check.RTOL, "bf16", 1e-9)  # bfloat16 can never be this close
    rc = gpu_check.main([*QUICK, "--presets", "lesson-perceptron-xor-fixed"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "FAIL lesson-perceptron-xor-fixed: bf16 losses differ from the CPU's" in out


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is here: the check would run")
def test_without_cuda_it_says_so_and_exits_0(capsys):
    assert gpu_check.main([]) == 0
    assert "no CUDA GPU here" in capsys.readouterr().out
