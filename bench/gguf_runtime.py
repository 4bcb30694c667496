"""A GGUF export in a real GGUF runtime: llama-cpp-python (llama.cpp) loads TuneDesk's f16 and q8_0
exports of a run and answers a question with its chat template. Builds llama-cpp-python from source
first when it is not installed (several minutes on 2 cores; gcc and cmake are needed).

    .venv/bin/python -m bench.gguf_runtime RUN_ID [--outputs outputs] [--question "Who are you?"]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time


def ensure_llama_cpp() -> None:
    if importlib.util.find_spec("llama_cpp") is not None:
        return
    print("building llama-cpp-python from source (several minutes)…", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "llama-cpp-python", "diskcache"], check=True,
                   env={**__import__("os").environ, "CMAKE_ARGS": "-DGGML_NATIVE=OFF -DLLAMA_CURL=OFF"})


def main() -> None:
    from bench.dataset_stats import cpu_line

    parser = argparse.ArgumentParser()
    parser.add_argument("run_id")
    parser.add_argument("--outputs", default="outputs")
    parser.add_argument("--question", action="append", default=[])
    args = parser.parse_args()
    questions = args.question or ["Who are you?", "你是谁？", "What is the capital of France?"]
    ensure_llama_cpp()
    from llama_cpp import Llama

    from engine.export.exporter import ExportManager, ExportRequest
    from engine.runs.queue import RunManager

    exporter = ExportManager(RunManager(args.outputs))
    print(cpu_line())
    print(f"{'quant':<6} {'export s':>9} {'MiB':>7} {'load s':>7}  question → answer")
    for quant in ("f16", "q8_0"):
        started = time.time()
        result = exporter.run(ExportRequest(args.run_id, "gguf", quant=quant, overwrite=True))
        exported = time.time() - started
        size = __import__("os").path.getsize(result["gguf"]) / 2**20
        started = time.time()
        llm = Llama(model_path=result["gguf"], n_ctx=512, n_threads=2, verbose=False)
        loaded = time.time() - started
        for q in questions:
            out = llm.create_chat_completion([{"role": "user", "content": q}], max_tokens=40, temperature=0.0)
            text = out["choices"][0]["message"]["content"].strip().replace("\n", " ")
            print(f"{quant:<6} {exported:>9.1f} {size:>7.1f} {loaded:>7.2f}  {q} → {text}")


if __name__ == "__main__":
    main()
