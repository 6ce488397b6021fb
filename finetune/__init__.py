"""Fine-tuning: instruction data builders, LoRA training, evaluation, export for vLLM, GPTQ recipe.

See finetune/README.md. Only ``cli`` is imported by the main CLI; torch and friends load lazily.
"""
