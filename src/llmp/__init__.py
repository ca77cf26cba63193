"""llmp: a local LLM gateway that speaks the OpenAI API on localhost."""

__version__ = "0.1.0"
