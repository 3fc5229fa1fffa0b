"""Long-context prompt building shared by RULER (and the other long-context benchmarks): the model's
token counter with its chat wrapper, and the on-disk cache of generated samples."""
