"""The model server: every deployed adapter of a base model, served from one process
(vLLM with runtime LoRA on a GPU, transformers + PEFT multi-adapter on CPU)."""
