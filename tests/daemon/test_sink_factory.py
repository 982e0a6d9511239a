"""The sink factory: every package it names builds its sink from the settings, or nothing."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

from teleinforeader.settings import DatabaseSettings, ServerSettings, Settings
from teleinforeader.sinks import SINK_PACKAGES, SinkContext, create_sinks


def test_every_named_package_offers_a_factory() -> None:
    for package in SINK_PACKAGES:
        module = importlib.import_module(f"teleinforeader.sinks.{package}")
        assert callable(module.create_sink), package


def test_defaults_give_the_database_writer_then_the_server(tmp_path: Path) -> None:
    sinks = create_sinks(SinkContext(Settings(), tmp_path))
    assert [sink.name for sink in sinks] == ["database", "server"]
    for sink in sinks:
        sink.close(0.5)  # never started: releases what the constructor opened


def test_sections_turned_off_give_no_sink(tmp_path: Path) -> None:
    settings = dataclasses.replace(
        Settings(),
        database=DatabaseSettings(backend="none"),
        server=ServerSettings(enabled=False),
    )
    assert create_sinks(SinkContext(settings, tmp_path)) == []
