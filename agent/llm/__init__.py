"""The model side: fetching the model, serving it with vLLM, and the OpenAI-compatible client."""
