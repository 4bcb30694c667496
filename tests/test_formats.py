"""Every format real users' files arrive in: detected, rendered through the real template, trained.

Content given as parts (`text` or `value`), reasoning parts, tool-call parts, per-turn loss weights,
KTO rows and plain text, from TuneDesk's own samples in samples/formats/."""

from __future__ import annotations

import json

import pytest

from engine.data.detect import detect_format
from engine.data.encode import IGNORE, EncodeStats, LossMask, encode_conversation
from engine.data.formats import normalize
from engine.data.prepare import encode_samples, read_samples
from engine.data.readers import Row
from engine.data.sources import SourceMeta
from engine.errors import RowError
from tests.conftest import ROOT, needs_shared, run_to_end, tiny_config
from tests.conftest import data_config as cfg

FORMATS_DIR = ROOT / "samples" / "formats"



def trained_text(tok, examples) -> str:
    return "".join(tok.decode([t for t, label in zip(e.input_ids, e.labels, strict=True) if label != IGNORE])
                   for e in examples)


def masked_text(tok, examples) -> str:
    return "".join(tok.decode([t for t, label in zip(e.input_ids, e.labels, strict=True) if label == IGNORE])
                   for e in examples)


@pytest.mark.parametrize(("name", "fmt"), [
    ("openai_parts.jsonl", "openai"), ("sharegpt_tools.json", "sharegpt"), ("pairwise.jsonl", "pairwise"),
    ("pairwise_v1.jsonl", "pairwise"), ("kto.jsonl", "kto"), ("text.jsonl", "text"), ("alpaca.csv", "alpaca"),
    ("alpaca.tsv", "alpaca"),
])
def test_each_sample_format_is_detected_with_no_bad_row(name: str, fmt: str):
    method = {"pairwise": "dpo", "text": "pt"}.get(fmt, "sft")
    normalized, report = read_samples(cfg(FORMATS_DIR / name, method=method))
    assert report.format == fmt
    assert report.bad == [] and report.usable == report.rows > 0


def test_llamafactory_v1_pairs_split_into_the_shared_prompt_and_two_answers():
    """chosen_messages / rejected_messages (LLaMA-Factory's v1 layout): each the whole conversation in
    content parts with a loss_weight per message."""
    rows = [Row(json.loads(line), "pairwise_v1.jsonl", i)
            for i, line in enumerate((FORMATS_DIR / "pairwise_v1.jsonl").read_text().splitlines(), 1)]
    assert detect_format(rows, SourceMeta()) == "pairwise"
    pair = normalize(rows, SourceMeta(), "pairwise").samples[0]
    assert pair.prompt == [{"role": "system", "content": "You are a helpful assistant."},
                           {"role": "user", "content": "Who are you?"}]
    assert (pair.chosen, pair.rejected) == ("I am TuneBot, fine-tuned with TuneDesk.", "I am a large language model.")
    other_prompt = json.loads(json.dumps(rows[0].data))
    other_prompt["rejected_messages"][1]["content"][0]["value"] = "Who made you?"
    no_answer = json.loads(json.dumps(rows[0].data))
    no_answer["chosen_messages"] = no_answer["chosen_messages"][:-1]
    result = normalize([Row(other_prompt, "p.jsonl", 3), Row(no_answer, "p.jsonl", 4)], SourceMeta(), "pairwise")
    assert result.bad == [
        "p.jsonl row 3: chosen_messages and rejected_messages differ before their last turn: both must hold the same "
        "prompt, then the preferred or the rejected answer",
        "p.jsonl row 4: field 'chosen_messages' must end with an assistant turn that has text"]


def test_content_parts_with_value_are_text_not_an_error():
    row = Row({"messages": [{"role": "user", "content": [{"type": "text", "value": "Hi"}, {"type": "text",
                                                                                          "text": " there"}]},
                            {"role": "assistant", "content": [{"type": "text", "value": "Hello"}]}]}, "m.jsonl", 1)
    conv = normalize([row], SourceMeta(), "openai").samples[0]
    assert [m["content"] for m in conv.messages] == ["Hi there", "Hello"]


def test_unsupported_part_names_the_part_and_the_fix():
    row = Row({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "x.png"}]},
                            {"role": "assistant", "content": "A cat"}]}, "m.jsonl", 7)
    result = normalize([row], SourceMeta(), "openai")
    assert result.bad == ["m.jsonl row 7: messages[0] content[0] is a 'image_url' part: TuneDesk trains on text, "
                          "reasoning and tool-call parts only; drop that part (or the row) for a text model"]


def test_reasoning_part_is_rendered_as_the_template_expects(tiny_tokenizer):
    conv = normalize([Row(json.loads((FORMATS_DIR / "openai_parts.jsonl").read_text().splitlines()[0]), "f", 1)],
                     SourceMeta(), "openai").samples[0]
    assert conv.messages[-1]["reasoning_content"] == "12 plus 30 is 42."
    examples = encode_conversation(tiny_tokenizer, conv, 512, LossMask(), EncodeStats())
    trained = trained_text(tiny_tokenizer, examples)
    # Qwen3's template (or, for a template without reasoning, TuneDesk's inline form) puts it in <think>
    assert "<think>\n12 plus 30 is 42.\n</think>" in trained and trained.rstrip().endswith("12 + 30 = 42.<|im_end|>")


def test_loss_weight_zero_masks_that_turn_only(tiny_tokenizer):
    line = (FORMATS_DIR / "openai_parts.jsonl").read_text().splitlines()[2]
    conv = normalize([Row(json.loads(line), "f", 3)], SourceMeta(), "openai").samples[0]
    examples = encode_conversation(tiny_tokenizer, conv, 512, LossMask(), EncodeStats())
    assert "Hello, nice to meet you." in trained_text(tiny_tokenizer, examples)
    assert "bad draft" not in trained_text(tiny_tokenizer, examples)
    assert "bad draft" in masked_text(tiny_tokenizer, examples)


def test_bad_loss_weight_and_bad_tool_arguments_are_named():
    rows = [Row({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a",
                                                                 "loss_weight": 2}]}, "f", 1),
            Row({"messages": [{"role": "user", "content": "q"},
                              {"role": "assistant", "content": "", "tool_calls": [
                                  {"type": "function", "function": {"name": "f", "arguments": "{oops"}}]}]}, "f", 2)]
    bad = normalize(rows, SourceMeta(), "openai").bad
    assert bad[0] == "f row 1: messages[1] loss_weight must be a number from 0 to 1, got 2"
    assert bad[1].startswith("f row 2: messages[1] tool_calls: tool call 'f' has arguments that are not valid JSON")


def test_tool_calls_render_through_the_template_and_are_trained(tiny_tokenizer):
    normalized, report = read_samples(cfg(FORMATS_DIR / "openai_parts.jsonl"))
    conv = normalized.samples[3]
    assert conv.messages[1]["tool_calls"] == [{"type": "function", "function": {"name": "get_weather",
                                                                                 "arguments": {"city": "Paris"}}}]
    examples = encode_conversation(tiny_tokenizer, conv, 1024, LossMask(), EncodeStats())
    trained = trained_text(tiny_tokenizer, examples)
    assert '"get_weather"' in trained and '"Paris"' in trained  # the call itself is learned
    assert "It is 18 °C and cloudy in Paris." in trained
    assert "get_weather" in masked_text(tiny_tokenizer, examples)  # the schema sits in the prompt


def test_sharegpt_function_call_turn_becomes_a_tool_call():
    normalized, _ = read_samples(cfg(FORMATS_DIR / "sharegpt_tools.json"))
    call = normalized.samples[0].messages[1]
    assert call["role"] == "assistant" and call["tool_calls"][0]["function"] == {"name": "multiply",
                                                                                  "arguments": {"a": 7, "b": 6}}
    assert normalized.samples[0].messages[2]["role"] == "tool"


def test_kto_rows_sft_learns_only_desirable_answers(tiny_tokenizer):
    config = cfg(FORMATS_DIR / "kto.jsonl", max_seq_length=256)
    normalized, report = read_samples(config)
    assert [s.label for s in normalized.samples] == [True, False, True, True]
    train, _ = encode_samples(tiny_tokenizer, normalized, report, config)
    assert report.undesirable == 1 and len(train) == 3
    assert all("I have no name." not in tiny_tokenizer.decode(e.input_ids) for e in train)


def test_wrong_role_order_is_a_named_bad_row():
    row = Row({"messages": [{"role": "tool", "content": "42"}, {"role": "assistant", "content": "ok"}]}, "f", 4)
    bad = normalize([row], SourceMeta(), "openai").bad
    assert bad == ["f row 4: turn 0 is a tool result that follows no tool call"]


def test_dataset_info_column_mapping_and_pretraining_entry():
    rows = [Row({"text": "plain words"}, "p.txt", 1)]
    meta = SourceMeta(formatting="alpaca", columns={"prompt": "text"})
    assert detect_format(rows, meta) == "text"
    with pytest.raises(RowError, match="map the columns in the Dataset Explorer"):
        detect_format([Row({"question": "q", "answer": "a"}, "c.csv", 2)], SourceMeta())


@needs_shared
def test_glaive_tool_calls_from_shared_data(tiny_tokenizer):
    from tests.conftest import SHARED_DATA

    config = cfg(f"{SHARED_DATA}:glaive_toolcall_en_demo", max_seq_length=2048)
    normalized, report = read_samples(config)
    with_calls = [s for s in normalized.samples if any(m.get("tool_calls") for m in s.messages)]
    assert len(with_calls) > 100 and report.bad_count == 0
    train, _ = encode_samples(tiny_tokenizer, normalized, report, config)
    assert any("<tool_call>" in tiny_tokenizer.decode(e.input_ids) for e in train[:50])


@pytest.mark.parametrize(("name", "method"), [
    ("openai_parts.jsonl", "sft"), ("sharegpt_tools.json", "sft"), ("kto.jsonl", "sft"), ("pairwise.jsonl", "dpo"),
    ("pairwise_v1.jsonl", "dpo"), ("text.jsonl", "pt"), ("alpaca.csv", "sft"),
])
def test_every_format_trains_end_to_end(name: str, method: str, tiny_model, outputs):
    config = tiny_config(tiny_model, FORMATS_DIR / name, outputs, method=method, max_steps=2, max_seq_length=256,
                         learning_rate=1e-3 if method == "dpo" else 5e-3)
    _, run, state = run_to_end(config, outputs)
    assert state == "completed", run.status().get("error")
    report = json.loads((run.path / "data_report.json").read_text())
    assert report["bad_count"] == 0 and report["train_examples"] > 0
    assert [m["step"] for m in run.metrics() if m.get("type") == "train"] == [1, 2]
