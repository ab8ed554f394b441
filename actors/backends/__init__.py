"""Model backends: Ollama over HTTP, the embedded llama.cpp model, and selection."""
