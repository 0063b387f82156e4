import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ingestion.market import NYSE_TZ
from ingestion.normalize import Rejected, clean_ticker
from ingestion.prices import (
    TickerOutcome,
    prices_refresh,
    prices_update,
    provider_from_settings,
)


class Command(BaseCommand):
    help = (
        "Fetch daily price bars. Without --tickers: the tickers traded within "
        "PRICE_TICKER_LOOKBACK_DAYS, skipped while the NYSE is closed unless --force. "
        "With --tickers: exactly those, whatever the market is doing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tickers", help="Comma-separated tickers, e.g. AAPL,MSFT,BRK.B.")
        parser.add_argument(
            "--days", type=int, default=7, help="How many days back to fetch (default 7)."
        )
        parser.add_argument(
            "--provider",
            choices=["yahoo", "stooq"],
            help="Price source (default: settings.PRICE_PROVIDER).",
        )
        parser.add_argument(
            "--force", action="store_true", help="Refresh even while the market is closed."
        )

    def handle(self, *args, **options):
        days = options["days"]
        if days < 1:
            raise CommandError(f"--days must be at least 1, got {days}")
        tickers = _parse_tickers(options["tickers"])
        now = timezone.now()
        provider = provider_from_settings(options["provider"])  # None: PRICE_PROVIDER
        try:
            if tickers is None:
                summary = prices_refresh(
                    now=now,
                    force=options["force"],
                    provider=provider,
                    days=days,
                    on_ticker=self._progress,
                )
            else:
                today = now.astimezone(NYSE_TZ).date()
                summary = prices_update(
                    tickers=tickers,
                    provider=provider,
                    start=today - dt.timedelta(days=days),
                    end=today,
                    on_ticker=self._progress,
                )
        finally:
            provider.close()
        if summary.get("skipped"):
            self.stdout.write(f"skipped: {summary['reason']} (use --force to fetch anyway)")
            return
        self._summarise(summary)

    def _progress(self, outcome: TickerOutcome) -> None:
        if outcome.error:
            kind = "permanent" if outcome.permanent else "retryable"
            self.stdout.write(f"{outcome.ticker}: FAILED ({kind}): {outcome.error}")
            return
        rejected = f", {outcome.rejected} rejected" if outcome.rejected else ""
        self.stdout.write(
            f"{outcome.ticker}: {outcome.created} created, {outcome.updated} updated, "
            f"{outcome.unchanged} unchanged{rejected}"
        )

    def _summarise(self, summary: dict) -> None:
        count, errors = summary["tickers"], summary["errors"]
        if not count:
            self.stdout.write("no tickers to refresh (no trades in the lookback window)")
            return
        self.stdout.write(
            f"{summary['provider']} {summary['start']}..{summary['end']}: {count} tickers, "
            f"{summary['bars_created']} bars created, {summary['bars_updated']} updated, "
            f"{summary['bars_unchanged']} unchanged, {len(errors)} failed "
            f"({summary['retryable_errors']} retryable)"
        )
        if len(errors) == count:
            first = next(iter(errors.values()))
            raise CommandError(f"every ticker failed ({count}); first error: {first}")


def _parse_tickers(raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    tickers: list[str] = []
    for part in raw.split(","):
        try:
            ticker = clean_ticker(part)
        except Rejected as exc:
            raise CommandError(f"--tickers: {exc}") from None
        if ticker:
            tickers.append(ticker)
    if not tickers:
        raise CommandError(f"--tickers: no ticker in {raw!r}")
    return tickers
