"""The training knobs beyond the basics, each checked for what it changes on a tiny real model: DoRA's
magnitude vectors, rsLoRA's scale, LoRA+'s faster B matrices, modules trained beside an adapter, NEFTune's
training-only noise, freeze tuning's trained layers, the DPO loss variants and the SFT term mixed into DPO,
the optimizers' state (Adafactor's, GaLore's and APOLLO's), and the memory estimator following the knobs
that change memory."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from engine.config.train_config import TrainConfig
from engine.errors import ConfigError, ModelError
from engine.runs.queue import RunManager
from tests.conftest import run_to_end, tiny_config


def tensors(folder: Path) -> dict:
    from safetensors.torch import load_file

    out = {}
    for file in sorted(folder.glob("*.safetensors")):
        out.update(load_file(file))
    return out


def trained(config: TrainConfig, outputs: Path):
    _, run, state = run_to_end(config, outputs)
    assert state == "completed", run.log_tail()
    return run


def test_dora_learns_magnitudes_and_reloads_in_plain_peft(tiny_model, chat_file, outputs):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    run = trained(tiny_config(tiny_model, chat_file, outputs, use_dora=True, max_steps=4), outputs)
    assert json.loads((run.final_path / "adapter_config.json").read_text())["use_dora"] is True
    weights = tensors(run.final_path)
    magnitudes = [k for k in weights if "lora_magnitude_vector" in k]
    assert len(magnitudes) == 2 * 7  # one per adapted linear layer: q, k, v, o, gate, up, down in 2 layers
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    # a magnitude starts as its weight's row norms; training moved it
    q = base.model.layers[0].self_attn.q_proj.weight.detach()
    key = next(k for k in magnitudes if "layers.0.self_attn.q_proj" in k)
    assert not torch.allclose(weights[key], q.norm(dim=1), atol=1e-6)
    ids = torch.tensor([[1, 2, 3, 4]])
    before = base(ids).logits
    reloaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), run.final_path)
    assert reloaded.peft_config["default"].use_dora
    assert not torch.allclose(reloaded(ids).logits, before, atol=1e-4)


def test_rslora_scales_by_the_square_root_of_the_rank(tiny_model, chat_file, outputs):
    from transformers import AutoModelForCausalLM

    from engine.models.load import apply_lora

    scales = {}
    for rs in (False, True):
        config = tiny_config(tiny_model, chat_file, outputs, lora_r=16, lora_alpha=32, use_rslora=rs)
        model = apply_lora(AutoModelForCausalLM.from_pretrained(tiny_model), config)
        scales[rs] = model.base_model.model.model.layers[0].mlp.up_proj.scaling["default"]
    assert scales[False] == pytest.approx(32 / 16)
    assert scales[True] == pytest.approx(32 / math.sqrt(16))


def test_loraplus_moves_the_b_matrices_at_the_ratio(tiny_model, chat_file, tmp_path):
    """B starts at zero and Adam steps each weight by about the learning rate: after the same steps, B has
    moved about `ratio` times further with LoRA+, while A moves as before."""
    import torch

    runs = {ratio: trained(tiny_config(tiny_model, chat_file, tmp_path / str(ratio), max_steps=3,
                                       learning_rate=1e-4, loraplus_lr_ratio=ratio), tmp_path / str(ratio))
            for ratio in (0, 8)}
    log = runs[8].log_path.read_text()
    assert "LoRA+: the B matrices learn at 8× the learning rate" in log
    plain, plus = tensors(runs[0].final_path), tensors(runs[8].final_path)

    def size(weights: dict, part: str) -> float:
        return float(torch.stack([w.abs().mean() for k, w in weights.items() if part in k]).mean())

    assert 5 < size(plus, "lora_B") / size(plain, "lora_B") < 11
    assert size(plus, "lora_A") == pytest.approx(size(plain, "lora_A"), rel=0.05)


def test_modules_to_save_are_trained_in_full_and_saved_with_the_adapter(tiny_model, chat_file, outputs):
    import torch
    from transformers import AutoModelForCausalLM

    run = trained(tiny_config(tiny_model, chat_file, outputs, lora_modules_to_save="embed_tokens", max_steps=2),
                  outputs)
    saved = tensors(run.final_path)
    key = next(k for k in saved if "embed_tokens" in k)
    base = AutoModelForCausalLM.from_pretrained(tiny_model).model.embed_tokens.weight.detach()
    assert saved[key].shape == base.shape and not torch.equal(saved[key], base)
    with pytest.raises(ModelError, match="no module named embeddings"):
        from engine.models.load import apply_lora

        apply_lora(AutoModelForCausalLM.from_pretrained(tiny_model),
                   tiny_config(tiny_model, chat_file, outputs, lora_modules_to_save="embeddings"))


def test_neftune_noise_changes_training_loss_not_evaluation(tiny_model, tmp_path):
    """With a learning rate too small to move the weights, the noise is the only difference: the training
    loss of the first step differs, the validation loss does not."""
    rows = [{"instruction": f"Say the number {i}.", "output": f"The number is {i}."} for i in range(10)]
    data = tmp_path / "numbers.json"
    data.write_text(json.dumps(rows))
    losses = {}
    for alpha in (0.0, 50.0):
        out = tmp_path / f"alpha{alpha:g}"
        run = trained(tiny_config(tiny_model, data, out, neftune_noise_alpha=alpha, learning_rate=1e-12,
                                  max_steps=2, val_size=2, eval_steps=2, save_steps=2), out)
        metrics = run.metrics()
        losses[alpha] = (next(m["loss"] for m in metrics if "loss" in m),
                         next(m["eval_loss"] for m in metrics if "eval_loss" in m))
    assert abs(losses[50.0][0] - losses[0.0][0]) > 1e-3, losses
    assert losses[50.0][1] == pytest.approx(losses[0.0][1], abs=1e-5), losses


@pytest.mark.parametrize("layers,trained_layer", [(1, 1), (-1, 0)])
def test_freeze_tuning_trains_exactly_the_chosen_layers(tiny_model, chat_file, outputs, layers, trained_layer):
    import torch

    run = trained(tiny_config(tiny_model, chat_file, outputs, finetuning_type="freeze",
                              freeze_trainable_layers=layers, freeze_trainable_modules="mlp", max_steps=2), outputs)
    before, after = tensors(tiny_model), tensors(run.final_path)
    changed = sorted(k for k in before if not torch.equal(before[k], after[k]))
    assert changed == [f"model.layers.{trained_layer}.mlp.{p}.weight" for p in ("down_proj", "gate_proj", "up_proj")]
    assert "freeze tuning: 3 weights of mlp in the" in run.log_path.read_text()
    assert not (run.final_path / "adapter_config.json").exists()  # a whole model, like a full run


def test_freeze_settings_that_cannot_work_are_refused(tiny_model, chat_file, outputs):
    with pytest.raises(ConfigError, match="freeze_trainable_layers: 0 would train nothing"):
        tiny_config(tiny_model, chat_file, outputs, finetuning_type="freeze", freeze_trainable_layers=0)
    with pytest.raises(ConfigError, match="dpo with finetuning_type freeze needs a second full model"):
        tiny_config(tiny_model, chat_file, outputs, finetuning_type="freeze", method="dpo")
    from transformers import AutoModelForCausalLM

    from engine.models.freeze import apply_freeze

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    with pytest.raises(ModelError, match="the model has 2 decoder layers"):
        apply_freeze(model, tiny_config(tiny_model, chat_file, outputs, finetuning_type="freeze",
                                        freeze_trainable_layers=5))
    with pytest.raises(ModelError, match="ffn not in a decoder layer of this model, which has"):
        apply_freeze(model, tiny_config(tiny_model, chat_file, outputs, finetuning_type="freeze",
                                        freeze_trainable_modules="ffn"))


@pytest.fixture
def pairs(tmp_path: Path) -> Path:
    rows = [{"prompt": f"Is {i} even?", "chosen": "yes" if i % 2 == 0 else "no",
             "rejected": "no" if i % 2 == 0 else "yes"} for i in range(8)]
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps(rows))
    return path


def test_dpo_losses_start_where_each_formula_says(tiny_model, pairs, tmp_path):
    """At step 1 the LoRA policy equals its reference (B = 0), so the margin is 0: sigmoid gives ln 2,
    hinge 1, IPO (1 / 2β)²; the SFT term adds the chosen answers' NLL, twice as much at twice the weight."""
    def first_loss(**kw) -> float:
        out = tmp_path / "_".join(f"{k}{v}" for k, v in kw.items())
        run = trained(tiny_config(tiny_model, pairs, out, method="dpo", max_steps=1, dpo_beta=0.25, **kw), out)
        return next(m["loss"] for m in run.metrics() if "loss" in m)

    assert first_loss(dpo_loss="sigmoid") == pytest.approx(math.log(2), abs=1e-4)
    assert first_loss(dpo_loss="hinge") == pytest.approx(1.0, abs=1e-4)
    assert first_loss(dpo_loss="ipo") == pytest.approx((1 / (2 * 0.25)) ** 2, rel=1e-4)
    one, two = first_loss(pref_ftx=1.0) - math.log(2), first_loss(pref_ftx=2.0) - math.log(2)
    assert 1 < one < 20 and two == pytest.approx(2 * one, rel=1e-3)


def test_the_estimator_follows_the_knobs_that_change_memory():
    from engine.sizing.catalog import find
    from engine.sizing.fit import setting_for
    from engine.sizing.memory import estimate

    shape = find("Qwen2.5-0.5B-Instruct").shape

    def run(**kw):
        return estimate(shape, setting_for(TrainConfig.from_dict({"precision": "bf16", **kw})))

    lora = run()
    dora = run(use_dora=True)
    assert dora.trainable_params == lora.trainable_params + shape.layers * sum(o for _, o in shape.linear_shapes())
    assert dora.activations_gb > lora.activations_gb
    saved = run(lora_modules_to_save="embed_tokens,lm_head")
    assert saved.trainable_params == lora.trainable_params + 2 * shape.vocab * shape.hidden
    full = run(finetuning_type="full")
    last2 = run(finetuning_type="freeze", freeze_trainable_layers=2)
    first2 = run(finetuning_type="freeze", freeze_trainable_layers=-2)
    assert last2.trainable_params == first2.trainable_params < full.trainable_params / 5
    assert last2.trainable_gb < full.trainable_gb and last2.activations_gb < first2.activations_gb
    # knobs for another fine-tuning type change nothing
    assert run(finetuning_type="full", use_dora=True).total_gb == full.total_gb


def test_a_run_continues_another_runs_adapter_and_records_it(tiny_model, tmp_path):
    rows = [{"instruction": f"Say the number {i}.", "output": f"The number is {i}."} for i in range(4)]
    data = tmp_path / "numbers.json"
    data.write_text(json.dumps(rows))
    outputs = tmp_path / "outputs"
    common = {"per_device_train_batch_size": 4, "learning_rate": 3e-2}
    parent = trained(tiny_config(tiny_model, data, outputs, max_steps=25, lora_r=16, **common), outputs)
    fresh = trained(tiny_config(tiny_model, data, outputs, max_steps=1, **common), outputs)
    child = trained(tiny_config(tiny_model, data, outputs, max_steps=1, adapter_name_or_path=f"run:{parent.run_id}",
                                **common), outputs)

    def first(run) -> float:
        return next(m["loss"] for m in run.metrics() if "loss" in m)

    last = [m["loss"] for m in parent.metrics() if "loss" in m][-1]
    # the child starts where its parent ended, not where a new adapter starts
    learnt = first(fresh) - last
    assert learnt > 0.3 and abs(first(child) - last) < 0.1 * learnt, (first(fresh), last, first(child))
    assert json.loads((child.final_path / "adapter_config.json").read_text())["r"] == 16  # the parent's shape
    assert child.status()["parent"] == {"spec": f"run:{parent.run_id}", "folder": str(parent.final_path),
                                        "run_id": parent.run_id, "point": "final", "below": []}
    assert "continuing the adapter run:" in child.log_path.read_text()

    # a new adapter on top: the parent merged into the base, a fresh adapter of this run's own shape, which
    # starts at zero, so the first loss is again where the parent ended (its learning rate keeps it there)
    stacked = trained(tiny_config(tiny_model, data, outputs, max_steps=1, adapter_name_or_path=f"run:{parent.run_id}",
                                  create_new_adapter=True, per_device_train_batch_size=4, learning_rate=1e-12),
                      outputs)
    assert abs(first(stacked) - last) < 0.1 * learnt
    assert json.loads((stacked.final_path / "adapter_config.json").read_text())["r"] == 8
    assert stacked.status()["stack"] == [str(parent.final_path)]
    assert "a new adapter on top of run:" in stacked.log_path.read_text()
    # Compare Chat loads the base, merges the parent, then applies the new adapter: it answers as the parent
    from engine.inference.decode import Sampling
    from engine.inference.generate import answer
    from engine.inference.pool import ModelPool
    from engine.inference.sides import plan_side

    manager = RunManager(outputs)
    sides = ModelPool().sides([plan_side(f"run:{stacked.run_id}", manager), plan_side(f"run:{parent.run_id}", manager),
                               plan_side(f"base:{tiny_model}", manager)])
    question = [{"role": "user", "content": "Say the number 2."}]
    on_top, below, base = answer(sides, [question] * 3, Sampling(max_new_tokens=8))
    assert on_top == below != base
    # the adapter alone applies on top of the merged parent: an adapter export carries the parent beside it
    from engine.export.exporter import ExportManager, ExportRequest
    from engine.text.message import render

    exported = ExportManager(manager).run(ExportRequest(stacked.run_id, "adapter", verify=False))
    assert exported["below"] == ["below-1"]
    folder = Path(exported["folder"])
    assert (folder / "below-1" / "adapter_model.safetensors").read_bytes() == \
        (parent.final_path / "adapter_model.safetensors").read_bytes()
    assert "trained on top of 1 other adapter(s)" in str(render(exported["note"]))
    assert "之上训练" in render(exported["note"], "zh")
    # a run continuing the stacked one sits on the same merged base
    from engine.runs.parent import parent_adapter

    grandchild = tiny_config(tiny_model, data, outputs, adapter_name_or_path=f"run:{stacked.run_id}")
    assert parent_adapter(grandchild, outputs / "runs").stack(False) == [str(parent.final_path)]
    with pytest.raises(ConfigError, match="create_new_adapter: stacks a new adapter on the one in"):
        tiny_config(tiny_model, data, outputs, create_new_adapter=True)


def test_a_parent_that_cannot_be_continued_is_explained(tiny_model, chat_file, tmp_path):
    outputs = tmp_path / "outputs"
    full = trained(tiny_config(tiny_model, chat_file, outputs, finetuning_type="full", max_steps=1), outputs)
    for spec, reason in ((f"run:{full.run_id}", "has no adapter in final"),
                         ("run:20990101-000000-none-0000", "no run '20990101-000000-none-0000'"),
                         (str(tmp_path), "holds no adapter_config.json")):
        _, run, state = run_to_end(tiny_config(tiny_model, chat_file, outputs, adapter_name_or_path=spec), outputs)
        assert state == "failed" and reason in run.status()["error"], run.status()


def test_mask_history_trains_only_the_last_answer_in_preview_and_training(tiny_model, tmp_path):
    from transformers import AutoTokenizer

    from engine.data.encode import IGNORE
    from engine.data.explorer import DatasetChoice, DatasetExplorer
    from engine.data.prepare import encode_samples, read_samples

    answers = ["First answer alpha.", "Second answer beta.", "Third answer gamma."]
    turns = []
    for i, answer in enumerate(answers):
        turns += [{"from": "human", "value": f"Question {i}?"}, {"from": "gpt", "value": answer}]
    data = tmp_path / "chat.json"
    data.write_text(json.dumps([{"conversations": turns}]))
    explorer = DatasetExplorer(tmp_path / "outputs")

    def trained_text(mask_history: bool) -> str:
        page = explorer.preview(DatasetChoice(str(data), model=str(tiny_model), mask_history=mask_history))
        # Qwen3's template drops earlier reasoning, so each answer is an example of its own, its history before it
        return "".join(text for example in page["rows"][0]["examples"] for text, kind in example["pieces"]
                       if kind == "trained")

    everything, last = trained_text(False), trained_text(True)
    assert all(a in everything for a in answers)
    assert answers[2] in last and answers[0] not in last and answers[1] not in last
    # training encodes exactly what the preview shows
    tok = AutoTokenizer.from_pretrained(tiny_model)
    config = tiny_config(tiny_model, data, tmp_path / "out", mask_history=True)
    normalized, report = read_samples(config)
    (example,), _ = encode_samples(tok, normalized, report, config)
    labels = [t for t in example.labels[1:] if t != IGNORE]
    assert tok.decode(labels) == last


@pytest.mark.parametrize("method,settings", [
    ("orpo", {"orpo_beta": 1.0, "learning_rate": 1e-2, "max_steps": 12, "per_device_train_batch_size": 4}),
    ("simpo", {"learning_rate": 2e-2, "max_steps": 12, "per_device_train_batch_size": 8})])
def test_reference_free_preference_methods_raise_the_margin(tiny_model, tmp_path, method, settings):
    """A preference any model can learn (a friendly answer over a curt one): the chosen answers' reward
    pulls away from the rejected ones', and the reward chart's series are logged."""
    rows = [{"prompt": f"Tell me about {i}.", "chosen": f"Gladly: {i} is a number.", "rejected": "No."}
            for i in range(8)]
    data = tmp_path / "pairs.json"
    data.write_text(json.dumps(rows))
    out = tmp_path / method
    run = trained(tiny_config(tiny_model, data, out, method=method, max_seq_length=64, **settings), out)
    logged = [m for m in run.metrics() if "rewards_margins" in m]
    margins = [m["rewards_margins"] for m in logged]
    assert len(margins) == settings["max_steps"] and sum(margins[-3:]) / 3 > sum(margins[:3]) / 3 + 0.5, margins
    assert logged[-1]["rewards_accuracies"] == 1.0 and {"rewards_chosen", "rewards_rejected"} <= set(logged[-1])
    assert (run.final_path / "adapter_config.json").exists()


def test_orpo_and_simpo_need_no_reference_so_full_fine_tuning_is_allowed(tiny_model, pairs, outputs):
    assert tiny_config(tiny_model, pairs, outputs, method="orpo", finetuning_type="full").method == "orpo"
    with pytest.raises(ConfigError, match="or orpo / simpo, which need no reference"):
        tiny_config(tiny_model, pairs, outputs, method="dpo", finetuning_type="full")


def test_datasets_mix_in_the_asked_shares_and_the_report_says_so(tmp_path):
    from engine.data.prepare import read_samples
    from tests.conftest import data_config

    small, large = tmp_path / "small.jsonl", tmp_path / "large.json"
    small.write_text("\n".join(json.dumps({"instruction": f"small {i}", "output": "s"}) for i in range(1000)))
    large.write_text(json.dumps([{"conversations": [{"from": "human", "value": f"large {i}"},
                                                    {"from": "gpt", "value": "l"}]} for i in range(9000)]))
    normalized, report = read_samples(data_config(f"{small}, {large}", mix="0.7, 0.3"))
    assert len(normalized.samples) == 10_000
    from_small = sum(1 for o in normalized.origins if o.startswith(str(small)))
    assert abs(from_small / 10_000 - 0.7) <= 0.02
    assert len({o for o in normalized.origins if o.startswith(str(small))}) == 1000  # every small row is used
    lines = "\n".join(report.lines())
    assert "mix: " + str(small) + " 70.0% of the training rows (7000 of its 1000, each row 7.0× on average)" in lines
    assert "mix: " + str(large) + " 30.0% of the training rows (3000 of its 9000)" in lines
    # without shares: each dataset in full
    normalized, _ = read_samples(data_config(f"{small}, {large}"))
    assert len(normalized.samples) == 10_000 and len(set(normalized.origins)) == 10_000
    with pytest.raises(ConfigError, match="mix: 3 shares for 2 datasets"):
        data_config(f"{small}, {large}", mix="0.5, 0.3, 0.2")


def test_the_explorer_pages_through_a_mix_in_the_order_a_run_trains_it(tmp_path):
    from engine.data.explorer import DatasetChoice, DatasetExplorer
    from engine.data.prepare import read_samples
    from engine.errors import DataError
    from tests.conftest import QWEN3_TOKENIZER, data_config

    small, large = tmp_path / "small.jsonl", tmp_path / "large.json"
    small.write_text("\n".join(json.dumps({"instruction": f"small {i}", "output": f"one {i}"}) for i in range(12)))
    large.write_text(json.dumps([{"conversations": [{"from": "human", "value": f"first {i}"},
                                                    {"from": "gpt", "value": f"early {i}"},
                                                    {"from": "human", "value": f"then {i}"},
                                                    {"from": "gpt", "value": f"last {i}"}]} for i in range(30)]))
    spec, shares = f"{small}, {large}", dict(mix="0.6, 0.4", mix_strategy="interleave_under")
    explorer = DatasetExplorer(tmp_path / "outputs")
    choice = DatasetChoice(spec, model=str(QWEN3_TOKENIZER), mask_history=True, **shares)
    pages, where = 1, []
    page = 1
    while page <= pages:
        shown = explorer.preview(choice, page, 7)
        pages, page = shown["pages"], page + 1
        where += [row["where"] for row in shown["rows"]]
        for row in shown["rows"]:
            trained = "".join(text for ex in row["examples"] for text, kind in ex["pieces"] if kind == "trained")
            assert "early" not in trained  # mask_history: the earlier answer is context only
            assert ("last" in trained) == row["dataset"].endswith("large.json")
    normalized, report = read_samples(data_config(spec, **shares))
    assert where == normalized.origins  # the same rows in the same order as the run's training set
    assert len(where) == 20 and sum(w.startswith(str(small)) for w in where) == 12  # small used up at 60%
    stats = explorer.inspect(choice)
    assert stats.mix == report.mix and stats.mix_strategy == "interleave_under"
    assert (stats.rows, stats.format, stats.token_rows) == (42, "alpaca+sharegpt", 20)
    with pytest.raises(DataError, match="mix: 3 shares for 2 datasets"):
        explorer.start_inspect(DatasetChoice(spec, mix="0.5, 0.3, 0.2"))
    with pytest.raises(DataError, match="clean or map them one at a time"):
        explorer.save_mapping(choice, "mixed")


def test_interleaving_stops_at_the_first_dataset_used_up_or_uses_every_row(tmp_path):
    from engine.data.prepare import read_samples
    from tests.conftest import data_config

    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    small.write_text("\n".join(json.dumps({"instruction": f"small {i}", "output": "s"}) for i in range(300)))
    large.write_text("\n".join(json.dumps({"instruction": f"large {i}", "output": "l"}) for i in range(2000)))

    def mixed(strategy: str) -> list[str]:
        normalized, _ = read_samples(data_config(f"{small}, {large}", mix="0.5, 0.5", mix_strategy=strategy))
        return ["small" if o.startswith(str(small)) else "large" for o in normalized.origins]

    under = mixed("interleave_under")  # small runs out first at half the mix: 300 + 300, nothing repeated
    assert len(under) == 600 and under.count("small") == 300
    # alternately in the asked shares: every window of 10 rows holds 5 of each
    assert all(under[i:i + 10].count("small") == 5 for i in range(0, 600, 10))
    over = mixed("interleave_over")  # until every large row is used: 2000 + 2000, small repeated
    assert len(over) == 4000 and over.count("large") == 4000 // 2
    normalized, _ = read_samples(data_config(f"{small}, {large}", mix="0.5, 0.5", mix_strategy="interleave_over"))
    assert len({o for o in normalized.origins if o.startswith(str(large))}) == 2000
    assert len(mixed("concat")) == 2300  # the datasets together, in the asked shares
    # no shares: equal shares when interleaving
    normalized, _ = read_samples(data_config(f"{small}, {large}", mix_strategy="interleave_under"))
    assert len(normalized.samples) == 600


def test_a_mixed_dataset_outside_the_allowed_folders_is_refused(tmp_path):
    from engine.access.paths import PathGuard
    from engine.errors import PathNotAllowed
    from tests.conftest import data_config

    inside = tmp_path / "inside"
    inside.mkdir()
    (inside / "a.json").write_text("[]")
    PathGuard([inside]).check_config(data_config(f"{inside / 'a.json'}"))
    with pytest.raises(PathNotAllowed, match="dataset: /etc/passwd is outside"):
        PathGuard([inside]).check_config(data_config(f"{inside / 'a.json'}, /etc/passwd"))


def test_a_run_trains_on_two_datasets(tiny_model, chat_file, tmp_path):
    other = tmp_path / "other.json"
    other.write_text(json.dumps([{"instruction": f"Name colour {i}.", "output": "Blue."} for i in range(4)]))
    out = tmp_path / "out"
    run = trained(tiny_config(tiny_model, f"{chat_file}, {other}", out, mix="1, 1", max_steps=2), out)
    log = run.log_path.read_text()
    assert f"mix: {chat_file} 50.0% of the training rows (8 of its 12)" in log
    assert f"mix: {other} 50.0% of the training rows (8 of its 4, each row 2.0× on average)" in log
    assert json.loads((run.path / "data_report.json").read_text())["mix"][1]["used"] == 8


def test_adafactor_keeps_far_less_optimizer_state_than_adamw(tiny_model, chat_file, tmp_path):
    runs = {name: trained(tiny_config(tiny_model, chat_file, tmp_path / name, finetuning_type="full", max_steps=2,
                                      save_steps=2, learning_rate=1e-4, optim=name), tmp_path / name)
            for name in ("adamw_torch", "adafactor")}
    size = {name: (run.path / "checkpoint-2" / "optimizer.pt").stat().st_size for name, run in runs.items()}
    assert size["adafactor"] < size["adamw_torch"] / 10, size  # AdamW: two moments the size of the weights
    assert "optimizer: adafactor" in runs["adafactor"].log_path.read_text()


@pytest.mark.parametrize("optim", ["galore_adamw", "apollo_adamw"])
def test_low_rank_optimizers_keep_projected_states_of_the_attention_and_mlp(tiny_model, chat_file, tmp_path, optim):
    import torch

    run = trained(tiny_config(tiny_model, chat_file, tmp_path, finetuning_type="full", max_steps=2, save_steps=2,
                              learning_rate=1e-3, optim=optim), tmp_path)
    assert "low-rank optimizer states of rank 16 on the attention and MLP weights" in run.log_path.read_text()
    saved = torch.load(run.path / "checkpoint-2" / "optimizer.pt", weights_only=False)
    moments = [s["exp_avg"] for s in saved["state"].values() if "exp_avg" in s]
    # the 64×64 .. 128×64 projections get moments of rank 16 along one side; the embeddings keep full ones
    assert any(16 in m.shape and m.numel() < 64 * 64 for m in moments), [tuple(m.shape) for m in moments]
    assert any(m.numel() >= 64 * 1000 for m in moments)


def test_optimizers_that_cannot_run_here_are_refused_with_the_reason(tiny_model, chat_file, tmp_path, monkeypatch):
    import importlib.util

    from engine.access.door import Door
    from engine.config.optimizers import check_optimizer

    with pytest.raises(ConfigError, match="finetuning_type full"):
        tiny_config(tiny_model, chat_file, tmp_path, optim="galore_adamw")  # LoRA
    with pytest.raises(ConfigError, match="needs an NVIDIA GPU"):
        check_optimizer("paged_adamw_8bit", cuda=False)
    check_optimizer("paged_adamw_8bit", cuda=True)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "galore_torch" else
                        real(name, *a))
    door = Door.open(tmp_path / "outputs")
    with pytest.raises(ConfigError, match="pip install galore-torch"):
        door.start(tiny_config(tiny_model, chat_file, tmp_path, finetuning_type="full", optim="galore_adamw"))
    assert door.manager.list_runs() == []  # refused before a run was made


def test_the_estimator_follows_the_optimizer():
    from engine.sizing.catalog import find
    from engine.sizing.fit import setting_for
    from engine.sizing.memory import estimate

    shape = find("Qwen2.5-0.5B-Instruct").shape

    def state(**kw) -> float:
        return estimate(shape, setting_for(TrainConfig.from_dict({"precision": "bf16", "finetuning_type": "full",
                                                                   **kw}))).trainable_gb
    adamw, eight, factored, galore = (state(optim=o) for o in ("adamw_torch", "adamw_8bit", "adafactor",
                                                               "galore_adamw"))
    grads = shape.params * 4 / 2**30
    assert eight - grads == pytest.approx((adamw - grads) / 4, rel=0.02)
    assert factored < eight < adamw and galore < adamw


def test_pissa_starts_as_the_base_and_its_final_adapter_fits_the_untouched_base(tiny_model, chat_file, tmp_path):
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from engine.inference.sides import plan_side
    from engine.models.load import apply_lora

    ids = torch.tensor([[5, 17, 230, 4096, 9, 31]])

    def base():
        return AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)

    def logits(model):
        with torch.inference_mode():
            return model(ids).logits

    plain = logits(base())
    pissa = apply_lora(base(), tiny_config(tiny_model, chat_file, tmp_path, lora_init="pissa"))
    assert torch.allclose(logits(pissa), plain, atol=1e-4)  # residual base + principal adapter = the base
    assert all(p.abs().sum() > 0 for n, p in pissa.named_parameters() if "lora_B" in n)  # B is not zero

    out = tmp_path / "run"
    run = trained(tiny_config(tiny_model, chat_file, out, lora_init="pissa", max_steps=4, save_steps=2,
                              learning_rate=2e-3), out)
    assert "the final adapter is converted" in run.log_path.read_text()
    final = json.loads((run.final_path / "adapter_config.json").read_text())
    assert final["r"] == 2 * 8 and final["init_lora_weights"] is True
    # the trained model is the residual base (W − s·B₀A₀) with the last checkpoint's adapter; the final adapter
    # must give the same logits on the untouched base, as Compare Chat and exports load it
    residual = base()
    start = load_file(run.path / "lora_init" / "adapter_model.safetensors")
    scale = 16 / 8
    for name, module in residual.named_modules():
        key = f"base_model.model.{name}.lora_A.weight"
        if key in start:
            module.weight.data -= scale * start[key.replace("lora_A", "lora_B")] @ start[key]
    from peft import PeftConfig

    working = PeftConfig.from_pretrained(run.path / "checkpoint-4")
    working.init_lora_weights = True  # loading it as saved would run PiSSA's decomposition again on the residual
    trained_logits = logits(PeftModel.from_pretrained(residual, run.path / "checkpoint-4", config=working))
    final_logits = logits(PeftModel.from_pretrained(base(), run.final_path))
    assert not torch.allclose(final_logits, plain, atol=1e-3)  # it learned
    assert torch.allclose(final_logits, trained_logits, atol=2e-4)
    manager = RunManager(out)
    with pytest.raises(ModelError, match="checkpoints hold the adapter in PEFT's working form"):
        plan_side(f"run:{run.run_id}@checkpoint-4", manager)
    assert plan_side(f"run:{run.run_id}", manager).adapter == str(run.final_path)


def test_a_pissa_run_stopped_and_resumed_converts_its_adapter_from_the_first_start(tiny_model, chat_file, tmp_path):
    import torch
    from peft import PeftConfig, PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from tests.conftest import stop_after

    out = tmp_path / "run"
    manager = RunManager(out)
    run_id = manager.submit(tiny_config(tiny_model, chat_file, out, lora_init="pissa", max_steps=12, save_steps=4,
                                        learning_rate=2e-3))
    run = manager.run(run_id)
    assert stop_after(manager, run_id, 2) == "stopped", run.log_tail()
    start = (run.path / "lora_init" / "adapter_model.safetensors").read_bytes()
    manager.resume(run_id)
    assert manager.wait(run_id, timeout=300) == "completed", run.log_tail()
    assert (run.path / "lora_init" / "adapter_model.safetensors").read_bytes() == start  # not decomposed again
    # the final adapter on the untouched base = the residual of the first start + the last working checkpoint
    ids = torch.tensor([[5, 17, 230, 4096, 9, 31]])
    residual = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    init = load_file(run.path / "lora_init" / "adapter_model.safetensors")
    for name, module in residual.named_modules():
        key = f"base_model.model.{name}.lora_A.weight"
        if key in init:
            module.weight.data -= 2.0 * init[key.replace("lora_A", "lora_B")] @ init[key]
    working = PeftConfig.from_pretrained(run.path / "checkpoint-12")
    working.init_lora_weights = True
    with torch.inference_mode():
        trained_logits = PeftModel.from_pretrained(residual, run.path / "checkpoint-12", config=working)(ids).logits
        final_logits = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32),
                                                 run.final_path)(ids).logits
    assert torch.allclose(final_logits, trained_logits, atol=2e-4)


def test_loftq_brings_the_4_bit_base_plus_adapter_closer_to_the_weights(tiny_model, chat_file, tmp_path):
    import bitsandbytes as bnb
    import torch
    from safetensors.torch import load_file

    from engine.models.load import apply_lora, load_model
    from engine.models.lora_init import prepare
    from engine.models.resolve import resolve_model

    with pytest.raises(ConfigError, match="loftq fits an adapter to a 4-bit quantized base"):
        tiny_config(tiny_model, chat_file, tmp_path, lora_init="loftq")
    with pytest.raises(ConfigError, match="pissa rewrites the base weights"):
        tiny_config(tiny_model, chat_file, tmp_path, finetuning_type="qlora", lora_init="pissa")
    config = tiny_config(tiny_model, chat_file, tmp_path, finetuning_type="qlora", quantization_bit=4,
                         lora_init="loftq")
    resolved = resolve_model(config, log=lambda m: None)
    model = apply_lora(load_model(resolved, config, "fp32"), config)
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="LoftQ's initialisation on an NVIDIA GPU"):
            prepare(model, config, tmp_path, resolved.path)
        return
    assert "closest to the original weights" in prepare(model, config, tmp_path, resolved.path)
    original = load_file(Path(tiny_model) / "model.safetensors")
    layer = model.base_model.model.model.layers[0].mlp.down_proj
    weight = original["model.layers.0.mlp.down_proj.weight"].float()
    quantized = bnb.functional.dequantize_4bit(layer.base_layer.weight.data, layer.base_layer.weight.quant_state)
    delta = layer.lora_B["default"].weight @ layer.lora_A["default"].weight * layer.scaling["default"]
    assert (weight - quantized - delta).norm() < 0.9 * (weight - quantized).norm()


def test_rope_scaling_is_saved_and_used_wherever_the_run_answers(tiny_model, chat_file, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from engine.export.exporter import ExportManager, ExportRequest
    from engine.inference.pool import ModelPool
    from engine.inference.sides import plan_side
    from engine.models.rope import config_kwargs

    pretrained = json.loads((Path(tiny_model) / "config.json").read_text())["max_position_embeddings"]
    ids = torch.tensor([list(range(3, 40))])
    with torch.inference_mode():
        plain = AutoModelForCausalLM.from_pretrained(tiny_model)(ids).logits
        scaled = AutoModelForCausalLM.from_pretrained(tiny_model, **config_kwargs(str(tiny_model), "linear", 4.0)
                                                      )(ids).logits
    assert not torch.allclose(plain, scaled, atol=1e-3)  # the same weights see stretched positions

    out = tmp_path / "lora"
    run = trained(tiny_config(tiny_model, chat_file, out, rope_scaling="linear", rope_factor=4.0, max_steps=2), out)
    manager = RunManager(out)
    run_side, base_side = ModelPool().sides([plan_side(f"run:{run.run_id}", manager),
                                             plan_side(f"base:{tiny_model}", manager)])
    rope = run_side.loaded.model.config.rope_parameters
    assert (rope["rope_type"], rope["factor"]) == ("linear", 4.0)  # Compare Chat loads the run's base scaled
    assert run_side.loaded.model.config.max_position_embeddings == 4 * pretrained
    assert base_side.loaded.model.config.rope_parameters.get("rope_type", "default") == "default"
    merged = ExportManager(manager).run(ExportRequest(run.run_id, "merged", verify=False))
    saved = json.loads((Path(merged["folder"]) / "config.json").read_text())
    assert (saved["rope_parameters"]["rope_type"], saved["rope_parameters"]["factor"]) == ("linear", 4.0)

    out = tmp_path / "full"
    full = trained(tiny_config(tiny_model, chat_file, out, finetuning_type="full", rope_scaling="yarn",
                               rope_factor=2.0, max_steps=1), out)
    saved = json.loads((full.final_path / "config.json").read_text())
    assert saved["rope_parameters"]["rope_type"] == "yarn" and saved["max_position_embeddings"] == 2 * pretrained
    assert saved["rope_parameters"]["original_max_position_embeddings"] == pretrained


def test_gguf_keeps_linear_and_yarn_rope_scaling_and_refuses_dynamic(tmp_path):
    import gguf

    from engine.export.gguf_file import _add_rope_scaling

    def written(params: dict) -> dict:
        path = tmp_path / f"{params['rope_type']}.gguf"
        writer = gguf.GGUFWriter(str(path), "llama")
        _add_rope_scaling(writer, {"rope_parameters": params, "max_position_embeddings": 8192})
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.close()
        fields = gguf.GGUFReader(path).fields
        return {k: fields[k].contents() for k in fields if k.startswith("llama.rope")}

    assert written({"rope_type": "linear", "factor": 4.0}) == {"llama.rope.scaling.type": "linear",
                                                               "llama.rope.scaling.factor": 4.0}
    yarn = written({"rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": 4096})
    assert yarn["llama.rope.scaling.type"] == "yarn" and yarn["llama.rope.scaling.original_context_length"] == 4096
    with pytest.raises(ModelError, match="export it as merged safetensors"):
        written({"rope_type": "dynamic", "factor": 2.0})
