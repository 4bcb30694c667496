"""What a run's status says when it fails or stalls, and what to do about it."""

from __future__ import annotations

RUNS: dict[str, tuple[str, str]] = {
    "run.oom": ("out of memory: {detail}", "内存不足：{detail}"),
    "run.oom_try": ("Try: {steps}.", "可以尝试：{steps}。"),
    "run.oom_batch": ("per_device_train_batch_size {bs} → {new_bs} with gradient_accumulation_steps {ga} → {new_ga} "
                      "(same effective batch of {effective})",
                      "per_device_train_batch_size {bs} → {new_bs}，同时 gradient_accumulation_steps {ga} → {new_ga}"
                      "（有效批大小仍为 {effective}）"),
    "run.oom_checkpointing": ("turn on gradient_checkpointing", "开启 gradient_checkpointing"),
    "run.oom_lora": ("use finetuning_type lora (or qlora)", "改用 finetuning_type lora（或 qlora）"),
    "run.oom_qlora": ("use finetuning_type qlora (4-bit base)", "改用 finetuning_type qlora（4 位基座）"),
    "run.oom_length": ("max_seq_length {length} → {half}", "max_seq_length {length} → {half}"),
    "run.oom_smaller": ("Use a smaller model.", "换一个更小的模型。"),
    "run.step_sep": ("; ", "；"),
    "run.nan_fix": ("lower learning_rate ({lr} → {lower}), keep max_grad_norm at 1.0, and prefer bf16 or fp32 over "
                    "fp16.", "降低 learning_rate（{lr} → {lower}），保持 max_grad_norm 为 1.0，并优先用 bf16 或 fp32 "
                    "而不是 fp16。"),
    "run.nan_fix_plain": ("lower the learning rate, keep max_grad_norm at 1.0, and prefer bf16 or fp32 over fp16.",
                          "降低学习率，保持 max_grad_norm 为 1.0，并优先用 bf16 或 fp32 而不是 fp16。"),
    "run.bad_data": ("bad data: {detail}", "数据有误：{detail}"),
    "run.bad_data_fix": ("Fix the rows named in train.log and data_report.json, or set dataset_format.",
                         "请修正 train.log 和 data_report.json 中列出的行，或设置 dataset_format。"),
    "run.model_fix": ("Check the model name or folder; downloads need the network once, then work offline.",
                      "请检查模型名称或目录；下载只需联网一次，之后可离线使用。"),
    "run.setting_fix": ("Fix the setting named above and start again.", "请修改上面指出的设置后重新开始。"),
    "run.crash": ("{kind}: {detail}", "{kind}：{detail}"),
    "run.crash_fix": ("See train.log for the full traceback.", "完整的错误堆栈见 train.log。"),
    "run.disk_low": ("only {free} GiB free in {folder}; the next checkpoint needs about {need} GiB. Free space or "
                     "lower save_total_limit.", "{folder} 只剩 {free} GiB 可用空间；下一个检查点约需 {need} GiB。请释放空间或调低 "
                     "save_total_limit。"),
    "run.stall": ("no training step for {minutes} min: the run may be stuck (swapping, a hung data read, or a very "
                  "slow device)", "已有 {minutes} 分钟没有完成训练步：运行可能卡住了（内存交换、数据读取挂起，或设备很慢）"),
    "export.stacked": ("this adapter was trained on top of {count} other adapter(s), merged into the base first: "
                       "they are in {folders}; merge them into the base in that order before applying this one, "
                       "or export the run as a merged model",
                       "该适配器是在另外 {count} 个适配器（先合并进基座）之上训练的：它们位于 {folders}；使用本适配器前需按此顺序"
                       "把它们合并进基座，或将该运行导出为合并模型"),
    "run.advice_and_plan": ("{advice}\n{plan}", "{advice}\n{plan}"),
    # the CLI's last words (python -m engine --lang zh …)
    "cli.error": ("error: {detail}", "错误: {detail}"),
    "cli.failed": ("failed: {reason}\n{advice}\nlog: {log}", "失败: {reason}\n{advice}\n日志: {log}"),
}
