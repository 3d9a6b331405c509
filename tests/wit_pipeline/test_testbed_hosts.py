"""HostsWeb: several loopback hosts that each record the load they see (for per-host budget tests)."""
import io
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from wit_pipeline.testbed.hosts import HostsWeb, max_in_window


def fetch(url, timeout=10.0):
    """(status, content type, body) without raising on HTTP errors."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.headers.get_content_type(), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get_content_type(), err.read()


@pytest.fixture(scope="module")
def hosts_web():
    with HostsWeb(3, delay=0.2) as hw:
        yield hw


@pytest.fixture
def hw(hosts_web):
    hosts_web.reset()
    return hosts_web


def test_hosts_are_distinct_loopback_addresses(hw):
    assert [h.rsplit(":", 1)[0] for h in hw.hosts] == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    assert hw.url(1, "/img/x.jpg") == f"http://{hw.hosts[1]}/img/x.jpg"


def test_concurrent_load_is_recorded_per_host(hw):
    urls = [hw.url(0, f"/img/{i}.jpg") for i in range(8)] + [hw.url(1, f"/img/{i}.jpg") for i in range(2)]
    with ThreadPoolExecutor(len(urls)) as pool:
        results = list(pool.map(fetch, urls))
    for status, ctype, body in results:
        assert (status, ctype) == (200, "image/jpeg")
        assert Image.open(io.BytesIO(body)).size == (32, 24)
    stats = hw.stats()
    h0, h1, h2 = hw.hosts
    assert stats[h0]["requests"] == 8
    assert 2 <= stats[h0]["max_in_flight"] <= 8  # they overlap: each waits 0.2 s on the server
    assert stats[h1]["requests"] == 2
    assert stats[h1]["max_in_flight"] <= 2
    assert stats.get(h2, {"requests": 0})["requests"] == 0
    for s in (stats[h0], stats[h1]):
        assert s["first"] <= s["last"]
        assert 1 <= s["max_in_any_second"] <= s["requests"]
    if stats[h0]["last"] - stats[h0]["first"] < 1.0:  # all started within one second (no speed assumed)
        assert stats[h0]["max_in_any_second"] == 8


def test_paced_requests_count_one_per_second(hw):
    for i in range(2):
        if i:
            time.sleep(2.0)
        assert fetch(hw.url(1, "/img/a.jpg"))[0] == 200
    s = hw.stats()[hw.hosts[1]]
    assert s["requests"] == 2
    assert s["max_in_any_second"] == 1
    assert s["max_in_flight"] == 1
    assert s["last"] - s["first"] >= 2.0


def test_robots_and_404_are_served_and_recorded(hw):
    status, ctype, body = fetch(hw.url(2, "/robots.txt"))
    assert (status, ctype, body) == (200, "text/plain", b"User-agent: *\nAllow: /\n")
    assert fetch(hw.url(2, "/nope.html"))[0] == 404
    s = hw.stats()[hw.hosts[2]]
    assert s["requests"] == 2
    assert s["max_in_flight"] == 1


def test_host_is_the_local_address_not_the_host_header(hw):
    req = urllib.request.Request(hw.url(0, "/robots.txt"), headers={"Host": hw.hosts[1]})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    stats = hw.stats()
    assert stats[hw.hosts[0]]["requests"] == 1
    assert hw.hosts[1] not in stats


def test_reset_forgets(hw):
    fetch(hw.url(0, "/robots.txt"))
    assert hw.stats()
    hw.reset()
    assert hw.stats() == {}


def test_custom_robots_txt():
    with HostsWeb(1, robots_txt="User-agent: *\nDisallow: /\n") as hw:
        assert fetch(hw.url(0, "/robots.txt"))[2] == b"User-agent: *\nDisallow: /\n"
    with pytest.raises(OSError):
        fetch(hw.url(0, "/robots.txt"), timeout=2)  # stopped: nothing listens there any more


def test_max_in_window():
    assert max_in_window([]) == 0
    assert max_in_window([0.0, 0.5, 0.99, 1.0, 1.5]) == 3  # [t, t + 1): 1.0 is not in [0, 1)
    assert max_in_window([5.0, 3.0, 1.0]) == 1
    assert max_in_window([2.0, 0.0, 0.1, 0.2, 2.05]) == 3
