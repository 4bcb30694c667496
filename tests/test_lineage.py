"""Lineage: a run records the hashes of its base weights and data files, the rows it used, its settings'
hash and its parent; exports join it with their files' hashes and a model card the Hub's own parser reads;
the graph links runs continuing runs, checkpoints and exports."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from engine.runs.lineage import datasets, settings_sha256
from tests.conftest import tiny_config


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def family(tiny_model, tmp_path_factory):
    """A LoRA run saving checkpoint-2, and a second run continuing it from that checkpoint."""
    from engine.runs.queue import RunManager

    folder = tmp_path_factory.mktemp("lineage")
    rows = [{"instruction": f"Say the number {i}.", "input": "", "output": f"The number is {i}."} for i in range(12)]
    (folder / "chat.json").write_text(json.dumps(rows))
    manager = RunManager(folder / "outputs")
    parent = manager.submit(tiny_config(tiny_model, folder / "chat.json", folder / "o", max_steps=4, save_steps=2,
                                        save_total_limit=0))
    assert manager.wait(parent, timeout=300) == "completed"
    child = manager.submit(tiny_config(tiny_model, folder / "chat.json", folder / "o", max_steps=2,
                                       adapter_name_or_path=f"run:{parent}@checkpoint-2"))
    assert manager.wait(child, timeout=300) == "completed", manager.run(child).log_tail()
    return manager, parent, child, folder / "chat.json"


def test_a_run_records_the_hashes_of_its_weights_and_data(family, tiny_model):
    manager, parent, _, data = family
    run = manager.run(parent)
    lineage = json.loads((run.path / "lineage.json").read_text())
    weights = {w["name"]: w["sha256"] for w in lineage["base"]["weights"]}
    assert weights["model.safetensors"] == sha256(Path(tiny_model) / "model.safetensors")
    assert lineage["base"]["model"] == str(tiny_model) and lineage["base"]["source"] == "local"
    [entry] = lineage["datasets"]
    assert entry["files"] == [{"name": str(data), "bytes": data.stat().st_size, "sha256": sha256(data),
                               "split": "train"}]
    report = json.loads((run.path / "data_report.json").read_text())
    assert entry["rows_used"] == report["train_examples"] == 12
    assert lineage["settings_sha256"] == settings_sha256(run.config()) and lineage["parent"] is None


def test_hashes_change_with_the_data_and_the_settings_and_nothing_else(tiny_model, tmp_path):
    data = tmp_path / "d.json"
    data.write_text(json.dumps([{"instruction": "a", "output": "b"}]))
    config = tiny_config(tiny_model, data, tmp_path / "o")
    before = datasets(config, None)[0]["files"][0]["sha256"]
    data.touch()  # a new modification time, the same content
    assert datasets(config, None)[0]["files"][0]["sha256"] == before
    data.write_text(json.dumps([{"instruction": "a", "output": "c"}]))
    assert datasets(config, None)[0]["files"][0]["sha256"] == sha256(data) != before
    same = config.replace(run_name="another-name", output_dir=str(tmp_path / "elsewhere"))
    assert settings_sha256(same) == settings_sha256(config)
    assert settings_sha256(config.replace(learning_rate=1e-4)) != settings_sha256(config)


def test_a_continued_run_points_at_its_parent_checkpoint(family):
    manager, parent, child, _ = family
    lineage = json.loads((manager.run(child).path / "lineage.json").read_text())
    assert lineage["parent"]["run_id"] == parent and lineage["parent"]["point"] == "checkpoint-2"
    graph = manager.lineage(child)
    edges = {(e["from"], e["to"], e["kind"]) for e in graph["edges"]}
    assert (f"run:{parent}", f"run:{parent}@checkpoint-2", "saved") in edges
    assert (f"run:{parent}@checkpoint-2", f"run:{child}", "continued") in edges
    kinds = {n["id"]: n["kind"] for n in graph["nodes"]}
    # both runs trained on the same base weights and data: one node each, feeding both
    assert sorted(kinds.values()).count("base") == 1 and sorted(kinds.values()).count("dataset") == 1
    # the parent's own view lists the run that continues it
    down = {(e["from"], e["to"]) for e in manager.lineage(parent)["edges"]}
    assert (f"run:{parent}@checkpoint-2", f"run:{child}") in down



def test_the_drawn_graph_has_a_marker_per_node_and_an_arrow_per_edge(family):
    from tabs.train_lineage import KINDS, lineage_figure

    manager, parent, child, _ = family
    graph = manager.lineage(child)
    fig = lineage_figure(graph, {k: k for k in KINDS})
    drawn = {node_id: (trace.name, x, y) for trace in fig.data
             for node_id, x, y in zip(trace.customdata, trace.x, trace.y, strict=True)}
    assert {k: v[0] for k, v in drawn.items()} == {n["id"]: n["kind"] for n in graph["nodes"]}
    place = {node_id: (x, y) for node_id, (_, x, y) in drawn.items()}
    arrows = {((a.ax, a.ay), (a.x, a.y)) for a in fig.layout.annotations}
    assert arrows == {(place[e["from"]], place[e["to"]]) for e in graph["edges"]}
    # left to right: the parent run, then its checkpoint, then the run continuing it
    point = f"run:{parent}@checkpoint-2"
    assert place[f"run:{parent}"][0] < place[point][0] < place[f"run:{child}"][0]
    assert (place[point], place[f"run:{child}"]) in arrows

def test_an_export_joins_the_lineage_with_its_hashes_and_a_model_card(family, tmp_path):
    from huggingface_hub import ModelCard

    from engine.export.exporter import ExportManager, ExportRequest
    from engine.runs.lineage_graph import lineage_lines

    manager, parent, _, _ = family
    result = ExportManager(manager).run(ExportRequest(parent, "adapter", checkpoint="checkpoint-2",
                                                      destination=str(tmp_path / "adapter")))
    assert result["format"] == "adapter"
    [export] = json.loads((manager.run(parent).path / "lineage.json").read_text())["exports"]
    assert export["checkpoint"] == "checkpoint-2" and export["destination"] == str(tmp_path / "adapter")
    files = {f["name"]: f["sha256"] for f in export["files"]}
    assert files["adapter_model.safetensors"] == sha256(tmp_path / "adapter" / "adapter_model.safetensors")
    card = ModelCard.load(tmp_path / "adapter" / "README.md")
    assert card.data.library_name == "peft" and {"tunedesk", "sft", "lora"} <= set(card.data.tags)
    assert files["README.md"] == sha256(tmp_path / "adapter" / "README.md")
    graph = manager.lineage(parent)
    assert {(e["from"], e["to"]) for e in graph["edges"]} >= {
        (f"run:{parent}@checkpoint-2", f"export:{tmp_path / 'adapter'}")}
    text = "\n".join(lineage_lines(graph))
    assert "- export **adapter**" in text and f"- run **{parent}**" in text


def test_the_model_card_names_a_hub_base_its_licence_and_hub_datasets(tmp_path):
    from huggingface_hub import ModelCard

    from engine.config.train_config import TrainConfig
    from engine.export.card import model_card
    from engine.runs.rundir import RunDir

    config = TrainConfig.from_dict({"model_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct",
                                    "dataset": "samples/identity.json, someone/chat-data", "learning_rate": 2e-4})
    run = RunDir.create(tmp_path / "runs", config)
    card = ModelCard(model_card(run, "gguf", "q8_0"))
    assert card.data.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert card.data.license == "apache-2.0" and card.data.datasets == ["someone/chat-data"]
    assert "gguf" in card.data.tags and card.data.pipeline_tag == "text-generation"
    assert "| `learning_rate` | 0.0002 |" in card.text and "exported as gguf (q8_0)" in card.text


def test_the_cli_prints_the_lineage(family, capsys):
    from engine.__main__ import main

    manager, parent, child, _ = family
    assert main(["lineage", child, "--outputs", str(manager.outputs)]) == 0
    out = capsys.readouterr().out
    assert out.index(f"run **{parent}**") < out.index("checkpoint **checkpoint-2**") < out.index(f"run **{child}**")
    assert main(["lineage", child, "--json", "--outputs", str(manager.outputs)]) == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == child
