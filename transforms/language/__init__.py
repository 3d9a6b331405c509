"""Language identification: which language an alt text is in, and the filter that keeps the wanted ones.

The plain-Python core (this package, minus beam.py) never imports Beam:
    ident = make_identifier("py3langid", ("en", "de"))
    ident.detect("Ein Hund im Park")      -> ("de", 0.99)
    ident.detect_many(["a dog", ""])      -> [("en", ...), ("und", 0.0)]
    fitted = make_identifier("py3langid", WEB_LANGUAGES, WEB_PRIOR, words=True, fit=True)
    fitted.explain_many(["Y mae gan bawb hawl i addysg."])
                                          -> [("und", 0.0, "no candidate fits (en 0.38 ...; nearest outside them: cy)")]
`beam.IdentifyLanguage(LanguageOptions())` is the pipeline stage.
"""
from transforms.language.base import UND, LanguageIdentifier
from transforms.language.options import ALL, DEFAULT_BACKEND, WEB_LANGUAGES, WEB_PRIOR, LanguageOptions
from transforms.language.registry import BACKENDS, make_identifier

__all__ = ["ALL", "BACKENDS", "DEFAULT_BACKEND", "UND", "WEB_LANGUAGES", "WEB_PRIOR", "LanguageIdentifier",
           "LanguageOptions", "make_identifier"]
