"""What the Environment tab says this machine can do, and why a hub cannot be reached."""

from __future__ import annotations

MACHINE: dict[str, tuple[str, str]] = {
    "text.comma": (", ", "，"),
    "fit.checkpointing_on": ("gradient checkpointing on", "开启梯度检查点"),
    "fit.change_batch": ("batch {before} → {after}", "批大小 {before} → {after}"),
    "fit.change_method": ("method {before} → {after}", "方式 {before} → {after}"),
    "fit.change_max_len": ("max length {before} → {after}", "最大长度 {before} → {after}"),
    "fit.suggest": ("{change} → {total} GiB", "建议：{change} → {total} GiB"),
    "fit.too_big": ("too big for this machine even with QLoRA, batch 1 and short sequences",
                    "即使用 QLoRA、批大小 1 和短序列，本机也放不下"),
    "env.no_nvml": ("nvidia-ml-py is not installed", "未安装 nvidia-ml-py"),
    "env.no_driver": ("no NVIDIA driver answers ({error}): no GPU, training runs on the CPU",
                      "没有响应的 NVIDIA 驱动（{error}）：无 GPU，将在 CPU 上训练"),
    "env.driver_no_gpu": ("the NVIDIA driver sees no GPU", "NVIDIA 驱动未发现 GPU"),
    "env.qlora": ("QLoRA (bitsandbytes)", "QLoRA（bitsandbytes）"),
    "env.qlora_missing": ("bitsandbytes is not installed: pip install bitsandbytes",
                          "未安装 bitsandbytes：pip install bitsandbytes"),
    "env.qlora_gpu": ("4-bit NF4 and 8-bit bases load on the GPU", "4 位 NF4 和 8 位基座可在 GPU 上加载"),
    "env.qlora_cpu": ("4-bit NF4 and 8-bit bases load on this CPU (bitsandbytes 0.50 runs 4- and 8-bit layers on "
                      "CPUs, slowly)", "4 位 NF4 和 8 位基座可在本机 CPU 上加载（bitsandbytes 0.50 可在 CPU 上运行 4 位和 8 位层，速度较慢）"),
    "env.bf16": ("bf16 is fast here", "本机 bf16 速度快"),
    "env.bf16_gpu": ("the GPU supports bf16", "GPU 支持 bf16"),
    "env.bf16_old_gpu": ("this GPU predates bf16 (compute capability < 8.0): fp16 with loss scaling is used",
                         "这块 GPU 不支持 bf16（计算能力 < 8.0）：将使用带损失缩放的 fp16"),
    "env.bf16_cpu_fast": ("measured: a bf16 matmul beats fp32 on this CPU", "实测：本机 CPU 上 bf16 矩阵乘法快于 fp32"),
    "env.bf16_cpu_slow": ("measured: bf16 matmul is slower than fp32 on this CPU (no AVX-512 BF16 / AMX): precision "
                          "auto trains in fp32", "实测：本机 CPU 上 bf16 矩阵乘法慢于 fp32（无 AVX-512 BF16 / AMX）：precision auto 将用 fp32 训练"),
    "env.sdpa": ("SDPA attention", "SDPA 注意力"),
    "env.sdpa_yes": ("torch's fused scaled-dot-product attention is available", "可使用 torch 的融合缩放点积注意力"),
    "env.sdpa_no": ("torch is too old for SDPA: upgrade torch", "torch 版本过旧，不支持 SDPA：请升级 torch"),
    "env.flash": ("flash-attention", "flash-attention"),
    "env.flash_yes": ("flash_attn is installed", "已安装 flash_attn"),
    "env.flash_missing": ("not installed (optional; SDPA is used)", "未安装（可选；将使用 SDPA）"),
    "env.flash_no_gpu": ("needs an NVIDIA GPU; SDPA is used", "需要 NVIDIA GPU；将使用 SDPA"),
    "env.multi_gpu": ("multi-GPU", "多 GPU"),
    "env.gpus_one": ("{count} GPU(s) visible", "可见 {count} 块 GPU"),
    "env.gpus_many": ("{count} GPUs visible: set nproc_per_node to train on several (torchrun)",
                      "可见 {count} 块 GPU：设置 nproc_per_node 即可多卡训练（torchrun）"),
    "env.hf_reach": ("Hugging Face reachable", "可访问 Hugging Face"),
    "env.ms_reach": ("ModelScope reachable", "可访问 ModelScope"),
    "env.hub_answers": ("the hub answers", "该 Hub 有响应"),
    "hub.unreachable": ("cannot reach {name} ({host}): {reason}. Check the network or proxy, {other}, or download "
                        "the model elsewhere and point TuneDesk at the local folder.",
                        "无法访问 {name}（{host}）：{reason}。请检查网络或代理，{other}，或在别处下载模型后让 TuneDesk 指向本地目录。"),
    "hub.unreachable_hf": ("set model_source: modelscope (or HF_ENDPOINT=https://hf-mirror.com) if huggingface.co is "
                           "blocked", "若 huggingface.co 无法访问，可设置 model_source: modelscope（或 HF_ENDPOINT=https://hf-mirror.com）"),
    "hub.unreachable_ms": ("set model_source: hf if ModelScope is blocked", "若 ModelScope 无法访问，可设置 model_source: hf"),
    "hub.offline_set": ("HF_HUB_OFFLINE=1 is set", "已设置 HF_HUB_OFFLINE=1"),
}
