"""The Dataset Explorer's engine side: inspect, preview, histogram, clean and save, over the same data
path training uses (sources → formats → encode). Long work runs as background jobs; tokenizers,
row indexes and finished statistics are kept so paging and redrawing cost nothing."""

from __future__ import annotations

import random
import shutil
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.access.paths import PathGuard
from engine.config.datasets import dataset_parts, mix_weights
from engine.config.field_info import DEFAULT_MODEL
from engine.config.knob_fields import MIX_STRATEGIES
from engine.config.train_config import TrainConfig
from engine.data.clean import CleanOptions, CleanResult, clean_dataset
from engine.data.detect import detect
from engine.data.encode import CHATML_TEMPLATE, LossMask
from engine.data.formats import FORMATS
from engine.data.from_hub import hub_files
from engine.data.mix_view import MixedView, MixPart, combined_stats, mixed_view
from engine.data.pager import RowPager
from engine.data.preview import preview_rows
from engine.data.readers import DATA_SUFFIXES, Row
from engine.data.sources import SourcePlan, plan_source
from engine.data.stats import DEFAULT_TOKEN_SAMPLE, DatasetStats, compute_stats, token_lengths
from engine.data.workspace import datasets_dir, list_datasets, save_mapping
from engine.errors import ConfigError, DataError, RowError
from engine.jobs import JobContext, JobRegistry
from engine.models.load import load_tokenizer
from engine.models.resolve import resolve_model
from engine.text.message import say

# LLaMA-Factory's column names: what a mapping may set
MAPPING_KEYS = ("prompt", "query", "response", "system", "history", "messages", "chosen", "rejected", "kto_tag",
                "tools")
KEEP = 4  # row indexes and statistics kept for this many datasets


@dataclass
class DatasetChoice:
    """What the user picked: the data, how to read it, and the model whose template renders it."""

    source: str
    format: str = "auto"
    columns: dict[str, str] = field(default_factory=dict)
    model: str = DEFAULT_MODEL
    max_len: int = 1024
    train_on_prompt: bool = False
    mask_history: bool = False  # only the last assistant turn is trained, as the Train form's field
    # several datasets (comma-separated source): the Train form's mix fields and the seed that draws the mix
    mix: str = ""
    mix_strategy: str = "concat"
    seed: int = TrainConfig.seed

    @property
    def mask(self) -> LossMask:
        return LossMask(self.train_on_prompt, self.mask_history)

    def parts(self) -> list[DatasetChoice]:
        """One choice per dataset of a mix (each read with its own format and saved mapping)."""
        names = dataset_parts(self.source)
        return [replace(self, source=name, columns={}, mix="") for name in names] if len(names) > 1 else [self]

    def weights(self) -> list[float]:
        try:
            return mix_weights(self.mix, len(dataset_parts(self.source)))
        except ConfigError as exc:
            raise DataError(str(exc)) from exc

    def check(self) -> None:
        if len(self.parts()) > 1:
            if self.mix_strategy not in MIX_STRATEGIES:
                raise DataError(f"mix strategy '{self.mix_strategy}': use {', '.join(MIX_STRATEGIES)}")
            self.weights()
            if self.format != "auto":
                raise DataError(f"format '{self.format}' for several datasets: use auto (each dataset's own format "
                                "is detected)")
        if self.format != "auto" and self.format not in FORMATS:
            raise DataError(f"format '{self.format}': use auto or one of {', '.join(FORMATS)}")
        unknown = set(self.columns) - set(MAPPING_KEYS)
        if unknown:
            raise DataError(f"column mapping: unknown key(s) {', '.join(sorted(unknown))}; "
                            f"use {', '.join(MAPPING_KEYS)}")
        if not 16 <= int(self.max_len) <= 131072:
            raise DataError(f"max length {self.max_len}: use 16 to 131072")


class DatasetExplorer:
    def __init__(self, outputs: str | Path, guard: PathGuard | None = None):
        self.outputs = Path(outputs)
        self.guard = guard or PathGuard()
        self.jobs = JobRegistry()
        self._lock = threading.Lock()
        self._tokenizers: OrderedDict[str, Any] = OrderedDict()
        self._pagers: OrderedDict[tuple, RowPager] = OrderedDict()
        self._stats: OrderedDict[tuple, DatasetStats] = OrderedDict()
        self._mixes: OrderedDict[tuple, MixedView] = OrderedDict()

    # --- sources ----------------------------------------------------------------------------
    def plan(self, choice: DatasetChoice) -> SourcePlan:
        choice.check()
        if len(choice.parts()) > 1:
            raise DataError(f"{choice.source}: several datasets are previewed and inspected as a mix; clean or map "
                            "them one at a time")
        self.guard.check_path(choice.source, "dataset")
        self.guard.check_path(choice.model or "", "model")  # its tokenizer is read for token counts
        plan = plan_source(choice.source)
        columns = {k: v for k, v in choice.columns.items() if v}
        if columns:
            plan = replace(plan, meta=replace(plan.meta, columns={**plan.meta.columns, **columns}, format=None))
        return plan

    def import_uploads(self, paths: list[str]) -> str:
        """Copy uploaded files into the workspace; several files become one dataset folder."""
        files = [Path(p) for p in paths if p]
        if not files:
            raise DataError("no file was uploaded")
        wrong = [f.name for f in files if f.suffix.lower() not in DATA_SUFFIXES]
        if wrong:
            raise DataError(f"{', '.join(wrong)}: TuneDesk reads {', '.join(DATA_SUFFIXES)} files")
        folder = datasets_dir(self.outputs) / "uploads" / time.strftime("%Y%m%d-%H%M%S")
        folder = folder.with_name(folder.name + f"-{int(time.time() * 1000) % 1000:03d}")
        folder.mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copyfile(f, folder / f.name)
        return str(folder / files[0].name) if len(files) == 1 else str(folder)

    def _key(self, plan: SourcePlan, *extra: Any) -> tuple:
        stamps = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p, _ in plan.files if p.exists())
        return (plan.name, plan.hub, stamps, tuple(sorted(plan.meta.columns.items())), plan.meta.format, *extra)

    def _remember(self, cache: OrderedDict, key: tuple, value: Any) -> Any:
        with self._lock:
            cache[key] = value
            cache.move_to_end(key)
            while len(cache) > KEEP:
                cache.popitem(last=False)
        return value

    def pager(self, plan: SourcePlan) -> RowPager:
        key = self._key(plan)
        return self._pagers.get(key) or self._remember(self._pagers, key, RowPager(plan))

    def tokenizer(self, model: str) -> Any:
        model = (model or DEFAULT_MODEL).strip()
        if model in self._tokenizers:
            return self._tokenizers[model]
        self.guard.check_path(model, "model")
        config = TrainConfig(model_name_or_path=model)
        tok = load_tokenizer(resolve_model(config, log=lambda *_: None), config)
        return self._remember(self._tokenizers, model, tok)

    def detect(self, plan: SourcePlan, choice: DatasetChoice) -> tuple[str, list[str]]:
        if choice.format != "auto":
            return choice.format, [f"format set by hand to {choice.format}"]
        head = [r for r in self.pager(plan).page(0, 200) if isinstance(r, Row)]
        if not head:
            raise DataError(f"dataset {plan.name}: no readable row in its first 200")
        try:
            found = detect(head, plan.meta)
        except RowError as exc:
            raise DataError(exc.text or str(exc)) from exc
        return found.format, found.evidence

    # --- statistics -------------------------------------------------------------------------
    def inspect(self, choice: DatasetChoice, token_sample: int = DEFAULT_TOKEN_SAMPLE, ctx: JobContext | None = None
                ) -> DatasetStats:
        if len(choice.parts()) > 1:
            return self._inspect_mix(choice, token_sample, ctx)
        return self._inspect_one(choice, token_sample, ctx)

    def _inspect_one(self, choice: DatasetChoice, token_sample: int = DEFAULT_TOKEN_SAMPLE,
                     ctx: JobContext | _SubProgress | None = None, with_tokens: bool = True) -> DatasetStats:
        plan = self.plan(choice)
        key = self._key(plan, choice.format, choice.model, choice.max_len, choice.mask, token_sample, with_tokens)
        if key in self._stats:
            return self._stats[key]
        progress = ctx.progress if ctx else None
        if plan.hub is not None and ctx is not None:  # a hub dataset's files first: the bar's first 30%
            hub_files(plan.hub, plan.prefer_modelscope, lambda done, total: ctx.progress(
                0.3 * done / max(total, 1), f"{plan.name}: {done / 2**20:,.1f} / {total / 2**20:,.1f} MiB downloaded"))
            progress = lambda fraction, message="": ctx.progress(0.3 + 0.7 * fraction, message)  # noqa: E731
        stats = compute_stats(plan, choice.format, None if not with_tokens else lambda: self.tokenizer(choice.model),
                              choice.max_len, choice.mask, token_sample, progress)
        return self._remember(self._stats, key, stats)

    def _inspect_mix(self, choice: DatasetChoice, token_sample: int, ctx: JobContext | None) -> DatasetStats:
        """Each dataset's counts, then the token lengths of the mix as the run draws it."""
        started = time.time()
        parts = choice.parts()
        counted = []
        for n, part in enumerate(parts):
            sub = _SubProgress(ctx, 0.6 * n / len(parts), 0.6 / len(parts), part.source)
            counted.append(self._inspect_one(part, token_sample, sub, with_tokens=False))
        view = self.mix_view(choice)
        stats = combined_stats(choice.source, view, dict(zip([p.source for p in parts], counted, strict=True)),
                               choice.max_len, choice.mix_strategy)
        samples = view.train_samples()
        if token_sample and len(samples) > token_sample:
            samples = random.Random(choice.seed).sample(samples, token_sample)
        report = (lambda f, m="": ctx.progress(0.6 + 0.4 * f, m)) if ctx else (lambda f, m="": None)
        token_lengths(stats, samples, self.tokenizer(choice.model), choice.max_len, choice.mask, report)
        stats.seconds = round(time.time() - started, 2)
        return stats

    def mix_view(self, choice: DatasetChoice) -> MixedView:
        """The mix of several datasets in training order, kept like a row index."""
        choice.check()
        parts = []
        for part in choice.parts():
            plan = self.plan(part)
            pager = self.pager(plan)
            fmt, _ = self.detect(plan, part)
            parts.append((part.source, plan, fmt, pager))
        key = (tuple((name, self._key(plan), fmt) for name, plan, fmt, _ in parts), choice.mix, choice.mix_strategy,
               choice.seed)
        if key in self._mixes:
            return self._mixes[key]
        view = mixed_view([MixPart(name, plan.meta, fmt, [r for r in pager.page(0, len(pager)) if isinstance(r, Row)])
                           for name, plan, fmt, pager in parts], choice.weights(), choice.seed, choice.mix_strategy)
        return self._remember(self._mixes, key, view)

    def start_inspect(self, choice: DatasetChoice, token_sample: int = DEFAULT_TOKEN_SAMPLE) -> str:
        choice.check()
        for part in choice.parts():
            self.plan(part)  # bad paths and settings fail now, not inside the job
        return self.jobs.start("inspect", lambda ctx: self.inspect(choice, token_sample, ctx).to_dict(),
                               meta=vars(choice))

    def histogram(self, choice: DatasetChoice, bins: int = 40) -> dict[str, Any]:
        stats = self.inspect(choice)
        return histogram_of(stats, bins)

    # --- preview ----------------------------------------------------------------------------
    def preview(self, choice: DatasetChoice, page: int = 1, page_size: int = 5) -> dict[str, Any]:
        if len(choice.parts()) > 1:
            return self._preview_mix(choice, page, page_size)
        plan = self.plan(choice)
        pager = self.pager(plan)
        fmt, evidence = self.detect(plan, choice)
        page_size = max(1, min(50, int(page_size)))
        pages = max(1, -(-len(pager) // page_size))
        page = max(1, min(int(page), pages))
        start = (page - 1) * page_size
        tok = self.tokenizer(choice.model)
        rows = preview_rows(tok, pager.page(start, page_size), plan.meta, fmt, int(choice.max_len),
                            choice.mask, first_number=start + 1)
        return {"format": fmt, "evidence": evidence, "rows_total": len(pager), "page": page, "pages": pages,
                "page_size": page_size, "max_len": int(choice.max_len), "model": choice.model,
                **_template_name(tok), "rows": rows}

    def _preview_mix(self, choice: DatasetChoice, page: int, page_size: int) -> dict[str, Any]:
        view = self.mix_view(choice)
        page_size = max(1, min(50, int(page_size)))
        pages = max(1, -(-len(view.order) // page_size))
        page = max(1, min(int(page), pages))
        start = (page - 1) * page_size
        tok = self.tokenizer(choice.model)
        rows = []
        for n, (name, row) in enumerate(view.order[start:start + page_size]):
            part = view.parts[name]
            entry = preview_rows(tok, [row], part.meta, part.format, int(choice.max_len), choice.mask,
                                 first_number=start + n + 1)[0]
            rows.append({**entry, "where": f"{name}: {entry['where']}", "dataset": name})
        return {"format": view.format, "evidence": [f"{p.name}: {p.format}" for p in view.parts.values()],
                "rows_total": len(view.order), "page": page, "pages": pages, "page_size": page_size,
                "max_len": int(choice.max_len), "model": choice.model, **_template_name(tok), "rows": rows,
                "mix": view.figures}

    # --- clean and save ---------------------------------------------------------------------
    def clean(self, choice: DatasetChoice, options: CleanOptions, ctx: JobContext | None = None) -> CleanResult:
        plan = self.plan(choice)
        fmt, _ = self.detect(plan, choice)
        tok = self.tokenizer(choice.model) if options.min_tokens or options.max_tokens else None
        return clean_dataset(plan, fmt, options, datasets_dir(self.outputs), tok,
                             ctx.progress if ctx else None, source_label=choice.source)

    def start_clean(self, choice: DatasetChoice, options: CleanOptions) -> str:
        self.plan(choice)
        return self.jobs.start("clean", lambda ctx: vars(self.clean(choice, options, ctx)), meta=vars(choice))

    def save_mapping(self, choice: DatasetChoice, name: str) -> str:
        plan = self.plan(choice)
        fmt, _ = self.detect(plan, choice)
        return save_mapping(self.outputs, name.strip(), plan, fmt, {k: v for k, v in choice.columns.items() if v})

    def datasets(self) -> list[dict[str, Any]]:
        return list_datasets(self.outputs)


class _SubProgress:
    """One dataset's share of a mix's progress bar."""

    def __init__(self, ctx: JobContext | None, start: float, width: float, name: str):
        self.ctx, self.start, self.width, self.name = ctx, start, width, name

    def progress(self, fraction: float, message: str = "") -> None:
        if self.ctx is not None:  # the job's own progress also stops the work when it is cancelled
            self.ctx.progress(self.start + self.width * fraction, f"{self.name}: {message}" if message else self.name)


def _template_name(tok: Any) -> dict[str, Any]:
    """Which chat template renders the data: `template` in English (API, CLI), `template_text` to render."""
    template = tok.chat_template or ""
    text = say("data.template_default") if template == CHATML_TEMPLATE else next(
        (say("data.template_own_named", name=name) for marker, name in (
            ("<|im_start|>", "ChatML"), ("<|start_header_id|>", "Llama 3"), ("[gMASK]", "GLM"),
            ("<｜Assistant｜>", "DeepSeek"), ("[INST]", "Mistral/Llama 2")) if marker in template),
        say("data.template_own"))
    return {"template": str(text), "template_text": text.to_dict()}


def histogram_of(stats: DatasetStats, bins: int = 40) -> dict[str, Any]:
    """Shared bin edges for prompt, answer and total token lengths, plus the truncation figures."""
    values = stats.total_lengths
    top = max([*values, stats.max_len, 1])
    width = max(1, -(-top // max(1, bins)))
    edges = list(range(0, top + width + 1, width))

    def count(series: list[int]) -> list[int]:
        counts = [0] * (len(edges) - 1)
        for v in series:
            counts[min(len(counts) - 1, v // width)] += 1
        return counts

    share = stats.truncated / stats.usable if stats.usable else 0.0
    return {"edges": edges, "prompt": count(stats.prompt_lengths), "answer": count(stats.answer_lengths),
            "total": count(values), "max_len": stats.max_len, "truncated": stats.truncated,
            "truncated_share": round(share, 4), "answer_tokens_lost": stats.answer_tokens_lost,
            "suggested_max_len": stats.suggested_max_len, "measured_rows": stats.token_rows,
            "usable": stats.usable, "exact": stats.token_exact}
