"""Models in training: what a name points to (local folder, hub id, GGUF file, the bundled SmolLM2),
GGUF files converted once, the precision this machine trains fastest in, loading with LoRA or QLoRA, and
handing memory back after a run."""
