"""The curated models TuneDesk suggests: their shapes (from each model's published config.json),
context, licence and hub ids, so memory can be estimated before anything is downloaded."""

from __future__ import annotations

from dataclasses import dataclass

from engine.sizing.shape import ModelShape


@dataclass(frozen=True)
class CatalogModel:
    name: str
    hf_id: str
    ms_id: str
    licence: str
    shape: ModelShape


def _m(name: str, hf: str, ms: str, licence: str, layers: int, hidden: int, inter: int, heads: int, kv: int,
       vocab: int, tied: bool, context: int, head_dim: int = 0) -> CatalogModel:
    shape = ModelShape(layers, hidden, inter, heads, kv, vocab, head_dim, tied, context,
                       qk_norm=name.startswith("Qwen3"))
    return CatalogModel(name, hf, ms, licence, shape)


CATALOG: tuple[CatalogModel, ...] = (
    _m("SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct",
       "Apache-2.0", 30, 576, 1536, 9, 3, 49152, True, 8192),
    _m("SmolLM2-360M-Instruct", "HuggingFaceTB/SmolLM2-360M-Instruct", "HuggingFaceTB/SmolLM2-360M-Instruct",
       "Apache-2.0", 32, 960, 2560, 15, 5, 49152, True, 8192),
    _m("SmolLM2-1.7B-Instruct", "HuggingFaceTB/SmolLM2-1.7B-Instruct", "HuggingFaceTB/SmolLM2-1.7B-Instruct",
       "Apache-2.0", 24, 2048, 8192, 32, 32, 49152, True, 8192),
    _m("Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-0.5B-Instruct", "Apache-2.0",
       24, 896, 4864, 14, 2, 151936, True, 32768),
    _m("Qwen2.5-1.5B-Instruct", "Qwen/Qwen2.5-1.5B-Instruct", "Qwen/Qwen2.5-1.5B-Instruct", "Apache-2.0",
       28, 1536, 8960, 12, 2, 151936, True, 32768),
    _m("Qwen2.5-3B-Instruct", "Qwen/Qwen2.5-3B-Instruct", "Qwen/Qwen2.5-3B-Instruct", "Qwen Research",
       36, 2048, 11008, 16, 2, 151936, True, 32768),
    _m("Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct", "Apache-2.0",
       28, 3584, 18944, 28, 4, 152064, False, 32768),
    _m("Qwen2.5-14B-Instruct", "Qwen/Qwen2.5-14B-Instruct", "Qwen/Qwen2.5-14B-Instruct", "Apache-2.0",
       48, 5120, 13824, 40, 8, 152064, False, 32768),
    _m("Qwen3-0.6B", "Qwen/Qwen3-0.6B", "Qwen/Qwen3-0.6B", "Apache-2.0", 28, 1024, 3072, 16, 8, 151936, True, 40960,
       128),
    _m("Qwen3-1.7B", "Qwen/Qwen3-1.7B", "Qwen/Qwen3-1.7B", "Apache-2.0", 28, 2048, 6144, 16, 8, 151936, True, 40960,
       128),
    _m("Qwen3-4B", "Qwen/Qwen3-4B", "Qwen/Qwen3-4B", "Apache-2.0", 36, 2560, 9728, 32, 8, 151936, True, 40960, 128),
    _m("Qwen3-8B", "Qwen/Qwen3-8B", "Qwen/Qwen3-8B", "Apache-2.0", 36, 4096, 12288, 32, 8, 151936, False, 40960,
       128),
    _m("Qwen3-14B", "Qwen/Qwen3-14B", "Qwen/Qwen3-14B", "Apache-2.0", 40, 5120, 17408, 40, 8, 151936, False, 40960,
       128),
    _m("Llama-3.2-1B-Instruct", "meta-llama/Llama-3.2-1B-Instruct", "LLM-Research/Llama-3.2-1B-Instruct",
       "Llama 3.2 Community", 16, 2048, 8192, 32, 8, 128256, True, 131072, 64),
    _m("Llama-3.2-3B-Instruct", "meta-llama/Llama-3.2-3B-Instruct", "LLM-Research/Llama-3.2-3B-Instruct",
       "Llama 3.2 Community", 28, 3072, 8192, 24, 8, 128256, True, 131072, 128),
    _m("Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct", "LLM-Research/Meta-Llama-3.1-8B-Instruct",
       "Llama 3.1 Community", 32, 4096, 14336, 32, 8, 128256, False, 131072),
    _m("GLM-4-9B-Chat", "THUDM/glm-4-9b-chat-hf", "ZhipuAI/glm-4-9b-chat-hf", "GLM-4", 40, 4096, 13696, 32, 2,
       151552, False, 131072),
    _m("ChatGLM3-6B", "THUDM/chatglm3-6b", "ZhipuAI/chatglm3-6b", "ChatGLM3", 28, 4096, 13696, 32, 2, 65024, False,
       8192),
    _m("DeepSeek-R1-Distill-Qwen-1.5B", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
       "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "MIT", 28, 1536, 8960, 12, 2, 151936, False, 131072),
    _m("DeepSeek-R1-Distill-Qwen-7B", "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
       "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "MIT", 28, 3584, 18944, 28, 4, 152064, False, 131072),
)


def find(name_or_id: str) -> CatalogModel | None:
    key = name_or_id.strip().lower()
    return next((m for m in CATALOG if key in (m.name.lower(), m.hf_id.lower(), m.ms_id.lower())), None)
