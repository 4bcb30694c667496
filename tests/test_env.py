"""The environment report: real facts of this machine, a dependency matrix that flags what is wrong,
GPU absence said plainly, and the same report from the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from engine.env.deps import dependency_matrix
from engine.env.gpus import gpu_info
from engine.env.report import env_report, to_markdown
from tests.conftest import ROOT


def test_report_describes_this_machine(tmp_path: Path):
    report = env_report(tmp_path / "outputs", probe_hubs=False)
    assert report["cpu"]["cores_logical"] >= 1 and report["memory"]["total_gb"] > 0
    assert {d["what"] for d in report["disks"]} >= {"outputs (runs)", "TuneDesk cache"}
    assert all(d["free_gb"] <= d["total_gb"] for d in report["disks"])
    import torch

    assert report["software"]["torch"] == torch.__version__
    checks = {c["check"]: c for c in report["readiness"]}
    assert {"QLoRA (bitsandbytes)", "bf16 is fast here", "SDPA attention", "multi-GPU"} <= set(checks)
    assert all(c["reason"] for c in report["readiness"])
    text = to_markdown(report)
    assert report["cpu"]["model"] in text and "| check | ok | why |" in text


def test_no_gpu_is_said_plainly_never_raised():
    info = gpu_info()
    if not info["gpus"]:  # this machine (and CI): no NVIDIA driver
        assert "no GPU" in info["note"] or "no NVIDIA" in info["note"] or "not installed" in info["note"]
    else:
        assert all("name" in g for g in info["gpus"])


def test_dependency_matrix_flags_wrong_and_missing_packages(tmp_path: Path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# comment\ntorch==0.0.1\npsutil>=1.0\nno-such-package-tunedesk==1.2\n-r other.txt\n")
    rows = {r["package"]: r for r in dependency_matrix(requirements)}
    assert rows["torch"]["status"] == "warning" and rows["torch"]["fix"] == 'pip install "torch==0.0.1"'
    assert rows["psutil"]["status"] == "ok" and rows["psutil"]["fix"] == ""
    assert rows["no-such-package-tunedesk"]["status"] == "missing" and rows["no-such-package-tunedesk"]["installed"] \
        is None
    assert all(r["status"] == "ok" for r in dependency_matrix()), "the project's own requirements are installed"


def test_offline_hubs_are_reported_not_reachable(monkeypatch, tmp_path: Path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("MODELSCOPE_DOMAIN", f"http://127.0.0.1:{port}")
    checks = {c["check"]: c for c in env_report(tmp_path, probe_hubs=True)["readiness"]}
    assert checks["Hugging Face reachable"]["ok"] is False
    assert "cannot reach Hugging Face" in checks["Hugging Face reachable"]["reason"]
    assert checks["ModelScope reachable"]["ok"] is False


def test_cli_env_prints_the_markdown_report(tmp_path: Path):
    out = subprocess.run([sys.executable, "-m", "engine", "env", "--no-network", "--outputs", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("## TuneDesk environment") and "- CPU:" in out.stdout and "Dependencies:" in out.stdout


class FakeNvml:
    """pynvml's calls as a 24 GiB Ampere board answers them, one field unsupported (power)."""

    NVML_TEMPERATURE_GPU = 0

    def nvmlInit(self): pass  # noqa: E704
    def nvmlShutdown(self): pass  # noqa: E704
    def nvmlDeviceGetCount(self): return 1  # noqa: E704
    def nvmlSystemGetDriverVersion(self): return b"560.35"  # noqa: E704
    def nvmlSystemGetCudaDriverVersion(self): return 12060  # noqa: E704
    def nvmlDeviceGetHandleByIndex(self, i): return f"gpu{i}"  # noqa: E704
    def nvmlDeviceGetName(self, h): return b"NVIDIA GeForce RTX 3090"  # noqa: E704
    def nvmlDeviceGetUtilizationRates(self, h): return type("U", (), {"gpu": 87})()  # noqa: E704
    def nvmlDeviceGetTemperature(self, h, kind): return 71  # noqa: E704
    def nvmlDeviceGetCudaComputeCapability(self, h): return (8, 6)  # noqa: E704

    def nvmlDeviceGetMemoryInfo(self, h):
        return type("M", (), {"total": 24 * 2**30, "used": 6 * 2**30})()

    def nvmlDeviceGetPowerUsage(self, h):
        raise RuntimeError("not supported on this board")


def test_the_report_and_the_live_chart_read_a_gpu_the_same_way(monkeypatch):
    import sys

    from engine.env import gpus, monitor

    monkeypatch.setitem(sys.modules, "pynvml", FakeNvml())
    report = gpus.gpu_info()
    assert report["driver"] == "560.35" and report["cuda_driver"] == "12.6"
    [gpu] = report["gpus"]
    assert gpu == {"index": 0, "name": "NVIDIA GeForce RTX 3090", "mem_total_gb": 24.0, "mem_used_gb": 6.0,
                   "util": 87, "temp_c": 71, "compute_capability": "8.6", "bf16": True}
    [live] = monitor._Nvml().sample()
    assert live == {k: v for k, v in gpu.items() if k not in ("compute_capability", "bf16")}
