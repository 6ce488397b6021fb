"""Tiny local models for running real vLLM servers offline (serving/vllm/harness.py, tests/test_vllm_cpu.py).

    python -m finetune.tiny OUT_DIR        # builds once; a second run finds the manifest and returns

Nothing is downloaded: every model is built from a config with random weights, and the tokenizer is a
byte-level BPE trained here on the fine-tuning data and the agent's prompts. Under ``OUT_DIR``:

    models/Qwen2.5-7B-Instruct                 the base: random weights (its LoRA adapters are trained)
    models/Qwen2.5-32B-Instruct-GPTQ-Int8      the answer model (not quantized: see below)
    models/Qwen2.5-0.5B-Instruct               its draft for speculative decoding (same tokenizer)
    adapters/{intent,nl2sql,keywords}          LoRA adapters: ``finetune.train`` + ``finetune.export``
    manifest.json                              what was built, and how long it took

The directories carry the production names, so ``serving/vllm/servers.toml`` finds them through its own
``NIANBAO_VLLM_MODELS`` / ``NIANBAO_VLLM_ADAPTERS`` variables, unchanged.

The answer model and its draft are not left random. A random model almost never writes a
``<tool_call>`` or a figure, so the paths the checks are about would never run. They are trained
(full weights, ~200 steps of 4 examples on CPU) on a handful of behaviours keyed to the agent's own prompts
(``graph.prompts``) and tools (``graph.agent_tools``): to plan a compound question with a hermes tool
call, and to answer with a first sentence without figures followed by one stating a figure no tool
produced (``MADE_UP_FIGURE``), which the agent's number check must catch. The draft is a copy of the
answer model: an earlier snapshot agreed with it on part of the tokens in most builds but on none in one
CI run (acceptance 0 of 48 drafted), so the check that drafted tokens are verified and accepted must not
rest on how far a briefly trained snapshot lags. A realistic acceptance rate needs a real draft model
(the GPU plan). The base stays random:
its adapters are LoRA trained and exported the project's way: intent on the labels of the questions the
checks ask (:data:`INTENT_LABELS`), nl2sql and keywords a dozen steps each, which say nothing useful.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

BASE, ANSWER, DRAFT = "Qwen2.5-7B-Instruct", "Qwen2.5-32B-Instruct-GPTQ-Int8", "Qwen2.5-0.5B-Instruct"
ADAPTERS = ("intent", "nl2sql", "keywords")
# Bump when what is built changes: an older manifest then means "build again".
VERSION = 7

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Qwen2.5 keeps these as single added tokens (not special: they must survive detokenization for the parser).
TOOL_TOKENS = ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]

# Qwen2.5's chat template, cut down: the system turn lists the tools inside <tools></tools> and asks for
# <tool_call>{"name", "arguments"}</tool_call> (what vLLM's hermes parser reads back); assistant tool calls
# are rendered the same way and tool results go back in a user turn as <tool_response>. transformers renders
# templates with trim_blocks (a newline right after a tag is dropped), so those newlines are {{ '\\n' }}.
CHAT_TEMPLATE = (
    "{% if tools %}<|im_start|>system\n"
    "{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}"
    "{% else %}You are a helpful assistant.{% endif %}{{ '\\n' }}"
    "\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
    "{% for tool in tools %}{{ '\\n' }}{{ tool | tojson }}{% endfor %}{{ '\\n' }}</tools>\n\n"
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}"
    "\n</tool_call><|im_end|>\n"
    "{% elif messages[0]['role'] == 'system' %}<|im_start|>system\n{{ messages[0]['content'] }}<|im_end|>\n{% endif %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' and loop.first %}"
    "{% elif message['role'] == 'tool' %}"
    "{% if loop.first or messages[loop.index0 - 1]['role'] != 'tool' %}<|im_start|>user{% endif %}{{ '\\n' }}"
    "<tool_response>\n{{ message['content'] }}\n</tool_response>"
    "{% if loop.last or messages[loop.index0 + 1]['role'] != 'tool' %}<|im_end|>\n{% endif %}"
    "{% elif message['role'] == 'assistant' and message['tool_calls'] %}<|im_start|>assistant"
    "{% if message['content'] %}{{ '\\n' }}{{ message['content'] }}{% endif %}"
    "{% for call in message['tool_calls'] %}"
    "{% set f = call['function'] if call['function'] is defined else call %}{{ '\\n' }}"
    "<tool_call>\n{\"name\": \"{{ f['name'] }}\", \"arguments\": "
    "{% if f['arguments'] is string %}{{ f['arguments'] }}{% else %}{{ f['arguments'] | tojson }}{% endif %}}"
    "\n</tool_call>{% endfor %}<|im_end|>\n"
    "{% else %}<|im_start|>{{ message['role'] }}\n{{ message['content'] or '' }}<|im_end|>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# What the trained answer model says. The planned sub-question is fixed (a tiny model does not learn to
# copy a question in a few hundred steps); the tool still runs the real single-question path on it.
PLANNED_QUESTION = "四方科技2019年的货币资金是多少元？"
OPENING = "根据年报数据。"
# How firm a learnt behaviour must be: at every token of every check's target, the target's logit leads the
# runner-up by this much. vLLM serves the answer model in float16 (servers.toml) and CPU kernels differ
# from machine to machine; a model that passed its float32 greedy checks, and 200 steps more, still
# planned no tool call on one CI machine. A lead of 3 (the target ~20x likelier than any other token)
# is far beyond float16 rounding in a 2-layer model.
MIN_MARGIN = 3.0
MADE_UP_FIGURE = "123456789.00"
FABRICATED = f"{OPENING}该公司当年的数值为{MADE_UP_FIGURE}元。"

# Sizes: head_dim 32 (hidden 128 / 4 heads); vLLM's CPU attention backend rejects head_dim 16.
HIDDEN, HEADS, KV_HEADS, INTERMEDIATE, VOCAB = 128, 4, 2, 256, 2000
MAX_POSITIONS = 8192  # >= the answer server's max_model_len in servers.toml

# The adapters: LoRA on the tiny base, the knobs of tests/test_finetune_pipeline.py; rank 8.
ADAPTER_TRAINING = {"grad_accum": 1, "learning_rate": 1e-2, "logging_steps": 1, "lora_r": 8, "lora_alpha": 16,
                    "lora_dropout": 0.0, "warmup_ratio": 0.0, "lr_scheduler": "constant", "bf16": False,
                    "gradient_checkpointing": False, "max_steps": 12, "batch_size": 4}

# The questions the checks ask (tests/test_vllm_cpu.py) and the intent a good classifier gives each text the
# agent sends the intent adapter (a compound question's parts one by one). The agent takes the adapter's
# label over its rules, so a noisy intent adapter would send every check down an arbitrary path: this one
# is trained on these labels (LoRA, the project's train + export) and checked to give them. The statistic
# no template covers is the case the adapter exists for: the rules call it 财务报表, the adapter 统计题,
# and the nl2sql adapter then writes its SQL. nl2sql and keywords stay a dozen steps of noise.
RANK_QUESTION = "2019年营业收入最高的公司是哪家？"
COUNT_QUESTION = "2019年货币资金超过5亿元的公司有几家？"
UNCOVERED_STATISTIC = "四方科技2019年的营业收入在所有公司中排第几？"
COMPOUND_QUESTION = "比较四方科技2019年和2018年的货币资金，并说明变化原因"
INTENT_LABELS = {
    RANK_QUESTION: "统计题",
    COUNT_QUESTION: "统计题",
    UNCOVERED_STATISTIC: "统计题",
    "比较四方科技2019年和2018年的货币资金": "财务报表",  # the compound question's parts
    "说明变化原因": "开放性问题",
    PLANNED_QUESTION: "财务报表",  # the answer model's planned sub-question
}
INTENT_STEPS = 60


def bpe_tokenizer(texts: list[str], vocab_size: int = VOCAB, *, chat_template: str = CHAT_TEMPLATE,
                  added_tokens: tuple[str, ...] | list[str] = TOOL_TOKENS):
    """A byte-level BPE trained on ``texts`` with Qwen2's own pre-tokenizer (so ``AutoTokenizer``, and
    vLLM, read it back as a Qwen2 tokenizer), the im_start/im_end specials and (by default) the tool tags
    and the tool-capable chat template."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    model = json.loads(tok.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    qwen = Qwen2Tokenizer(vocab=model["vocab"], merges=merges, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                          unk_token=None, additional_special_tokens=SPECIALS[1:])
    if added_tokens:
        qwen.add_tokens(list(added_tokens))  # plain added tokens, as in Qwen2.5
    qwen.chat_template = chat_template
    return qwen


def qwen2_config(tokenizer, layers: int):
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=HIDDEN, intermediate_size=INTERMEDIATE, num_hidden_layers=layers,
        num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, max_position_embeddings=MAX_POSITIONS,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=None,
        tie_word_embeddings=False)


def save_model(model, tokenizer, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


# The answer model's behaviours ------------------------------------------------------------------

_COMPANIES = ["四方科技", "生物股份", "平安银行", "金宇生物", "贵州茅台", "宁德时代", "格力电器", "海天味业"]
_FIELDS = ["货币资金", "营业收入", "净利润", "研发费用", "总资产", "应收账款", "营业成本", "存货"]
_REASONS = ["并说明变化原因", "并分析原因", "并结合年报说明", "并解释其变动"]


def agent_tools() -> list[dict]:
    """The tools as the agent node sends them (langchain's OpenAI conversion of ``AGENT_TOOLS``)."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    from graph.agent_tools import AGENT_TOOLS

    return [convert_to_openai_tool(t) for t in AGENT_TOOLS]


def behaviour_examples(rng: random.Random, n: int, *,
                       checks: bool = False) -> list[tuple[list[dict], list[dict] | None, str]]:
    """(messages, tools, target) triples: plan → tool call; tool results → made-up figure; structured
    answer prompt → made-up figure. Prompts are the agent's own, filled with random companies and figures;
    with ``checks``, the questions are those the checks ask (the figures still random: the real ones come
    from the store when the checks run)."""
    from graph import prompts

    tools = agent_tools()
    call = {"name": "answer_subquestion", "arguments": {"question": PLANNED_QUESTION}}
    plan_target = f"<tool_call>\n{json.dumps(call, ensure_ascii=False)}\n</tool_call>"
    out = []
    for i in range(n):
        company, field = rng.choice(_COMPANIES), rng.choice(_FIELDS)
        y = rng.randint(2015, 2024)
        value = f"{rng.randint(10**6, 10**10)}.{rng.randint(0, 99):02d}"
        compound = COMPOUND_QUESTION if checks else f"比较{company}{y}年和{y - 1}年的{field}，{rng.choice(_REASONS)}"
        plan = [{"role": "system", "content": prompts.AGENT_SYSTEM}, {"role": "user", "content": compound}]
        kind = i % 3
        if kind == 0:
            out.append((plan, tools, plan_target))
        elif kind == 1:
            summary = json.dumps({"answer": f"{company}{y}年的{field}为{value}元。", "values": [
                _tool_value(rng, company, y, field, value)], "formula": None, "citations": [], "missing": []},
                ensure_ascii=False)
            tool_turn = [{"role": "assistant", "content": "", "tool_calls": [
                {"id": f"call_{i}", "type": "function",
                 "function": {"name": call["name"], "arguments": json.dumps(call["arguments"], ensure_ascii=False)}}]},
                {"role": "tool", "content": summary, "tool_call_id": f"call_{i}"}]
            out.append((plan + tool_turn, tools, FABRICATED))
        else:
            question = (rng.choice([RANK_QUESTION, COUNT_QUESTION, UNCOVERED_STATISTIC, PLANNED_QUESTION]) if checks
                        else f"{company}{y}年的{field}是多少元？")
            row = _tool_value(rng, company, y, field, value)
            # The drafts of the answer templates the checks meet: a lookup's and a ranking's.
            if rng.random() < 0.5:
                draft = f"{company}{y}年的{field}是{value}元。"
            else:
                draft = f"{y}年{field}最高的公司是{company}，为{value}元。"
                row |= {"rank": 1, "order": "desc", "page": None, "source": "sql"}
            result = {"values": [row]}
            messages = [{"role": {"human": "user"}.get(r, r), "content": c}
                        for r, c in prompts.structured_answer(question, result, draft)]
            out.append((messages, None, FABRICATED))
    return out


def _tool_value(rng: random.Random, company: str, year: int, field: str, value: str) -> dict:
    """A value as the agent's tools return it (every key the real prompts carry), so that what the model is
    trained on looks like what it is asked."""
    return {"company": company, "code": "603339", "year": year, "field": field, "mention": field, "value": value,
            "unit": "money", "page": rng.randint(1, 200), "source": "report",
            "file": f"2020-04-16__{company}__603339__{company}__{year}年__年度报告.pdf", "report_year": year}


def train_behaviours(model, tokenizer, examples, *, steps: int, lr: float = 3e-3, seed: int = 0,
                     batch: int = 4) -> list[float]:
    """Full-weight training on (messages, tools, target): loss on the target and the end-of-turn token,
    gradients of ``batch`` examples per step (one example per step did not always converge).

    Three examples in four see only the end of the prompt (a random 48 to 256 tokens before the answer),
    the fourth the whole of it: the behaviours are keyed to how the prompt ends (a user question, a tool
    response, 「回答：」), RoPE attention depends on relative positions only, and the agent's prompts are
    300-900 tokens long, so this trains several times faster on CPU than whole prompts every time."""
    import torch

    torch.manual_seed(seed)
    encoded = []
    for messages, tools, target in examples:
        prompt = tokenizer.apply_chat_template(messages, tools=tools, tokenize=False, add_generation_prompt=True)
        source = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        answer = tokenizer(target + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
        encoded.append((source, answer))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    losses = []
    rng = random.Random(seed)
    for _ in range(steps):
        step_loss = 0.0
        for _ in range(batch):
            source, answer = rng.choice(encoded)
            if rng.random() < 0.75:
                source = source[-rng.randint(48, 256):]
            ids = torch.tensor([source + answer])
            labels = torch.tensor([[-100] * len(source) + answer])
            loss = model(input_ids=ids, labels=labels).loss / batch
            loss.backward()
            step_loss += loss.item()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        losses.append(step_loss)
    model.eval()
    return losses


def greedy(model, tokenizer, messages, tools, max_new_tokens: int = 64) -> str:
    import torch

    prompt = tokenizer.apply_chat_template(messages, tools=tools, tokenize=False, add_generation_prompt=True)
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=tokenizer.eos_token_id,
                             pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=False).removesuffix(tokenizer.eos_token)


def target_margin(model, tokenizer, messages, tools, target: str) -> float:
    """The smallest lead, over the target's tokens (and the end of turn), of the target token's logit over
    the best other token, teacher-forced: how far the greedy choice is from flipping anywhere."""
    import torch

    prompt = tokenizer.apply_chat_template(messages, tools=tools, tokenize=False, add_generation_prompt=True)
    source = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer = tokenizer(target + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([source + answer])).logits[0, len(source) - 1:-1].float()
    wanted = torch.tensor(answer)
    chosen = logits.gather(1, wanted[:, None])[:, 0]
    others = logits.scatter(1, wanted[:, None], float("-inf")).max(dim=1).values
    return float((chosen - others).min())


def trained_models(tokenizer, *, seed: int, max_steps: int = 1500) -> tuple[object, object, dict]:
    """(answer model, draft model, figures): a tiny Qwen2 trained until every behaviour is firm on fresh
    prompts (other companies, years and figures; checked every 100 steps): greedy decoding gives it and
    each target token leads by :data:`MIN_MARGIN`. Its draft is a copy of it (see the module docstring:
    a lagging snapshot's acceptance was 0 in one build). Raises if the model has not learnt after
    ``max_steps``."""
    import copy

    import torch
    from transformers import Qwen2ForCausalLM

    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(qwen2_config(tokenizer, 2))
    # Random prompts teach the behaviours; the checks' own questions make sure of them where it matters
    # (one build learnt the random compound questions but not the checks' one).
    train_set = (behaviour_examples(random.Random(seed), 24)
                 + behaviour_examples(random.Random(seed + 1), 9, checks=True))
    check_set = (behaviour_examples(random.Random(seed + 1000), 6)
                 + behaviour_examples(random.Random(seed + 1001), 6, checks=True))
    losses, steps, margin = [], 0, float("-inf")
    while steps < max_steps:
        losses += train_behaviours(model, tokenizer, train_set, steps=100, seed=seed + steps)
        steps += 100
        # The margin first (one forward pass per check); greedy decoding, the behaviour itself, once firm.
        margin = min(target_margin(model, tokenizer, m, tools, t) for m, tools, t in check_set)
        if margin >= MIN_MARGIN and all(greedy(model, tokenizer, m, tools) == t for m, tools, t in check_set):
            break
    else:
        raise RuntimeError(f"the tiny answer model did not learn its behaviours firmly in {max_steps} steps "
                           f"(last loss {losses[-1]:.3f}, smallest margin {margin:.2f} < {MIN_MARGIN})")
    draft = Qwen2ForCausalLM(qwen2_config(tokenizer, 2))
    draft.load_state_dict(copy.deepcopy(model.state_dict()))
    draft.eval()
    draft_right = sum(greedy(draft, tokenizer, m, tools) == t for m, tools, t in check_set)
    return model, draft, {"steps": steps, "draft_steps": steps, "first_loss": round(losses[0], 3),
                          "last_loss": round(losses[-1], 4), "smallest_margin": round(margin, 2),
                          "draft_behaviours_right": f"{draft_right}/{len(check_set)}"}


# Building everything -------------------------------------------------------------------------------

def tokenizer_texts(data_dir: Path) -> list[str]:
    from finetune.data.build import read_jsonl
    from finetune.data.records import TASKS
    from graph import prompts

    texts = [m["content"] for task in TASKS for split in ("train", "dev")
             for r in read_jsonl(data_dir / task / f"{split}.jsonl") for m in r["messages"]]
    texts += [v for v in vars(prompts).values() if isinstance(v, str)] + list(prompts.ADAPTER_SYSTEM.values())
    texts += [json.dumps(agent_tools(), ensure_ascii=False), FABRICATED, PLANNED_QUESTION]
    return texts


def intent_adapter(base: Path, work: Path, *, seed: int, attempts: int = 3) -> dict:
    """The intent adapter trained on :data:`INTENT_LABELS` (records as finetune.data builds them) until
    greedy decoding gives every label; raises after ``attempts`` ever longer runs."""
    from finetune.config import load_config
    from finetune.data.records import intent_target, prompt_messages
    from finetune.evaluate import generate, load_adapter
    from finetune.train import train

    data = work / "intent-labels"
    (data / "intent").mkdir(parents=True, exist_ok=True)
    records = [{"messages": [*prompt_messages("intent", q), {"role": "assistant", "content": intent_target(label)}],
                "meta": {"task": "intent", "label": label}} for q, label in INTENT_LABELS.items()]
    (data / "intent" / "train.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    out = work / "adapters" / "intent"
    for attempt in range(1, attempts + 1):
        config = load_config("intent", {**ADAPTER_TRAINING, "base_model": str(base), "seed": seed,
                                        "max_steps": INTENT_STEPS * attempt, "batch_size": len(records)})
        summary = train(config, data, out)
        model, tokenizer = load_adapter(out)
        replies = generate(model, tokenizer, records, max_new_tokens=16)
        right = sum(reply == r["messages"][-1]["content"] for reply, r in zip(replies, records))
        if right == len(records):
            return {**summary, "labels_right": f"{right}/{len(records)}"}
    raise RuntimeError(f"the tiny intent adapter gave {right}/{len(records)} labels after {summary['steps']} steps")


def build(out: Path, *, seed: int = 0) -> dict:
    """Build every model under ``out`` (once: an up-to-date ``manifest.json`` means done). Returns the manifest."""
    out = Path(out)
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("version") == VERSION:
            return manifest
    import torch
    from transformers import Qwen2ForCausalLM

    # One thread: these models are too small for a second one to help, and on a 2-core machine the servers
    # or other jobs have the other core.
    torch.set_num_threads(1)
    from finetune.config import load_config
    from finetune.data.build import build_all
    from finetune.export import export_adapter
    from finetune.train import train

    started = time.perf_counter()
    timings = {}
    models, adapters, work = out / "models", out / "adapters", out / "work"
    data = work / "data"
    build_all(data, bench_dir=None, store_companies=30, scale=0.05, seed=2)
    tokenizer = bpe_tokenizer(tokenizer_texts(data))
    timings["data_and_tokenizer_s"] = time.perf_counter() - started

    torch.manual_seed(seed)
    base = save_model(Qwen2ForCausalLM(qwen2_config(tokenizer, 2)), tokenizer, models / BASE)
    t = time.perf_counter()
    summaries = {}
    for name in ADAPTERS:
        if name == "intent":
            summary = intent_adapter(base, work, seed=seed)
        else:
            config = load_config(name, {**ADAPTER_TRAINING, "base_model": str(base), "seed": seed})
            summary = train(config, data, work / "adapters" / name, limit=120)
        export_adapter(work / "adapters" / name, adapters, name)
        summaries[name] = {"steps": summary["steps"], "losses": [round(x, 3) for x in summary["losses"][::4]],
                           **({"labels_right": summary["labels_right"]} if "labels_right" in summary else {})}
    timings["adapters_s"] = time.perf_counter() - t

    t = time.perf_counter()
    answer, draft, answer_info = trained_models(tokenizer, seed=seed)
    save_model(answer, tokenizer, models / ANSWER)
    save_model(draft, tokenizer, models / DRAFT)
    timings["answer_and_draft_s"] = time.perf_counter() - t

    manifest = {
        "version": VERSION, "models": str(models), "adapters": str(adapters), "vocab": len(tokenizer),
        "adapter_training": summaries, "answer_model": answer_info,
        "seconds": {k: round(v, 1) for k, v in {**timings, "total_s": time.perf_counter() - started}.items()},
    }
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return manifest


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python -m finetune.tiny OUT_DIR")
    print(json.dumps(build(Path(argv[0])), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
