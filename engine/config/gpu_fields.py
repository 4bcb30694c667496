"""The GPU speed and memory levers of TrainConfig (engine/config/fields.py reads them from here). Whether
this machine can use each is decided when a run starts (engine/models/levers.py): a config written on one
machine may run on another."""

from __future__ import annotations

from engine.config.field_info import opt

ATTENTION = ("auto", "sdpa", "flash_attention_2", "eager")

ATTN_IMPLEMENTATION = opt(
    "auto", "gpu", ("Attention kernel", "注意力实现"),
    ("auto: FlashAttention 2 where the flash-attn package is installed and the GPU is an Ampere or newer "
     "(RTX 30xx / 40xx, A100, H100), else PyTorch's SDPA. Packed samples stay apart with either (position ids, "
     "no attention across samples). eager is the reference kernel: slower, and its memory grows with the "
     "square of the length.",
     "auto：已安装 flash-attn 且 GPU 为 Ampere 或更新（RTX 30/40 系、A100、H100）时用 FlashAttention 2，否则用 "
     "PyTorch 的 SDPA。两者都让打包的样本互不可见（按位置编号分隔）。eager 为参考实现：更慢，显存随长度平方增长。"),
    choices=ATTENTION)
USE_LIGER_KERNEL = opt(
    False, "gpu", ("Liger kernels", "Liger 内核"),
    ("Fused Triton kernels (RMSNorm, RoPE, SwiGLU, and a cross-entropy that never holds the whole logits) "
     "for Llama, Qwen, Mistral, Gemma, Phi-3 and GLM-4 models on an NVIDIA GPU: more tokens/s and much less "
     "memory at long lengths (pip install liger-kernel). Its cross-entropy replaces the trained-token output "
     "layer.",
     "融合的 Triton 内核（RMSNorm、RoPE、SwiGLU，以及不保存完整 logits 的交叉熵），适用于 NVIDIA GPU 上的 "
     "Llama、Qwen、Mistral、Gemma、Phi-3 和 GLM-4 模型：每秒 token 更多，长序列显存大幅减少（pip install "
     "liger-kernel）。其交叉熵取代“仅在训练位置计算输出层”。"))
ACTIVATION_OFFLOAD = opt(
    False, "gpu", ("Offload checkpointed activations", "检查点激活值卸载到内存"),
    ("With gradient checkpointing on a GPU: the activations kept for the recompute wait in pinned host memory "
     "instead of GPU memory (layers × length × width bytes freed, what long sequences run out of); each step "
     "gets slower by the copies.",
     "在 GPU 上开启梯度检查点时：为重算保留的激活值存放在锁页主机内存而不是显存（释放 层数 × 长度 × 宽度 "
     "字节，长序列正是因此显存不足）；每步因拷贝而变慢。"))
TORCH_COMPILE = opt(
    False, "gpu", ("torch.compile", "torch.compile 编译"),
    ("Compile the model before training: faster steps after a warm-up of a minute or more at each new "
     "shape (packing keeps shapes fixed). Needs a C++ compiler on a CPU.",
     "训练前编译模型：预热（每种新形状一分钟或更久）后每步更快（打包使形状固定）。CPU 上需要 C++ 编译器。"))

DISTRIBUTED = ("ddp", "fsdp", "deepspeed")
OFFLOADS = ("none", "optimizer", "optimizer+params")

DISTRIBUTED_MODE = opt(
    "ddp", "gpu", ("Several processes", "多进程方式"),
    ("With more than one process (GPUs or machines): ddp keeps the whole model on every GPU; fsdp (PyTorch "
     "FSDP2) and deepspeed (ZeRO, pip install deepspeed) split the optimizer state, gradients and, at stage 3, "
     "the weights across the GPUs, so a model too big for one GPU trains on several. The generated engine "
     "config is saved in the run's folder.",
     "多于一个进程（多 GPU 或多机）时：ddp 每块 GPU 保存完整模型；fsdp（PyTorch FSDP2）和 deepspeed（ZeRO，"
     "pip install deepspeed）把优化器状态、梯度以及（第 3 阶段）权重分散到各 GPU，单卡放不下的模型可以多卡训练。"
     "生成的配置保存在运行目录中。"),
    choices=DISTRIBUTED)
DEEPSPEED_STAGE = opt(
    2, "gpu", ("ZeRO stage", "ZeRO 阶段"),
    ("deepspeed / fsdp: 2 splits the optimizer state and gradients; 3 splits the weights too (least memory per "
     "GPU, more communication).",
     "deepspeed / fsdp：2 分散优化器状态和梯度；3 连权重也分散（每卡显存最少，通信更多）。"),
    choices=(2, 3))
OFFLOAD = opt(
    "none", "gpu", ("Offload to host memory", "卸载到主机内存"),
    ("deepspeed / fsdp: optimizer keeps the optimizer state in host memory (and steps it on the CPU); "
     "optimizer+params also the weights between uses. Less GPU memory, slower steps.",
     "deepspeed / fsdp：optimizer 把优化器状态放在主机内存（在 CPU 上更新）；optimizer+params 连权重在不用时也放在"
     "主机内存。显存更少，每步更慢。"),
    choices=OFFLOADS)
