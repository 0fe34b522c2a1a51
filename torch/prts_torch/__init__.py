"""prts_torch: the PyTorch twin of the PRTS Workbench model (DESIGN.md 13).

The same backbone, heads, DiT, losses and optimizer as src/model and src/engine, the
same safetensors tensor names and checkpoint directories, and batches read from shards
that the workbench's own tokenizers and batch builder wrote (`npm run export-shards`).
"""

__version__ = "0.1.0"
