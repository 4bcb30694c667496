"""Every visible string of the app in English and 简体中文. Field labels come from TrainConfig."""

from __future__ import annotations

LANGS = ("en", "zh")

STRINGS: dict[str, tuple[str, str]] = {
    "title": ("TuneDesk — fine-tune open LLMs on your own PC", "TuneDesk — 在自己的电脑上微调开源大模型"),
    "language": ("Language / 语言", "Language / 语言"),
    "tab_env": ("Environment", "环境"),
    "tab_hub": ("Model Hub", "模型中心"),
    "tab_data": ("Dataset Explorer", "数据集浏览"),
    "tab_train": ("Train", "训练"),
    "tab_chat": ("Compare Chat", "对比对话"),
    "env_coming": ("**Environment** — coming next: detected GPUs and drivers, CUDA/bf16 support, library versions, "
                   "and a one-click check that your setup can train.",
                   "**环境** —— 即将推出：检测 GPU 与驱动、CUDA/bf16 支持、库版本，以及一键检查本机能否训练。"),
    "hub_coming": ("**Model Hub** — coming next: browse, download (Hugging Face or ModelScope) and manage local "
                   "models, with size and memory estimates.",
                   "**模型中心** —— 即将推出：浏览、下载（Hugging Face 或 ModelScope）并管理本地模型，显示体积与显存估算。"),
    "data_coming": ("**Dataset Explorer** — coming next: preview any dataset as TuneDesk will train on it, with "
                    "format detection, bad-row reports and token length statistics.",
                    "**数据集浏览** —— 即将推出：按训练时的效果预览数据集，自动识别格式、报告错误行、统计 token 长度。"),
    "chat_coming": ("**Compare Chat** — coming next: chat with the base model and your fine-tuned result side by "
                    "side.", "**对比对话** —— 即将推出：并排与底座模型和微调结果对话。"),
    "group_model": ("Model & data", "模型与数据"),
    "group_method": ("Method", "训练方法"),
    "group_train": ("Core hyper-parameters", "核心超参数"),
    "group_lora": ("LoRA", "LoRA"),
    "group_quant": ("Quantisation (QLoRA)", "量化（QLoRA）"),
    "group_advanced": ("Advanced", "高级"),
    "preset": ("Preset", "预设"),
    "load_preset": ("Load preset", "加载预设"),
    "upload_yaml": ("Load a YAML config", "加载 YAML 配置"),
    "save_yaml": ("Save as YAML", "保存为 YAML"),
    "preview": ("Equivalent command and YAML", "等效命令与 YAML"),
    "start": ("Start", "开始训练"),
    "stop": ("Stop", "停止"),
    "resume": ("Resume", "继续训练"),
    "delete": ("Delete run", "删除运行"),
    "confirm_delete": ("Really delete? Click to confirm", "确定删除？再次点击确认"),
    "checkpoint": ("Checkpoint to resume from", "从哪个检查点继续"),
    "runs": ("Runs", "运行记录"),
    "refresh": ("Refresh", "刷新"),
    "selected_run": ("Selected run", "当前查看的运行"),
    "log": ("Log (tail of train.log)", "日志（train.log 末尾）"),
    "config_of_run": ("Config of the selected run", "所选运行的配置"),
    "no_run": ("No run selected yet. Pick a preset and press Start.", "还没有运行。选择预设后点击“开始训练”。"),
    "started": ("Started run {run_id}", "已开始运行 {run_id}"),
    "queued": ("Queued run {run_id} (another run is training)", "运行 {run_id} 已排队（另一个运行正在训练）"),
    "stopping": ("Stopping {run_id}: finishing this step and saving a checkpoint",
                 "正在停止 {run_id}：完成当前步并保存检查点"),
    "resumed": ("Resuming {run_id}", "继续训练 {run_id}"),
    "deleted": ("Deleted run {run_id}", "已删除运行 {run_id}"),
    "done": ("Run {run_id} completed, final loss {loss}", "运行 {run_id} 已完成，最终损失 {loss}"),
    "failed": ("Run {run_id} failed: {error}", "运行 {run_id} 失败：{error}"),
    "trust_warning": ("⚠️ trust_remote_code runs Python code from the model's repository with your rights. "
                      "Only enable it for authors you trust.",
                      "⚠️ trust_remote_code 会以你的权限运行模型仓库中的 Python 代码，仅对可信作者开启。"),
    "chart_loss": ("Loss", "损失"),
    "chart_train": ("train", "训练"),
    "chart_smooth": ("train (smoothed)", "训练（平滑）"),
    "chart_eval": ("eval", "验证"),
    "chart_lr": ("Learning rate", "学习率"),
    "chart_grad": ("Grad norm", "梯度范数"),
    "chart_tps": ("Tokens/s", "每秒 token 数"),
    "chart_hw": ("Hardware", "硬件"),
    "chart_cpu": ("CPU %", "CPU %"),
    "chart_ram": ("RAM used (GiB)", "内存占用 (GiB)"),
    "chart_gpu_util": ("GPU {i} util %", "GPU {i} 利用率 %"),
    "chart_gpu_mem": ("GPU {i} memory (GiB)", "GPU {i} 显存 (GiB)"),
    "chart_gpu_temp": ("GPU {i} °C", "GPU {i} 温度 °C"),
    "chart_gpu_power": ("GPU {i} W", "GPU {i} 功耗 W"),
    "step": ("step", "步"),
    "progress": ("Step {step} / {total} · epoch {epoch} · elapsed {elapsed} · ETA {eta} · {state}",
                 "第 {step} / {total} 步 · 第 {epoch} 轮 · 已用 {elapsed} · 剩余 {eta} · {state}"),
    "col_run": ("run", "运行"), "col_model": ("model", "模型"), "col_method": ("method", "方法"),
    "col_state": ("state", "状态"), "col_progress": ("progress", "进度"), "col_loss": ("final loss", "最终损失"),
    "col_started": ("started", "开始时间"), "col_duration": ("duration", "时长"),
    "alert_oom": ("Out of memory", "内存/显存不足"),
    "alert_failed": ("Failed", "失败"),
    "alert_done": ("Completed", "已完成"),
    "alert_stopped": ("Stopped — resume continues from the saved checkpoint", "已停止——“继续训练”会从保存的检查点接着训练"),
    "state_pending": ("pending", "排队中"), "state_running": ("running", "训练中"),
    "state_completed": ("completed", "已完成"), "state_failed": ("failed", "失败"), "state_stopped": ("stopped", "已停止"),
}


def t(key: str, lang: str, **kw: object) -> str:
    en, zh = STRINGS[key]
    text = zh if lang == "zh" else en
    return text.format(**kw) if kw else text
