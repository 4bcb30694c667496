"""Taking a run's result to where people run models: a merged model, the adapter, a GGUF file with an
Ollama Modelfile, and a push to the Hugging Face or ModelScope hub."""
