"""The rules across fields of a training run, which no single field's range can express. Each broken
rule is one line naming the field and the fix; the config is refused with all of them at once."""

from __future__ import annotations

from engine.config.datasets import dataset_parts, mix_weights
from engine.config.field_info import ADAPTERS, REFERENCED
from engine.config.fields import TrainFields
from engine.config.optimizers import optimizer_errors
from engine.config.trackers import tracker_errors
from engine.errors import ConfigError
from engine.rewards.spec import check_spec


def cross_field_errors(config: TrainFields) -> list[str]:
    errors: list[str] = []
    if config.method in REFERENCED and config.finetuning_type in ("full", "freeze"):
        errors.append(f"method: {config.method} with finetuning_type {config.finetuning_type} needs a second full "
                      f"model copy as reference; use lora or qlora for {config.method.upper()}, or orpo / simpo, "
                      "which need no reference")
    if config.finetuning_type == "freeze" and config.freeze_trainable_layers == 0:
        errors.append("freeze_trainable_layers: 0 would train nothing; give the last N layers (e.g. 2) or the "
                      "first N as a negative number")
    if config.finetuning_type == "freeze" and not config.freeze_trainable_modules.strip():
        errors.append("freeze_trainable_modules: empty; use all or names such as mlp,self_attn")
    if config.method == "kto" and config.per_device_train_batch_size < 2:
        errors.append("per_device_train_batch_size: KTO estimates its KL term from the other answers in a batch, "
                      "so it needs a batch of at least 2")
    if config.method == "grpo":
        errors += check_spec(config)
        if config.per_device_train_batch_size % config.grpo_num_generations:
            errors.append(f"per_device_train_batch_size ({config.per_device_train_batch_size}) counts completions "
                          f"in GRPO and must be a multiple of grpo_num_generations "
                          f"({config.grpo_num_generations}), e.g. {config.grpo_num_generations * 2}")
    if config.mix.strip():
        try:
            mix_weights(config.mix, len(dataset_parts(config.dataset)))
        except ConfigError as exc:
            errors.append(str(exc))
    errors += tracker_errors(config.report_to)
    errors += optimizer_errors(config.optim, config.finetuning_type)
    if config.finetuning_type in ADAPTERS and config.lora_init == "loftq" and not (config.finetuning_type == "qlora" and
                                                                  config.quantization_bit == 4):
        errors.append("lora_init: loftq fits an adapter to a 4-bit quantized base; use it with finetuning_type "
                      "qlora and quantization_bit 4, or pissa / olora with lora")
    if config.finetuning_type == "qlora" and config.lora_init in ("pissa", "olora"):
        errors.append(f"lora_init: {config.lora_init} rewrites the base weights, which QLoRA keeps quantized; use "
                      "loftq with qlora, or finetuning_type lora")
    if config.create_new_adapter and config.finetuning_type in ADAPTERS and not config.adapter_name_or_path.strip():
        errors.append("create_new_adapter: stacks a new adapter on the one in adapter_name_or_path, which is empty; "
                      "name a run (run:<id>) or an adapter folder there, or untick it")
    if config.create_new_adapter and config.finetuning_type == "qlora":
        errors.append("create_new_adapter: merging the adapter below into a 4-bit base would round it away; use "
                      "finetuning_type lora, or continue the adapter itself")
    if config.max_steps == 0:
        errors.append("max_steps: 0 would train nothing; use -1 to train by epochs or a positive count")
    if config.lora_target.strip() == "":
        errors.append("lora_target: empty; use all-linear or names such as q_proj,v_proj")
    if config.nnodes > 1 and not config.master_port:
        errors.append("master_port: set a fixed port when nnodes > 1; every machine must know it in advance")
    if config.nnodes > 1 and config.master_addr in ("127.0.0.1", "localhost", "::1"):
        errors.append(f"master_addr: {config.master_addr} cannot be reached from other machines; give this "
                      "machine's address on their network")
    if config.distributed != "ddp" and config.finetuning_type == "qlora":
        errors.append(f"distributed: {config.distributed} shards the weights, which QLoRA keeps quantized; train "
                      "QLoRA with ddp (every GPU holds the 4-bit base)")
    if config.distributed == "deepspeed" and config.offload == "optimizer+params" and config.deepspeed_stage != 3:
        errors.append("offload: optimizer+params needs deepspeed_stage 3 (at stage 2 every GPU keeps every weight)")
    if (config.nproc_per_node > 1 or config.nnodes > 1) and config.method == "grpo":
        errors.append("nproc_per_node / nnodes: GRPO runs in one process in TuneDesk; set both to 1")
    if config.cuda_visible_devices and not all(p.strip().isdigit() for p in config.cuda_visible_devices.split(",")):
        errors.append(f"cuda_visible_devices: {config.cuda_visible_devices!r} is not a list of GPU numbers like 0,1")
    if (config.keep_best or config.early_stopping_patience) and config.eval_steps and \
            config.save_steps % config.eval_steps:
        errors.append(f"keep_best / early stopping compare checkpoints by validation loss: save_steps "
                      f"({config.save_steps}) must be a multiple of eval_steps ({config.eval_steps})")
    return errors
