"""Instruction-data builders for the intent, NL2SQL and keyword adapters.

Questions are generated from ``templates.toml`` × the field dictionary × a company registry × the
paraphrase rules; NL2SQL targets are executed on a synthetic wide table (``synth_store``) before they
are kept. ``build.build_all`` runs the whole thing and writes chat-format JSONL.
"""
