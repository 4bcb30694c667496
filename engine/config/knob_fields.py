"""The TrainConfig fields of the training knobs added beside the basics (the optimizer, how a LoRA adapter
starts or stacks, RoPE scaling, how several datasets are mixed), each with its default, label and help in
English and Chinese; fields.py places them in TrainConfig's order."""

from __future__ import annotations

from engine.config.field_info import ADAPTERS, opt
from engine.config.optimizers import DEFAULT_OPTIMIZER, OPTIMIZERS

OPTIM = opt(
    DEFAULT_OPTIMIZER, "advanced", ("Optimizer", "优化器"),
    ("adamw_torch_fused: AdamW in one fused kernel (the default). adamw_torch: the same, unfused. adafactor: "
     "factored second moments and no first moment, so almost no optimizer memory (full fine-tuning of a "
     "larger model). adamw_8bit / paged_adamw_8bit: bitsandbytes' 8-bit AdamW, a quarter of the optimizer "
     "memory; paged moves it to RAM under pressure (NVIDIA GPUs). galore_adamw / apollo_adamw: full "
     "fine-tuning with low-rank optimizer states on the attention and MLP weights (pip install galore-torch "
     "/ apollo-torch).",
     "adamw_torch_fused：单个融合内核的 AdamW（默认）。adamw_torch：同上，未融合。adafactor：二阶矩分解存储、"
     "没有一阶矩，几乎不占优化器内存（适合较大模型的全参微调）。adamw_8bit / paged_adamw_8bit：bitsandbytes 的 "
     "8 位 AdamW，优化器内存约为四分之一；paged 在内存紧张时移到系统内存（需要 NVIDIA GPU）。galore_adamw / "
     "apollo_adamw：全参微调时注意力和 MLP 权重使用低秩优化器状态（需 pip install galore-torch / apollo-torch）。"),
    choices=tuple(OPTIMIZERS))

LORA_INIT = opt(
    "default", "lora", ("Adapter initialisation", "适配器初始化"),
    ("default: the adapter starts at zero. pissa / olora: it starts from each weight's main directions "
     "(PiSSA: principal components, OLoRA: QR), often learning faster; the final adapter is converted to "
     "apply to the unchanged base (twice the rank), checkpoints stay in PEFT's form for resuming. loftq "
     "(QLoRA 4-bit): it starts where the quantized base plus the adapter is closest to the original weights.",
     "default：适配器从零开始。pissa / olora：从每个权重的主方向开始（PiSSA 用主成分，OLoRA 用 QR 分解），"
     "通常学得更快；最终适配器会转换为可直接用于原始基座（秩翻倍），检查点保持 PEFT 的形式以便续训。"
     "loftq（QLoRA 4 位）：从“量化基座 + 适配器”最接近原始权重的位置开始。"),
    choices=("default", "pissa", "olora", "loftq"), types=ADAPTERS)

CREATE_NEW_ADAPTER = opt(
    False, "lora", ("New adapter on top", "在其上新建适配器"),
    ("With an adapter to continue from: merge it into the base and train a new adapter on top (this run's "
     "rank, alpha and targets), instead of training that adapter further. Compare Chat and exports merge "
     "the adapters below it first. Not with QLoRA (its base stays quantized).",
     "已指定要继续的适配器时：先把它合并进基座，再在其上训练一个新适配器（使用本次运行的秩、alpha 和目标模块），"
     "而不是继续训练原适配器。对比聊天和导出会先合并下面的适配器。QLoRA 不可用（其基座保持量化）。"),
    types=ADAPTERS)

ROPE_SCALING = opt(
    "none", "train", ("RoPE scaling", "RoPE 缩放"),
    ("Train on a longer context than the model was pretrained for by scaling its rotary positions: linear "
     "(all positions stretched by the factor), dynamic (only past the pretrained length), yarn (by frequency, "
     "usually the best). Kept with the run: Compare Chat, the endpoint and exports use it. none = the model's "
     "own.",
     "通过缩放旋转位置编码，在比预训练更长的上下文上训练：linear（所有位置按倍数拉伸）、dynamic（只在超过预训练长度后缩放）、"
     "yarn（按频率插值，通常最好）。随运行保存：对比聊天、接口和导出都会使用。none 表示保持模型自身设置。"),
    choices=("none", "linear", "dynamic", "yarn"))

ROPE_FACTOR = opt(
    2.0, "train", ("RoPE scaling factor", "RoPE 缩放倍数"),
    ("How many times the pretrained context the scaled positions reach (with RoPE scaling on).",
     "缩放后的位置可覆盖预训练上下文的倍数（开启 RoPE 缩放时）。"), minimum=1.0, maximum=64.0)

MIX_STRATEGIES = ("concat", "interleave_under", "interleave_over")
MIX_STRATEGY = opt(
    "concat", "model", ("Mixing", "混合方式"),
    ("With several datasets: concat makes the mix as many rows as the datasets together (shares then repeat "
     "a small dataset). interleave_under stops at the dataset its share exhausts first, so no row repeats; "
     "interleave_over goes on until every row of every dataset has been used, repeating the others. Both "
     "interleave lay the rows out alternately in the asked shares.",
     "多个数据集时：concat 使混合后的行数等于各数据集之和（比例较大的小数据集会重复）。interleave_under 在按比例"
     "最先用完的数据集处停止，不重复任何行；interleave_over 持续到每个数据集的每一行都用过，其余数据集重复。"
     "两种 interleave 都按比例交替排列各数据集的行。"),
    choices=MIX_STRATEGIES)
