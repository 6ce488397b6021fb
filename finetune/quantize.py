"""GPTQ quantization of the 32B answer model with GPTQModel, calibrated on our own question types.

GPTQModel is the maintained successor of AutoGPTQ (which no longer builds against current PyTorch). It
needs CUDA and lives in the ``gpu`` extra, so it is imported only inside :func:`quantize`; the
calibration set is plain Python and is built (and tested) anywhere.

Why our own prompts: GPTQ fits each layer's rounding to the activations it sees during calibration.
Generic web text (C4) under-represents what this model reads — Chinese annual-report questions,
field names, figures in yuan — so calibration draws questions of every intent class from the data
builders, wrapped in the answer prompt the agent sends.

Recipe (one H100 80 GB; estimates, not measured here): Qwen2.5-32B-Instruct in bf16 (~65 GB on disk)
→ 4-bit, group size 128, desc_act (act-order) on, 256 calibration prompts, batch 4: GPTQModel quantizes
layer by layer, so peak GPU memory stays near one layer plus activations; expect roughly 1–2 hours.
The result (~19 GB) is served by vLLM with ``--quantization gptq_marlin``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path

from finetune.data.questions import INTENT_LABELS, STAT_LABEL, QuestionGenerator
from finetune.data.registry import load_registry
from graph.prompts import ANSWER_SYSTEM


def calibration_messages(n: int = 256, *, seed: int = 0, registry: Path | None = None) -> list[list[dict]]:
    """``n`` answer-model chats over every question class, round-robin so each is represented.

    统计题 questions need the synthetic store, so calibration uses the other classes; their wording is
    what the answer model sees most (single-company look-ups, calculations, analyses)."""
    rng = random.Random(seed)
    gen = QuestionGenerator(load_registry(registry), rng)
    labels = [label for label in INTENT_LABELS if label != STAT_LABEL]
    system = ANSWER_SYSTEM
    money = [f.name for f in gen.fields if f.unit == "money"]
    chats = []
    for i in range(n):
        q = gen.generate(labels[i % len(labels)])
        user = f"资料：\n{_context(q.fields + rng.sample(money, 8), gen.fields, rng)}\n问题：{q.text}"
        chats.append([{"role": "system", "content": system}, {"role": "user", "content": user}])
    return chats


def _context(names: list[str], fields, rng: random.Random) -> str:
    """Made-up figures in the layout the agent's answer prompt uses: real prompts carry facts, and GPTQ
    should see digits and units as often as the served model will."""
    formats = {"money": lambda: f"{rng.lognormvariate(19, 1.5):.2f}元", "count": lambda: f"{int(rng.lognormvariate(6, 1))}人",
               "percent": lambda: f"{rng.uniform(0, 40):.2f}%", "ratio": lambda: f"{rng.uniform(0, 3):.2f}"}
    return "\n".join(f"{name}：{formats[fields[name].unit]()}" for name in dict.fromkeys(names)
                     if fields[name].unit in formats)


def calibration_texts(tokenizer, messages: Iterable[list[dict]]) -> list[str]:
    """Chats rendered with the model's own chat template, ending at the assistant header."""
    return [tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in messages]


def quantize(model_path: str, out_path: Path, *, bits: int = 4, group_size: int = 128, desc_act: bool = True,
             n_samples: int = 256, batch_size: int = 4, seed: int = 0, registry: Path | None = None) -> Path:
    try:
        from gptqmodel import GPTQModel, QuantizeConfig
    except ImportError as exc:  # CPU machines: the recipe is documented, the run needs CUDA
        raise RuntimeError("GPTQModel is not installed: on a CUDA machine, `pip install -e .[gpu]`") from exc
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    texts = calibration_texts(tokenizer, calibration_messages(n_samples, seed=seed, registry=registry))
    model = GPTQModel.load(model_path, QuantizeConfig(bits=bits, group_size=group_size, desc_act=desc_act))
    model.quantize(texts, batch_size=batch_size)
    out_path = Path(out_path)
    model.save(str(out_path))
    tokenizer.save_pretrained(str(out_path))
    return out_path
