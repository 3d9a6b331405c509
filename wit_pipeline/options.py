"""`wit build`'s options: a Beam PipelineOptions subclass (so every Beam flag, --runner, --project,
--temp_location, --setup_file, ..., works unchanged), turned into the stages' own option dataclasses."""
from __future__ import annotations

from dataclasses import dataclass

from apache_beam.options.pipeline_options import PipelineOptions

from transforms.balance import BalanceOptions
from transforms.crawl.options import CrawlOptions
from transforms.download.options import DownloadOptions, FetchOptions, ImageOptions, ManifestOptions
from transforms.language.options import LanguageOptions
from transforms.text import TextOptions
from wit_pipeline.build_flags import add_build_flags


class WitOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        add_build_flags(parser)


@dataclass(frozen=True)
class BuildConfig:
    """Everything the pipeline needs, as the stages' own dataclasses."""

    inputs: tuple
    output: str
    queries: str
    crawl: CrawlOptions
    text: TextOptions
    balance: BalanceOptions
    language: LanguageOptions
    download: DownloadOptions
    skip_download: bool = False
    overwrite: bool = False  # replace an output made from other inputs or options instead of refusing

    @property
    def shards(self) -> str:
        return f"{self.output.rstrip('/')}/shards"


def build_config(options: PipelineOptions) -> BuildConfig:
    o = options.view_as(WitOptions)
    missing = [flag for flag, value in (("--input", o.input), ("--output", o.output), ("--queries", o.queries))
               if not value]
    if missing:
        raise ValueError(f"wit build needs {', '.join(missing)}")
    output = o.output.rstrip("/")
    return BuildConfig(
        inputs=tuple(o.input), output=output, queries=o.queries,
        crawl=CrawlOptions(format=o.input_format, url_col=o.url_col, text_col=o.text_col),
        text=TextOptions(min_chars=o.min_text_chars, max_chars=o.max_text_chars),
        balance=BalanceOptions(t=o.balance_t, seed=o.seed),
        language=LanguageOptions.from_strings(backend=o.language_backend, keep=o.languages, prior=o.language_prior,
                                              words=o.language_words),
        download=DownloadOptions(
            output=f"{output}/shards", shard_size=o.shard_size, processes=1, progress=False,
            image=ImageOptions(image_size=o.image_size, resize_mode=o.resize_mode, encode_format=o.encode_format,
                               encode_quality=o.encode_quality,
                               image_formats=tuple(f.strip() for f in o.image_formats.split(",") if f.strip())),
            fetch=FetchOptions(concurrency=o.download_concurrency, per_host_concurrency=o.per_host_concurrency,
                               total_timeout=o.download_timeout, respect_robots=not o.ignore_robots,
                               allow_private_network=o.allow_private_network,
                               allowed_networks=tuple(o.allow_network)),
            manifest=ManifestOptions(url_col="url", caption_col="text")),
        skip_download=o.skip_download, overwrite=o.overwrite,
    )
