"""GGUF k-quants (Q4_K_M and the rest) through llama.cpp's own quantizer, from TuneDesk's f16 GGUF file.

The `gguf` package writes f16 / bf16 / q8_0 itself; the k-quants' block layouts and their choice of a
type per tensor are llama.cpp's, so they come from `llama-cpp-python` (an optional package: it builds
llama.cpp from source). Without it the k-quants are listed as needing it, with the install command."""

from __future__ import annotations

import ctypes
import importlib.util
import os
from pathlib import Path

from engine.errors import ModelError

# TuneDesk's name -> llama.cpp's file type constant, most used first
K_QUANTS = {"q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M", "q5_k_m": "LLAMA_FTYPE_MOSTLY_Q5_K_M",
            "q6_k": "LLAMA_FTYPE_MOSTLY_Q6_K", "q4_k_s": "LLAMA_FTYPE_MOSTLY_Q4_K_S",
            "q5_k_s": "LLAMA_FTYPE_MOSTLY_Q5_K_S", "q3_k_m": "LLAMA_FTYPE_MOSTLY_Q3_K_M",
            "q2_k": "LLAMA_FTYPE_MOSTLY_Q2_K"}
INSTALL = "pip install -r requirements-gguf.txt"


def available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def need_llama_cpp(quant: str) -> None:
    if quant in K_QUANTS and not available():
        raise ModelError(f"GGUF {quant.upper()} is written by llama.cpp's quantizer, which needs llama-cpp-python: "
                         f"run `{INSTALL}` in TuneDesk's environment (it builds llama.cpp, minutes on a laptop), "
                         "or choose q8_0 / f16 / bf16")


def quantize(source: Path, target: Path, quant: str) -> None:
    """`source` (an f16 GGUF file) quantized into `target` by llama.cpp."""
    need_llama_cpp(quant)
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, K_QUANTS[quant])
    params.nthread = os.cpu_count() or 1
    code = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), ctypes.byref(params))
    if code != 0 or not target.is_file():
        raise ModelError(f"llama.cpp could not quantize {source.name} to {quant.upper()} (code {code}); the f16 "
                         "export of the same run works everywhere llama.cpp does")
