"""STGE, the standard-mode status register, decoded into named fields (CPT_54E §6.2.3)."""

from __future__ import annotations

from teleinforeader.record import Record

BREAKING_DEVICE = (
    "closed",
    "open: overpower",
    "open: overvoltage",
    "open: load shedding",
    "open: CPL/Euridis order",
    "open: overheat with current above the maximum switching current",
    "open: overheat with current below the maximum",
)
EURIDIS = ("disabled", "enabled without security", "unused", "enabled with security")
CPL_STATUS = ("New/Unlock", "New/Lock", "Registered", "unused")
TEMPO_COLOURS = ("none", "blue", "white", "red")


class Stge(Record):
    value: int
    dry_contact_open: bool
    breaking_device: str
    terminal_cover_open: bool
    overvoltage: bool
    reference_power_exceeded: bool
    producer: bool
    energy_negative: bool
    supplier_index: int  # 1..10
    distributor_index: int  # 1..4
    clock_degraded: bool
    standard_mode: bool
    euridis: str
    cpl_status: str
    cpl_synchronised: bool
    tempo_today: str
    tempo_tomorrow: str
    mobile_peak_notice: int  # 0 none, 1..3
    mobile_peak: int  # 0 none, 1..3

    @classmethod
    def from_hex(cls, raw: str) -> Stge:
        v = int(raw, 16)

        def bits(first: int, count: int) -> int:
            return (v >> first) & ((1 << count) - 1)

        breaking = bits(1, 3)
        return cls(
            value=v,
            dry_contact_open=bool(bits(0, 1)),
            breaking_device=BREAKING_DEVICE[breaking]
            if breaking < len(BREAKING_DEVICE)
            else f"unknown ({breaking})",
            terminal_cover_open=bool(bits(4, 1)),
            overvoltage=bool(bits(6, 1)),
            reference_power_exceeded=bool(bits(7, 1)),
            producer=bool(bits(8, 1)),
            energy_negative=bool(bits(9, 1)),
            supplier_index=bits(10, 4) + 1,
            distributor_index=bits(14, 2) + 1,
            clock_degraded=bool(bits(16, 1)),
            standard_mode=bool(bits(17, 1)),
            euridis=EURIDIS[bits(19, 2)],
            cpl_status=CPL_STATUS[bits(21, 2)],
            cpl_synchronised=bool(bits(23, 1)),
            tempo_today=TEMPO_COLOURS[bits(24, 2)],
            tempo_tomorrow=TEMPO_COLOURS[bits(26, 2)],
            mobile_peak_notice=bits(28, 2),
            mobile_peak=bits(30, 2),
        )
