"""Dedup rules (plain Python; the Beam wrapper is in transforms.dedup.beam)."""
from .core import DedupOptions, dedup_url_group, pair_key, pick, text_key

__all__ = ["DedupOptions", "dedup_url_group", "pair_key", "pick", "text_key"]
