"""The schema follows the label table and keeps the original table's columns first."""

from __future__ import annotations

from teleinforeader.sinks.database.schema import (
    HISTORIC_TABLE,
    STANDARD_TABLE,
    RowBuilder,
    column_name,
    record_to_row,
    row_to_record,
)
from teleinforeader.tic.labels import HISTORIC_LABELS, STANDARD_LABELS
from tests.storage.helpers import make_frames

ORIGINAL_COLUMNS = [
    "timestamp", "meter_identifier", "subscription_type", "subscription_power_in_a",
    "total_base_index_in_wh", "current_pricing_period", "instantaneous_intensity_in_a",
    "intensity_max_in_a", "power_consumption_in_va", "peak_off_peak_schedule",
    "meter_state_code",
]  # fmt: skip


def test_the_original_eleven_columns_come_first_in_their_order() -> None:
    assert list(HISTORIC_TABLE.column_names[:11]) == ORIGINAL_COLUMNS


def test_every_label_of_both_modes_has_a_column_and_names_are_unique() -> None:
    for table, labels in ((HISTORIC_TABLE, HISTORIC_LABELS), (STANDARD_TABLE, STANDARD_LABELS)):
        stored = {column.label for column in table.columns if column.label}
        assert stored == set(labels)
        assert len(set(table.column_names)) == len(table.columns)
        horodated = {c.label for c in table.columns if c.horodate}
        assert horodated == {label for label, spec in labels.items() if spec.horodate}


def test_column_names_are_plain_identifiers() -> None:
    assert column_name("SMAXSN-1") == "smaxsn_minus_1"
    assert column_name("NJOURF+1") == "njourf_plus_1"
    for name in HISTORIC_TABLE.column_names + STANDARD_TABLE.column_names:
        assert name.replace("_", "").isalnum() and name.islower()


def test_a_spool_record_maps_by_column_name_across_schema_versions() -> None:
    table, values = RowBuilder("pi").row(make_frames("standard-mono", 1)[0])
    record = row_to_record(table, values)
    assert None not in record["v"].values()  # type: ignore[union-attr]
    assert record_to_row(record) == (table, values)
    del record["v"]["stge"]  # type: ignore[union-attr]  # spooled before the column existed
    record["v"]["column_of_an_older_version"] = 1  # type: ignore[index]
    stge = table.column_names.index("stge")
    assert record_to_row(record) == (table, (*values[:stge], None, *values[stge + 1 :]))
