"""TuneDesk's engine: configs, data, models and training runs. Headless; never imports gradio."""
