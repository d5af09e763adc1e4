"""Offline RL algorithms: CQL (and offline SAC = CQL with alpha 0) and behaviour cloning."""
