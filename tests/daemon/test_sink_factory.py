"""The sink factory: every package it names builds its sink from the settings, or nothing."""

from __future__ import annotations

import importlib
from pathlib import Path

from teleinforeader.settings import (
    DatabaseSettings,
    HttpSettings,
    ServerSettings,
    Settings,
    replace,
)
from teleinforeader.sinks import SINK_PACKAGES, SinkContext, create_sinks
from teleinforeader.sinks.base import Sink


def test_every_named_package_offers_a_factory() -> None:
    for package in SINK_PACKAGES:
        module = importlib.import_module(f"teleinforeader.sinks.{package}")
        assert callable(module.create_sink), package


def test_defaults_give_the_database_writer_the_server_and_the_web_page(tmp_path: Path) -> None:
    sinks = create_sinks(SinkContext(Settings(), tmp_path))
    assert [sink.name for sink in sinks] == ["database", "server", "http"]
    for sink in sinks:
        sink.close(0.5)  # never started: releases what the constructor opened


def test_sections_turned_off_give_no_sink(tmp_path: Path) -> None:
    settings = replace(
        Settings(),
        database=DatabaseSettings(backend="none"),
        server=ServerSettings(enabled=False),
        http=HttpSettings(enabled=False),
    )
    assert create_sinks(SinkContext(settings, tmp_path)) == []


class FakePipeline:
    def __init__(self, sinks: list[Sink]) -> None:
        self.sinks = sinks

    def counters(self) -> dict[str, int]:
        return {"frames": 7}


def test_the_pipeline_view_reads_the_daemon_bound_after_the_sinks(tmp_path: Path) -> None:
    context = SinkContext(Settings(), tmp_path)
    sinks = create_sinks(context)
    assert context.pipeline.counters() == {} and context.pipeline.sink_statuses() == []
    context.pipeline.bind(FakePipeline(sinks))
    assert context.pipeline.counters() == {"frames": 7}
    assert [name for name, _ in context.pipeline.sink_statuses()] == ["database", "server", "http"]
    assert all(status.alive for _, status in context.pipeline.sink_statuses())
    for sink in sinks:
        sink.close(0.5)
