"""Models on disk: the Hugging Face and ModelScope caches, TuneDesk's converted-GGUF cache, registered
local folders and GGUF files, and the bundled SmolLM2."""
