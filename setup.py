"""Packaging for the WIT pipeline.

Also used as Dataflow's ``--setup_file``: the workers run ``pip install .`` on it, so the base
requirements are only what a worker needs to run the corpus stages (no torch, no test tools).
"""
from setuptools import Extension, find_packages, setup

BEAM = "apache-beam>=2.77.0,<3"
# libdeflate's gzip decompressor and what it needs (CPU dispatch for x86 and Arm, CRC-32).
LIBDEFLATE = [f"third_party/libdeflate/lib/{name}.c" for name in
              ("deflate_decompress", "gzip_decompress", "crc32", "utils", "x86/cpu_features", "arm/cpu_features")]

setup(
    name="wit-pipeline",
    version="0.1.0",
    description="CLIP's WebImageText recipe as software: web crawls to query-balanced WebDataset shards, "
    "and a CLIP trainer for them",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.11",  # asyncio.timeout, possessive regular expressions (htmlscan)
    packages=find_packages(include=["wit_pipeline", "wit_pipeline.*", "transforms", "transforms.*",
                                    "queries", "queries.*"]),
    package_data={"queries": ["data/*.json", "data/*.md", "data/demo/*", "data/demo/wordnet/*"]},
    install_requires=[
        BEAM,
        # Beam 2.77 caps these; keep the same caps so pip never has to backtrack.
        "pillow>=10.0,<13",
        "pyarrow>=14,<26",
        "numpy>=1.24,<2.5",
        "aiohttp>=3.12,<4",  # 3.12: the connector's socket_factory, where the address guard has the last word
        "brotli>=1.2",  # Content-Encoding br, decoded with a bound on the output (output_buffer_limit: 1.2)
        "backports.zstd>=1.0; python_version<'3.14'",  # Content-Encoding zstd (compression.zstd from 3.14)
        "fsspec>=2023.1",
        "braceexpand>=0.1.7",  # shard patterns (dir/{00000..00099}.tar) in wit score, filter, decontaminate
        "tqdm>=4.60",
        "ahocorasick-rs==1.0.3",  # query matching (default engine: Rust aho-corasick)
        "pyahocorasick==2.3.1",  # query matching (the engine MetaCLIP uses)
        "ftfy==6.3.1",  # mojibake repair of alt texts
        "py3langid==0.4.0",  # default language identifier (its model ships in the wheel)
        "langdetect==1.0.9",  # the second language backend
        "wordfreq==3.1.1",  # word frequencies added to py3langid's evidence (its lists ship in the wheel)
        "fastwarc==2.0.0",  # WARC/WAT reading (2.x changed the API: pinned)
        "resiliparse==2.0.0",  # HTML parsing of WARC pages
        "orjson==3.13.0",  # WAT JSON
        "matplotlib==3.11.2",  # wit stats plots
    ],
    extras_require={
        # `build` makes the sdist Beam stages for --setup_file when submitting to a cloud runner.
        "gcp": [f"{BEAM.replace('apache-beam', 'apache-beam[gcp]')}", "gcsfs", "build"],
        "aws": [f"{BEAM.replace('apache-beam', 'apache-beam[aws]')}", "s3fs", "build"],
        # The Makefile installs torch==2.13.0 (the local CPU wheel) before this, so the range installs nothing more.
        "train": ["torch>=2.3", "webdataset>=1.0,<1.1", "tokenizers>=0.15"],
        "dev": ["pytest>=8", "pytest-timeout>=2.2", "webdataset>=1.0,<1.1", "psutil>=5.9"],
    },
    # The token matcher (transforms/match/_tokenmatch.c, plain C with the Python API): the default matching
    # engine. Optional: without a C compiler the install still succeeds and matching falls back to the Rust
    # Aho-Corasick engine, with a warning (tests/transforms/match checks the module was built).
    # The gzip-member WARC scanner (transforms/crawl/_gzwarc.c with libdeflate's decompressor, vendored under
    # third_party/libdeflate, MIT): WAT reading at about 2x FastWARC's pace. Optional likewise: without it
    # every file is read by FastWARC.
    ext_modules=[Extension("transforms.match._tokenmatch", ["transforms/match/_tokenmatch.c"],
                           extra_compile_args=["-O3"], optional=True),
                 Extension("transforms.crawl._gzwarc", ["transforms/crawl/_gzwarc.c", *LIBDEFLATE],
                           include_dirs=["third_party/libdeflate"], extra_compile_args=["-O2", "-std=gnu11"],
                           optional=True)],
    entry_points={"console_scripts": ["wit=wit_pipeline.cli:entry"]},
)
