"""GenHMR (arXiv 2412.14444) as a selectable pose decoder: pose tokenizer (VQ-VAE), image-conditioned
masked transformer, uncertainty-guided sampling and 2D pose-guided refinement. See docs/genhmr.md."""
