"""The downloader against a hostile web: address tricks, Content-Encoding bombs, refused decoders, pixel bombs,
odd pixel modes and pathological robots.txt. Each case costs one row a status and a reason, and the run goes on.

Address policy is tested on loopback only: the refused targets are loopback addresses the tests do not allow
(or in-process checks), never another address (the tests must not send a packet anywhere else).
"""
import asyncio
import io
import socket
import tracemalloc

import numpy as np
import pytest
from PIL import Image
from yarl import URL

from transforms.download.body import accept_encoding, decode_body
from transforms.download.errors import DownloadFailure
from transforms.download.fetch import Fetcher, check_url
from transforms.download.images import process_image
from transforms.download.options import FetchOptions, ImageOptions
from transforms.download.run import download
from transforms.download.safety import AddressPolicy, BlockedAddressError, GuardedConnector, SafeResolver, \
    embedded_ipv4, parse_robots
from wit_pipeline.testbed import TestWeb
from wit_pipeline.testbed.hostile import CODINGS, encode, encoded_zeros, gif_with_comment, \
    hostile_image, jpeg_with_markers, png_with_chunks, progressive_jpeg, wildcard_robots

from helpers import options, read_rows, write_manifest

IMG = "7_120x90.jpg"
# The same loopback address written as a stranger might: each is 127.0.0.1 once the URL stack normalises it.
LOOPBACK_SPELLINGS = ["１２７.０.０.１", "127。0。0。1", "１２７．０．０．１", "①②⑦.0.0.1", "127.0.0.1.",
                      "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "2130706433", "0x7f.1", "127.1", "0177.0.0.1",
                      "ＬＯＣＡＬＨＯＳＴ", "localhost"]


def run_rows(tmp_path, urls, image=None, **fetch):
    manifest = write_manifest(tmp_path / "m.parquet", urls)
    download([manifest], options(tmp_path / "out", shard_size=max(1, len(urls)), image=image, **fetch))
    return read_rows(tmp_path / "out")


# --- addresses ----------------------------------------------------------------------------------------------

@pytest.mark.timeout(120)
def test_loopback_in_any_spelling_is_refused_without_a_request(web, tmp_path):
    """Non-ASCII digits and dots, IPv4-mapped IPv6, integer and octal forms: refused by default, and the server
    sees nothing (the old guard read the raw host while aiohttp connected to its normalised form)."""
    web.reset_state()
    urls = [f"http://{host}:{web.port}/img/{i}_120x90.jpg" for i, host in enumerate(LOOPBACK_SPELLINGS)]
    rows = run_rows(tmp_path, urls, allowed_networks=())
    for host, row in zip(LOOPBACK_SPELLINGS, rows):
        assert row["status"] in ("blocked_address", "invalid_url"), (host, row)
        if row["status"] == "invalid_url":  # only forms the URL stack itself refuses to send
            assert host in ("127.0.0.1.", "127.1", "0177.0.0.1", "2130706433"), (host, row)
    assert sum(web.hits.values()) == 0


@pytest.mark.timeout(120)
def test_the_same_spellings_reach_an_allowed_loopback(web, tmp_path):
    """With loopback allowed, the normalised spellings are fetched: the guard judged the host actually used."""
    hosts = ["１２７.０.０.１", "127。0。0。1", "①②⑦.0.0.1", "127.0.0.1"]
    rows = run_rows(tmp_path, [f"http://{h}:{web.port}/img/{i}_120x90.jpg" for i, h in enumerate(hosts)])
    assert [r["status"] for r in rows] == ["success"] * len(hosts), rows


@pytest.mark.timeout(120)
def test_redirect_with_raw_utf8_location_is_judged_after_normalisation(web, tmp_path):
    """A Location header of raw UTF-8 to a fullwidth-digit loopback address the options do not allow."""
    web.reset_state()
    targets = [f"http://１２７.０.０.２:{web.port}/img/{IMG}", f"http://127。0。0。3:{web.port}/img/{IMG}",
               f"http://[::ffff:127.0.0.4]:{web.port}/img/{IMG}"]
    urls = [web.url("/hostile/location?to=" + t) for t in targets]
    rows = run_rows(tmp_path, urls, allowed_networks=("127.0.0.1/32",))
    for target, row in zip(targets, rows):
        assert row["status"] == "blocked_address", (target, row)
        assert "127.0.0." in row["error_message"]
    assert not any(path.startswith("/img/") for path in web.hits)


def test_check_url_normalises_the_host_aiohttp_will_use():
    assert check_url("http://１６９.２５４.１６９.２５４/latest/").host == "169.254.169.254"
    assert check_url("http://127。0。0。1:8080/x").host == "127.0.0.1"
    assert check_url("HTTP://ExAmPlE.COM/x").host == "example.com"
    assert check_url("/next.jpg", base=URL("http://example.com/a/b.jpg")) == URL("http://example.com/next.jpg")
    with pytest.raises(DownloadFailure, match="longer than"):
        check_url("http://example.com/" + "a" * 10_000)


@pytest.mark.parametrize("host", ["１６９.２５４.１６９.２５４", "169。254。169。254", "[::ffff:169.254.169.254]",
                                  "[64:ff9b::a9fe:a9fe]", "[::a9fe:a9fe]", "[2002:a9fe:a9fe::1]"])
def test_metadata_in_any_spelling_is_refused_before_connecting(host):
    """In-process: the fetcher's literal check refuses the metadata service however it is written, even with
    allow_private_network (no socket is opened: nothing here may touch that address)."""
    fetcher = Fetcher(FetchOptions(allow_private_network=True))
    with pytest.raises(DownloadFailure) as e:
        fetcher._check_literal(check_url(f"http://{host}/latest/meta-data/").host)
    assert e.value.status == "blocked_address" and "metadata" in e.value.message


@pytest.mark.parametrize("address, private_ok", [
    ("fec0::1", True),  # site-local (deprecated, still routable inside sites)
    ("64:ff9b::a9fe:a9fe", False), ("64:ff9b::169.254.169.254", False),  # NAT64 of the metadata address
    ("64:ff9b:1::a9fe:a9fe", False),  # local-use NAT64: refused whatever its layout
    ("64:ff9b:1:a00:0:100:808:808", False), ("64:ff9b:1:a9fe:a9:fe00:808:808", False),  # /48 layouts
    ("::a9fe:a9fe", False), ("::169.254.169.254", False),  # IPv4-compatible
    ("::ffff:0:a9fe:a9fe", False),  # IPv4-translated
    ("::ffff:169.254.169.254", False), ("2002:a9fe:a9fe::1", False),
    ("64:ff9b::a00:1", True), ("::ffff:10.0.0.1", True), ("::10.0.0.1", True), ("64:ff9b::7f00:1", True),
])
def test_every_ipv4_embedding_is_judged_as_its_ipv4(address, private_ok):
    assert AddressPolicy().refusal(address)
    metadata = "169.254.169.254" in str(embedded_ipv4(__import__("ipaddress").ip_address(address)))
    relaxed = AddressPolicy(allow_private_network=True).refusal(address)
    if metadata:
        assert relaxed and "metadata" in relaxed
    else:
        assert (relaxed is None) == private_ok, relaxed


def test_public_addresses_in_ipv6_dress_stay_allowed():
    for address in ("64:ff9b::808:808", "::ffff:8.8.8.8", "2606:4700:4700::1111"):
        assert AddressPolicy().refusal(address) is None, address
    assert AddressPolicy(allowed_networks=("127.0.0.0/8",)).refusal("::ffff:127.0.0.1") is None


def test_the_socket_factory_has_the_last_word():
    """Whatever normalisation came before, the socket for a refused address is never made."""
    async def check():
        connector = GuardedConnector(AddressPolicy(allowed_networks=("127.0.0.0/8",)))
        try:
            for sockaddr in (("169.254.169.254", 80), ("10.0.0.1", 80), ("::1", 80, 0, 0), ("fec0::1", 80, 0, 0)):
                family = socket.AF_INET6 if ":" in sockaddr[0] else socket.AF_INET
                with pytest.raises(BlockedAddressError):
                    connector._socket((family, socket.SOCK_STREAM, 6, "", sockaddr))
            connector._socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80))).close()
            # IP literals go through the policy too (aiohttp's connector skips the resolver for them).
            with pytest.raises(BlockedAddressError):
                await connector._resolve_host("169.254.169.254", 80)
            assert (await connector._resolve_host("127.0.0.1", 80))[0]["host"] == "127.0.0.1"
        finally:
            await connector.close()
    asyncio.run(check())


def test_resolver_judges_literals_itself():
    async def check():
        resolver = SafeResolver(AddressPolicy())
        with pytest.raises(BlockedAddressError):
            await resolver.resolve("::ffff:127.0.0.1", 80)
        with pytest.raises(BlockedAddressError):
            await resolver.resolve("fec0::1", 80)
    asyncio.run(check())


# --- Content-Encoding ---------------------------------------------------------------------------------------

@pytest.mark.timeout(120)
def test_encoded_images_decode_and_encoding_bombs_are_bounded(web, tmp_path):
    for coding in CODINGS:  # made here, once: the server would make them on the first request, slowly
        encoded_zeros(coding, 64)
    urls = [web.url(f"/hostile/compressed/{c}/{i}_120x90.jpg") for i, c in enumerate(CODINGS)]
    urls += [web.url(f"/hostile/encoded/{c}/64/{IMG}") for c in CODINGS]
    rows = run_rows(tmp_path, urls, max_body_bytes=1024 * 1024)
    for url, row in zip(urls[:len(CODINGS)], rows):
        assert row["status"] == "success", (url, row)
    for url, row in zip(urls[len(CODINGS):], rows[len(CODINGS):]):
        assert row["status"] == "body_too_large", (url, row)
        assert "inflates to more than max_body_bytes=1048576" in row["error_message"]


def test_a_gigabyte_bomb_never_becomes_a_gigabyte():
    """1 GiB of zeros in 1 MB of gzip: decoding stops past the limit, holding a few MiB at most."""
    body, header = encoded_zeros("gzip", 1024)
    tracemalloc.start()
    try:
        with pytest.raises(DownloadFailure) as e:
            decode_body(body, header, 20 * 1024 * 1024)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert e.value.status == "body_too_large"
    assert peak < 64 * 1024 * 1024, peak


@pytest.mark.parametrize("coding", CODINGS)
def test_decode_body_round_trips_and_refuses_damage(coding):
    data = bytes(range(256)) * 400
    body, header = encode(data, coding)
    assert decode_body(body, header, len(data)) == data
    with pytest.raises(DownloadFailure) as e:
        decode_body(body, header, len(data) - 1)
    assert e.value.status == "body_too_large"
    with pytest.raises(DownloadFailure) as e:
        decode_body(body[: len(body) // 2], header, len(data))
    assert e.value.status == "decode_error"


def test_unknown_and_stacked_encodings_are_refused():
    with pytest.raises(DownloadFailure, match="unsupported Content-Encoding 'compress'"):
        decode_body(b"x", "compress", 100)
    with pytest.raises(DownloadFailure, match="stacks more than"):
        decode_body(b"x", "gzip, gzip, gzip", 100)
    assert decode_body(b"plain", "identity", 100) == b"plain"
    assert "gzip" in accept_encoding() and "br" in accept_encoding() and "zstd" in accept_encoding()


# --- decoders, pixel bombs and pixel modes -------------------------------------------------------------

REFUSED = ["tiff", "bmp", "ico", "eps", "pcx", "tga", "psd", "float_tiff"]


@pytest.mark.timeout(120)
def test_only_web_formats_are_decoded_whatever_the_server_claims(web, tmp_path):
    """Every body below is labelled image/jpeg; the bytes decide, and only JPEG, PNG, WebP and GIF open."""
    kinds = REFUSED + ["png_as_jpeg", "grey16"]
    rows = run_rows(tmp_path, [web.url(f"/hostile/image/{k}") for k in kinds])
    for kind, row in zip(kinds, rows):
        if kind in REFUSED:
            assert row["status"] == "unsupported_format", (kind, row)
            assert "image_formats=jpeg,png,webp,gif" in row["error_message"]
        else:
            assert row["status"] == "success", (kind, row)


def test_formats_are_opt_in():
    opts = ImageOptions(image_size=32, image_formats=("jpeg", "png", "tiff", "bmp"))
    for kind in ("tiff", "bmp"):
        assert process_image(hostile_image(kind), opts).width == 43  # keep_ratio from 64x48: 32 * 64 / 48
    with pytest.raises(DownloadFailure) as e:
        process_image(hostile_image("eps"), opts)
    assert e.value.status == "unsupported_format" and "EPS" in e.value.message
    with pytest.raises(ValueError, match="image_formats"):
        ImageOptions(image_formats=("psd",))


def _decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.mark.parametrize("kind, allowed", [("grey16", ("png",)), ("float_tiff", ("tiff",))])
def test_deep_pixel_modes_keep_their_levels(kind, allowed):
    """Mid-grey in 16-bit or float stays mid-grey (it came out white and black)."""
    out = process_image(hostile_image(kind), ImageOptions(image_size=32, encode_format="png",
                                                          image_formats=allowed))
    pixels = _decoded(out.data)
    assert abs(int(pixels.mean()) - 128) <= 2, pixels.mean()


@pytest.mark.parametrize("mode, value, expected", [
    ("I;16", 0, 0), ("I;16", 65535, 255), ("I;16", 257 * 200, 200), ("I", 1000, 4), ("I", 100, 100),
    ("F", 1.0, 255), ("F", 0.25, 64), ("F", 200.0, 200), ("F", float("nan"), 0),
])
def test_to_rgb_levels(mode, value, expected):
    from transforms.download.images import _to_rgb
    img = Image.new(mode, (4, 4), value)
    assert _to_rgb(img).getpixel((0, 0)) == (expected,) * 3


@pytest.mark.parametrize("kind", ["wide_20000", "wide_100000", "tall_100000"])
def test_pixel_bombs_at_the_output_are_refused_before_resizing(kind):
    data = hostile_image(kind)
    with pytest.raises(DownloadFailure) as e:
        process_image(data, ImageOptions(image_size=256, resize_mode="keep_ratio"))
    assert e.value.status == "image_too_large" and "max_output_pixels" in e.value.message
    # The modes whose output is bounded by image_size still work, without ever allocating the long strip.
    for mode in ("center_crop", "keep_ratio_largest", "border"):
        out = process_image(data, ImageOptions(image_size=256, resize_mode=mode))
        assert max(out.width, out.height) == 256, (mode, out.width, out.height)



def test_a_long_image_within_the_bounds_still_resizes():
    out = process_image(hostile_image("wide_20000"), ImageOptions(image_size=3, resize_mode="keep_ratio"))
    assert (out.width, out.height) == (60_000, 3)  # 180 k pixels, and JPEG holds 65,500 a side
    for fmt, size in (("jpg", 4), ("webp", 1)):  # 80,000 and 20,000 a side: more than the encoder holds
        with pytest.raises(DownloadFailure, match="pixels a side"):
            process_image(hostile_image("wide_20000"), ImageOptions(image_size=size, encode_format=fmt))


def test_center_crop_of_a_long_image_allocates_only_the_square():
    data = hostile_image("wide_100000")
    tracemalloc.start()
    try:
        out = process_image(data, ImageOptions(image_size=256, resize_mode="center_crop"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (out.width, out.height) == (256, 256)
    assert peak < 32 * 1024 * 1024, peak  # the 25,600,000x256 intermediate would be 19 GB


# --- robots.txt ---------------------------------------------------------------------------------------------

def _regex_allows(text: str, path: str) -> bool:
    """The old regex matcher, as the reference for small cases."""
    import re
    from urllib.parse import unquote
    best = None
    for allow, value in [(r.allow, r) for r in parse_robots(text, "wit-pipeline").rules]:
        pattern = "*".join(value.parts)
        body = re.escape(pattern).replace(r"\*", ".*") + ("$" if value.anchored else "")
        if re.match(body, unquote(path), re.DOTALL) and (best is None or value.length > best[1] or
                                                         (value.length == best[1] and allow)):
            best = (allow, value.length)
    return True if best is None else best[0]


def test_linear_matcher_agrees_with_the_regex_matcher():
    rng = np.random.default_rng(7)
    alphabet = list("ab/*$.")
    for _ in range(3000):
        rules = []
        for _ in range(rng.integers(1, 4)):
            pattern = "/" + "".join(rng.choice(alphabet[:5], rng.integers(0, 6)))
            pattern = pattern.replace("$", "") + ("$" if rng.random() < 0.3 else "")
            rules.append(f"{'Allow' if rng.random() < 0.4 else 'Disallow'}: {pattern}")
        text = "User-agent: *\n" + "\n".join(rules) + "\n"
        path = "/" + "".join(rng.choice(list("ab/."), rng.integers(0, 8)))
        assert parse_robots(text, "wit-pipeline").allows("http://e.com" + path) == _regex_allows(text, path), \
            (text, path)


@pytest.mark.timeout(60)
def test_wildcard_robots_is_linear():
    """`Disallow: /*a*a*...*b` against a long path of a's: a backtracking regex takes minutes here."""
    rules = parse_robots(wildcard_robots(stars=200, rules=200), "wit-pipeline")
    for n in range(20):
        assert rules.allows("http://e.com/" + "a" * (2000 + n))
    assert not rules.allows("http://e.com/" + "a" * 300 + "b")
    assert not rules.allows("http://e.com/private/x.jpg")



def test_too_many_wildcard_rules_disallow_the_site_and_literal_rules_stay_cheap():
    from transforms.download.safety import MAX_WILDCARD_RULES
    many = parse_robots(wildcard_robots(stars=2, rules=MAX_WILDCARD_RULES + 1), "wit-pipeline")
    assert not many.allows("http://e.com/x.jpg") and "wildcard rules" in many.disallow_all
    # Literal rules are looked up by length, not scanned: 60,000 of them are fine, and still exact.
    literal = parse_robots("User-agent: *\n" + "".join(f"Disallow: /a{i}\n" for i in range(60_000))
                           + "Allow: /a59999/ok\n", "wit-pipeline")
    assert literal.disallow_all is None
    assert not literal.allows("http://e.com/a59999/x") and literal.allows("http://e.com/a59999/ok")
    assert literal.allows("http://e.com/b1")


@pytest.mark.timeout(120)
def test_a_hostile_robots_txt_costs_nothing_to_other_rows(tmp_path):
    with TestWeb(robots_txt=wildcard_robots(stars=100, rules=100)) as hostile_web:
        urls = [hostile_web.url(f"/img/{i}_{'a' * 500}.jpg") for i in range(3)]  # 404 names, matched first
        urls += [hostile_web.url(f"/img/{i}_120x90.jpg") for i in range(20)]
        urls += [hostile_web.url(f"/private/{IMG}")]
        rows = run_rows(tmp_path, urls)
    assert [r["status"] for r in rows[3:-1]] == ["success"] * 20
    assert rows[-1]["status"] == "robots_disallowed"


# --- found by attacking the first version (each failed before its fix) ------------------------------------

@pytest.mark.timeout(120)  # a hang guard: the old code never finished this shard
def test_two_hosts_redirecting_to_each_other_do_not_deadlock(web, tmp_path):
    """Row A on 127.0.0.1 redirects to localhost, row B on localhost to 127.0.0.1, one slot per host: a row
    that held its first host's slot while waiting for the other's deadlocked with its mirror."""
    a, b = f"http://127.0.0.1:{web.port}", f"http://localhost:{web.port}"
    urls = [f"{a}/hostile/location?to={b}/img/{i}_64x48.jpg" if i % 2 else
            f"{b}/hostile/location?to={a}/img/{i}_64x48.jpg" for i in range(8)]
    rows = run_rows(tmp_path, urls, per_host_concurrency=1, concurrency=4)
    assert [r["status"] for r in rows] == ["success"] * 8


def test_many_gzip_members_or_zstd_frames_are_refused_at_once():
    import zlib
    from transforms.download.body import MAX_MEMBERS, zstd
    empty_gzip = zlib.compress(b"", wbits=31)
    with pytest.raises(DownloadFailure, match=f"more than {MAX_MEMBERS}"):
        decode_body(empty_gzip * 50_000, "gzip", 1 << 20)
    with pytest.raises(DownloadFailure, match=f"more than {MAX_MEMBERS}"):
        decode_body(zstd.compress(b"") * 50_000, "zstd", 1 << 20)
    assert decode_body(zlib.compress(b"a", wbits=31) * 3, "gzip", 100) == b"aaa"  # a few members are fine


@pytest.mark.parametrize("make, phrase", [
    (lambda: progressive_jpeg(150), "scans"),
    (lambda: jpeg_with_markers(1500), "APP or COM markers"),
    (lambda: png_with_chunks(25_000), "chunks"),
    (lambda: gif_with_comment(2 << 20), "extensions"),
])
def test_structures_that_cost_a_decoder_minutes_are_refused_before_decoding(make, phrase):
    with pytest.raises(DownloadFailure) as e:
        process_image(make(), ImageOptions(image_size=32))
    assert e.value.status == "decode_error" and phrase in e.value.message


def test_ordinary_structures_pass_and_no_source_metadata_is_stored():
    assert process_image(progressive_jpeg(0), ImageOptions(image_size=32)).width == 32
    out = process_image(gif_with_comment(100_000), ImageOptions(image_size=32))  # was internal_error (COM > 64 KB)
    assert b"ccc" not in out.data
    buf = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buf, "JPEG", comment=b"visit evil.example")
    assert b"evil.example" not in process_image(buf.getvalue(), ImageOptions(image_size=32)).data


def test_deep_pixels_convert_in_bands():
    """A 4000x4000 16-bit PNG: full-size float64 temporaries took 2 GB at 9400x9400."""
    from transforms.download.images import _to_rgb
    img = Image.new("I;16", (4000, 4000), 32768)
    tracemalloc.start()
    try:
        out = _to_rgb(img)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.getpixel((3999, 3999)) == (128, 128, 128)
    assert peak < 80 * 1024 * 1024, peak  # the 2-byte input copy and the 1-byte output, plus one band


def test_retry_after_takes_ascii_digits_only():
    from transforms.download.fetch import _retry_after
    assert _retry_after("²") is None and _retry_after("12") == 12.0


@pytest.mark.timeout(120)
def test_a_robots_txt_past_512_kib_is_read_up_to_there_not_ignored(tmp_path):
    robots = "User-agent: *\nDisallow: /\n" + "# padding\n" * 70_000  # 700 KB
    with TestWeb(robots_txt=robots) as padded:
        rows = run_rows(tmp_path, [padded.url(f"/img/{IMG}")])
    assert rows[0]["status"] == "robots_disallowed", rows[0]


def test_local_use_nat64_is_refused_unless_named():
    assert "local-use NAT64" in AddressPolicy(allow_private_network=True).refusal("64:ff9b:1:a00:0:100:808:808")
    assert AddressPolicy(allowed_networks=("64:ff9b:1::/48",)).refusal("64:ff9b:1::808:808") is None
