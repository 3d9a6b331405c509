"""Curating a built corpus with a model: `wit score` (CLIP similarity of every sample, score.py), `wit filter`
(a new corpus without the low scorers, filter.py) and the corpus rewrite they and `wit decontaminate` share
(rewrite.py). The cores are plain Python; beam.py wraps scoring as a Beam job (one shard per element)."""
