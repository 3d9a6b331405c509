"""The bundled CLIP trainer, readable top to bottom: data (shards -> batches), tokenizer (byte-level BPE),
model (ResNet/ViT image towers, causal text tower), loss (symmetric InfoNCE, distributed), loop (AdamW, cosine,
checkpoints) and evaluate (zero-shot, retrieval, linear probe). Needs the `train` extra (torch, webdataset,
tokenizers)."""
