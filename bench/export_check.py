"""What the export round-trip check costs, per export, on a tiny Qwen3 LoRA run (Qwen's real 151k-token
vocabulary, 2 layers: the vocabulary is what makes GGUF metadata slow to read).

    .venv/bin/python bench/export_check.py

Times the export itself and its check: merged (read back with plain transformers), GGUF q8_0 read back by
transformers' GGUF loader (parsed once, as the check does, and as transformers alone parses it), and by
llama.cpp where llama-cpp-python is installed. Run it alone.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from engine.env.machine import cpu_info
    from engine.export.check import llama_cpp_installed, llama_cpp_reader, transformers_reader
    from engine.export.exporter import ExportManager, ExportRequest
    from tests.conftest import QWEN3_TOKENIZER, run_to_end, tiny_config
    from tests.test_export import tiny_arch

    folder = Path(tempfile.mkdtemp())
    base = tiny_arch(folder / "base", QWEN3_TOKENIZER, "qwen3")
    data = folder / "numbers.json"
    data.write_text(json.dumps([{"instruction": f"Say the number {i}.", "output": f"The number is {i}."}
                                for i in range(12)]), encoding="utf-8")
    manager, run, state = run_to_end(tiny_config(base, data, folder / "outputs", max_steps=4, val_size=2),
                                     folder / "outputs")
    assert state == "completed", state
    exporter = ExportManager(manager)
    rows = []
    for fmt, quant in (("merged", ""), ("gguf", "q8_0")):
        start = time.perf_counter()
        exporter.run(ExportRequest(run.run_id, fmt, quant=quant or "q8_0", verify=False,
                                           destination=str(folder / f"plain-{fmt}")))
        written = time.perf_counter() - start
        start = time.perf_counter()
        checked = exporter.run(ExportRequest(run.run_id, fmt, quant=quant or "q8_0",
                                             destination=str(folder / f"checked-{fmt}")))
        rows.append((f"{fmt} {quant}".strip() + f": the check ({checked['check']['reader']})", written,
                     time.perf_counter() - start - written))
    gguf = next((folder / "checked-gguf").glob("*.gguf"))
    start = time.perf_counter()
    transformers_reader(gguf.parent, gguf.name)
    rows.append(("transformers GGUF read, parsed once (the check's)", 0.0, time.perf_counter() - start))
    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.perf_counter()
    AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    rows.append(("transformers GGUF read, as transformers alone parses it", 0.0, time.perf_counter() - start))
    if llama_cpp_installed():
        start = time.perf_counter()
        llama_cpp_reader(gguf, 256)
        rows.append(("llama.cpp GGUF read", 0.0, time.perf_counter() - start))
    print(f"CPU: {cpu_info()['model']}; tiny Qwen3 (2 layers, 151k vocabulary), LoRA run of 4 steps")
    print("| what | export s | check / read s |\n|---|---|---|")
    for name, written, checked in rows:
        print(f"| {name} | {written:.1f} | {checked:.1f} |" if written else f"| {name} | – | {checked:.1f} |")


if __name__ == "__main__":
    main()
