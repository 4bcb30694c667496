"""GPUs through pynvml: name, memory, utilisation, temperature, power, compute capability and bf16.
No driver, no GPU or no library is reported plainly, never raised."""

from __future__ import annotations

from typing import Any

from engine.text.message import Text, say


def gpu_info() -> dict[str, Any]:
    try:
        import pynvml
    except ImportError:
        return {"gpus": [], "driver": None, "cuda_driver": None, **_note(say("env.no_nvml"))}
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound / DriverNotLoaded: a machine without NVIDIA
        return {"gpus": [], "driver": None, "cuda_driver": None,
                **_note(say("env.no_driver", error=type(exc).__name__))}
    out: dict[str, Any] = {"gpus": [], "note": "", "note_text": None}
    try:
        out["driver"] = _text(pynvml.nvmlSystemGetDriverVersion())
        version = pynvml.nvmlSystemGetCudaDriverVersion()
        out["cuda_driver"] = f"{version // 1000}.{version % 1000 // 10}"
        for i in range(pynvml.nvmlDeviceGetCount()):
            out["gpus"].append(_one(pynvml, i))
    finally:
        pynvml.nvmlShutdown()
    if not out["gpus"]:
        out.update(_note(say("env.driver_no_gpu")))
    return out


def _one(nv: Any, index: int) -> dict[str, Any]:
    handle = nv.nvmlDeviceGetHandleByIndex(index)
    gpu: dict[str, Any] = {"index": index, "name": _text(nv.nvmlDeviceGetName(handle)), **live_reading(nv, handle)}
    try:
        major, minor = nv.nvmlDeviceGetCudaComputeCapability(handle)
    except Exception:
        return gpu  # not every board reports every field
    gpu["compute_capability"] = f"{major}.{minor}"
    gpu["bf16"] = major >= 8  # Ampere and newer
    return gpu


def live_reading(nv: Any, handle: Any) -> dict[str, Any]:
    """What changes while training (memory, utilisation, temperature, power): the environment report and
    the live hardware chart read the same fields."""
    gpu: dict[str, Any] = {}
    for key, read in (
        ("memory", lambda: nv.nvmlDeviceGetMemoryInfo(handle)),
        ("util", lambda: nv.nvmlDeviceGetUtilizationRates(handle).gpu),
        ("temp_c", lambda: nv.nvmlDeviceGetTemperature(handle, nv.NVML_TEMPERATURE_GPU)),
        ("power_w", lambda: nv.nvmlDeviceGetPowerUsage(handle) / 1000),
    ):
        try:
            value = read()
        except Exception:
            continue  # not every board reports every field
        if key == "memory":
            gpu.update(mem_total_gb=round(value.total / 2**30, 2), mem_used_gb=round(value.used / 2**30, 2))
        else:
            gpu[key] = value
    return gpu


def _note(message: Text) -> dict[str, Any]:
    return {"note": str(message), "note_text": message.to_dict()}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
