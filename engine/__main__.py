"""Headless TuneDesk.

    python -m engine train CONFIG.yaml [--set key=value ...] [--outputs DIR]
    python -m engine resume RUN_ID [--checkpoint checkpoint-N] [--outputs DIR]
    python -m engine runs [--search WORDS] [--outputs DIR]
    python -m engine label RUN_ID [--name NAME] [--tags a,b]   (a run's editable name and tags)
    python -m engine compare-runs RUN_ID RUN_ID … [--json]   (losses, scores and the settings that differ)
    python -m engine lineage RUN_ID [--json]   (base model, data, parent runs, checkpoints, exports, with hashes)
    python -m engine env [--json] [--no-network]                               (this machine, as Markdown)
    python -m engine estimate MODEL [--method lora] [--max-len 1024] [--batch 2]   (will it fit?)
    python -m engine plan MODEL [DATASET] [--goal fastest|quality|context] [--effective-batch 16] [--yaml]
                                                  (fit to this machine: settings, memory, measured step time)
    python -m engine inspect|preview|clean DATASET [--model M] [--max-len N] …   (the Dataset Explorer)
    python -m engine search QUERY | info ORG/NAME | download ORG/NAME | models  (the Model Hub; token: HF_TOKEN)
    python -m engine chat LEFT RIGHT MESSAGE | compare LEFT RIGHT [--questions F]   (Compare Chat)
    python -m engine rewards RUN_ID [--prompts F]   (GRPO: base vs tuned, scored by the run's rewards)
    python -m engine export RUN_ID [--format merged|adapter|gguf] [--quant q8_0|q4_k_m|…] [--push ORG/NAME]
    python -m engine export-check FOLDER   (an export read back and compared with its run's model, again)
    python -m engine serve [--port 8000] [--api-key KEY]   (the OpenAI-compatible endpoint, without the UI)

`--lang zh` (before the verb; default: TUNEDESK_LANG, else Chinese where LANG / LC_ALL is zh_*) prints
errors and a failed run's reason and advice in Chinese.

`train` and `resume` show a progress bar, exit 0 when the run completes, 1 with a one-line reason
when it fails, and 130 when stopped with Ctrl-C (after saving a checkpoint to resume from).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from engine.config.yaml_io import load_yaml, parse_overrides
from engine.data import cli as data_cli
from engine.env.report import env_report, to_markdown
from engine.errors import TuneDeskError
from engine.evaluation import cli as eval_cli
from engine.export import cli as export_cli
from engine.hub import cli as hub_cli
from engine.planning import cli as plan_cli
from engine.runs import cli as runs_cli
from engine.runs.queue import RunManager
from engine.runs.rundir import loss_text
from engine.serve import cli as serve_cli
from engine.sizing.fit import estimate_for
from engine.sizing.memory import Setting
from engine.text.message import LANGS, reader_lang, say

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine", description="TuneDesk headless training")
    parser.add_argument("--lang", choices=LANGS, default=reader_lang(),
                        help="language of errors and a failed run's reason (default: TUNEDESK_LANG or LANG)")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train from a YAML config")
    train.add_argument("config")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    train.add_argument("--outputs", help="outputs folder (default: the config's output_dir)")
    resume = sub.add_parser("resume", help="resume a stopped or interrupted run from its checkpoint")
    resume.add_argument("run_id")
    resume.add_argument("--checkpoint", help="checkpoint-N (default: the latest)")
    resume.add_argument("--outputs", default="outputs")
    runs = sub.add_parser("runs", help="list runs")
    runs.add_argument("--search", default="", help="only runs whose id, name, tags, model, method or state hold "
                      "every word")
    runs.add_argument("--outputs", default="outputs")
    env = sub.add_parser("env", help="this machine: CPU, GPUs, memory, disks, dependencies and readiness")
    env.add_argument("--json", action="store_true", help="print the report as JSON instead of Markdown")
    env.add_argument("--no-network", action="store_true", help="skip the Hugging Face / ModelScope probes")
    env.add_argument("--outputs", default="outputs")
    est = sub.add_parser("estimate", help="will it fit? peak training memory of a model and method")
    est.add_argument("model", help="catalogue name, hub id or local model folder")
    est.add_argument("--method", default="lora", choices=("full", "lora", "qlora4", "qlora8"))
    est.add_argument("--stage", default="sft", choices=("sft", "dpo", "pt"))
    est.add_argument("--max-len", type=int, default=1024)
    est.add_argument("--batch", type=int, default=2)
    est.add_argument("--gradient-checkpointing", action="store_true")
    est.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp16", "fp32"))

    data_cli.add_parsers(sub)

    hub_cli.add_parsers(sub)

    eval_cli.add_parsers(sub)

    export_cli.add_parser(sub)
    runs_cli.add_parser(sub)
    serve_cli.add_parser(sub)
    plan_cli.add_parser(sub)
    args = parser.parse_args(argv)


    try:
        if args.command == "runs":
            return _list(args.outputs, args.search)
        if args.command in ("inspect", "preview", "clean"):
            return data_cli.run(args)
        if args.command in ("export", "export-check"):
            return export_cli.run(args)
        if args.command in ("compare-runs", "lineage", "label"):
            return runs_cli.run(args)
        if args.command in ("chat", "compare", "rewards"):
            return eval_cli.run(args)
        if args.command in ("search", "info", "download", "models"):
            return hub_cli.run(args)
        if args.command == "serve":
            return serve_cli.run(args)
        if args.command == "plan":
            return plan_cli.run(args)
        if args.command == "env":
            return _env(args)
        if args.command == "estimate":
            return _estimate(args)
        from engine.access.door import Door

        if args.command == "train":
            config = load_yaml(args.config)
            if args.set:
                config = config.replace(**parse_overrides(args.set))
            door = Door.open(args.outputs or config.output_dir)
            run_id = door.start(config)
        else:
            door = Door.open(args.outputs)
            run_id = door.resume(args.run_id, args.checkpoint or "")
        manager = door.manager
    except TuneDeskError as exc:
        print(say("cli.error", detail=exc.text or str(exc)).render(args.lang), file=sys.stderr)
        return 2
    run = manager.run(run_id)
    print(f"run {run_id}\ndirectory {run.path}", flush=True)
    return _follow(manager, run_id, args.lang)


def _follow(manager: RunManager, run_id: str, lang: str = "en") -> int:
    from tqdm import tqdm

    run = manager.run(run_id)
    bar = tqdm(total=0, unit="step", dynamic_ncols=True)
    interrupted = False
    last_shown: tuple = ()
    while True:
        try:
            status = run.status()
            total = status.get("max_steps") or 0
            if total and bar.total != total:
                bar.reset(total=total)
            loss = status.get("last_loss")
            shown = (status.get("step", 0), status.get("state"), loss)
            if shown != last_shown:  # redraw only on change: a log file gets one line per step
                bar.n = shown[0]
                bar.set_postfix_str(f"{shown[1]}" + (f" loss {loss_text(loss)}" if loss is not None else ""))
                last_shown = shown
            if status.get("state") not in ("pending", "running") and not manager.queued() \
                    and manager.current_run_id() != run_id:
                break
            time.sleep(0.5)
        except KeyboardInterrupt:
            if interrupted:
                bar.close()
                print("\nleft without a checkpoint", file=sys.stderr)
                return 130
            interrupted = True
            print("\nstopping: finishing this step and saving a checkpoint (Ctrl-C again to quit now)",
                  file=sys.stderr)
            try:
                manager.stop(run_id)
            except Exception:
                pass
    bar.close()
    status = run.status()
    state = status.get("state")
    if state == "completed":
        print(f"completed: final loss {loss_text(status.get('final_loss'))}; model in {run.final_path}")
        return 0
    if state == "stopped":
        print(f"stopped at step {status.get('step')}; resume with: python -m engine resume {run_id}")
        return 130
    failed = say("cli.failed", reason=status.get("error_text") or status.get("error") or "",
                 advice=status.get("suggestion_text") or status.get("suggestion") or "", log=str(run.log_path))
    print(failed.render(lang), file=sys.stderr)
    return 1


def _env(args: argparse.Namespace) -> int:
    import json


    report = env_report(args.outputs, probe_hubs=not args.no_network)
    print(json.dumps(report, indent=1, ensure_ascii=False) if args.json else to_markdown(report))
    return 0


def _estimate(args: argparse.Namespace) -> int:
    setting = Setting(args.method, args.stage, args.max_len, args.batch, args.gradient_checkpointing, args.precision)
    r = estimate_for(args.model, setting)
    print(f"{args.model}: {args.method} {args.stage}, length {args.max_len}, batch {args.batch}, "
          f"{r['setting']['precision']}{', checkpointing' if args.gradient_checkpointing else ''}")
    print(f"  weights {r['weights_gb']} + trainable state {r['trainable_gb']} + activations {r['activations_gb']} "
          f"+ overhead {r['overhead_gb']} = {r['total_gb']} GiB")
    print(f"  {r['device']} ({r['device_gb']} GiB): {r['verdict']}" + (f"; try: {r['suggestion']}"
                                                                      if r["suggestion"] else ""))
    return 0


def _list(outputs: str, query: str = "") -> int:
    runs = RunManager(outputs).search(query)
    if not runs:
        print(f"no runs in {outputs}/runs" + (f" matching {query!r}" if query else ""))
        return 0
    print(f"{'run id':<52} {'state':<10} {'step':>9} {'final loss':>10}  model")
    for r in runs:
        loss = loss_text(r["final_loss"])
        label = " — " + " ".join([r["name"], *(f"#{tag}" for tag in r["tags"])]).strip() if r["name"] or r["tags"] \
            else ""
        print(f"{r['run_id']:<52} {r['state'] or '?':<10} {r['step']:>4}/{r['max_steps']:<4} {loss:>10}  {r['model']}"
              f"{label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
