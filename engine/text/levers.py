"""What a run says of the GPU levers it asked for: the ones this machine cannot use, and the ones applied."""

from __future__ import annotations

LEVERS: dict[str, tuple[str, str]] = {
    "lever.flash_no_gpu": (
        "attn_implementation flash_attention_2 needs an NVIDIA GPU of the Ampere generation or newer (RTX 30xx / "
        "40xx, A100, H100), and this machine has none: use auto or sdpa",
        "attn_implementation flash_attention_2 需要 Ampere 或更新的 NVIDIA GPU（RTX 30/40 系、A100、H100），"
        "本机没有：请改用 auto 或 sdpa"),
    "lever.flash_old_gpu": (
        "attn_implementation flash_attention_2 needs compute capability 8.0 or newer, and this GPU has {capability}: "
        "use auto or sdpa", "attn_implementation flash_attention_2 需要计算能力 8.0 及以上，而这块 GPU 为 {capability}："
        "请改用 auto 或 sdpa"),
    "lever.flash_missing": (
        "attn_implementation flash_attention_2 needs the flash-attn package: pip install flash-attn "
        "--no-build-isolation (or use auto, which falls back to sdpa)",
        "attn_implementation flash_attention_2 需要 flash-attn 包：pip install flash-attn --no-build-isolation"
        "（或改用 auto，会退回 sdpa）"),
    "lever.liger_no_gpu": (
        "use_liger_kernel: Liger's kernels are Triton GPU kernels and this machine has no GPU; turn it off here",
        "use_liger_kernel：Liger 内核是 Triton GPU 内核，而本机没有 GPU；请在本机关闭它"),
    "lever.liger_missing": (
        "use_liger_kernel needs the liger-kernel package: pip install liger-kernel (then start the run again)",
        "use_liger_kernel 需要 liger-kernel 包：pip install liger-kernel（然后重新开始训练）"),
    "lever.liger_family": (
        "use_liger_kernel: Liger has no kernels for {family} models; it supports {supported}. Turn it off for "
        "this model", "use_liger_kernel：Liger 没有 {family} 模型的内核；支持的有 {supported}。请对此模型关闭它"),
    "lever.offload_no_gpu": (
        "activation_offload moves activations from GPU memory to host memory, and this machine trains on its CPU, "
        "where they are in host memory already: turn it off here",
        "activation_offload 把激活值从显存移到主机内存，而本机在 CPU 上训练，激活值本就在主机内存：请在本机关闭它"),
    "lever.offload_needs_checkpointing": (
        "activation_offload keeps the activations that gradient checkpointing saves: turn gradient_checkpointing on",
        "activation_offload 保存的是梯度检查点留下的激活值：请开启 gradient_checkpointing"),
    "lever.deepspeed_missing": (
        "distributed deepspeed needs the deepspeed package: pip install deepspeed (or use fsdp, which PyTorch has)",
        "distributed deepspeed 需要 deepspeed 包：pip install deepspeed（或改用 PyTorch 自带的 fsdp）"),
    "lever.fsdp_no_gpu": (
        "distributed fsdp: accelerate shards with FSDP on GPUs only, and on a CPU it would train as ddp without "
        "saying so; use ddp, or deepspeed (its CPU engine shards here)",
        "distributed fsdp：accelerate 只在 GPU 上用 FSDP 分片，在 CPU 上会悄悄按 ddp 训练；请改用 ddp，或 deepspeed"
        "（其 CPU 引擎可在本机分片）"),
    "lever.offload_old_transformers": (
        "activation_offload needs a transformers that offloads checkpointed activations (5.23 or newer): "
        "pip install -U transformers, or turn it off",
        "activation_offload 需要能卸载检查点激活值的 transformers（5.23 及以上）：pip install -U transformers，或关闭它"),
    "lever.applied": ("levers: {levers}", "优化项：{levers}"),
}
