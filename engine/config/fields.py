"""The fields of a training run, each with its default, label and help in English and Chinese, group,
choices and range. The Train form is generated from them, and validation messages name them."""

from __future__ import annotations

from dataclasses import dataclass

from engine.config import gpu_fields as gpu
from engine.config import knob_fields as knobs
from engine.config.field_info import ADAPTERS, DEFAULT_MODEL, FINETUNING_TYPES, METHODS, opt


@dataclass
class TrainFields:
    # --- model & data -------------------------------------------------------------------------
    model_name_or_path: str = opt(
        DEFAULT_MODEL, "model", ("Model", "模型"),
        ("Hugging Face / ModelScope id, local folder, or .gguf file. The default SmolLM2-135M-Instruct "
         "ships with TuneDesk and works offline.",
         "Hugging Face / ModelScope 模型 ID、本地目录或 .gguf 文件。默认的 SmolLM2-135M-Instruct 随 TuneDesk 安装，可离线使用。"))
    model_source: str = opt(
        "auto", "model", ("Model source", "模型来源"),
        ("auto: local path, then the bundled model, then Hugging Face. Pick modelscope for the "
         "ModelScope hub (faster in mainland China).",
         "auto：依次尝试本地路径、内置模型、Hugging Face。国内网络建议选 modelscope。"),
        choices=("auto", "hf", "modelscope", "local"))
    gguf_file: str = opt(
        "", "model", ("GGUF file", "GGUF 文件"),
        ("File name of a .gguf inside the model folder or repo; it is dequantized on load.",
         "模型目录或仓库中的 .gguf 文件名；加载时会反量化。"))
    trust_remote_code: bool = opt(
        False, "model", ("Trust remote code", "信任远程代码"),
        ("Runs Python code shipped with the model (needed by some GLM-4 checkpoints). Only tick it "
         "for models whose authors you trust: the code runs with your user's rights.",
         "会执行模型仓库自带的 Python 代码（部分 GLM-4 权重需要）。仅对可信来源开启：这些代码以你的用户权限运行。"))
    dataset: str = opt(
        "", "model", ("Dataset", "数据集"),
        ("A json/jsonl/csv/tsv/parquet/txt file, a folder (of data files, of train/valid/test files, or with "
         "dataset_info.json; 'folder:name' picks one entry of it), or a Hugging Face / ModelScope dataset id. "
         "Several, separated by commas, are trained together (see Dataset shares).",
         "json/jsonl/csv/tsv/parquet/txt 文件、目录（数据文件、train/valid/test 文件，或含 dataset_info.json；'目录:名称' 指定其中一项），"
         "或 Hugging Face / ModelScope 数据集 ID。用逗号分隔多个数据集可一起训练（见“数据集比例”）。"))
    mix: str = opt(
        "", "model", ("Dataset shares", "数据集比例"),
        ("With several datasets (comma-separated above): each one's share of the training rows, e.g. 0.7, 0.3. "
         "The mix has as many rows as the datasets together; a dataset asked for more rows than it has is "
         "repeated. Empty = every dataset in full.",
         "填写多个数据集（上方用逗号分隔）时，各自占训练数据的比例，如 0.7, 0.3。混合后的行数等于各数据集行数之和；"
         "比例要求的行数多于其实际行数时会重复使用。留空表示每个数据集全部使用。"))
    mix_strategy: str = knobs.MIX_STRATEGY
    dataset_format: str = opt(
        "auto", "model", ("Dataset format", "数据格式"),
        ("auto detects it from the columns; the Dataset Explorer shows what was detected and why.",
         "auto 会根据字段自动识别；数据集浏览页会显示识别结果及依据。"),
        choices=("auto", "alpaca", "sharegpt", "openai", "pairwise", "kto", "text"))
    val_size: float = opt(
        0.0, "model", ("Validation split", "验证集比例"),
        ("Fraction (<1) or number of rows (>=1) held out for evaluation; 0 = none.",
         "留作验证的比例（<1）或条数（>=1）；0 表示不划分。"), minimum=0)
    max_samples: int = opt(
        0, "model", ("Max samples", "最大样本数"),
        ("Use only the first N rows (0 = all). Handy for a quick trial.",
         "只使用前 N 条（0 表示全部），便于快速试跑。"), minimum=0)
    # --- method --------------------------------------------------------------------------------
    method: str = opt(
        "sft", "method", ("Stage", "训练阶段"),
        ("sft: supervised chat fine-tuning; dpo: preference pairs (chosen/rejected); kto: answers labelled "
         "desirable or not; orpo and simpo: preference pairs without a reference model (less memory; ORPO "
         "also learns the chosen answers); grpo: reinforcement learning from reward functions on prompts; "
         "pt: continued pre-training on text.",
         "sft：监督微调；dpo：偏好对（chosen/rejected）；kto：标注为好/不好的回答；orpo 和 simpo：无需参考模型的偏好对训练"
         "（更省内存；ORPO 同时学习 chosen 回答）；grpo：基于奖励函数的强化学习（只需提示词）；pt：在纯文本上继续预训练。"),
        choices=METHODS)
    finetuning_type: str = opt(
        "lora", "method", ("Fine-tuning type", "微调方式"),
        ("lora trains small adapters; qlora does so on a 4/8-bit base (least memory); full updates "
         "every weight (most memory); freeze fully trains a few layers and leaves the rest as they are.",
         "lora 只训练小型适配器；qlora 在 4/8 bit 量化的底座上训练（最省显存）；full 更新全部权重（最耗显存）；"
         "freeze 只完整训练少数几层，其余保持不变。"),
        choices=FINETUNING_TYPES)
    freeze_trainable_layers: int = opt(
        2, "method", ("Layers trained (freeze)", "训练的层数（freeze）"),
        ("The last N decoder layers are trained; a negative number trains the first N instead.",
         "训练最后 N 个解码层；负数表示训练最前面的 N 层。"), minimum=-1024, maximum=1024, types=("freeze",))
    freeze_trainable_modules: str = opt(
        "all", "method", ("Modules trained (freeze)", "训练的模块（freeze）"),
        ("all, or comma-separated parts of those layers such as mlp,self_attn (names inside a decoder layer).",
         "all，或用逗号分隔的层内模块名，如 mlp,self_attn。"), types=("freeze",))
    quantization_bit: int = opt(
        4, "quant", ("Quantization bits", "量化位数"),
        ("QLoRA base precision: 4 (NF4, double quantization) or 8.",
         "QLoRA 底座精度：4（NF4，双重量化）或 8。"), choices=(4, 8), types=("qlora",))
    # --- preference methods (DPO, KTO) ------------------------------------------------------------
    dpo_beta: float = opt(
        0.1, "preference", ("DPO beta", "DPO beta"),
        ("How far the policy may drift from the reference model: lower lets it move further.",
         "策略偏离参考模型的程度：越小允许偏离越多。"), minimum=0, exclusive_min=True, methods=("dpo",))
    dpo_loss: str = opt(
        "sigmoid", "preference", ("DPO loss", "DPO 损失"),
        ("sigmoid: the DPO paper's loss; ipo: a squared loss that does not push the margin without bound "
         "(beta is its regulariser); hinge: the SLiC loss; robust: assumes 10% of the labels are flipped "
         "(noisy preference data).",
         "sigmoid：DPO 论文的原始损失；ipo：平方损失，不会无限拉大差距（beta 为正则项）；hinge：SLiC 损失；"
         "robust：假设 10% 的偏好标注是反的（适合有噪声的数据）。"),
        choices=("sigmoid", "ipo", "hinge", "robust"), methods=("dpo",))
    pref_ftx: float = opt(
        0.0, "preference", ("SFT loss weight (pref_ftx)", "SFT 损失权重（pref_ftx）"),
        ("Adds the chosen answers' supervised loss, times this weight, to the preference loss: keeps the model "
         "writing its chosen answers while it learns to prefer them; 0 = off.",
         "把 chosen 回答的监督损失乘以该权重加进偏好损失：学习偏好的同时保持会写出 chosen 回答；0 表示关闭。"),
        minimum=0, maximum=10, methods=("dpo",))
    orpo_beta: float = opt(
        0.1, "preference", ("ORPO lambda", "ORPO lambda"),
        ("Weight of the odds-ratio preference term beside the chosen answers' supervised loss.",
         "优势比偏好项相对于 chosen 回答监督损失的权重。"), minimum=0, exclusive_min=True, maximum=10,
        methods=("orpo",))
    simpo_beta: float = opt(
        2.0, "preference", ("SimPO beta", "SimPO beta"),
        ("Scale of the length-normalised reward difference (the SimPO paper uses 2–2.5).",
         "按长度归一化的奖励差的缩放系数（SimPO 论文用 2–2.5）。"), minimum=0, exclusive_min=True, maximum=100,
        methods=("simpo",))
    simpo_gamma: float = opt(
        0.5, "preference", ("SimPO margin ratio (gamma / beta)", "SimPO 间隔比（gamma / beta）"),
        ("The target margin between chosen and rejected rewards, as a share of beta.",
         "chosen 与 rejected 奖励之间的目标间隔，以 beta 的比例表示。"), minimum=0, maximum=10, methods=("simpo",))
    kto_beta: float = opt(
        0.1, "preference", ("KTO beta", "KTO beta"),
        ("How far the policy may drift from the reference model.", "策略偏离参考模型的程度。"),
        minimum=0, exclusive_min=True, methods=("kto",))
    kto_desirable_weight: float = opt(
        1.0, "preference", ("Desirable weight", "好回答权重"),
        ("Loss weight of answers labelled desirable. With unbalanced data, keep weight × count about equal "
         "on both sides.", "标注为好的回答的损失权重。数据不平衡时，让两边的 权重×条数 大致相等。"),
        minimum=0, exclusive_min=True, maximum=100, methods=("kto",))
    kto_undesirable_weight: float = opt(
        1.0, "preference", ("Undesirable weight", "坏回答权重"),
        ("Loss weight of answers labelled undesirable.", "标注为不好的回答的损失权重。"),
        minimum=0, exclusive_min=True, maximum=100, methods=("kto",))
    # --- GRPO ----------------------------------------------------------------------------------
    reward_functions: str = opt(
        "answer_match:1", "rl", ("Reward functions", "奖励函数"),
        ("Comma-separated name:weight. answer_match (the completion's answer equals the row's reference; "
         "maths compared by value), format (matches the pattern below), length (near the target length), "
         "contains / avoid (the words below), python (your reward_file).",
         "逗号分隔的 名称:权重。answer_match（回答与该行参考答案一致，数学按数值比较）、format（符合下方正则）、"
         "length（接近目标长度）、contains / avoid（包含 / 避开下方词语）、python（你的 reward_file）。"),
        methods=("grpo",))
    grpo_num_generations: int = opt(
        4, "rl", ("Completions per prompt", "每个提示的生成数"),
        ("The group whose rewards are compared with each other; the batch size must be a multiple of it.",
         "组内互相比较奖励的回答数；批大小须为它的整数倍。"), minimum=2, maximum=64, methods=("grpo",))
    grpo_max_completion_length: int = opt(
        128, "rl", ("Max completion length", "最大生成长度"),
        ("Tokens generated per completion.", "每个回答最多生成的 token 数。"), minimum=4, maximum=32768,
        methods=("grpo",))
    grpo_temperature: float = opt(
        1.0, "rl", ("Sampling temperature", "采样温度"),
        ("Higher gives more varied completions, which GRPO needs to tell better from worse.",
         "越高回答越多样，GRPO 需要差异才能区分好坏。"), minimum=0, exclusive_min=True, maximum=2,
        methods=("grpo",))
    grpo_beta: float = opt(
        0.04, "rl", ("KL coefficient (beta)", "KL 系数（beta）"),
        ("Penalty for drifting from the starting model; 0 = none (faster: no reference pass).",
         "偏离初始模型的惩罚；0 表示不惩罚（更快：无需参考模型前向）。"), minimum=0, maximum=10,
        methods=("grpo",))
    reward_answer_mode: str = opt(
        "auto", "rl", ("Answer comparison", "答案比较方式"),
        ("auto: by value when the reference is a number or formula, else normalised text; exact; normalized "
         "(case, punctuation, spaces ignored); math (0.5 = 1/2 = \\frac{1}{2}).",
         "auto：参考答案是数字或公式时按数值比较，否则按规范化文本；exact 完全一致；normalized 忽略大小写、标点和空格；"
         "math 数学等价（0.5 = 1/2 = \\frac{1}{2}）。"),
        choices=("auto", "exact", "normalized", "math"), methods=("grpo",))
    reward_format_pattern: str = opt(
        r"^\s*<think>[\s\S]*?</think>\s*\S[\s\S]*$", "rl", ("Format pattern", "格式正则"),
        ("Regular expression the format reward looks for (default: <think>…</think> then an answer).",
         "format 奖励要匹配的正则表达式（默认：<think>…</think> 之后给出答案）。"), methods=("grpo",))
    reward_target_length: int = opt(
        50, "rl", ("Target length (words)", "目标长度（词）"),
        ("The length reward is 1 at this many words (a CJK character counts as one), 0.5 at half or twice as "
         "many, 0 for none.", "length 奖励在该词数时为 1（一个汉字算一个词），一半或两倍时为 0.5，没有内容时为 0。"), minimum=1,
        maximum=100000, methods=("grpo",))
    reward_contain_words: str = opt(
        "", "rl", ("Words to include", "应包含的词"),
        ("Comma-separated; the contains reward is the share of them present.", "逗号分隔；contains 奖励为出现的比例。"),
        methods=("grpo",))
    reward_avoid_words: str = opt(
        "", "rl", ("Words to avoid", "应避开的词"),
        ("Comma-separated; the avoid reward drops for each one present.", "逗号分隔；每出现一个，avoid 奖励就降低。"),
        methods=("grpo",))
    reward_file: str = opt(
        "", "rl", ("Reward file (Python)", "奖励函数文件（Python）"),
        ("Your .py file whose functions named reward_* score completions; used only when reward_functions "
         "lists python, and refused in a shared or password-protected app unless it was started with "
         "--allow-code.", "你的 .py 文件，其中以 reward_ 开头的函数为回答打分；仅当奖励函数包含 python 时使用；"
         "共享或设了密码的应用会拒绝，除非启动时加了 --allow-code。"), methods=("grpo",))
    sample_log_steps: int = opt(
        5, "rl", ("Show samples every N steps", "每 N 步展示样例"),
        ("Write a few sampled completions with their rewards to the run's log; 0 = never.",
         "把几条生成结果及其奖励写进运行日志；0 表示不写。"), minimum=0, methods=("grpo",))
    # --- core hyper-parameters ------------------------------------------------------------------
    num_train_epochs: float = opt(
        3.0, "train", ("Epochs", "训练轮数"), ("Passes over the data.", "遍历数据的次数。"), minimum=0,
        exclusive_min=True)
    max_steps: int = opt(
        -1, "train", ("Max steps", "最大步数"),
        ("Stop after this many optimizer steps; -1 = use epochs.", "训练到该步数即停止；-1 表示按轮数。"),
        minimum=-1)
    per_device_train_batch_size: int = opt(
        2, "train", ("Batch size", "批大小"), ("Samples per step on each device.", "每个设备每步的样本数。"),
        minimum=1, maximum=1024)
    gradient_accumulation_steps: int = opt(
        4, "train", ("Gradient accumulation", "梯度累积"),
        ("Micro-batches summed per optimizer step: a bigger effective batch at no extra memory.",
         "每次参数更新累积的批次数：不增加显存即可增大有效批大小。"), minimum=1, maximum=1024)
    learning_rate: float = opt(
        2e-4, "train", ("Learning rate", "学习率"),
        ("Peak learning rate. LoRA: 1e-4–3e-4; full: 1e-5–5e-5; DPO: 5e-6–5e-5.",
         "峰值学习率。LoRA：1e-4–3e-4；全参：1e-5–5e-5；DPO：5e-6–5e-5。"), minimum=0, exclusive_min=True,
        maximum=1.0)
    lr_scheduler_type: str = opt(
        "cosine", "train", ("LR schedule", "学习率调度"), ("How the rate decays.", "学习率衰减方式。"),
        choices=("cosine", "linear", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial"))
    warmup_ratio: float = opt(
        0.03, "train", ("Warm-up ratio", "预热比例"), ("Share of steps spent ramping up.", "学习率预热所占步数比例。"),
        minimum=0, maximum=1)
    max_seq_length: int = opt(
        1024, "train", ("Max sequence length", "最大序列长度"),
        ("Longer samples are truncated (and counted in the data report).", "超长样本会被截断（并计入数据报告）。"),
        minimum=16, maximum=131072)
    rope_scaling: str = knobs.ROPE_SCALING
    rope_factor: float = knobs.ROPE_FACTOR
    packing: bool = opt(
        False, "train", ("Packing", "序列打包"),
        ("Pack several short samples into one sequence (kept apart by attention); faster on short data.",
         "把多个短样本拼成一条序列（注意力互不干扰），短数据训练更快。"), methods=("sft", "pt"))
    neftune_noise_alpha: float = opt(
        0.0, "train", ("NEFTune noise", "NEFTune 噪声"),
        ("Adds uniform noise of this scale (5 is usual) to the input embeddings while training, never when "
         "evaluating or chatting: often better instruction following on small datasets; 0 = off.",
         "训练时给输入词向量加上该强度的均匀噪声（常用 5），评估和对话时不加：小数据集上常能改善指令遵循；0 表示关闭。"),
        minimum=0, maximum=100, methods=("sft", "pt"))
    mask_history: bool = opt(
        False, "train", ("Train the last turn only", "只训练最后一轮"),
        ("In multi-turn conversations only the last assistant answer carries loss; earlier answers are context, "
         "as the prompt is. The Dataset Explorer's preview shows the same masking.",
         "多轮对话中只有最后一轮助手回答计算损失，之前的回答和提示词一样只作为上下文。数据集浏览页的预览显示相同的遮盖。"),
        methods=("sft",))
    train_on_prompt: bool = opt(
        False, "train", ("Train on prompt", "训练提示词"),
        ("Also compute loss on system/user tokens (normally only the assistant's answers count).",
         "同时在 system/user 部分计算损失（默认只训练助手回复）。"), methods=("sft",))
    # --- LoRA ----------------------------------------------------------------------------------
    lora_r: int = opt(8, "lora", ("LoRA rank", "LoRA 秩"), ("Adapter rank r.", "适配器秩 r。"), minimum=1,
                      maximum=1024, types=ADAPTERS)
    lora_alpha: int = opt(16, "lora", ("LoRA alpha", "LoRA alpha"),
                          ("Scale = alpha / r (alpha / √r with rsLoRA).", "缩放系数 = alpha / r（rsLoRA 为 alpha / √r）。"),
                          minimum=1, maximum=4096, types=ADAPTERS)
    lora_dropout: float = opt(0.05, "lora", ("LoRA dropout", "LoRA dropout"), ("Dropout on the adapter input.",
                              "适配器输入的 dropout。"), minimum=0, maximum=0.9, types=ADAPTERS)
    lora_target: str = opt(
        "all-linear", "lora", ("LoRA target modules", "LoRA 目标模块"),
        ("all-linear, or comma-separated module names such as q_proj,v_proj.",
         "all-linear，或用逗号分隔的模块名，如 q_proj,v_proj。"), types=ADAPTERS)
    adapter_name_or_path: str = opt(
        "", "lora", ("Continue from an adapter", "从已有适配器继续"),
        ("run:<run id> (its final adapter), run:<run id>@checkpoint-N, or a folder with adapter_config.json: "
         "this run trains that adapter further on its own data (its rank, alpha and targets stay the "
         "adapter's). Empty = a new adapter.",
         "run:<运行 ID>（其最终适配器）、run:<运行 ID>@checkpoint-N，或含 adapter_config.json 的目录："
         "本次运行在自己的数据上继续训练该适配器（秩、alpha 和目标模块沿用该适配器的）。留空表示新建适配器。"),
        types=ADAPTERS)
    lora_init: str = knobs.LORA_INIT
    create_new_adapter: bool = knobs.CREATE_NEW_ADAPTER
    use_dora: bool = opt(
        False, "lora", ("DoRA", "DoRA"),
        ("Weight-decomposed LoRA: learns each weight's magnitude apart from its direction. Often closer to full "
         "fine-tuning at a low rank; steps are slower and take a little more memory.",
         "权重分解的 LoRA：把每个权重的幅度与方向分开学习。低秩下常更接近全参微调；每步更慢、略多占内存。"),
        types=ADAPTERS)
    use_rslora: bool = opt(
        False, "lora", ("rsLoRA", "rsLoRA"),
        ("Rank-stabilised scaling, alpha / √r instead of alpha / r: higher ranks keep learning instead of "
         "being scaled down.", "秩稳定的缩放 alpha / √r（而非 alpha / r）：秩较高时仍能有效学习，不会被缩小。"),
        types=ADAPTERS)
    loraplus_lr_ratio: float = opt(
        0.0, "lora", ("LoRA+ learning-rate ratio", "LoRA+ 学习率倍数"),
        ("LoRA+: the B matrices learn this many times faster than the A matrices (16 is usual); often faster "
         "convergence at the same cost. 0 = off.",
         "LoRA+：B 矩阵的学习率是 A 矩阵的这么多倍（常用 16）；相同开销下往往收敛更快。0 表示关闭。"),
        minimum=0, maximum=1000, types=ADAPTERS)
    lora_modules_to_save: str = opt(
        "", "lora", ("Modules trained fully", "完整训练的模块"),
        ("Comma-separated modules trained in full beside the adapter and saved with it, e.g. "
         "embed_tokens,lm_head after adding tokens. Empty = none.",
         "逗号分隔，除适配器外完整训练并一起保存的模块，如添加新 token 后的 embed_tokens,lm_head。留空表示无。"),
        types=ADAPTERS)
    # --- advanced ------------------------------------------------------------------------------
    weight_decay: float = opt(0.0, "advanced", ("Weight decay", "权重衰减"), ("AdamW weight decay.", "AdamW 权重衰减。"),
                              minimum=0, maximum=1)
    max_grad_norm: float = opt(1.0, "advanced", ("Max grad norm", "梯度裁剪"),
                               ("Gradient clipping threshold; 0 = off.", "梯度裁剪阈值；0 表示关闭。"), minimum=0)
    logging_steps: int = opt(1, "advanced", ("Logging steps", "日志间隔"), ("Log every N steps.", "每 N 步记录一次。"),
                             minimum=1)
    save_steps: int = opt(100, "advanced", ("Save steps", "保存间隔"), ("Checkpoint every N steps.", "每 N 步保存检查点。"),
                          minimum=1)
    eval_steps: int = opt(0, "advanced", ("Eval steps", "评估间隔"),
                          ("Evaluate every N steps (needs a validation split); 0 = at save time.",
                           "每 N 步评估一次（需要验证集）；0 表示与保存同步。"), minimum=0)
    early_stopping_patience: int = opt(
        0, "advanced", ("Early stopping patience", "早停耐心值"),
        ("Stop when the validation loss has not improved for this many evaluations (needs a validation split); "
         "0 = off.", "验证损失连续这么多次评估没有改善就停止训练（需要验证集）；0 表示关闭。"), minimum=0)
    early_stopping_threshold: float = opt(
        0.0, "advanced", ("Early stopping min. improvement", "早停最小改善"),
        ("How much lower the validation loss must be to count as an improvement.", "验证损失至少降低多少才算改善。"),
        minimum=0)
    keep_best: bool = opt(
        False, "advanced", ("Keep the best checkpoint as final", "以最佳检查点作为最终模型"),
        ("The final model is the checkpoint with the lowest validation loss, not the last one (evaluates at "
         "every save).", "最终模型取验证损失最低的检查点，而非最后一个（每次保存时评估）。"))
    compare_after_training: bool = opt(
        True, "advanced", ("Comparison report after training", "训练后生成对比报告"),
        ("When the run has a validation or test split, base and tuned model answer it (and TuneDesk's general "
         "questions) after training; the report is saved as comparison.json in the run.",
         "运行有验证集或测试集时，训练结束后让基座模型和微调模型分别作答（并回答 TuneDesk 的通用问题），"
         "报告保存为运行目录中的 comparison.json。"))
    replay_ratio: float = opt(
        0.0, "train", ("Keep general behaviour (replay)", "保持通用能力（回放）"),
        ("Mix in answers the base model itself gives to TuneDesk's built-in general prompts (generated once "
         "before training, no external data), this many per training sample; 0 = off. Counters forgetting.",
         "混入基座模型自己对 TuneDesk 内置通用提示的回答（训练前生成一次，无需外部数据），每条训练样本配这么多条；"
         "0 表示关闭。用于减轻遗忘。"), minimum=0, maximum=10, methods=("sft",))
    save_total_limit: int = opt(2, "advanced", ("Checkpoints kept", "保留检查点数"),
                                ("Older checkpoints are deleted; 0 = keep all.", "更早的检查点会被删除；0 表示全部保留。"),
                                minimum=0)
    gradient_checkpointing: bool = opt(
        False, "advanced", ("Gradient checkpointing", "梯度检查点"),
        ("Recompute activations in the backward pass: much less memory, ~30% slower.",
         "反向传播时重算激活：显著省显存，约慢 30%。"))
    trained_logits_only: bool = opt(
        True, "advanced", ("Output layer only where trained", "仅在训练位置计算输出层"),
        ("SFT: project onto the vocabulary only at the tokens the loss uses (not prompt or padding). Same "
         "loss and gradients; faster and smaller on small models with large vocabularies.",
         "SFT：只在损失用到的 token 上投影到词表（跳过提示词和填充）。损失与梯度不变；"
         "对词表大的小模型更快、更省内存。"), methods=("sft", "pt"))
    optim: str = knobs.OPTIM
    attn_implementation: str = gpu.ATTN_IMPLEMENTATION
    use_liger_kernel: bool = gpu.USE_LIGER_KERNEL
    activation_offload: bool = gpu.ACTIVATION_OFFLOAD
    torch_compile: bool = gpu.TORCH_COMPILE
    distributed: str = gpu.DISTRIBUTED_MODE
    deepspeed_stage: int = gpu.DEEPSPEED_STAGE
    offload: str = gpu.OFFLOAD
    precision: str = opt(
        "auto", "advanced", ("Precision", "精度"),
        ("auto: bf16 on GPUs that support it, fp16 on older GPUs; on a CPU, bf16 only where it measures "
         "faster than fp32.", "auto：支持的 GPU 用 bf16，老 GPU 用 fp16；CPU 上只有 bf16 实测更快时才用。"),
        choices=("auto", "bf16", "fp16", "fp32"))
    seed: int = opt(42, "advanced", ("Seed", "随机种子"), ("Makes runs repeatable.", "使训练可复现。"), minimum=0)
    output_dir: str = opt("outputs", "advanced", ("Outputs folder", "输出目录"),
                          ("Runs are saved in <outputs>/runs/<run id>/.", "训练结果保存在 <输出目录>/runs/<运行 ID>/。"))
    run_name: str = opt("", "advanced", ("Run name", "运行名称"), ("Optional; part of the run id.", "可选；会成为运行 ID 的一部分。"))
    report_to: str = opt(
        "tensorboard", "advanced", ("Report to", "实验跟踪"),
        ("Experiment trackers that also receive the metrics: any of tensorboard (the default), swanlab, mlflow, "
         "wandb (comma-separated), or none. They write beside the run and work offline: TensorBoard in <run>/tb "
         "(tensorboard --logdir outputs/runs), SwanLab in local mode, MLflow in outputs/mlruns, W&B offline.",
         "同时接收训练指标的实验跟踪工具：tensorboard（默认）、swanlab、mlflow、wandb 中的任意几个（逗号分隔），"
         "或 none。均写在运行目录旁、可离线使用：TensorBoard 写入 <运行目录>/tb（tensorboard --logdir outputs/runs），"
         "SwanLab 为本地模式，MLflow 写入 outputs/mlruns，W&B 为离线模式。"))
    cuda_visible_devices: str = opt(
        "", "advanced", ("GPUs", "使用的 GPU"),
        ("Comma-separated GPU indices, e.g. 0 or 0,1; empty = all.", "逗号分隔的 GPU 编号，如 0 或 0,1；留空表示全部。"))
    nproc_per_node: int = opt(
        1, "advanced", ("Processes per machine", "每台机器的进程数"),
        ("Training processes on this machine, one per GPU. Above 1 the run is launched with torchrun (DDP): "
         "the batch size is per process.",
         "本机训练进程数，每块 GPU 一个。大于 1 时用 torchrun 启动（DDP），批大小按每个进程计。"),
        minimum=1, maximum=64)
    nnodes: int = opt(
        1, "advanced", ("Machines", "机器数"),
        ("Machines taking part. Above 1, this machine is node 0; the run's log and the command preview give "
         "the torchrun command to start on each other machine.",
         "参与训练的机器数。大于 1 时本机为 0 号节点；运行日志和命令预览给出其他每台机器要执行的 torchrun 命令。"),
        minimum=1, maximum=1024)
    master_addr: str = opt(
        "127.0.0.1", "advanced", ("Node 0 address", "0 号节点地址"),
        ("Address of this machine (node 0) as the other machines reach it; 127.0.0.1 for one machine.",
         "其他机器访问本机（0 号节点）所用的地址；单机为 127.0.0.1。"))
    master_port: int = opt(
        0, "advanced", ("Node 0 port", "0 号节点端口"),
        ("Port on node 0 for the processes to meet; 0 picks a free one (one machine only).",
         "各进程在 0 号节点汇合的端口；0 表示自动选空闲端口（仅限单机）。"), minimum=0, maximum=65535)
