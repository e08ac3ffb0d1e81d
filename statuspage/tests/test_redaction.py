"""The check before publishing: internal details in a public update are found, and a preview hides them.

Plain functions: no database, and the statuspage app need not be installed.
"""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from statuspage import redaction
from statuspage.redaction import Finding, RedactionConfigError, find_internal_details, redact

DOMAINS = ("prod.internal", "corp.example.com")


def found(text, **kwargs):
    """(kind, matched text) of every finding, checking that each finding's offsets point at its text."""
    findings = find_internal_details(text, **kwargs)
    for finding in findings:
        assert text[finding.start : finding.end] == finding.text, finding
    return [(f.kind, f.text) for f in findings]


# --- hostnames ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Failover of db-3.prod.internal is under way.", ["db-3.prod.internal"]),
        ("The primary prod.internal answered.", ["prod.internal"]),  # the configured domain itself
        ("Ask wiki.corp.example.com for the runbook.", ["wiki.corp.example.com"]),
        ("DB-3.PROD.INTERNAL is back.", ["DB-3.PROD.INTERNAL"]),  # case-insensitive
        ("We restarted db-3.prod and cache-1.prod.", ["db-3.prod", "cache-1.prod"]),  # shortened hosts
        ("See grafana.corp, printer.lan and nas.local.", ["grafana.corp", "printer.lan", "nas.local"]),
        ("Pods in api.payments.svc.cluster.local restarted.", ["api.payments.svc.cluster.local"]),
        ("Router at gw.home.arpa and app.localhost.", ["gw.home.arpa", "app.localhost"]),
        ("Queue: jobs.internal:5672 is full.", ["jobs.internal"]),
        ("Node сервер-1.prod.internal failed.", ["сервер-1.prod.internal"]),  # unicode labels
        (
            "Fullwidth db-3\uff0eprod\uff0einternal and ideographic db-4\u3002prod\u3002internal.",
            ["db-3\uff0eprod\uff0einternal", "db-4\u3002prod\u3002internal"],
        ),
        ("(db-3.prod.internal)", ["db-3.prod.internal"]),
        (
            "Check db-3.prod.internal.",
            ["db-3.prod.internal"],
        ),  # the full stop ends the sentence, not the host
    ],
)
def test_internal_hostnames_are_found(text, expected):
    assert found(text, internal_domains=DOMAINS) == [("internal_hostname", host) for host in expected]


def test_markdown_emphasis_around_a_detail_does_not_hide_it():
    text = (
        "Host _db-3.prod.internal_, **alice@example.com**, __10.0.0.1__, `fd00::1` and _ops_team@build.corp_"
    )
    assert found(text, internal_domains=DOMAINS, staff_emails=["alice@example.com"]) == [
        ("internal_hostname", "db-3.prod.internal"),
        ("staff_email", "alice@example.com"),
        ("private_address", "10.0.0.1"),
        ("private_address", "fd00::1"),
        ("staff_email", "ops_team@build.corp"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Visit status.example.com for updates.",
        "Our API at api.example.com and www.example.org is back.",
        "Upgraded to Node.js 20.11.1 and Django 5.2.",
        "See e.g. the notes in config.yaml.",
        "Version 1.2.3.4 is out; the public DNS 8.8.8.8 and 2001:db8::1 resolve.",
        "We are production-ready: prod is back.",  # a word, not a host
        "The internal team fixed it locally.",  # words, not hosts
        "Released at 14:30:00 UTC on 2026-12-08.",
        "notexample.com, xcorp.example.com and corp.example.com.evil.net are public",
    ],
)
def test_public_hostnames_and_ordinary_words_are_not_findings(text):
    assert found(text, internal_domains=DOMAINS) == [], text


def test_a_public_hostname_is_a_finding_once_its_domain_is_configured_internal():
    text = "Visit status.example.com for updates."
    assert found(text) == []
    assert found(text, internal_domains=["example.com"]) == [("internal_hostname", "status.example.com")]


@pytest.mark.parametrize(
    "domain", ["*.prod.internal", ".prod.internal", "PROD.INTERNAL.", "  prod.internal  "]
)
def test_configured_domains_are_normalised(domain):
    assert found("db-3.prod is slow", internal_domains=[domain]) == [("internal_hostname", "db-3.prod")]


def test_a_single_domain_string_is_one_domain_not_its_letters():
    assert found("db-3.prod is slow", internal_domains="prod.internal") == [
        ("internal_hostname", "db-3.prod")
    ]
    with override_settings(STATUSPAGE_INTERNAL_DOMAINS="prod.internal"):
        assert found("db-3.prod is slow") == [("internal_hostname", "db-3.prod")]


def test_an_internal_domain_that_is_not_a_string_is_a_configuration_error():
    with (
        override_settings(STATUSPAGE_INTERNAL_DOMAINS=[42]),
        pytest.raises(RedactionConfigError, match="not int"),
    ):
        find_internal_details("anything")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Dashboard: https://grafana.corp/d/abc?from=now-1h.",
            ("internal_hostname", "https://grafana.corp/d/abc?from=now-1h"),
        ),
        ("Logs at <http://10.0.0.5:8080/logs>.", ("private_address", "http://10.0.0.5:8080/logs")),
        (
            "Open https://db-3.prod.internal/admin, then retry.",
            ("internal_hostname", "https://db-3.prod.internal/admin"),
        ),
    ],
)
def test_inside_a_link_the_whole_link_is_the_finding(text, expected):
    findings = find_internal_details(text, internal_domains=DOMAINS)
    assert [(f.kind, f.text) for f in findings] == [expected]
    assert "in the link" in findings[0].message
    assert "/" not in redact(text, findings).replace("[redacted]", "")


def test_a_public_link_is_not_a_finding():
    assert found("Details at https://status.example.com/incidents/42.", internal_domains=DOMAINS) == []


# --- addresses -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "private"),
    [
        ("10.0.0.1", True),
        ("10.255.255.255", True),
        ("172.16.0.1", True),
        ("172.31.255.254", True),
        ("172.15.0.1", False),
        ("172.32.0.1", False),
        ("192.168.1.20", True),
        ("192.169.1.20", False),
        ("127.0.0.1", True),
        ("169.254.169.254", True),  # link-local, the cloud metadata address
        ("100.64.0.7", True),  # shared address space
        ("8.8.8.8", False),
        ("203.0.113.5", False),
        ("10.0.0.0/8", True),
        ("::1", True),
        ("fd12:3456:789a::1", True),
        ("fc00::5", True),
        ("fe80::1ff:fe23:4567:890a", True),
        ("fe80::1%eth0", True),
        ("::ffff:10.1.2.3", True),  # IPv4-mapped
        ("::ffff:8.8.8.8", False),
        ("2001:db8::1", False),
        ("2606:4700::1111", False),
        ("256.1.1.1", False),  # not an address
    ],
)
def test_private_addresses_are_found(address, private):
    text = f"Traffic from {address} was dropped."
    assert found(text) == ([("private_address", address)] if private else [])


def test_an_address_with_a_port_or_at_the_end_of_a_sentence_is_found_without_them():
    assert found("Connect to 10.0.0.5:5432. Or [fd00::2]:80. Or 192.168.0.9.") == [
        ("private_address", "10.0.0.5"),
        ("private_address", "fd00::2"),
        ("private_address", "192.168.0.9"),
    ]


def test_a_mapped_address_is_one_finding_not_two():
    findings = find_internal_details("from ::ffff:10.1.2.3 only")
    assert [(f.kind, f.text, f.start) for f in findings] == [("private_address", "::ffff:10.1.2.3", 5)]


@pytest.mark.parametrize(
    "text", ["at 14:30:00 UTC", "ratio 3:2:1", "C++::std", "1.2.3.4.5", "v10.0.0.1-beta"]
)
def test_things_that_look_a_little_like_addresses_are_not_findings(text):
    assert found(text) == []


# --- emails --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "message"),
    [
        (
            "Contact Alice.Smith@Example.com now",
            "Alice.Smith@Example.com",
            "staff email Alice.Smith@Example.com",
        ),
        (
            "Paged bob@corp.example.com",
            "bob@corp.example.com",
            "email at internal domain bob@corp.example.com",
        ),
        (
            "Paged ops@db-3.prod.internal.",
            "ops@db-3.prod.internal",
            "email at internal domain ops@db-3.prod.internal",
        ),
        ("Mail root@build.corp today", "root@build.corp", "email at internal domain root@build.corp"),
        (
            "Écrivez à josé.garcía@example.com",
            "josé.garcía@example.com",
            "staff email josé.garcía@example.com",
        ),
    ],
)
def test_staff_emails_and_emails_at_internal_domains_are_found(text, expected, message):
    findings = find_internal_details(
        text, internal_domains=DOMAINS, staff_emails=["alice.smith@example.com", "JOSÉ.GARCÍA@EXAMPLE.COM"]
    )
    assert [(f.kind, f.text, f.message) for f in findings] == [("staff_email", expected, message)]


def test_the_support_address_and_other_public_emails_are_not_findings():
    text = "If you have any questions, email support@example.com or billing@example.org."
    assert found(text, internal_domains=DOMAINS, staff_emails=["alice@example.com"]) == []


def test_an_email_is_one_finding_its_domain_is_not_reported_again_as_a_host():
    assert found("Paged bob@db-3.prod.internal", internal_domains=DOMAINS) == [
        ("staff_email", "bob@db-3.prod.internal")
    ]


def test_a_staff_email_must_match_exactly_not_as_a_part():
    assert found("Write to xalice@example.com", staff_emails=["alice@example.com"]) == []
    assert found("Write to alice@example.community", staff_emails=["alice@example.com"]) == []


# --- private titles ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "titles", "expected"),
    [
        (
            "We saw a redis cluster split brain earlier.",
            ["Redis cluster split brain"],
            ["redis cluster split brain"],
        ),
        ("REDIS CLUSTER\nSPLIT   BRAIN", ["Redis cluster split brain"], ["REDIS CLUSTER\nSPLIT   BRAIN"]),
        ("Project Nightingale: payroll leak", ["Project Nightingale"], ["Project Nightingale"]),
        ("Project Nightingales are birds", ["Project Nightingale"], []),  # whole words only
        ("The subproject nightingale", ["Project Nightingale"], []),
        ("Löschung der Kundendaten läuft", ["löschung der kundendaten"], ["Löschung der Kundendaten"]),
        ("Outage of the API", ["Outage", "API", "db"], []),  # too short to tell from ordinary words
        ("Outage of the API", ["", "   "], []),
        ("Issue (INC-42) spread", ["(INC-42)"], ["(INC-42)"]),  # punctuation at the edges: substring
    ],
)
def test_private_incident_titles_are_found(text, titles, expected):
    assert found(text, private_titles=titles) == [("private_title", t) for t in expected]


def test_overlapping_titles_are_each_reported():
    findings = find_internal_details(
        "Payroll database breach contained",
        private_titles=["Payroll database breach", "database breach contained"],
    )
    assert [(f.text, f.start, f.end) for f in findings] == [
        ("Payroll database breach", 0, 23),
        ("database breach contained", 8, 33),
    ]
    assert redact("Payroll database breach contained", findings) == "[redacted]"


# --- configured patterns -------------------------------------------------------------------------------------


def test_patterns_from_arguments_are_found_with_their_label():
    findings = find_internal_details("Tracked as OPS-1234 and OPS-99.", patterns=[("ticket", r"\bOPS-\d+\b")])
    assert [(f.kind, f.text, f.message) for f in findings] == [
        ("pattern", "OPS-1234", "matches the pattern 'ticket': OPS-1234"),
        ("pattern", "OPS-99", "matches the pattern 'ticket': OPS-99"),
    ]


@override_settings(
    STATUSPAGE_REDACTION_PATTERNS=[r"(?i)\bacct-\d{6}\b", ["aws key", r"AKIA[0-9A-Z]{16}"]],
    STATUSPAGE_INTERNAL_DOMAINS=["prod.internal"],
)
def test_the_settings_apply_in_addition_to_the_arguments():
    text = "Account ACCT-123456 used AKIAABCDEFGHIJKLMNOP on db-3.prod; see grafana.corp; OPS-7"
    assert found(text, patterns=[r"OPS-\d+"]) == [
        ("pattern", "ACCT-123456"),
        ("pattern", "AKIAABCDEFGHIJKLMNOP"),
        ("internal_hostname", "db-3.prod"),
        ("internal_hostname", "grafana.corp"),
        ("pattern", "OPS-7"),
    ]
    redaction.validate_patterns()


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        (
            [r"OPS-(\d+"],
            r"STATUSPAGE_REDACTION_PATTERNS\[0\] is not a valid regular expression: 'OPS-\(\\\\d\+'",
        ),
        ([r"ok", r"[a-"], r"STATUSPAGE_REDACTION_PATTERNS\[1\] is not a valid regular expression"),
        ([r"(a+)+$"], r"\[0\] repeats a repetition .* exponential time"),
        ([r"(\w+\s?)*x"], r"repeats a repetition"),
        ([r"(?:x(?:a|b{1,3})*)+y"], r"repeats a repetition"),
        ([r"(?:a*)*"], r"matches the empty string|repeats a repetition"),
        ([r"x*"], r"\[0\] matches the empty string"),
        ([r"^"], r"matches the empty string"),
        ([""], r"\[0\] is empty"),
        (["a" * 501], r"\[0\] is 501 characters long; the limit is 500"),
        ([42], r"\[0\] must be a regular expression or a \(label, regular expression\) pair, not 42"),
        ([("label", "x", "extra")], r"must be a regular expression or a \(label, regular expression\) pair"),
        (r"OPS-\d+", r"must be a list of regular expressions, not str"),
    ],
)
def test_a_bad_pattern_setting_is_a_clear_configuration_error(patterns, message):
    with override_settings(STATUSPAGE_REDACTION_PATTERNS=patterns):
        with pytest.raises(RedactionConfigError, match=message):
            find_internal_details("anything")
        with pytest.raises(RedactionConfigError):
            redaction.validate_patterns()


def test_a_bad_pattern_argument_names_the_argument():
    with pytest.raises(RedactionConfigError, match=r"patterns\[0\] is not a valid regular expression"):
        find_internal_details("anything", patterns=["(unclosed"])


@pytest.mark.parametrize(
    "pattern",
    [
        r"\bOPS-\d+\b",
        r"(?:\d{1,3}\.){3}\d{1,3}",  # a bounded repeat of a group
        r"(?:ab)+c",  # a repeated group without a variable repeat inside
        r"(?:\d{2})+",  # a fixed count inside is a sequence
        r"(?>a+)+b",  # atomic groups do not backtrack
        r"(?:a++)+b",  # nor do possessive repeats
        r"(?=x)x+",
    ],
)
def test_reasonable_patterns_are_accepted(pattern):
    find_internal_details("OPS-1 10.0.0.1 abc", patterns=[pattern])


def test_a_configuration_error_is_a_django_configuration_error():
    assert issubclass(RedactionConfigError, ImproperlyConfigured)


# --- several at once, overlaps, redaction --------------------------------------------------------------------


def test_a_realistic_draft_finds_everything_in_order_and_the_preview_hides_it():
    text = (
        "We are aware there is an issue with API. db-3.prod.internal (10.0.4.17) ran out of disk; "
        "alice@example.com is on it, see OPS-881 and https://grafana.corp/d/disk. "
        "Not related to Payroll export stalled. If you have any questions, email support@example.com."
    )
    findings = find_internal_details(
        text,
        internal_domains=["prod.internal"],
        staff_emails=["alice@example.com"],
        private_titles=["Payroll export stalled"],
        patterns=[("ticket", r"OPS-\d+")],
    )
    assert [(f.kind, f.text) for f in findings] == [
        ("internal_hostname", "db-3.prod.internal"),
        ("private_address", "10.0.4.17"),
        ("staff_email", "alice@example.com"),
        ("pattern", "OPS-881"),
        ("internal_hostname", "https://grafana.corp/d/disk"),
        ("private_title", "Payroll export stalled"),
    ]
    assert [f.message for f in findings][:2] == [
        "internal hostname db-3.prod.internal",
        "private address 10.0.4.17",
    ]
    assert redact(text, findings) == (
        "We are aware there is an issue with API. [redacted] ([redacted]) ran out of disk; "
        "[redacted] is on it, see [redacted] and [redacted]. "
        "Not related to [redacted]. If you have any questions, email support@example.com."
    )


def test_overlapping_findings_of_different_kinds_are_all_reported_and_redacted_once():
    text = "Mail alice@example.com now"
    findings = find_internal_details(
        text, staff_emails=["alice@example.com"], patterns=[r"alice@\w+", r"com now"]
    )
    assert [(f.kind, f.text) for f in findings] == [
        ("staff_email", "alice@example.com"),
        ("pattern", "alice@example"),
        ("pattern", "com now"),
    ]
    assert redact(text, findings) == "Mail [redacted]"


@pytest.mark.parametrize(
    ("text", "spans", "expected"),
    [
        ("abcdef", [], "abcdef"),
        ("abcdef", [(0, 6)], "[redacted]"),
        ("abcdef", [(1, 2), (4, 5)], "a[redacted]cd[redacted]f"),
        ("abcdef", [(1, 3), (2, 4)], "a[redacted]ef"),  # overlapping
        ("abcdef", [(1, 3), (3, 4)], "a[redacted]ef"),  # touching
        ("abcdef", [(1, 5), (2, 3)], "a[redacted]f"),  # nested
        ("abcdef", [(4, 5), (1, 2)], "a[redacted]cd[redacted]f"),  # any order
        ("abcdef", [(2, 2)], "abcdef"),  # empty
        ("Ünïcødé 🚨 host", [(8, 9)], "Ünïcødé [redacted] host"),
    ],
)
def test_redact_replaces_each_merged_span(text, spans, expected):
    findings = [Finding("pattern", text[s:e], s, e, "m") for s, e in spans]
    assert redact(text, findings) == expected


def test_redact_refuses_findings_from_another_text():
    with pytest.raises(ValueError, match="outside the text"):
        redact("short", [Finding("pattern", "x", 3, 40, "m")])


def test_a_finding_serialises_for_the_api():
    (finding,) = find_internal_details("on db-3.prod.internal", internal_domains=["prod.internal"])
    assert finding.as_dict() == {
        "kind": "internal_hostname",
        "text": "db-3.prod.internal",
        "start": 3,
        "end": 21,
        "message": "internal hostname db-3.prod.internal",
    }


def test_emoji_and_combining_marks_do_not_shift_offsets():
    text = "🔥🔥 Ne\u0301twork down on db-3.prod.internal 🔥"
    (finding,) = find_internal_details(text, internal_domains=["prod.internal"])
    assert text[finding.start : finding.end] == "db-3.prod.internal"
    assert redact(text, [finding]) == "🔥🔥 Ne\u0301twork down on [redacted] 🔥"


def test_empty_text_has_no_findings():
    assert (
        find_internal_details("", internal_domains=DOMAINS, private_titles=["Redis cluster split brain"])
        == []
    )


# --- huge and hostile input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filler",
    [
        "a." * 90_000 + "_",  # dotted tokens that never end in a host
        "a-" * 90_000 + "_",
        "a" * 180_000,
        ":" * 180_000,
        "a:" * 90_000,
        "1." * 90_000,
        "a.b@" * 45_000,
        "http://x" + "/" * 180_000,
        "word " * 36_000,
        "a_" * 90_000,  # every letter after an underscore may start a token
        "a_a." * 45_000 + "-",
        "a_a-a.a%a+a@" * 15_000,
        ("a" * 63 + ".") * 2_800 + "-",  # longest labels, a chain too long to be a host
    ],
    ids=[
        "dots",
        "hyphens",
        "one-token",
        "colons",
        "hex-colons",
        "digits",
        "at-signs",
        "long-link",
        "words",
        "underscores",
        "underscore-labels",
        "email-ish",
        "long-labels",
    ],
)
def test_hostile_filler_still_finds_what_follows(filler):
    # Each case took quadratic time in a naive detector; here the check finishes and still finds the host.
    text = filler + " db-3.prod.internal " + "10.0.0.9"
    findings = find_internal_details(
        text,
        internal_domains=["prod.internal"],
        private_titles=["Redis cluster split brain"],
        patterns=[r"OPS-\d+"],
    )
    assert [(f.kind, f.text) for f in findings][-2:] == [
        ("internal_hostname", "db-3.prod.internal"),
        ("private_address", "10.0.0.9"),
    ]


def test_many_findings_in_a_large_text_are_all_found():
    chunk = "db-{n}.prod.internal talked to 10.0.{m}.{k} about Redis cluster split brain; "
    text = "".join(chunk.format(n=n, m=n // 250, k=n % 250) for n in range(2_000))
    findings = find_internal_details(
        text, internal_domains=["prod.internal"], private_titles=["Redis cluster split brain"]
    )
    kinds = [f.kind for f in findings]
    assert kinds.count("internal_hostname") == 2_000
    assert kinds.count("private_address") == 2_000
    assert kinds.count("private_title") == 2_000
    assert findings[-3].text == "db-1999.prod.internal"
    assert findings[-2].text == "10.0.7.249"
    redacted = redact(text, findings)
    assert "internal" not in redacted and "10.0." not in redacted and "Redis" not in redacted


def test_text_over_the_limit_is_checked_up_to_it_and_the_rest_is_reported_unchecked():
    limit = redaction.MAX_TEXT_LENGTH
    head = "See db-1.prod.internal. "
    text = (
        head + "x" * (limit - len(head) - 40) + " db-2.prod.internal " + "y " * limit + " db-3.prod.internal"
    )
    findings = find_internal_details(text, internal_domains=["prod.internal"])
    assert [(f.kind, f.start) for f in findings] == [
        ("internal_hostname", 4),
        ("internal_hostname", limit - 39),
        ("too_long", limit),
    ]
    assert findings[-1].end == len(text)
    assert f"after character {limit} was not checked" in findings[-1].message
    # Fail closed: the preview does not show what was not checked.
    preview = redact(text, findings)
    assert preview.endswith("[redacted]") and "db-3" not in preview
