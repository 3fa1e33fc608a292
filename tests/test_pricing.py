"""Prices: defaults, the catalogue, name normalisation and user overrides."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from token_tracking import Price, PriceBook, TokenTracker, Usage

MILLION = Usage(input_tokens=1_000_000, output_tokens=1_000_000, total_tokens=2_000_000)


def test_gpt_4o_mini_default_is_15_cents_in_and_60_cents_out() -> None:
    book = PriceBook(catalogue=False)
    found = book.lookup("gpt-4o-mini")
    assert found is not None
    assert (found[1].input, found[1].output) == (Decimal("0.15"), Decimal("0.60"))


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("GPT-4o-mini", "gpt-4o-mini"),
        ("azure/gpt-4o-mini", "gpt-4o-mini"),
        ("gpt-35-turbo", "gpt-3.5-turbo"),
        ("gpt-35-turbo-0125", "gpt-3.5-turbo"),
        ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
        ("gpt-5.2-2025-12-11", "gpt-5.2"),
        ("o3-mini", "o3-mini"),
        ("gpt-5-nano", "gpt-5-nano"),
        ("text-embedding-3-small", "text-embedding-3-small"),
        ("text-embedding-ada-002", "text-embedding-ada-002"),
    ],
)
def test_current_models_are_priced_out_of_the_box(name: str, canonical: str) -> None:
    found = PriceBook().lookup(name)
    assert found is not None, name
    assert found[0] == canonical
    assert found[1].input > 0


def test_deployment_map_prices_azure_deployment_names() -> None:
    book = PriceBook(deployments={"prod-chat": "gpt-4o-mini"})
    assert book.cost("prod-chat", MILLION) == Decimal("0.75")
    assert book.resolve("prod-chat") == "gpt-4o-mini"


def test_user_prices_in_code_win_over_everything() -> None:
    book = PriceBook({"gpt-4o-mini": {"input": 1, "output": 2}})
    assert book.cost("gpt-4o-mini-2024-07-18", MILLION) == Decimal(3)


def test_prices_file_json_and_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    json_file = tmp_path / "prices.json"
    json_file.write_text(
        '{"prices": {"house-model": {"input": 2, "output": 4, "cached_input": 1}},'
        ' "deployments": {"my-deploy": "house-model"}}'
    )
    monkeypatch.setenv("TOKEN_TRACKING_PRICES", str(json_file))
    book = PriceBook()
    usage = Usage(1_000_000, 0, 1_000_000, cached_input_tokens=500_000)
    assert book.cost("my-deploy", usage) == Decimal("1.5")

    toml_file = tmp_path / "prices.toml"
    toml_file.write_text('[prices."gpt-4o-mini"]\ninput = 0.5\noutput = 1.5\n')
    monkeypatch.setenv("TOKEN_TRACKING_PRICES", str(toml_file))
    assert PriceBook().cost("gpt-4o-mini", MILLION) == Decimal(2)
    # Code still wins over the file.
    code = PriceBook({"gpt-4o-mini": (1, 1)})
    assert code.cost("gpt-4o-mini", MILLION) == Decimal(2)


def test_tracker_takes_prices_from_code_and_file(
    tmp_path: Path, clock: Callable[[], datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text('{"prices": {"house-model": {"input": 10, "output": 20}}}')
    monkeypatch.setenv("TOKEN_TRACKING_PRICES", str(prices))
    with TokenTracker(
        tmp_path / "logs", clock=clock, prices={"gpt-4o-mini": (1, 1)}
    ) as t:
        house = t.log_usage(
            None, "house-model", {"prompt_tokens": 100_000, "completion_tokens": 0}
        )
        mini = t.log_usage(
            None, "gpt-4o-mini", {"prompt_tokens": 1_000_000, "completion_tokens": 0}
        )
    assert house["cost_usd"] == 1.0
    assert mini["cost_usd"] == 1.0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot read prices file"),
        ('{"models": {}}', "must hold a 'prices' table"),
        ('{"prices": {"m": {"input": -1, "output": 1}}}', "non-negative"),
        ('{"prices": {"m": {"in": 1, "out": 1}}}', "price for 'm' must be"),
    ],
)
def test_bad_prices_file_says_what_is_wrong(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "prices.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        PriceBook(prices_file=path)


def test_missing_prices_file_is_named_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"nowhere\.json"):
        PriceBook(prices_file=tmp_path / "nowhere.json")


def test_price_parse_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="USD per 1M tokens"):
        Price.parse("cheap", model="m")
    with pytest.raises(ValueError, match="USD per 1M tokens"):
        Price.parse({"input": True, "output": 1}, model="m")


def test_unknown_model_has_no_price() -> None:
    book = PriceBook()
    assert book.lookup("acme-llm-9") is None
    assert book.cost("acme-llm-9", MILLION) is None
    assert book.cost(None, MILLION) is None
