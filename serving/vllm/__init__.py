"""vLLM launch configurations: ``servers.toml`` (data), ``launch`` (arguments, scripts), ``validate``."""
