"""The markup of a page that can give image candidates, cut out in one linear pass, so that the HTML5 parser
only ever builds a flat tree.

Why: an HTML5 tree builder walks its stack of open elements for many tokens, and reopens every unclosed
formatting element at each new block. A stranger's page of 100k nested <div> takes lexbor 22 s, and 2,000
`<b id=N><p>` take 2 s and 765 MB. The reader needs only <img> (and <image>, which parsers turn into img),
<base>, and <picture> with its <source> children, so only those tags are kept, each verbatim (the parser
still decodes their attributes), in document order, with <picture> never nested. What hides markup from a
browser is skipped as a browser would: comments, the text of script, style, textarea, title and the like,
and <template> contents. <noscript> is read as markup, as the parser does with scripting off.

Each tag's end is found the way the HTML tokenizer finds it (a ">" outside a quoted attribute value), with
possessive patterns so that no input makes the regular expressions backtrack. A tag left open at the end of
the page ends the scan there, as it ends the tokenizer's.
"""
from __future__ import annotations

import re

_WS = "\t\n\f\r "
_RAW_TEXT = ("script", "style", "xmp", "iframe", "noembed", "noframes", "textarea", "title")
_MARK = re.compile(
    r"<(?:(!--)|(/?)(img|image|base|picture|source|template|plaintext|" + "|".join(_RAW_TEXT) + f")(?=[{_WS}/>]))",
    re.IGNORECASE)
# The rest of a tag up to its ">": text outside values, "=" with an optional quoted value.
_TAG_REST = re.compile(rf"""(?:[^>=]++|=[{_WS}]*+(?:"[^"]*+"|'[^']*+')?)*+>""")
_RAW_END = {name: re.compile(rf"</{name}(?=[{_WS}/>])", re.IGNORECASE) for name in _RAW_TEXT}
_TEMPLATE = re.compile(rf"<(/?)template(?=[{_WS}/>])", re.IGNORECASE)


def image_markup(html: str) -> str:
    """The <img>, <image>, <base>, <picture> and <source> tags of `html` that a browser would see, as a flat
    document; time linear in len(html)."""
    out: list[str] = []
    in_picture = False
    pos = 0
    while (m := _MARK.search(html, pos)) is not None:
        if m.group(1):  # a comment: "<!-->" and "<!--->" end at once
            pos = _comment_end(html, m.end())
            continue
        end = _TAG_REST.match(html, m.end())
        if end is None:
            break  # a tag open to the end of the page: the tokenizer drops it, and nothing follows
        pos = end.end()
        name = m.group(3).lower()
        if m.group(2):  # an end tag
            if name == "picture" and in_picture:
                out.append("</picture>")
                in_picture = False
            continue
        if name in _RAW_END:
            close = _RAW_END[name].search(html, pos)
            pos = close.start() if close else len(html)  # the end tag itself is taken as one (and ignored)
        elif name == "plaintext":
            break  # the rest of the page is text
        elif name == "template":
            pos = _template_end(html, pos)
        elif name == "picture":
            out.append("</picture><picture>" if in_picture else "<picture>")
            in_picture = True
        elif name != "source" or in_picture:  # a <source> counts only inside a <picture>
            tag = html[m.start():pos]
            out.append("<img" + tag[6:] if name == "image" else tag)
    return "".join(out)


def _comment_end(html: str, at: int) -> int:
    if html.startswith(">", at):
        return at + 1
    if html.startswith("->", at):
        return at + 2
    end = html.find("-->", at)
    return len(html) if end < 0 else end + 3


def _template_end(html: str, pos: int) -> int:
    """Past the </template> closing the one opened before `pos` (templates nest); the end of the page if none."""
    depth = 1
    while (m := _TEMPLATE.search(html, pos)) is not None:
        pos = m.end()
        depth += -1 if m.group(1) else 1
        if depth == 0:
            return pos
    return len(html)
