"""SynthCheck: decide whether an image is a real photo or AI-generated, and show why."""

__version__ = "0.1.0"
