"""The OpenAI-compatible endpoint's latency against Compare Chat's, on the bundled SmolLM2-135M.

    .venv/bin/python bench/serve_latency.py [--tokens 64] [--repeats 3]

One app (python app.py), warmed up; the same prompt answered greedily, streamed, `--repeats` times:
  /v1/chat/completions   one side, server-sent events, through the `openai` client
  Compare Chat           /chat_stream through gradio_client, the same model on both sides (its
                         usual two answers at once, batched)
  engine alone           the same generation in this process, no HTTP (what both add to)
Printed: time to the first piece of text and milliseconds per token after it (median of the repeats).
Run it alone: a second busy process slows 2-thread torch far more than the server does.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.app_process import AppProcess  # noqa: E402

PROMPT = "Write a short paragraph about rivers and why cities are built beside them."
SPEC = "base:HuggingFaceTB/SmolLM2-135M-Instruct"


def timed(texts: Iterator[str], count: Callable[[str], int]) -> tuple[float, float]:
    """(seconds to the first text, ms per token after it); `texts` yields the answer so far."""
    start = time.perf_counter()
    first, text = None, ""
    for text in texts:
        if text and first is None:
            first = time.perf_counter()
    end = time.perf_counter()
    assert first is not None, "no text came back"
    return first - start, (end - first) * 1000 / max(count(text) - 1, 1)


def served(client: object, tokens: int) -> Iterator[str]:
    text = ""
    for chunk in client.chat.completions.create(model=SPEC, messages=[{"role": "user", "content": PROMPT}],
                                                temperature=0, max_tokens=tokens, stream=True):
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            yield text


def compare_chat(client: object, tokens: int) -> Iterator[str]:
    job = client.submit(SPEC, SPEC, PROMPT, "", 0.0, 1.0, 0, tokens, 1.0, 0, api_name="/chat_stream")
    seen = ""
    for pair in job:
        if pair[0] != seen:
            seen = pair[0]
            yield seen


def engine_alone(tokens: int) -> tuple[Callable[[], Iterator[str]], Callable[[str], int]]:
    from engine.inference.decode import Sampling
    from engine.inference.generate import render, stream_state
    from engine.inference.pool import ModelPool
    from engine.inference.sides import plan_side

    side = ModelPool().sides([plan_side(SPEC, None)])[0]
    prompt = render(side, [{"role": "user", "content": PROMPT}])

    def run() -> Iterator[str]:
        for state in stream_state([side], [prompt], Sampling(max_new_tokens=tokens)):
            yield state.texts[0]
    return run, lambda text: len(side.tokenizer(text, add_special_tokens=False)["input_ids"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from gradio_client import Client

    alone, count = engine_alone(args.tokens)
    rows: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        app = AppProcess(Path(tmp) / "outputs").wait_ready()
        try:
            from openai import OpenAI

            gradio = Client(app.url, verbose=False)
            openai = OpenAI(base_url=app.url + "/v1", api_key="local", max_retries=0)
            for warm in (served(openai, 4), compare_chat(gradio, 4)):
                list(warm)
            for _ in range(args.repeats):
                rows.setdefault("/v1/chat/completions (stream)", []).append(timed(served(openai, args.tokens),
                                                                                  count))
                rows.setdefault("Compare Chat /chat_stream (2 sides)", []).append(
                    timed(compare_chat(gradio, args.tokens), count))
        finally:
            app.stop()
    list(alone())
    rows["engine alone, no HTTP (1 side)"] = [timed(alone(), count) for _ in range(args.repeats)]
    from engine.env.machine import cpu_info
    from engine.models.precision import cpu_bf16_is_faster

    print(f"CPU: {cpu_info()['model']} (models load in "
          f"{'bf16' if cpu_bf16_is_faster() else 'fp32'}); {args.tokens} new tokens at most, greedy, "
          f"median of {args.repeats}")
    print("| path | first text (s) | ms per token after it |\n|---|---|---|")
    for name, values in rows.items():
        print(f"| {name} | {statistics.median(v[0] for v in values):.3f} | "
              f"{statistics.median(v[1] for v in values):.1f} |")


if __name__ == "__main__":
    main()
