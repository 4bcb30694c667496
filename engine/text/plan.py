"""What the fit planner says about each choice it made, and about the time it predicts."""

from __future__ import annotations

PLAN: dict[str, tuple[str, str]] = {
    "plan.method_fastest": ("{method}: the fastest way to train that fits ({trainable} of {params} parameters "
                            "trained)", "{method}：能放下的最快训练方式（训练 {params} 个参数中的 {trainable} 个）"),
    "plan.method_quality": ("{method}: the most capable way to train that fits ({trainable} of {params} parameters "
                            "trained)", "{method}：能放下的效果最好的训练方式（训练 {params} 个参数中的 {trainable} 个）"),
    "plan.method_context": ("{method}: leaves the most memory for long sequences", "{method}：为长序列留出最多内存"),
    "plan.method_skipped": ("{method} would need {need} GiB", "{method} 需要 {need} GiB"),
    "plan.method_reference": ("full fine-tuning is not offered for {stage}: it needs a second full copy of the model "
                              "as its reference", "{stage} 不使用全参微调：它需要模型的第二份完整副本作为参考模型"),
    "plan.label_full": ("full fine-tuning", "全参微调"),
    "plan.label_lora": ("LoRA", "LoRA"),
    "plan.label_qlora4": ("QLoRA 4-bit", "QLoRA 4 位"),
    "plan.label_qlora8": ("QLoRA 8-bit", "QLoRA 8 位"),
    "plan.length_cut": ("max_seq_length {length}: nothing fits at {before} tokens; {share}% of the examples are "
                        "longer and will be truncated", "max_seq_length {length}：{before} 个 token 时都放不下；{share}% 的样本"
                        "更长，将被截断"),
    "plan.length_cut_given": ("max_seq_length {length}: nothing fits at {before} tokens", "max_seq_length {length}："
                              "{before} 个 token 时都放不下"),
    "plan.time_step": ("about {step} s per step{how}; the number of steps follows from the dataset",
                       "每步约 {step} 秒{how}；步数取决于数据集"),
    "plan.how_measured": (", measured on this machine", "（本机实测）"),
    "plan.how_scaled": (", scaled from a step of this model measured here", "（按本机实测的该模型训练步换算）"),
    "plan.how_rough": (" from this machine's matmul speed", "（根据本机矩阵乘法速度估算）"),
    "plan.length_cover": ("max_seq_length {length}: covers {share}% of the examples (the longest has {longest} "
                          "tokens)", "max_seq_length {length}：覆盖 {share}% 的样本（最长的有 {longest} 个 token）"),
    "plan.length_given": ("max_seq_length {length}: no dataset to measure, the form's value is kept",
                          "max_seq_length {length}：没有可测量的数据集，保留表单中的值"),
    "plan.length_context": ("max_seq_length {length}: the longest that fits (up to {limit})",
                            "max_seq_length {length}：能放下的最长长度（上限 {limit}）"),
    "plan.length_capped": ("max_seq_length {length}: the longest that fits; {share}% of the examples are longer and "
                           "will be truncated", "max_seq_length {length}：能放下的最长长度；{share}% 的样本更长，将被截断"),
    "plan.batch": ("batch {batch} × accumulation {accumulation}{devices} = the effective batch of {effective}",
                   "批大小 {batch} × 梯度累积 {accumulation}{devices} = 有效批大小 {effective}"),
    "plan.batch_rounded": ("the effective batch of {asked} does not divide into whole batches here: {reached} "
                           "instead", "有效批大小 {asked} 无法在本机均分为整数批：改为 {reached}"),
    "plan.batch_devices": (" × {gpus} GPUs", " × {gpus} 块 GPU"),
    "plan.batch_enough": ("a batch of {batch} ({tokens} tokens) already keeps the device busy; a larger one would "
                          "only take memory", "批大小 {batch}（{tokens} 个 token）已能让设备满载；更大的批只会多占内存"),
    "plan.batch_limited": ("a batch of {bigger} would need {need} GiB", "批大小 {bigger} 需要 {need} GiB"),
    "plan.checkpointing_off": ("gradient checkpointing off: the run fits without it, and recomputing costs about a "
                               "third more time", "关闭梯度检查点：不用它也能放下，而重算大约多花三分之一的时间"),
    "plan.checkpointing_on": ("gradient checkpointing on: without it even a batch of {batch} needs {need} GiB",
                              "开启梯度检查点：不开启时即使批大小为 {batch} 也需要 {need} GiB"),
    "plan.checkpointing_faster": ("gradient checkpointing on: it allows a batch of {batch} instead of {without}, "
                                  "faster overall here", "开启梯度检查点：批大小可从 {without} 提高到 {batch}，在本机总体更快"),
    "plan.packing_on": ("packing on: examples average {mean} tokens of {length}, so padding would fill {waste}% of "
                        "each step", "开启序列打包：样本平均 {mean} 个 token（上限 {length}），否则填充会占每步的 {waste}%"),
    "plan.packing_off": ("packing off: examples fill {fill}% of max_seq_length on average", "关闭序列打包：样本平均占 "
                         "max_seq_length 的 {fill}%"),
    "plan.liger": ("Liger kernels: fused layers and a cross-entropy that never holds the whole logits (less memory, "
                   "more tokens/s)", "Liger 内核：融合的层与不保存完整 logits 的交叉熵（显存更少、速度更快）"),
    "plan.trained_logits": ("output layer only where trained: the same loss with less memory and time",
                            "仅在训练位置计算输出层：损失相同，内存和时间更少"),
    "plan.precision": ("precision auto: {precision} on this machine", "精度 auto：本机使用 {precision}"),
    "plan.precision_kept": ("precision {precision} kept as set; auto would train in bf16 or fp16 with half the "
                            "memory for activations", "保留设置的精度 {precision}；auto 会用 bf16 或 fp16 训练，激活内存减半"),
    "plan.ram": ("RAM, no GPU", "内存，无 GPU"),
    "plan.devices": ("{gpus} GPUs in data parallel (DDP)", "{gpus} 块 GPU 数据并行（DDP）"),
    "plan.memory": ("predicted peak {total} GiB of the {budget} GiB budget ({device}, {margin}% kept free)",
                    "预测峰值 {total} GiB，预算 {budget} GiB（{device}，保留 {margin}% 空闲）"),
    "plan.time_measured": ("{step} s per step, measured on this machine at these shapes ({tokens} tokens/s); {steps} "
                           "steps ≈ {total}", "每步 {step} 秒（本机按这些形状实测，{tokens} token/秒）；{steps} 步约 {total}"),
    "plan.time_rough": ("about {step} s per step from this machine's matmul speed ({steps} steps ≈ {total}); "
                        "{why}", "根据本机矩阵乘法速度估算每步约 {step} 秒（{steps} 步约 {total}）；{why}"),
    "plan.time_scaled": ("about {step} s per step, scaled by FLOPs from a step of this model measured here ({steps} "
                         "steps ≈ {total}); {why}", "每步约 {step} 秒（按 FLOPs 从本机实测的该模型训练步换算；{steps} 步约 "
                         "{total}）；{why}"),
    "plan.rough_no_model": ("the model is not on this machine, so its steps were not measured",
                            "模型不在本机，未实测训练步"),
    "plan.rough_busy": ("a run is training, so nothing was measured (it would slow both)",
                        "有运行正在训练，因此未实测（否则会拖慢两者）"),
    "plan.no_tokenizer": ("max_seq_length not measured: {model} is not on this machine, and its tokenizer counts "
                          "the tokens; download it in the Model Hub tab first", "未测量 max_seq_length：{model} 不在本机，"
                          "需要它的分词器计算 token 数；请先在模型中心下载"),
    "plan.no_lengths": ("max_seq_length not measured: {detail}", "未测量 max_seq_length：{detail}"),
    "plan.rough_failed": ("measuring a step failed ({detail})", "实测训练步失败（{detail}）"),
    "plan.rough_asked": ("measuring was turned off", "已关闭实测"),
    "plan.none_fits": ("nothing fits in {budget} GiB, even QLoRA 4-bit with batch 1, gradient checkpointing and "
                       "{length} tokens (it needs {need} GiB): choose a smaller model", "即使用 QLoRA 4 位、批大小 1、"
                       "梯度检查点和 {length} 个 token，{budget} GiB 也放不下（需要 {need} GiB）：请选择更小的模型"),
    "plan.oom_next": ("the fit planner's setting for a quarter less memory ({budget} GiB): {changes} (predicted "
                      "{total} GiB)", "适配规划器给出的内存少四分之一（{budget} GiB）的设置：{changes}（预测 {total} GiB）"),
    "plan.summary": ("{method}, batch {batch} × {accumulation}, {length} tokens{checkpointing}, {total} GiB",
                     "{method}，批大小 {batch} × {accumulation}，{length} 个 token{checkpointing}，{total} GiB"),
    "plan.summary_checkpointing": (", gradient checkpointing", "，梯度检查点"),
    "plan.change": ("{field} {before} → {after}", "{field} {before} → {after}"),
    "time.seconds": ("{n} s", "{n} 秒"),
    "time.minutes": ("{n} min", "{n} 分钟"),
    "time.hours": ("{h} h {m} min", "{h} 小时 {m} 分钟"),
}
