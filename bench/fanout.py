"""Benchmark: how long does one customer-impact update take to reach 20 Slack channels and 5,000 mailboxes?

Sets up its own database (dropped and recreated) and Redis db, creates 20 Slack destinations and one email
destination holding N addresses behind one routing rule for customer-impact updates, declares a customer-impact
incident, then posts one update and measures:

* time from the update's commit to the routing consumer's outbox rows, to the first and to the last message
  marked ``sent``;
* the peak resident memory (``VmHWM``) of the one Celery worker process doing all of it (``--pool=solo``).

The peers run in a separate process (``--serve-peers``), so the bench's own process does not compete with the
worker inside its interpreter: the Slack Web API and the aiosmtpd SMTP server of ``tests/peers.py``. At the end
the peers report what they received: every Slack channel once, every address once, Message-IDs unique.

    .venv/bin/python bench/fanout.py                      # 20 channels + 5,000 recipients
    .venv/bin/python bench/fanout.py --recipients 500     # memory should not grow with recipients
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _common import (
    REPO,
    BenchError,
    CpuMeter,
    bench_env,
    database_version,
    machine_info,
    migrate,
    pids_named,
    prepare_database,
    print_table,
    save_results,
    setup_django,
    wait_for_quiet,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/muster_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
USERNAME = "bench"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=5000, help="email recipients (default 5000)")
    parser.add_argument("--slack-channels", type=int, default=20, help="Slack channels (default 20)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        help=f"database to DROP and recreate (default {DEFAULT_DATABASE_URL}; env BENCH_DATABASE_URL)",
    )
    parser.add_argument(
        "--force-drop", action="store_true", help="drop the database even if not named *bench*"
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        help=f"Celery broker; its db is flushed first (default {DEFAULT_REDIS_URL})",
    )
    parser.add_argument(
        "--batch-size", type=int, default=0, help="NOTIFY_BATCH_SIZE (default: the setting's)"
    )
    parser.add_argument("--max-seconds", type=float, default=300, help="give up after this long (300)")
    parser.add_argument(
        "--wait-quiet", type=float, default=0, metavar="SECONDS", help="wait for an idle machine"
    )
    parser.add_argument("--serve-peers", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- The peers, in their own process -----------------------------------------------------------------


def serve_peers() -> None:
    """Run the Slack and SMTP peers; print their addresses, then answer ``count`` lines on stdin."""
    sys.path.insert(0, str(REPO))
    from tests.peers import SlackPeer, SMTPPeer

    slack = SlackPeer().start()
    smtp = SMTPPeer().start()
    print(json.dumps({"slack_api_url": slack.api_url, "slack_token": slack.token, "smtp_port": smtp.port}))
    sys.stdout.flush()
    for line in sys.stdin:
        if line.strip() == "count":
            mails = smtp.received()
            posts = slack.delivered("chat.postMessage")
            answer = {
                "slack_posts": len(posts),
                "slack_channels": len({p["channel"] for p in posts}),
                "slack_requests": len(slack.received("chat.postMessage")),
                "mails": len(mails),
                "mail_recipients": len({m["X-Peer-Rcpt"] for m in mails}),
                "message_ids": len({m["Message-ID"] for m in mails}),
            }
            print(json.dumps(answer))
            sys.stdout.flush()
    slack.stop()
    smtp.stop()


class Peers:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve-peers"],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        line = self.proc.stdout.readline()
        if not line:
            raise BenchError("the peers process did not start")
        self.info = json.loads(line)

    def counts(self) -> dict:
        self.proc.stdin.write("count\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


# --- The worker ------------------------------------------------------------------------------------


class Worker:
    """One Celery worker process, ``--pool=solo``: every task runs in the process whose memory is measured."""

    def __init__(self, env: dict[str, str]) -> None:
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="muster-bench-worker-", suffix=".log", delete=False
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--concurrency=1",
             "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.samples: list[tuple[float, int]] = []

    def memory(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak RSS) of the worker process, in KiB."""
        values = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
        return values

    def sample(self) -> None:
        """Note the worker's RSS about once a second: memory over time shows a leak that the peak alone hides."""
        now = time.monotonic()
        if now - getattr(self, "_last_sample", 0.0) >= 1.0 and self.alive():
            self._last_sample = now
            self.samples.append((now, self.memory().get("VmRSS", 0)))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        text = Path(self.log.name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def wait(predicate, timeout: float, what: str, worker: Worker, interval: float = 0.05) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        worker.sample()
        if predicate():
            return time.monotonic()
        if not worker.alive():
            raise BenchError(f"the worker died while waiting for {what}:\n{worker.log_tail()}")
        time.sleep(interval)
    raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}:\n{worker.log_tail()}")


# --- The run ---------------------------------------------------------------------------------------


def setup_routing(*, channels: int, recipients: int):
    from notifications.models import Destination, RoutingRule

    Destination.objects.update(active=False)  # the seeded defaults: only the bench's destinations count
    slack = [
        Destination(name=f"#bench-{i:02d}", channel="slack", slack_channel=f"#bench-{i:02d}")
        for i in range(1, channels + 1)
    ]
    addresses = "\n".join(f"reader{i:05d}@bench.example" for i in range(recipients))
    email = Destination(name="Bench readers", channel="email", email_addresses=addresses)
    Destination.objects.bulk_create([*slack, email])
    rule = RoutingRule.objects.create(
        name="Bench: customer-impact updates", customer_impact_only=True, event_kinds=["update_posted"]
    )
    rule.destinations.set(Destination.objects.filter(active=True))


def run(args: argparse.Namespace) -> dict:
    database_url = prepare_database(args.database_url, force=args.force_drop)
    flush_redis(args.redis_url)
    peers = Peers()
    worker = None
    try:
        notify = {
            "SLACK_API_URL": peers.info["slack_api_url"],
            "SLACK_BOT_TOKEN": peers.info["slack_token"],
            "EMAIL_URL": f"smtp://127.0.0.1:{peers.info['smtp_port']}",
            "NOTIFY_EMAIL": "1",
            "SLACK_INCIDENT_CHANNELS": "0",  # the fan-out only, not the incident's own channel
        }
        if args.batch_size:
            notify["NOTIFY_BATCH_SIZE"] = str(args.batch_size)
        env = bench_env(database_url=database_url, redis_url=args.redis_url) | notify
        setup_django(env)
        migrate()

        from django.contrib.auth import get_user_model
        from django.db.models import Max, Min

        from incidents import services
        from incidents.models import ConsumerRun
        from notifications.models import Message
        from teams.models import Membership, Team

        user = get_user_model().objects.create_user(USERNAME, "bench@bench.example", "x")
        team = Team.objects.create(name="Bench", slug="bench")
        Membership.objects.create(team=team, user=user, role=Membership.Role.LEAD)
        setup_routing(channels=args.slack_channels, recipients=args.recipients)
        expected = args.slack_channels + args.recipients

        worker = Worker(env)
        incident = services.incident_declare(
            title="Checkout failing for some cards",
            severity="major",
            actor=user,
            team=team,
            customer_impact=True,
        )
        # Let the declaration's consumers finish: the measured window holds the update's fan-out alone.
        wait(
            lambda: not ConsumerRun.objects.filter(event__incident=incident).exclude(status="done").exists(),
            120,
            "the worker to handle the declaration",
            worker,
        )
        before = worker.memory()
        if args.wait_quiet:
            wait_for_quiet(args.wait_quiet)

        meter = CpuMeter(
            {
                "worker": lambda: [worker.proc.pid],
                "peers": lambda: [peers.proc.pid],
                "postgres": lambda: pids_named("postgres"),
                "redis": lambda: pids_named("redis-server"),
                "bench": lambda: [os.getpid()],
            }
        )
        meter.start()
        started = time.monotonic()
        event = services.incident_post_update(
            incident=incident,
            text="Card payments fail for about 5% of customers; we are rolling back the release.",
            actor=user,
        )
        committed = time.monotonic()  # incident_post_update is atomic: its transaction has committed
        messages = Message.objects.filter(event=event)

        routed_at = wait(
            lambda: messages.count() == expected, args.max_seconds, "the routed outbox rows", worker, 0.02
        )
        done_at = wait(
            lambda: not messages.exclude(status__in=["sent", "dead"]).exists(),
            args.max_seconds,
            "every message to be sent",
            worker,
            0.1,
        )
        after = worker.memory()
        meter.stop()
        spans = messages.aggregate(first=Min("sent_at"), last=Max("sent_at"), created=Max("created_at"))
        statuses = Counter(messages.values_list("status", flat=True))
        by_channel = Counter(messages.filter(status="sent").values_list("channel", flat=True))
        peer_counts = peers.counts()
        first_sent = (spans["first"] - event.occurred_at).total_seconds() if spans["first"] else None
        last_sent = (spans["last"] - event.occurred_at).total_seconds() if spans["last"] else None
        return {
            "benchmark": "fanout",
            "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "machine": machine_info(),
            "database": database_version(),
            "slack_channels": args.slack_channels,
            "recipients": args.recipients,
            "messages": expected,
            "statuses": dict(statuses),
            "sent_by_channel": dict(by_channel),
            "peers": peer_counts,
            "post_update_call_s": round(committed - started, 3),
            "commit_to_rows_s": round(routed_at - committed, 2),
            "commit_to_first_sent_s": round(first_sent, 2) if first_sent is not None else None,
            "commit_to_last_sent_s": round(last_sent, 2) if last_sent is not None else None,
            "observed_done_s": round(done_at - committed, 2),
            "worker_rss_before_kib": before.get("VmRSS"),
            "worker_peak_rss_kib": after.get("VmHWM"),
            "worker_rss_after_kib": after.get("VmRSS"),
            "cpu": meter.report(),
            "cpu_seconds": {k: round(v, 1) for k, v in meter.used.items()},
            "worker_rss_samples": [
                (round(t - committed, 1), kib) for t, kib in worker.samples if t >= committed
            ],
        }
    finally:
        if worker is not None:
            worker.stop()
        peers.stop()


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.serve_peers:
        serve_peers()
        return 0
    try:
        results = run(args)
    except BenchError as exc:
        print(f"fanout: {exc}", file=sys.stderr)
        return 2
    path = save_results(f"fanout-{args.recipients}", results)
    mib = 1024
    print_table(
        [
            (
                "messages",
                f"{results['messages']} ({results['slack_channels']} Slack + {results['recipients']} email)",
            ),
            ("statuses", json.dumps(results["statuses"])),
            ("peers received", json.dumps(results["peers"])),
            ("commit -> outbox rows", f"{results['commit_to_rows_s']} s"),
            ("commit -> first sent", f"{results['commit_to_first_sent_s']} s"),
            ("commit -> last sent", f"{results['commit_to_last_sent_s']} s"),
            ("worker RSS before", f"{results['worker_rss_before_kib'] / mib:.1f} MiB"),
            ("worker peak RSS (VmHWM)", f"{results['worker_peak_rss_kib'] / mib:.1f} MiB"),
            ("CPU during the fan-out", results["cpu"]),
            ("results", str(path.relative_to(REPO))),
        ]
    )
    ok = (
        results["statuses"] == {"sent": results["messages"]}
        and results["peers"]["slack_posts"] == results["slack_channels"]
        and results["peers"]["mails"] == results["recipients"]
        and results["peers"]["message_ids"] == results["recipients"]
    )
    if not ok:
        print("fanout: not every message was delivered exactly once", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
