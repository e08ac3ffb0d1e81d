"""The check a public update goes through before it is published: does it give away internal details?

``find_internal_details(text, ...)`` returns a list of ``Finding`` (kind, matched text, start, end, and a
message for the messenger such as "internal hostname db-3.prod.internal"); the messenger sees them and must
confirm before publishing. ``redact(text, findings)`` replaces the findings with "[redacted]" for a preview.
Pure: no models, no database.

What is found
-------------
- ``internal_hostname``: a host under a configured internal domain (the domain itself or any subdomain);
  a host under a suffix that is never public (``.internal``, ``.local`` incl. ``.svc.cluster.local``,
  ``.lan``, ``.corp``, ``.home.arpa``, ``.localhost``); and a shortened host such as ``db-3.prod`` whose last
  labels are the first labels of a configured internal domain (``prod.internal``). Inside a link the whole
  link is the finding, so a redacted preview does not leave the path behind. Fullwidth and ideographic dots
  count as dots; letters are compared case-insensitively.
- ``private_address``: a bare IPv4 or IPv6 address (optionally with a ``/prefix``) in 10/8, 172.16/12,
  192.168/16, 127/8, 100.64/10 (shared address space), 169.254/16 (link-local), ``::1``, fc00::/7 (unique
  local) or fe80::/10 (link-local), also as an IPv4-mapped IPv6 address.
- ``staff_email``: an address in ``staff_emails`` (exact, case-insensitive), or any address at an internal
  domain or suffix as above. Other addresses (the support address) are not findings.
- ``private_title``: the title of a private incident, case-insensitive, whitespace-flexible, on word
  boundaries; titles shorter than ``MIN_TITLE_LENGTH`` characters are ignored, as they would match ordinary
  words.
- ``pattern``: anything matching a configured regular expression.

A public hostname such as ``status.example.com`` is not a finding unless its domain is configured internal.

Settings (applied in addition to the arguments, so a caller cannot forget them)
------------------------------------------------------------------------------
``STATUSPAGE_INTERNAL_DOMAINS``: a list of domains, e.g. ``["corp.example.com", "prod.internal"]``
(a leading ``*.`` or ``.`` is ignored).
``STATUSPAGE_REDACTION_PATTERNS``: a list of regular expressions, each a string or a ``(label, regex)`` pair
(the label names it in the message), e.g. ``[("ticket", r"\\bOPS-\\d+\\b")]``. A pattern that does not
compile, is longer than ``MAX_PATTERN_LENGTH``, can match the empty string, or nests one unbounded
repetition inside another (``(a+)+``, the classic shape of catastrophic backtracking) raises
``RedactionConfigError`` naming the setting, the entry and the reason.

Bounds
------
The built-in detectors are linear in the text: a token starts only where no letter, digit, dot or hyphen
precedes it, and labels (63 characters), hosts (31 labels) and email local parts (64 characters) are
bounded, so each position is scanned a bounded number of times; a longer dotted chain is not taken for a
host. An underscore around a token (markdown's ``_emphasis_``) does not hide it. Python's ``re`` cannot
interrupt a search, so configured patterns are screened when compiled (above; a screen for the common
mistake, not a proof) and the whole check reads at most ``MAX_TEXT_LENGTH`` characters: beyond that it
returns a ``too_long`` finding covering the unchecked rest, so the messenger is told and a redacted preview
hides it (fail closed).
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

try:  # Python 3.11+
    import re._parser as _sre_parse
except ImportError:  # pragma: no cover - older Pythons
    import sre_parse as _sre_parse  # type: ignore[no-redef]

HOSTNAME = "internal_hostname"
ADDRESS = "private_address"
EMAIL = "staff_email"
TITLE = "private_title"
PATTERN = "pattern"
TOO_LONG = "too_long"
KINDS: tuple[str, ...] = (HOSTNAME, ADDRESS, EMAIL, TITLE, PATTERN, TOO_LONG)

REDACTED = "[redacted]"
MIN_TITLE_LENGTH = 8
MAX_TEXT_LENGTH = 200_000
MAX_PATTERN_LENGTH = 500
MAX_PATTERNS = 200

INTERNAL_DOMAINS_SETTING = "STATUSPAGE_INTERNAL_DOMAINS"
PATTERNS_SETTING = "STATUSPAGE_REDACTION_PATTERNS"

# Suffixes that never resolve on the public internet (RFC 6762 .local, RFC 8375 home.arpa, RFC 6761
# .localhost, ICANN's reserved .internal) and the customary private ones (.lan, .corp).
INTERNAL_SUFFIXES: tuple[str, ...] = ("internal", "local", "lan", "corp", "home.arpa", "localhost")

PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "127.0.0.0/8",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)


class RedactionConfigError(ImproperlyConfigured):
    """A configured pattern or domain cannot be used; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    text: str
    start: int
    end: int
    message: str

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "message": self.message,
        }


def find_internal_details(
    text: str,
    *,
    internal_domains: Iterable[str] = (),
    staff_emails: Iterable[str] = (),
    private_titles: Iterable[str] = (),
    patterns: Iterable[str | tuple[str, str]] = (),
) -> list[Finding]:
    """Every internal detail in ``text``, ordered by position (then the longer first).

    Findings may overlap (a staff email that also matches a pattern is reported under both); ``redact``
    merges overlaps. Raises ``RedactionConfigError`` for an unusable pattern, from the arguments or the
    setting.
    """
    compiled = _compile_patterns(
        tuple(_pattern_entries(getattr(settings, PATTERNS_SETTING, None) or (), PATTERNS_SETTING))
        + tuple(_pattern_entries(patterns, "patterns"))
    )
    domains = _normalise_domains(
        [*_as_list(getattr(settings, INTERNAL_DOMAINS_SETTING, None) or ()), *_as_list(internal_domains)]
    )
    staff = {email.strip().casefold() for email in _as_list(staff_emails) if email and email.strip()}

    findings: list[Finding] = []
    if len(text) > MAX_TEXT_LENGTH:
        findings.append(
            Finding(
                TOO_LONG,
                text[MAX_TEXT_LENGTH:],
                MAX_TEXT_LENGTH,
                len(text),
                f"text after character {MAX_TEXT_LENGTH} was not checked (the text is {len(text)} characters)",
            )
        )
        text = text[:MAX_TEXT_LENGTH]

    email_spans: list[tuple[int, int]] = []
    for match in _EMAIL.finditer(text):
        email_spans.append(match.span())
        address = match.group()
        domain = _dots(match.group("domain")).casefold()
        if address.casefold() in staff:
            findings.append(Finding(EMAIL, address, *match.span(), f"staff email {address}"))
        elif _internal_reason(domain, domains):
            findings.append(Finding(EMAIL, address, *match.span(), f"email at internal domain {address}"))

    links = [(m.start(), _trim_link_end(m)) for m in _LINK.finditer(text)]
    network: list[Finding] = []
    for match in _HOST.finditer(text):
        if _enclosing(match.span(), email_spans) is not None:
            continue
        host = _dots(match.group()).casefold()
        if _all_numeric(host):
            continue  # a version number or an IPv4 address (checked below)
        if _internal_reason(host, domains):
            network.append(
                Finding(HOSTNAME, match.group(), *match.span(), f"internal hostname {match.group()}")
            )
    for match in _IPV4.finditer(text):
        _add_address(network, match.group(), match.span(), match.group("addr"))
    for match in _IPV6.finditer(text):
        _add_address(network, match.group(), match.span(), match.group("addr"))
    # An IPv4 address inside an IPv6 one (::ffff:10.0.0.1) is one finding, the outer one.
    outer: list[Finding] = []
    cover = (-1, -1)
    for finding in sorted(network, key=lambda f: (f.start, -f.end)):
        if finding.end <= cover[1] and (finding.start, finding.end) != cover:
            continue
        if finding.end > cover[1]:
            cover = (finding.start, finding.end)
        outer.append(finding)
    for finding in outer:
        link = _enclosing((finding.start, finding.end), links)
        if link is not None and link != (finding.start, finding.end):
            start, end = link
            finding = Finding(
                finding.kind, text[start:end], start, end, f"{finding.message} in the link {text[start:end]}"
            )
        findings.append(finding)

    for title, regex in _title_regexes(private_titles):
        for match in regex.finditer(text):
            findings.append(
                Finding(TITLE, match.group(), *match.span(), f"title of a private incident: {title!r}")
            )

    for label, regex in compiled:
        for match in regex.finditer(text):
            if match.end() > match.start():
                findings.append(
                    Finding(
                        PATTERN, match.group(), *match.span(), f"matches the pattern {label}: {match.group()}"
                    )
                )

    unique = {(f.kind, f.start, f.end): f for f in findings}
    return sorted(unique.values(), key=lambda f: (f.start, -f.end, KINDS.index(f.kind)))


def redact(text: str, findings: Iterable[Finding]) -> str:
    """``text`` with every finding replaced by "[redacted]"; overlapping or touching findings become one."""
    spans = sorted((f.start, f.end) for f in findings)
    for start, end in spans:
        if not 0 <= start <= end <= len(text):
            raise ValueError(f"A finding at {start}-{end} lies outside the text ({len(text)} characters).")
    merged: list[list[int]] = []
    for start, end in spans:
        if start == end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    parts = []
    position = 0
    for start, end in merged:
        parts.append(text[position:start])
        parts.append(REDACTED)
        position = end
    parts.append(text[position:])
    return "".join(parts)


def validate_patterns() -> None:
    """Compile ``STATUSPAGE_REDACTION_PATTERNS`` now (for a system check); raise ``RedactionConfigError``."""
    _compile_patterns(
        tuple(_pattern_entries(getattr(settings, PATTERNS_SETTING, None) or (), PATTERNS_SETTING))
    )


# --- detectors -------------------------------------------------------------------------------------------

_DOT = "[.\u3002\uff0e\uff61]"  # full stop, ideographic, fullwidth and halfwidth ideographic full stops
# A label is at most 63 characters (RFC 1035) and a host at most 31 labels here: with those bounds, and a
# token starting only where no letter, digit, dot or hyphen precedes it, each position is scanned a bounded
# number of times. An underscore may precede or follow a token (markdown's _emphasis_), so it is not a letter.
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_HOST_BODY = rf"{_LABEL}(?:{_DOT}{_LABEL}){{1,30}}"
_HOST_END = rf"(?![^\W_]|-|{_DOT}[^\W_])"
_HOST = re.compile(rf"(?<![^\W_]|[.\-\u3002\uff0e\uff61]){_HOST_BODY}{_HOST_END}")
_EMAIL = re.compile(rf"(?<![^\W_]|[.%+\-])[^\W_][\w.%+\-]{{0,63}}@(?P<domain>{_HOST_BODY}){_HOST_END}")
_IPV4 = re.compile(r"(?<![^\W_]|\.)(?P<addr>(?:\d{1,3}\.){3}\d{1,3})(?:/\d{1,2})?(?![^\W_]|\.\d)")
_IPV6 = re.compile(
    r"(?<![^\W_]|[:.])(?P<addr>(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?)"
    r"(?:%[\w\-]+)?(?:/\d{1,3})?(?![^\W_]|:|\.\d)"
)
_LINK = re.compile(r"(?<![\w+.\-])[A-Za-z][A-Za-z0-9+.\-]{0,31}://[^\s<>\"'`]+")
_LINK_TRAILING = ".,;:!?)]}'\""


def _trim_link_end(match: re.Match) -> int:
    end = match.end()
    text = match.string
    while end > match.start() and text[end - 1] in _LINK_TRAILING:
        end -= 1
    return end


def _dots(value: str) -> str:
    return re.sub(_DOT, ".", value)


def _all_numeric(host: str) -> bool:
    return all(label.isdigit() for label in host.split("."))


def _enclosing(span: tuple[int, int], spans: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The span of ``spans`` (sorted, not overlapping: finditer's) that contains ``span``, if any."""
    index = bisect.bisect_right(spans, (span[0], float("inf"))) - 1
    if index >= 0 and spans[index][0] <= span[0] and span[1] <= spans[index][1]:
        return spans[index]
    return None


def _internal_reason(host: str, domains: tuple[str, ...]) -> bool:
    """Whether ``host`` (lower case, ASCII dots) is internal: see the module docstring."""
    for suffix in (*domains, *INTERNAL_SUFFIXES):
        if host == suffix or host.endswith("." + suffix):
            return True
    labels = host.split(".")
    for domain in domains:
        domain_labels = domain.split(".")
        # "db-3.prod" is short for "db-3.prod.internal": the host's last labels start the domain, and a host
        # label is left in front of them.
        for k in range(1, min(len(domain_labels), len(labels) - 1) + 1):
            if labels[-k:] == domain_labels[:k] and k < len(domain_labels):
                return True
    return False


def _add_address(findings: list[Finding], matched: str, span: tuple[int, int], address: str) -> None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return  # a clock time such as 14:30:00, or not an address at all
    mapped = getattr(ip, "ipv4_mapped", None)
    check = mapped or ip
    if any(check.version == net.version and check in net for net in PRIVATE_NETWORKS):
        findings.append(Finding(ADDRESS, matched, *span, f"private address {matched}"))


def _normalise_domains(values: list[str]) -> tuple[str, ...]:
    domains = []
    for value in values:
        if not isinstance(value, str):
            raise RedactionConfigError(f"An internal domain must be a string, not {type(value).__name__}.")
        domain = _dots(value.strip()).casefold().removeprefix("*.").strip(".")
        if domain and domain not in domains:
            domains.append(domain)
    return tuple(domains)


def _as_list(values: Iterable[str] | str) -> list[str]:
    return [values] if isinstance(values, str) else list(values)


def _title_regexes(titles: Iterable[str]) -> list[tuple[str, re.Pattern]]:
    regexes = []
    seen = set()
    for raw in _as_list(titles):
        title = " ".join(str(raw).split())
        if len(title) < MIN_TITLE_LENGTH or title.casefold() in seen:
            continue
        seen.add(title.casefold())
        body = r"\s+".join(re.escape(word) for word in title.split(" "))
        head = r"(?<!\w)" if re.match(r"\w", title) else ""
        tail = r"(?!\w)" if re.search(r"\w$", title) else ""
        regexes.append((title, re.compile(head + body + tail, re.IGNORECASE)))
    return regexes


# --- configured patterns ---------------------------------------------------------------------------------


def _pattern_entries(values, where: str) -> list[tuple[str, str, str]]:
    """(where, label, source) for each entry; the label defaults to the regex itself."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise RedactionConfigError(
            f"{where} must be a list of regular expressions, not {type(values).__name__}."
        )
    entries = []
    for index, value in enumerate(values):
        name = f"{where}[{index}]"
        if isinstance(value, str):
            entries.append((name, repr(value), value))
        elif (
            isinstance(value, tuple | list)
            and len(value) == 2
            and all(isinstance(part, str) for part in value)
        ):
            entries.append((name, repr(value[0]), value[1]))
        else:
            raise RedactionConfigError(
                f"{name} must be a regular expression or a (label, regular expression) pair, not {value!r}."
            )
    return entries


@functools.lru_cache(maxsize=64)
def _compile_patterns(entries: tuple[tuple[str, str, str], ...]) -> tuple[tuple[str, re.Pattern], ...]:
    if len(entries) > MAX_PATTERNS:
        raise RedactionConfigError(f"At most {MAX_PATTERNS} redaction patterns can be configured.")
    compiled = []
    for where, label, source in entries:
        if not source:
            raise RedactionConfigError(f"{where} is empty.")
        if len(source) > MAX_PATTERN_LENGTH:
            raise RedactionConfigError(
                f"{where} is {len(source)} characters long; the limit is {MAX_PATTERN_LENGTH}."
            )
        try:
            regex = re.compile(source)
            tree = _sre_parse.parse(source)
        except (re.error, RecursionError, OverflowError) as exc:
            raise RedactionConfigError(
                f"{where} is not a valid regular expression: {source!r} ({exc})."
            ) from exc
        if regex.fullmatch("") is not None or regex.search("") is not None:
            raise RedactionConfigError(
                f"{where} matches the empty string, so it would match everywhere: {source!r}."
            )
        if _nested_unbounded_repeat(tree, inside_unbounded=False):
            raise RedactionConfigError(
                f"{where} repeats a repetition ({source!r}), which can take exponential time on some text; "
                "rewrite it without a quantifier inside a quantified group."
            )
        compiled.append((label, regex))
    return tuple(compiled)


_POSSESSIVE = getattr(_sre_parse, "POSSESSIVE_REPEAT", None)
_ATOMIC = getattr(_sre_parse, "ATOMIC_GROUP", None)
_REPEATS = tuple(op for op in (_sre_parse.MAX_REPEAT, _sre_parse.MIN_REPEAT, _POSSESSIVE) if op is not None)


def _nested_unbounded_repeat(tree, *, inside_unbounded: bool) -> bool:
    """Whether a variable-length repetition sits inside an unbounded one (``(a+)+``, ``(\\w{1,3}-)*``).

    A fixed count (``\\d{2}``) is just a sequence, and possessive repetitions and atomic groups never
    backtrack into themselves, so those are allowed. Alternation of overlapping branches (``(a|aa)+``) is not
    caught: this is a screen for the common mistake, not a proof.
    """
    for op, arg in tree:
        if op in _REPEATS:
            low, high, sub = arg
            possessive = op is _POSSESSIVE
            varies = high is _sre_parse.MAXREPEAT or high > low
            if varies and inside_unbounded and not possessive:
                return True
            unbounded = high is _sre_parse.MAXREPEAT or high > 10
            if _nested_unbounded_repeat(
                sub, inside_unbounded=inside_unbounded or (unbounded and not possessive)
            ):
                return True
        elif op is _sre_parse.SUBPATTERN:
            if _nested_unbounded_repeat(arg[-1], inside_unbounded=inside_unbounded):
                return True
        elif op is _sre_parse.BRANCH:
            if any(_nested_unbounded_repeat(branch, inside_unbounded=inside_unbounded) for branch in arg[1]):
                return True
        elif op in (_sre_parse.ASSERT, _sre_parse.ASSERT_NOT):
            if _nested_unbounded_repeat(arg[1], inside_unbounded=inside_unbounded):
                return True
        elif _ATOMIC is not None and op is _ATOMIC:
            if _nested_unbounded_repeat(arg, inside_unbounded=False):
                return True
        elif op is _sre_parse.GROUPREF_EXISTS:
            for branch in arg[1:]:
                if branch is not None and _nested_unbounded_repeat(branch, inside_unbounded=inside_unbounded):
                    return True
    return False
