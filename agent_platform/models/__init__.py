"""The LLM router, its litellm adapter and the provider simulator."""
