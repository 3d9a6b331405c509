"""Runs open_clip_train's own training loop; started by benchmarks/_openclip.py with the Python of
.bench/openclip-venv (not the project's venv).

Usage
  python openclip_peer.py --check
      prints the versions of torch, torchvision, open_clip and webdataset as JSON (the venv's self-test)
  python openclip_peer.py [--threads N] [--model-config DIR] -- OPEN_CLIP_TRAIN_ARGS...
      registers the model configs in DIR (each <name>.json becomes model <name>), sets torch's threads and
      calls open_clip_train.main.main(OPEN_CLIP_TRAIN_ARGS)
"""
from __future__ import annotations

import argparse
import json
import sys
import types


def stub_torchvision_meta_registrations() -> None:
    # PyPI's torchvision wheel is a CUDA build: its _C extension does not load beside the CPU torch, and then
    # `import torchvision` fails in torchvision._meta_registrations, which registers fake kernels for the
    # torchvision:: ops that _C would have defined. open_clip only uses the PIL transforms, which need none
    # of those ops, so an empty module in its place is enough.
    name = "torchvision._meta_registrations"
    sys.modules.setdefault(name, types.ModuleType(name))


def main(argv: list[str]) -> int:
    ours, train_argv = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--model-config", default=None)
    args = parser.parse_args(ours)

    stub_torchvision_meta_registrations()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)  # OMP_NUM_THREADS is set too, by the caller
    import open_clip

    if args.check:
        import importlib.metadata as md

        import open_clip_train.main  # noqa: F401  (the training entry point imports cleanly)
        import torchvision

        print(json.dumps({"torch": torch.__version__, "torchvision": torchvision.__version__,
                          "open_clip": md.version("open_clip_torch"), "webdataset": md.version("webdataset")}))
        return 0

    if args.model_config:
        open_clip.add_model_config(args.model_config)
    from open_clip_train.main import main as train_main

    result = train_main(train_argv)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
