"""Prices per model, and the cost of one call.

Prices come from three places, the first that knows a model wins:

1. ``prices=`` given in code to ``TokenTracker`` (or ``PriceBook``);
2. the JSON or TOML file named by ``TOKEN_TRACKING_PRICES``;
3. the offline catalogue of the ``genai-prices`` package, with ``gpt-4o-mini``
   pinned at $0.15 / $0.60 per 1M input / output tokens whatever the catalogue
   says.

A model is looked up once; the result is cached by the name the response
gave, so pricing a record afterwards is a dict lookup and a few Decimal
multiplications.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from ._usage import Usage

__all__ = ["Price", "PriceBook"]

logger = logging.getLogger("token_tracking")

PRICES_ENV = "TOKEN_TRACKING_PRICES"
COST_DECIMALS = 10
"""Costs are written rounded to this many decimals of a dollar."""
_MILLION = Decimal(1_000_000)
_QUANTUM = Decimal(1).scaleb(-COST_DECIMALS)
# A price per 1M tokens times this is the price of one token in units of
# 10**-COST_DECIMALS USD.
_UNITS_PER_TOKEN = Decimal(10) ** (COST_DECIMALS - 6)

# Dated suffixes: "-2024-07-18" (OpenAI), "_2025-12-11" (Azure deployment
# names), "-0613" / "-0125" (older OpenAI and Azure models).
_DATE_SUFFIX = re.compile(r"[-_](\d{4}-\d{2}-\d{2}|\d{4})$")
_PREFIXES = ("azure/", "openai/", "azure_ai/")


@dataclass(frozen=True, slots=True)
class Price:
    """USD per one million tokens.

    ``cached_input`` is the price of input tokens read from the prompt cache;
    None means they cost the same as other input tokens.
    """

    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None

    @classmethod
    def parse(cls, value: object, *, model: str = "?") -> Price:
        """Read a ``Price``, a mapping with ``input``/``output``/``cached_input``
        keys, or an ``(input, output)`` pair."""
        if isinstance(value, Price):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {"input", "output", "cached_input"}
            if unknown or "input" not in value or "output" not in value:
                raise ValueError(_price_error(model, value))
            cached = value.get("cached_input")
            return cls(
                _decimal(value["input"], model),
                _decimal(value["output"], model),
                None if cached is None else _decimal(cached, model),
            )
        if isinstance(value, tuple | list) and len(value) == 2:
            return cls(_decimal(value[0], model), _decimal(value[1], model))
        raise ValueError(_price_error(model, value))

    def cost(self, usage: Usage) -> Decimal:
        """Cost in USD: cached input at its own price, reasoning tokens only
        as the part of the output tokens they already are."""
        cached_rate = self.input if self.cached_input is None else self.cached_input
        fresh = usage.input_tokens - usage.cached_input_tokens
        micro = (
            fresh * self.input
            + usage.cached_input_tokens * cached_rate
            + usage.output_tokens * self.output
        )
        return micro / _MILLION


def round_cost(cost: Decimal) -> float:
    """A cost as written: rounded to ``COST_DECIMALS`` decimals.

    The float prints as the shortest decimal that reads back as itself, so
    ``0.000135`` stays ``0.000135`` in the file.
    """
    return float(cost.quantize(_QUANTUM))


def _whole_units(price: Price) -> tuple[int, int, int] | None:
    """A price's rates per token in whole units of 10**-COST_DECIMALS USD,
    or None when a rate is finer than that."""
    cached = price.input if price.cached_input is None else price.cached_input
    rates = [rate * _UNITS_PER_TOKEN for rate in (price.input, cached, price.output)]
    if any(rate != rate.to_integral_value() for rate in rates):
        return None
    return int(rates[0]), int(rates[1]), int(rates[2])


_PINNED = {"gpt-4o-mini": Price(Decimal("0.15"), Decimal("0.60"), Decimal("0.075"))}


class PriceBook:
    """Finds the price of a model by the name a response or a user gives.

    Args:
        prices: model name -> ``Price``, mapping or ``(input, output)`` pair,
            in USD per 1M tokens. Wins over every other source.
        deployments: Azure deployment name -> model name, for responses that
            name the deployment rather than the model.
        prices_file: a JSON or TOML file with ``prices`` and ``deployments``
            tables; by default the file named by ``TOKEN_TRACKING_PRICES``.
        catalogue: whether to fall back on the ``genai-prices`` catalogue.
    """

    def __init__(
        self,
        prices: Mapping[str, object] | None = None,
        *,
        deployments: Mapping[str, str] | None = None,
        prices_file: str | os.PathLike[str] | None = None,
        catalogue: bool = True,
    ) -> None:
        if prices_file is None:
            prices_file = os.environ.get(PRICES_ENV) or None
        file_prices, file_deployments = _read_file(prices_file)

        self._user = {_key(m): Price.parse(p, model=m) for m, p in file_prices.items()}
        self._user.update(
            {_key(m): Price.parse(p, model=m) for m, p in (prices or {}).items()}
        )
        self._deployments = {_key(d): m for d, m in file_deployments.items()}
        self._deployments.update({_key(d): m for d, m in (deployments or {}).items()})
        self._catalogue = catalogue
        self._cache: dict[str, tuple[str, Price] | None] = {}
        self._rates: dict[str, tuple[int, int, int] | None] = {}
        self._deployed: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def resolve(self, model: str) -> str:
        """The canonical model name behind a response's model or deployment."""
        key = _key(model)
        return _key(self._deployments.get(key, key))

    def model_for_deployment(self, name: str) -> str | None:
        """The model behind an Azure deployment of the ``deployments`` map."""
        try:
            return self._deployed[name]
        except KeyError:
            found = self._deployments.get(_key(name))
            with self._lock:
                self._deployed[name] = found
            return found

    def lookup(self, model: str) -> tuple[str, Price] | None:
        """``(matched model name, price)``, or None for an unknown model."""
        try:
            return self._cache[model]
        except KeyError:
            pass
        found = self._find(self.resolve(model))
        with self._lock:
            self._cache[model] = found
        return found

    def cost(self, model: str | None, usage: Usage) -> Decimal | None:
        """Cost of one call in USD, or None when the model has no price."""
        if not model:
            return None
        found = self.lookup(model)
        return None if found is None else found[1].cost(usage)

    def cost_usd(self, model: str | None, usage: Usage) -> float | None:
        """``cost()`` rounded to ``COST_DECIMALS`` decimals, as written.

        Rates that are whole units of 10**-COST_DECIMALS USD a token (every
        price with at most four decimals per 1M tokens) are summed as
        integers: exact, and several times cheaper than Decimal arithmetic.
        """
        if not model:
            return None
        try:
            rates = self._rates[model]
        except KeyError:
            found = self.lookup(model)
            rates = None if found is None else _whole_units(found[1])
            with self._lock:
                self._rates[model] = rates
        if rates is None:
            cost = self.cost(model, usage)
            return None if cost is None else round_cost(cost)
        fresh = usage.input_tokens - usage.cached_input_tokens
        units = (
            fresh * rates[0]
            + usage.cached_input_tokens * rates[1]
            + usage.output_tokens * rates[2]
        )
        # Both operands are exact doubles, so the quotient is the double
        # nearest the exact cost: the same float that round_cost() gives.
        usd: float = units / 10**COST_DECIMALS
        return usd

    def warm(self) -> None:
        """Start loading the catalogue in the background, so that the first
        call does not wait for it."""
        if self._catalogue:
            warm_catalogue()

    def _find(self, name: str) -> tuple[str, Price] | None:
        undated = _DATE_SUFFIX.sub("", name)
        for candidate in dict.fromkeys((name, undated)):
            if candidate in self._user:
                return candidate, self._user[candidate]
        for candidate in dict.fromkeys((name, undated)):
            if candidate in _PINNED:
                return candidate, _PINNED[candidate]
        if not self._catalogue:
            return None
        return _catalogue_price(name)


def _key(name: str) -> str:
    name = name.strip().lower()
    for prefix in _PREFIXES:
        name = name.removeprefix(prefix)
    # Azure spells GPT-3.5 without the dot: "gpt-35-turbo".
    return name.replace("gpt-35", "gpt-3.5")


_catalogue_lock = threading.Lock()
_warming: list[threading.Thread] = []
_warming_lock = threading.Lock()


def warm_catalogue() -> None:
    """Import the catalogue on a daemon thread, once per process."""
    with _warming_lock:
        if _warming:
            return
        thread = threading.Thread(
            target=_catalogue_price, args=("gpt-4o-mini",), daemon=True
        )
        _warming.append(thread)
    thread.start()


def _catalogue_price(name: str) -> tuple[str, Price] | None:
    # Importing the catalogue takes about half a second; the lock makes
    # concurrent first calls wait for one import instead of doing several.
    with _catalogue_lock:
        from genai_prices import data_snapshot  # noqa: PLC0415 - slow import

        snapshot = data_snapshot.get_snapshot()
    try:
        _, info = snapshot.find_provider_model(name, None, "openai", None)
    except LookupError:
        return None
    prices = info.get_prices(datetime.now(UTC))
    base_in = _base(getattr(prices, "input_mtok", None))
    base_out = _base(getattr(prices, "output_mtok", None))
    if base_in is None:
        return None
    cached = _base(getattr(prices, "cache_read_mtok", None))
    return str(info.id), Price(base_in, base_out or Decimal(0), cached)


def _base(value: Any) -> Decimal | None:
    # Tiered prices (a higher rate past a long context) keep their base rate:
    # see Limitations in the README.
    value = getattr(value, "base", value)
    return value if isinstance(value, Decimal) else None


def _read_file(
    path: str | os.PathLike[str] | None,
) -> tuple[Mapping[str, object], Mapping[str, str]]:
    if path is None:
        return {}, {}
    file = Path(path)
    try:
        raw = file.read_bytes()
        data = tomllib.loads(raw.decode()) if file.suffix == ".toml" else None
        if data is None:
            data = orjson.loads(raw)
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"cannot read prices file {str(file)!r} (named by {PRICES_ENV} or "
            f"prices_file=): {exc}"
        ) from exc
    if not isinstance(data, dict) or not set(data) <= {"prices", "deployments"}:
        raise ValueError(
            f"prices file {str(file)!r} must hold a 'prices' table (model -> "
            "{input, output, cached_input} in USD per 1M tokens) and optionally "
            "a 'deployments' table (Azure deployment -> model)"
        )
    return data.get("prices", {}), data.get("deployments", {})


def _decimal(value: object, model: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(_price_error(model, value))
    # str() first: Decimal(0.15) would keep the float's binary error.
    number = Decimal(str(value))
    if not number.is_finite() or number < 0:
        raise ValueError(_price_error(model, value))
    return number


def _price_error(model: str, value: object) -> str:
    return (
        f"price for {model!r} must be {{'input': ..., 'output': ..., "
        f"'cached_input': ...}} in USD per 1M tokens (non-negative numbers); "
        f"got {value!r}"
    )
