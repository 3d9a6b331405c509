"""``python -m wit_pipeline.testbed [--port 0] [--files DIR]``: serve the test web in the foreground.

Prints one JSON line, ``{"base_url": ..., "blackhole_url": ...}``, then serves until SIGTERM or SIGINT.
"""
import argparse

from wit_pipeline.testbed.server import serve_forever


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m wit_pipeline.testbed", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--files", default=None, help="directory served under /files/")
    parser.add_argument("--stall-seconds", type=float, default=30.0, help="how long stall and drip faults last")
    parser.add_argument("--robots-file", default=None, help="serve this file as /robots.txt (default: a small one)")
    args = parser.parse_args(argv)
    robots = None
    if args.robots_file:
        with open(args.robots_file, encoding="utf-8") as f:
            robots = f.read()
    serve_forever(args.files, args.port, args.stall_seconds, robots)


if __name__ == "__main__":
    main()
