"""cog: the learning library (CQL, baselines, data mixing, trainer) and the project CLI."""

__version__ = "0.1.0"
