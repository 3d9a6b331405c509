"""The query list: which strings a pair's alt text must contain to enter the corpus. CLIP's has about 500,000:
frequent Wikipedia words, high-PMI bigrams, titles of much-viewed articles and WordNet synsets.

`queries.build` is the Beam pipeline that builds one from Wikipedia text, page-view dumps and WordNet; the
readers beside it are plain Python. Any list (ours, MetaCLIP's metadata.json, a text file) is loaded with
`transforms.match.query_list.load_queries`. Not the PyPI package of the same name.
"""
from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_QUERIES = DATA_DIR / "default_queries.json"  # the demo's list, built by demo_build_options
DEMO_DIR = DATA_DIR / "demo"  # small inputs in the real formats (see demo/make_demo_inputs.py)


def demo_build_options(output: str):
    """The build that made DEFAULT_QUERIES from the demo inputs. Thresholds are low because the demo text is
    about 300 KB, not Wikipedia's 20 GB; the PMI bar is high because that text is made from templates."""
    from queries.options import QueryBuildOptions

    return QueryBuildOptions(
        output=output, wikipedia=(str(DEMO_DIR / "enwiki-demo-pages-articles.xml.bz2"),),
        pageviews=(str(DEMO_DIR / "pageviews-demo-20240101-000000.gz"),), wordnet=str(DEMO_DIR / "wordnet"),
        min_count=5, bigram_min_count=5, pmi_threshold=8.0, pageview_threshold=500)
