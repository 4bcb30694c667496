"""Why a row of a dataset cannot be used. Field names stay as the file spells them."""

from __future__ import annotations

ROWS: dict[str, tuple[str, str]] = {
    "row.tool_args_json": ("{what}: tool call '{name}' has arguments that are not valid JSON ({detail})",
                           "{what}：工具调用 '{name}' 的参数不是有效的 JSON（{detail}）"),
    "row.tool_no_name": ("{what}: tool call without a name", "{what}：工具调用缺少名称"),
    "row.missing": ("{what} is missing", "缺少 {what}"),
    "row.not_text_or_parts": ("{what} must be text or a list of parts, got {got}",
                              "{what} 应为文本或内容片段列表，实际是 {got}"),
    "row.part_not_object": ("{what}[{n}] must be text or an object, got {got}",
                            "{what}[{n}] 应为文本或对象，实际是 {got}"),
    "row.text_part_empty": ("{what}[{n}] is a text part without text (expected a 'text' or 'value' string)",
                            "{what}[{n}] 是没有文字的文本片段（应有 'text' 或 'value' 字符串）"),
    "row.part_empty": ("{what}[{n}] is a {kind} part without text", "{what}[{n}] 是没有文字的 {kind} 片段"),
    "row.part_unsupported": ("{what}[{n}] is a '{kind}' part: TuneDesk trains on text, reasoning and tool-call "
                             "parts only; drop that part (or the row) for a text model",
                             "{what}[{n}] 是 '{kind}' 片段：TuneDesk 只训练文本、推理和工具调用片段；"
                             "训练文本模型请删掉该片段（或整行）"),
    "row.plain_text_only": ("{what} must be plain text here (reasoning and tool calls belong in chat turns)",
                            "{what} 这里必须是纯文本（推理和工具调用应放在对话轮次中）"),
    "row.tools_json": ("tools is not valid JSON ({detail} at column {column})",
                       "tools 不是有效的 JSON（第 {column} 列：{detail}）"),
    "row.instruction_missing": ("instruction is empty or missing (field '{field}')",
                                "instruction 为空或缺失（字段 '{field}'）"),
    "row.output_missing": ("output is empty or missing (field '{field}')", "output 为空或缺失（字段 '{field}'）"),
    "row.history_not_pairs": ("field 'history' must be a list of [question, answer] pairs",
                              "字段 'history' 必须是 [问题, 回答] 对的列表"),
    "row.history_pair": ("history[{i}] must be a [question, answer] pair of strings",
                         "history[{i}] 必须是由两个字符串组成的 [问题, 回答] 对"),
    "row.turns_json": ("field '{what}' is text that is not a JSON list of turns ({detail})",
                       "字段 '{what}' 是文本，但不是 JSON 格式的对话轮次列表（{detail}）"),
    "row.turns_empty": ("field '{what}' must be a non-empty list of turns", "字段 '{what}' 必须是非空的对话轮次列表"),
    "row.turn_not_object": ("{what}[{i}] must be an object, got {got}", "{what}[{i}] 应为对象，实际是 {got}"),
    "row.turn_no_role": ("{what}[{i}] has no role (expected 'role' or 'from')",
                         "{what}[{i}] 没有角色（应有 'role' 或 'from'）"),
    "row.turn_unknown_role": ("{what}[{i}] has unknown role '{role}'", "{what}[{i}] 的角色 '{role}' 无法识别"),
    "row.loss_weight": ("{what}[{i}] loss_weight must be a number from 0 to 1, got {value}",
                        "{what}[{i}] 的 loss_weight 必须是 0 到 1 之间的数，实际是 {value}"),
    "row.function_call_json": ("{what}: function_call is not valid JSON ({detail} at column {column})",
                               "{what}：function_call 不是有效的 JSON（第 {column} 列：{detail}）"),
    "row.function_call_empty": ("{what}: function_call is an empty list", "{what}：function_call 是空列表"),
    "row.function_call_shape": ("{what}: function_call must be a JSON object with name and arguments",
                                "{what}：function_call 必须是包含 name 和 arguments 的 JSON 对象"),
    "row.system_late": ("turn {i} is a system message after the conversation started; put it first",
                        "第 {i} 轮是对话开始后的系统消息；请把它放在最前面"),
    "row.tool_orphan": ("turn {i} is a tool result that follows no tool call", "第 {i} 轮是工具结果，但前面没有工具调用"),
    "row.no_answer": ("field '{field}': no assistant turn with text: nothing to learn from",
                      "字段 '{field}'：没有带文字的助手回复，无可学习的内容"),
    "row.kto_label": ("field '{field}' must be true or false (is this answer desirable?), got {value}",
                      "字段 '{field}' 必须是 true 或 false（这个回答是否可取？），实际是 {value}"),
    "row.field_empty": ("field '{field}' is empty", "字段 '{field}' 为空"),
    "row.no_prompt": ("no prompt: expected prompt, conversations, messages or instruction",
                      "没有提示词：应有 prompt、conversations、messages 或 instruction"),
    "row.prompt_ends_assistant": ("the prompt ends with an assistant turn; the last turn must be the user's",
                                  "提示词以助手回复结尾；最后一轮必须是用户的"),
    "row.same_answers": ("chosen and rejected are identical: nothing to prefer", "chosen 与 rejected 完全相同：无从偏好"),
    "row.pair_no_answer": ("field '{field}' must end with an assistant turn that has text",
                           "字段 '{field}' 必须以带文字的助手回复结尾"),
    "row.pair_prompts_differ": ("chosen_messages and rejected_messages differ before their last turn: both must "
                                "hold the same prompt, then the preferred or the rejected answer",
                                "chosen_messages 与 rejected_messages 在最后一轮之前不一致：两者应有相同的提示词，"
                                "之后分别是被偏好和被拒绝的回答"),
    "row.pair_prompt_ends": ("the prompt in chosen_messages must end with the user's turn",
                             "chosen_messages 中的提示词必须以用户的一轮结尾"),
    "row.text_missing": ("text is empty or missing (field '{field}')", "文本为空或缺失（字段 '{field}'）"),
    "row.prompt_no_user": ("field '{what}' has no user turn to use as the prompt",
                           "字段 '{what}' 中没有可作为提示词的用户轮次"),
    "row.prompt_missing": ("no prompt: expected a prompt, question or instruction field, or messages / "
                           "conversations with a user turn",
                           "没有提示词：应有 prompt、question 或 instruction 字段，或包含用户轮次的 messages / "
                           "conversations"),
    "row.no_reference": ("no reference answer for the answer_match reward (expected one of the fields {fields}, or "
                         "an assistant turn after the prompt)",
                         "answer_match 奖励缺少参考答案（应有字段 {fields} 之一，或提示词之后的助手回复）"),
    "row.template_rejected": ("the model's chat template rejected this conversation: {detail}",
                              "模型的对话模板无法渲染这段对话：{detail}"),
    "row.template_not_prefix": ("the chat template renders this answer in a way that does not extend its prompt",
                                "对话模板渲染出的回答没有接在提示词之后"),
    "row.not_json_line": ("not valid JSON ({detail} at column {column})", "不是有效的 JSON（第 {column} 列：{detail}）"),
    "row.not_object": ("expected an object, got {got}", "应为对象，实际是 {got}"),
    "row.csv_cells": ("{cells} cells but the header has {width} ({header}); check the quoting of that row",
                      "有 {cells} 个单元格，但表头有 {width} 列（{header}）；请检查该行的引号"),
    "row.not_object_fields": ("expected an object with fields, got {got}", "应为带字段的对象，实际是 {got}"),
    "data.unknown_format": ("cannot tell the dataset format from its fields ({found}). Expected instruction/output "
                            "(alpaca), conversations (sharegpt), messages (openai), chosen/rejected or "
                            "chosen_messages/rejected_messages (pairwise), messages + label (kto) or text; "
                            "set dataset_format or map the columns in the Dataset Explorer.{grpo}",
                            "无法从字段（{found}）判断数据集格式。应为 instruction/output（alpaca）、conversations"
                            "（sharegpt）、messages（openai）、chosen/rejected 或 chosen_messages/rejected_messages"
                            "（偏好对）、messages + label（kto）或 text；请设置 dataset_format，或在数据集浏览器中映射列。{grpo}"),
    "data.grpo_hint": (" Rows of prompts (field '{field}') with or without a reference answer are data for GRPO: "
                       "train them with method grpo.",
                       "只有提示词（字段 '{field}'）、可带参考答案的行是 GRPO 的数据：请用 grpo 方法训练。"),
    "data.media": ("this dataset has {kinds} (field {fields}): TuneDesk trains text models, which would learn from "
                   "the placeholders (such as <image>) alone. Pick a text-only dataset, or remove those fields and "
                   "their placeholders",
                   "此数据集包含{kinds}（字段 {fields}）：TuneDesk 训练的是文本模型，只会学到 <image> 之类的占位符。"
                   "请选择纯文本数据集，或删除这些字段及其占位符"),
    "data.list_sep": (", ", "、"),
    "data.kind_images": ("images", "图像"),
    "data.kind_videos": ("videos", "视频"),
    "data.kind_audios": ("audio", "音频"),
    "data.in_dataset": ("dataset {dataset}: {detail}", "数据集 {dataset}：{detail}"),
}
