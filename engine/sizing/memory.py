"""The memory estimator: peak training memory of a model × method × length × batch, split into
weights, trainable state (parameters, gradients, AdamW moments), activations and overhead, from the
model's shape alone. Figures are what TuneDesk's own trainer holds (see `engine.models.load.load_model`):
full fine-tuning keeps fp32 master weights, LoRA keeps the frozen base in the compute dtype with fp32
adapters, QLoRA stores linear layers in 4-bit NF4 (double quantised) or 8-bit."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from engine.config.field_info import PAIRWISE
from engine.config.optimizers import DEFAULT_OPTIMIZER, LOW_RANK, OPTIMIZERS, low_rank
from engine.errors import ConfigError
from engine.sizing.shape import ModelShape
from engine.text.message import Joined, Text, say

GiB = 2**30
BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
NF4_BYTES = 0.5 + 0.5 / 64 + 4 / (64 * 256)  # 4-bit weights + an fp8 scale per 64, fp32 per 256 of those
LOGIT_COPIES = 5
# engine/training/trained_logits.py computes the output layer in chunks of this many logits (recomputed in
# the backward pass) when only trained tokens are projected: the logits held never exceed one chunk's
LOGIT_CHUNK = 1 << 26
TIGHT = 0.85  # above this share of the device, the run may fail on fragmentation or a long batch


@dataclass(frozen=True)
class Setting:
    method: str = "lora"  # full | lora | qlora4 | qlora8
    stage: str = "sft"  # the method: sft, pt, dpo, kto, orpo, simpo, grpo
    max_len: int = 1024
    batch: int = 2
    gradient_checkpointing: bool = False
    precision: str = "bf16"  # compute dtype: bf16 | fp16 | fp32
    lora_rank: int = 8
    device: str = "gpu"  # gpu | cpu: a GPU adds the CUDA context
    dora: bool = False  # DoRA: a magnitude per output and the adapted weight rebuilt in every forward
    modules_to_save: str = ""  # modules trained in full beside a LoRA adapter (embed_tokens, lm_head)
    freeze_layers: int = 0  # method freeze: the last N layers trained (the first N when negative)
    freeze_modules: str = "all"  # all, or self_attn / mlp
    optimizer: str = DEFAULT_OPTIMIZER  # the `optim` field: what its state costs per trained parameter
    trained_logits: bool = False  # SFT / pt with trained_logits_only: the output layer in bounded chunks
    # GPU levers: eager attention keeps each layer's attention weights (length² per head); Liger's kernels
    # keep fewer values per layer and never the whole logits; offload moves the checkpointed inputs to host
    attention: str = "sdpa"  # auto | sdpa | flash_attention_2 | eager
    liger: bool = False
    offload: bool = False
    # sharding across `shards` GPUs (DeepSpeed ZeRO or FSDP2; 1 = each GPU holds everything, as DDP):
    # stage 2 splits gradients and optimizer state, stage 3 the weights too; `host` moves to host memory
    # the optimizer state (optimizer) and the weights (optimizer+params)
    shards: int = 1
    zero_stage: int = 2
    sharding: str = "deepspeed"  # deepspeed | fsdp (FSDP2 offloads the weights with the optimizer)
    host: str = "none"

    def __post_init__(self) -> None:
        for name, low, high in (("max_len", 1, 1 << 21), ("batch", 1, 1 << 16), ("lora_rank", 1, 4096)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ConfigError(f"{name} must be a whole number from {low} to {high:,}, got {value!r}")


@dataclass
class Estimate:
    weights_gb: float
    trainable_gb: float
    activations_gb: float
    overhead_gb: float
    total_gb: float
    trainable_params: int
    params: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def estimate(shape: ModelShape, s: Setting) -> Estimate:
    compute = BYTES[s.precision]
    linear, other = shape.linear_params, shape.params - shape.linear_params
    if s.method == "full":
        weights = shape.params * 4  # fp32 master weights
        trainable = shape.params
    elif s.method == "freeze":
        weights = shape.params * 4  # loaded as for full fine-tuning; only the chosen layers get optimizer state
        trainable = abs(s.freeze_layers) * _layer_params(shape, s.freeze_modules)
    elif s.method in ("qlora4", "qlora8"):
        weights = linear * (NF4_BYTES if s.method == "qlora4" else 1.0) + other * compute
        trainable = shape.lora_params(s.lora_rank)
    else:
        weights = shape.params * compute
        trainable = shape.lora_params(s.lora_rank)
    lora = s.method not in ("full", "freeze")
    if lora:
        trainable += _saved_module_params(shape, s.modules_to_save)
        if s.dora:
            trainable += shape.layers * sum(o for _, o in shape.linear_shapes())
    # fp32 gradients and the optimizer's state (AdamW: two fp32 moments); LoRA adapters add their own fp32
    # weights (the full model's fp32 weights are already the weights above)
    optimizer = _optimizer_state(shape, s, trainable)
    state = trainable * (8 if lora else 4) + optimizer
    weights, state = _sharded(shape, s, weights, state, optimizer)
    rows = s.batch * (2 if s.stage in PAIRWISE else 1)  # pairwise methods run chosen and rejected side by side
    tokens = rows * s.max_len
    # a CPU's bf16 autocast keeps activations as large as fp32 ones (measured: bench/plan_accuracy.py)
    act_bytes = 4 if s.precision == "fp32" or s.device == "cpu" else compute
    # values kept per token and layer for the backward pass; LoRA adds its dropout copies of each
    # adapter's input and the adapters' own outputs (fitted to measured runs: bench/estimator.py); DoRA
    # keeps one more copy of each adapted layer's input and output for its norm
    values = 4 * shape.hidden + 2 * shape.intermediate + (10 * shape.hidden + 4 * shape.intermediate if lora else 0)
    if lora and s.dora:
        values += 5 * shape.hidden + 3 * shape.intermediate
    if s.liger:  # SwiGLU recomputes its product, RMSNorm keeps its input and one scale per row
        values -= shape.intermediate + 2 * shape.hidden
    per_layer = tokens * values * act_bytes
    if s.attention == "eager":  # the softmaxed scores of every head, kept for the backward pass
        per_layer += rows * shape.heads * s.max_len * s.max_len * act_bytes
    # freeze tuning of the last N layers: the frozen layers below them keep nothing for the backward pass
    stored = abs(s.freeze_layers) if s.method == "freeze" and s.freeze_layers > 0 else shape.layers
    if s.gradient_checkpointing:
        # each layer's input is kept for the recompute: on the device, or (offload) in host memory, where
        # two layers' worth are in flight at a time
        kept = 2 if s.offload and s.device == "gpu" else stored
        activations = kept * tokens * shape.hidden * act_bytes + per_layer
    else:
        activations = stored * per_layer
    if lora and s.dora:  # the adapted weight W + BA, rebuilt in fp32 for its norm, one layer at a time
        activations += max(i * o for i, o in shape.linear_shapes()) * 4
    # the loss works on fp32 logits: the logits, their log-softmax, its gradient and temporaries
    logits = tokens * shape.vocab
    activations += (min(logits, LOGIT_CHUNK) if s.trained_logits or s.liger else logits) * 4 * LOGIT_COPIES
    if s.stage == "dpo":
        activations += tokens * shape.vocab * 4  # the reference model's logits (no gradient)
    overhead = (0.5 * GiB if s.device == "gpu" else 0.3 * GiB) + 0.08 * (weights + state + activations)
    if s.device == "cpu" and s.method.startswith("qlora"):
        overhead += shape.params * compute  # on a CPU the base is loaded unquantized, then quantized
    total = weights + state + activations + overhead
    return Estimate(_gb(weights), _gb(state), _gb(activations), _gb(overhead), _gb(total), trainable, shape.params)


def _sharded(shape: ModelShape, s: Setting, weights: float, state: float, optimizer: float) -> tuple[float, float]:
    """Weights and trainable state held on each GPU of a sharded run."""
    if s.shards <= 1:
        return weights, state
    state = (state - (optimizer if s.host != "none" else 0)) / s.shards
    if s.zero_stage == 3:
        # the weights at rest are split; two layers' worth are gathered at a time for the compute
        layer = weights / max(1, shape.layers)
        params_to_host = s.host == "optimizer+params" or (s.sharding == "fsdp" and s.host != "none")
        weights = 2 * layer + (0 if params_to_host else weights / s.shards)
    return weights, state


def _layer_params(shape: ModelShape, modules: str) -> int:
    """Weights of one decoder layer's chosen parts (all, self_attn, mlp); norms count with all."""
    linear = shape.linear_shapes()
    parts = {"self_attn": sum(i * o for i, o in linear[:4]), "mlp": sum(i * o for i, o in linear[4:])}
    chosen = [m.strip() for m in modules.split(",") if m.strip()] or ["all"]
    if "all" in chosen:
        return sum(parts.values()) + 2 * shape.hidden
    return sum(parts.get(m, 0) for m in chosen)


def _saved_module_params(shape: ModelShape, modules: str) -> int:
    """Parameters of modules trained in full beside an adapter: PEFT trains a copy of each."""
    chosen = {m.strip() for m in modules.split(",") if m.strip()}
    return shape.vocab * shape.hidden * (("embed_tokens" in chosen) + ("lm_head" in chosen))


def _gb(n: float) -> float:
    return round(n / GiB, 2)


def verdict(total_gb: float, device_gb: float) -> str:
    if total_gb <= TIGHT * device_gb:
        return "fits"
    return "tight" if total_gb <= device_gb else "does not fit"


def _optimizer_state(shape: ModelShape, s: Setting, trainable: int) -> float:
    spec = OPTIMIZERS.get(s.optimizer, OPTIMIZERS["adamw_torch"])
    if s.optimizer not in LOW_RANK or s.method != "full":
        return trainable * spec.state_bytes
    # GaLore / APOLLO: the projections' moments (rank × width) and the projection (width × rank) for the
    # attention and MLP weights, about 1.5 × rank / width of AdamW's; everything else gets plain AdamW
    share = min(1.0, 1.5 * low_rank(shape.hidden) / shape.hidden)
    return (trainable - shape.linear_params) * spec.state_bytes + shape.linear_params * spec.state_bytes * share


def nearest_fit(shape: ModelShape, s: Setting, device_gb: float) -> tuple[Setting, Estimate] | None:
    """The first change, in the order people try them, that brings the run under the device's memory."""
    tries = []
    if not s.gradient_checkpointing:
        tries.append(replace(s, gradient_checkpointing=True))
    step = replace(s, gradient_checkpointing=True)
    while step.batch > 1:
        step = replace(step, batch=max(1, step.batch // 2))
        tries.append(step)
    if s.method in ("full", "lora"):
        tries.append(replace(step, method="qlora4"))
    length = replace(step, method="qlora4" if s.method in ("full", "lora") else s.method)
    while length.max_len > 256:
        length = replace(length, max_len=length.max_len // 2)
        tries.append(length)
    for candidate in tries:
        result = estimate(shape, candidate)
        if verdict(result.total_gb, device_gb) == "fits":
            return candidate, result
    return None


def describe_change(before: Setting, after: Setting) -> Joined:
    """The changes from one setting to another, in the order the form shows them."""
    parts: list[Text] = []
    if after.gradient_checkpointing and not before.gradient_checkpointing:
        parts.append(say("fit.checkpointing_on"))
    for name in ("batch", "method", "max_len"):
        a, b = getattr(before, name), getattr(after, name)
        if a != b:
            parts.append(say(f"fit.change_{name}", before=a, after=b))
    return Joined(tuple(parts), sep="text.comma")
