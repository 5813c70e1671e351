"""The rate table and the price of a message (pure, no I/O besides reading the table)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

# Credits are kept as integer thousandths ("milli-credits") so sums are exact on every
# database; the API shows them as decimal numbers like SMS Works does.
MILLI = 1000


@dataclass(frozen=True)
class RateTable:
    countries: dict[str, int]
    default_international_milli: int

    def rate_milli(self, region: str) -> int:
        return self.countries.get(region, self.default_international_milli)


def parse_rates(text: str) -> RateTable:
    data = tomllib.loads(text)
    countries = {
        str(code).upper(): round(float(value) * MILLI)
        for code, value in data.get("countries", {}).items()
    }
    default = round(float(data.get("default_international", 2.0)) * MILLI)
    return RateTable(countries=countries, default_international_milli=default)


def load_rates(path: str = "") -> RateTable:
    """The operator's table if given, else the one shipped in smsbridge/data/rates.toml."""
    if path:
        return parse_rates(Path(path).read_text(encoding="utf-8"))
    shipped = resources.files("smsbridge") / "data" / "rates.toml"
    return parse_rates(shipped.read_text(encoding="utf-8"))


def price_milli(segments: int, region: str, rates: RateTable) -> int:
    return segments * rates.rate_milli(region)


def to_credits(milli: int) -> float:
    return milli / MILLI
