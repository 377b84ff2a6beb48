"""provkg's version, in a module of its own: capture reads it without importing the kg package root."""
__version__ = "0.1.0"
