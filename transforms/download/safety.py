"""Safety and politeness rules of the downloader, as plain functions and one aiohttp resolver.

- Addresses: no private, loopback, link-local, site-local, multicast, reserved or cloud-metadata address is
  fetched. Checked on IP literals before each hop, on every DNS answer (so a public name that resolves to
  10.0.0.1, or a redirect to one, is refused before any connection is made) and, last, on the exact address
  each socket is about to connect to. An IPv6 address that embeds an IPv4 one is judged as that IPv4.
- robots.txt (RFC 9309: longest match wins, Allow wins ties, 4xx = allow all, unreachable = disallow all),
  matched in linear time.
- X-Robots-Tag: noai, noimageai, noindex, noimageindex, none.
"""
from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from aiohttp import TCPConnector
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver

from .options import OPT_OUT_DIRECTIVES

# Cloud metadata services: never fetched, even with allow_private_network (they are never images and
# are the classic server-side request forgery target).
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack
    "169.254.170.2",  # AWS ECS task metadata
    "100.100.100.200",  # Alibaba Cloud
    "fd00:ec2::254",  # AWS IPv6
))


MAX_WILDCARD_RULES = 500  # real files have a few dozen; more only serve to make matching cost CPU


class BlockedAddressError(OSError):
    """A host resolved only to addresses the policy refuses (raised inside aiohttp's connector)."""


# Happy Eyeballs folds the errors of several addresses into one plain OSError: this mark survives that.
BLOCKED_MARK = "refused address:"


# IPv6 prefixes whose last 32 bits are an IPv4 address the packet ends up at (or is translated to): an
# address in them is judged as that IPv4 address, so a blocked IPv4 cannot be reached in IPv6 dress.
_IPV4_EMBEDDING = tuple(ipaddress.ip_network(n) for n in (
    "::ffff:0:0/96",  # IPv4-mapped
    "::ffff:0:0:0/96",  # IPv4-translated (SIIT, RFC 2765)
    "64:ff9b::/96",  # NAT64 well-known prefix (RFC 6052)
    "::/96",  # IPv4-compatible (deprecated, RFC 4291); :: and ::1 are judged as themselves
))


# RFC 8215's local-use NAT64 prefix: with /48, /56 or /64 layouts the IPv4 sits in other bits (RFC 6052), so
# no single reading of it is safe: refused unless allowed_networks names it.
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address an IPv6 address stands for (mapped, translated, NAT64, compatible, 6to4, Teredo)."""
    found = []
    if int(ip) > 1 and any(ip in net for net in _IPV4_EMBEDDING):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour:
        found.append(ip.sixtofour)
    if ip.teredo:  # (server, client): the client is where the traffic goes; judge both
        found.extend(ip.teredo)
    return found


@dataclass(frozen=True)
class AddressPolicy:
    allow_private_network: bool = False
    allowed_networks: tuple = ()
    _networks: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        try:
            nets = tuple(ipaddress.ip_network(n, strict=False) for n in self.allowed_networks)
        except ValueError as e:
            raise ValueError(f"allowed_networks: {e}") from None
        object.__setattr__(self, "_networks", nets)

    def refusal(self, address: str) -> str | None:
        """Why `address` (an IP string) may not be fetched, or None when it may.

        An IPv6 address that embeds IPv4 addresses is judged as each of them: all must pass."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return f"{address!r} is not an IP address"
        if ip in _LOCAL_NAT64 and not any(ip in net for net in self._networks):
            return f"{ip} is a local-use NAT64 address: where its IPv4 sits depends on the network's prefix"
        judged = embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else []
        for one in judged or [ip]:
            reason = self._refusal(one)
            if reason:
                return reason if one is ip else f"{ip} embeds {reason}"
        return None

    def _refusal(self, ip) -> str | None:
        if ip in METADATA_ADDRESSES:
            return f"{ip} is a cloud metadata address"
        if self.allow_private_network or any(ip in net for net in self._networks):
            return None
        for kind in ("loopback", "link_local", "site_local", "multicast", "private", "reserved", "unspecified"):
            if getattr(ip, f"is_{kind}", False):
                return f"{ip} is a {kind.replace('_', '-')} address"
        if not ip.is_global:
            return f"{ip} is not a public address"
        return None


def ip_literal(host: str) -> str | None:
    """The host as an IP string when it is an IP literal (aiohttp skips DNS for those), else None."""
    host = host.strip("[]")
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        return None


class SafeResolver(AbstractResolver):
    """Resolves through aiohttp's default resolver and drops every address the policy refuses."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None):
        self.policy = policy
        self.inner = inner or DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET):
        literal = ip_literal(host)
        if literal is not None:  # judged here too, so a literal never depends on the caller's own check
            refusal = self.policy.refusal(literal)
            if refusal:
                raise BlockedAddressError(refusal)
            return [{"hostname": host, "host": literal, "port": port, "family": _family(literal),
                     "proto": 0, "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV}]
        results = await self.inner.resolve(host, port, family)
        allowed = [r for r in results if self.policy.refusal(r["host"]) is None]
        if not allowed:
            reasons = sorted({self.policy.refusal(r["host"]) for r in results})
            raise BlockedAddressError(f"{host} resolves only to refused addresses: {'; '.join(reasons)}")
        return allowed

    async def close(self) -> None:
        await self.inner.close()


def _family(literal: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in literal else socket.AF_INET


class GuardedConnector(TCPConnector):
    """aiohttp's connector with two guards no hop can skip.

    - Every host goes through the SafeResolver, IP literals included (aiohttp's own connector skips the
      resolver for a host that is already an IP, so the guard would rest on the caller spelling it alike).
    - The socket factory judges the exact address each socket is about to connect to, after every
      normalisation aiohttp, yarl and the resolver applied: the last word, whatever came before.
    """

    def __init__(self, policy: AddressPolicy, **kwargs):
        self._policy = policy
        super().__init__(resolver=SafeResolver(policy), socket_factory=self._socket, **kwargs)

    async def _resolve_host(self, host: str, port: int, traces=None):
        if ip_literal(host) is None:
            return await super()._resolve_host(host, port, traces)
        return await self._resolver.resolve(host, port, family=self._family)

    def _socket(self, addr_info) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        refusal = self._policy.refusal(str(sockaddr[0]))
        if refusal:
            raise BlockedAddressError(f"{BLOCKED_MARK} {refusal}")
        return socket.socket(family=family, type=type_, proto=proto)


# --- robots.txt (RFC 9309) -----------------------------------------------------------------------------

@dataclass(frozen=True)
class RobotsRule:
    """One Allow/Disallow line, split at its `*` wildcards: matched in linear time, never by backtracking
    (`Disallow: /*a*a*a*...*b` made a regex spend tens of seconds per URL)."""

    allow: bool
    parts: tuple  # the pattern (percent-decoded) split at '*'
    anchored: bool  # the pattern ended with '$'
    length: int  # the pattern's length, for "longest match wins"

    @classmethod
    def parse(cls, allow: bool, value: str) -> "RobotsRule":
        pattern = unquote(value)
        anchored = pattern.endswith("$")
        return cls(allow, tuple((pattern[:-1] if anchored else pattern).split("*")), anchored, len(value))

    def matches(self, path: str) -> bool:
        """Leftmost placement of each literal piece is optimal for `*`-only globs, so one forward pass of
        str.find (linear in CPython) decides it."""
        first, *rest = self.parts
        if not path.startswith(first):
            return False
        if not rest:
            return not self.anchored or len(path) == len(first)
        pos = len(first)
        for piece in rest[:-1]:
            found = path.find(piece, pos)
            if found < 0:
                return False
            pos = found + len(piece)
        last = rest[-1]
        if self.anchored:
            return len(path) - len(last) >= pos and path.endswith(last)
        return path.find(last, pos) >= 0


@dataclass
class RobotsRules:
    """The rules of the group that applies to our product token.

    allows() costs at most the total length of the distinct literal rule lengths plus MAX_WILDCARD_RULES
    linear scans of the path, whatever the file holds: literal rules (most of them) are looked up by length
    in a dict, and a file with more wildcard rules than that counts as disallowing everything (the only
    reading of it that is both cheap and polite)."""

    rules: list = field(default_factory=list)  # RobotsRule, in file order
    disallow_all: str | None = None  # a reason when the whole site counts as disallowed
    _literal: dict = field(init=False, repr=False, default_factory=dict)  # length -> {pattern: [rules]}
    _wildcard: list = field(init=False, repr=False, default_factory=list)

    def __post_init__(self):
        for rule in self.rules:
            if len(rule.parts) == 1:
                self._literal.setdefault(len(rule.parts[0]), {}).setdefault(rule.parts[0], []).append(rule)
            else:
                self._wildcard.append(rule)
        if len(self._wildcard) > MAX_WILDCARD_RULES and self.disallow_all is None:
            self.disallow_all = (f"robots.txt has {len(self._wildcard)} wildcard rules, more than "
                                 f"{MAX_WILDCARD_RULES}: the site counts as disallowed")

    def costly(self, url: str) -> bool:
        """Whether matching `url` may take long enough (wildcard rules x path length) to run off the loop."""
        return len(self._wildcard) * len(url) > 100_000

    def allows(self, url: str) -> bool:
        if self.disallow_all is not None:
            return False
        parts = urlsplit(url)
        # Rules are compared percent-decoded (RFC 9309 2.2.2), so decode the URL's path the same way.
        path = unquote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        candidates = [rule for length, by_pattern in self._literal.items() if length <= len(path)
                      for rule in by_pattern.get(path[:length], ()) if rule.matches(path)]
        candidates += [rule for rule in self._wildcard if rule.matches(path)]
        best = None
        for rule in candidates:  # RFC 9309: the longest match wins; Allow wins a tie
            if best is None or rule.length > best.length or (rule.length == best.length and rule.allow):
                best = rule
        return True if best is None else best.allow


def parse_robots(text: str, token: str) -> RobotsRules:
    """The rules for `token` (case-insensitive), else the `*` group, else none (everything allowed)."""
    groups: list[tuple[list[str], list[tuple[bool, str]]]] = []
    in_agents = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        key, value = (s.strip() for s in line.split(":", 1))
        key = key.lower()
        if key == "user-agent":
            if not in_agents:
                groups.append(([], []))
            groups[-1][0].append(value.lower())
            in_agents = True
        elif key in ("allow", "disallow") and groups:
            in_agents = False
            if value:  # an empty Disallow allows everything
                groups[-1][1].append((key == "allow", value))
    token = token.lower()  # RFC 9309: the product token matches exactly, case-insensitively
    mine = [rules for agents, rules in groups if token in agents]
    chosen = mine or [rules for agents, rules in groups if "*" in agents]
    merged = [r for rules in chosen for r in rules]  # RFC 9309: groups for the same agent are combined
    return RobotsRules([RobotsRule.parse(allow, v) for allow, v in merged])


def opt_out_directive(header_values: list[str], token: str, directives=OPT_OUT_DIRECTIVES) -> str | None:
    """The X-Robots-Tag directive that opts this response out of our crawl, or None."""
    token = token.lower()
    for value in header_values:
        match = re.match(r"\s*([A-Za-z0-9_.-]+)\s*:(.*)$", value)
        if match and match.group(1).lower() not in ("unavailable_after", "max-snippet", "max-image-preview",
                                                    "max-video-preview"):
            agent, value = match.group(1).lower(), match.group(2)
            if agent not in ("*", token):
                continue  # a rule for another crawler
        for directive in value.split(","):
            directive = directive.strip().lower()
            if directive in directives:
                return directive
    return None
