"""The models Compare Chat has in memory. A LoRA run gets a merged copy of its base where a second copy
is small beside the free memory (a small model on a CPU): each side then generates as a plain model, on
its own thread, about twice as fast as one batch mixing adapter-off and adapter-on rows. Otherwise the run
shares its base's weights: the base is wrapped once in PEFT, each run's adapter loaded under its own name,
and a batch mixes the rows in one generate call. Fully fine-tuned runs are models of their own. Only what
the current comparison needs stays loaded; a training run empties the pool first."""

from __future__ import annotations

import copy
import gc
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.data.encode import CHATML_TEMPLATE
from engine.errors import ModelError
from engine.inference.sides import SidePlan
from engine.models.load import load_base
from engine.models.memory import release_memory
from engine.models.precision import cpu_bf16_is_faster
from engine.models.rope import NO_SCALING

BASE = "__base__"  # PEFT's name for "no adapter" in a mixed batch
MERGE_SHARE = 0.15  # a merged copy is made when the weights take at most this share of the free memory


@dataclass
class Loaded:
    """One model in memory and the adapters loaded into it."""

    model: Any
    path: str
    adapters: dict[str, str] = field(default_factory=dict)  # folder -> adapter name
    lock: threading.Lock = field(default_factory=threading.Lock)  # one generate at a time per model

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device


@dataclass
class Side:
    """A side ready to generate: the model, which adapter (or BASE), and its tokenizer."""

    plan: SidePlan
    loaded: Loaded
    adapter: str
    tokenizer: Any
    merged: bool = False  # the run's adapter merged into a copy of its base (plan.adapter names it)


Progress = Callable[[float, str], None]


class ModelPool:
    def __init__(self, merge_share: float = MERGE_SHARE) -> None:
        self.merge_share = merge_share
        self._models: dict[str, Loaded] = {}  # base key, full-model folder or base key + adapter -> Loaded
        self._tokenizers: dict[str, Any] = {}
        self._lock = threading.RLock()

    def sides(self, plans: list[SidePlan], progress: Progress | None = None) -> list[Side]:
        progress = progress or (lambda f, m: None)
        with self._lock:
            keys = {p.full or p.base_key for p in plans} | {_merged_key(p) for p in plans if p.adapter}
            gone = [k for k in self._models if k not in keys]
            for key in gone:
                del self._models[key]  # only what this comparison needs stays in memory
            if gone:  # a full collection takes about 0.2 s with torch loaded: not on every message
                gc.collect()
            out = []
            for i, plan in enumerate(plans):
                progress(i / len(plans), f"loading {plan.label}…")
                loaded = self._full_model(plan) if plan.full else self._base(plan)
                merged = self._merged(plan, loaded) if plan.adapter else None
                adapter = BASE if merged or not plan.adapter else self._adapter(loaded, plan.adapter)
                out.append(Side(plan, merged or loaded, adapter, self._tokenizer(plan, loaded), merged is not None))
            progress(1.0, "loaded")
            return out

    def release(self) -> str | None:
        """Free every model (before training); returns a note for the run's log when something was freed."""
        with self._lock:
            if not self._models:
                return None
            names = ", ".join(sorted(self._models))
            self._models.clear()
            self._tokenizers.clear()

        release_memory()
        return f"unloaded Compare Chat's models ({names}) to give training the memory"

    @property
    def loaded(self) -> list[str]:
        return sorted(self._models)

    # ---- loading ---------------------------------------------------------------------------------

    def _base(self, plan: SidePlan) -> Loaded:
        if plan.base_key in self._models:
            return self._models[plan.base_key]
        path = plan.resolve_base()
        loaded = Loaded(_load(path, plan.trust_remote_code, plan.rope, plan.stack), path)
        self._models[plan.base_key] = loaded
        return loaded

    def _full_model(self, plan: SidePlan) -> Loaded:
        if plan.full not in self._models:
            self._models[plan.full] = Loaded(_load(plan.full, plan.trust_remote_code), plan.full)
        return self._models[plan.full]

    def _merged(self, plan: SidePlan, base: Loaded) -> Loaded | None:
        """The base with the run's adapter merged in, as a model of its own, where the copy is cheap."""
        key = _merged_key(plan)
        if key in self._models:
            return self._models[key]
        if not _copy_fits(base.model, self.merge_share):
            return None
        from peft import PeftModel

        twin = copy.deepcopy(base.model)
        if isinstance(twin, PeftModel):  # adapters loaded into the base earlier, in mixed mode: not in the copy
            twin = twin.unload()
        try:
            twin = PeftModel.from_pretrained(twin, plan.adapter).merge_and_unload()
        except Exception as exc:
            raise ModelError(f"the adapter in {plan.adapter} does not fit the base model {base.path} "
                             f"({str(exc).splitlines()[0][:300]}): was the run trained on another base?") from exc
        twin.eval()
        self._models[key] = Loaded(twin, base.path)
        return self._models[key]

    def _adapter(self, loaded: Loaded, folder: str) -> str:
        if folder in loaded.adapters:
            return loaded.adapters[folder]
        from peft import PeftModel

        name = "a" + hashlib.sha1(folder.encode()).hexdigest()[:10]
        try:
            if isinstance(loaded.model, PeftModel):
                loaded.model.load_adapter(folder, adapter_name=name)
            else:
                loaded.model = PeftModel.from_pretrained(loaded.model, folder, adapter_name=name)
        except Exception as exc:
            raise ModelError(f"the adapter in {folder} does not fit the base model {loaded.path} "
                             f"({str(exc).splitlines()[0][:300]}): was the run trained on another base?") from exc
        loaded.model.eval()
        loaded.adapters[folder] = name
        return name

    def _tokenizer(self, plan: SidePlan, loaded: Loaded) -> Any:
        folder = plan.tokenizer or loaded.path
        if folder not in self._tokenizers:
            from transformers import AutoTokenizer


            try:
                tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=plan.trust_remote_code)
            except Exception as exc:
                raise ModelError(f"cannot load the tokenizer from {folder}: {exc}") from exc
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token
            if not tok.chat_template:
                tok.chat_template = CHATML_TEMPLATE  # what TuneDesk trains base models with
            tok.padding_side = "left"
            self._tokenizers[folder] = tok
        return self._tokenizers[folder]


def _merged_key(plan: SidePlan) -> str:
    return f"{plan.base_key}+{plan.adapter}"


def _copy_fits(model: Any, share: float) -> bool:
    """Whether a second copy of the weights takes at most `share` of the free memory on their device."""
    import torch

    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    device = next(model.parameters()).device
    if device.type == "cuda":
        free = torch.cuda.mem_get_info(device)[0]
    else:
        import psutil

        free = psutil.virtual_memory().available
    return weights <= share * free


def _load(path: str, trust_remote_code: bool, rope: tuple[str, float] = NO_SCALING, stack: tuple[str, ...] = ()
          ) -> Any:
    import torch

    cuda = torch.cuda.is_available()
    if cuda:
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        dtype = torch.bfloat16 if cpu_bf16_is_faster() else torch.float32
    try:
        model = load_base(path, dtype, trust_remote_code, rope, stack, **({"device_map": {"": 0}} if cuda else {}))
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"cannot load the model from {path}: {str(exc).splitlines()[0][:300]}") from exc
    model.eval()
    return model


POOL = ModelPool()  # one per process, like the hardware monitor
