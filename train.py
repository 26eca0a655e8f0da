#!/usr/bin/env python
"""Train a SynthCheck model: ``python train.py --data DIR --model synthcnn --epochs 30``.

Same flags as ``synthcheck train``; multi-GPU: ``torchrun --nproc_per_node=N train.py ...``.
"""

import sys

from synthcheck.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["train", *sys.argv[1:]]))
