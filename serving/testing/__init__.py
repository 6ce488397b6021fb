"""Test doubles for tests and benchmarks, never served in production: the stub OpenAI-compatible LLM
server (``stub_llm``), an agent that answers without the graph (``fake_agent``) and one that only
forwards to the LLM clients (``passthrough_agent``). ``nianbao bench load`` uses them to measure the
API's own overhead."""
