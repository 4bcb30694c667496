"""TuneDesk's models served to other programs over the OpenAI chat-completions protocol."""
