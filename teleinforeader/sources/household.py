"""A plausible household for the simulated meter: what it draws, and what its solar panels make.

Deterministic for a given `random.Random`: every draw comes from it, in a fixed order, and the
time of day comes from the simulated clock, never from the wall clock. The model is small on
purpose: a wandering standby load, a fridge cycling, a water heater running on off-peak hours,
and a handful of appliances switched on at the hours people use them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime

from teleinforeader.record import Record


@dataclass(frozen=True)
class Appliance:
    name: str
    watts: float
    minutes: tuple[float, float]  # how long one use lasts, from .. to
    starts_per_day: float
    hours: tuple[int, ...]  # local hours in which it may be switched on
    phase: int  # the phase it is wired to on a three-phase supply


APPLIANCES = (
    Appliance("kettle", 2000, (3, 5), 2.5, (7, 8, 13, 16, 21), 0),
    Appliance("hob", 1500, (15, 40), 1.2, (11, 12, 18, 19), 1),
    Appliance("oven", 2200, (30, 60), 0.6, (11, 18, 19), 1),
    Appliance("washing machine", 1800, (60, 120), 0.5, (9, 10, 14, 20), 2),
    Appliance("dishwasher", 1500, (90, 150), 0.8, (13, 20, 21), 0),
    Appliance("vacuum cleaner", 900, (10, 30), 0.3, (10, 15, 17), 2),
)
WATER_HEATER_WATTS = 2400.0
FRIDGE_WATTS = 120.0
FRIDGE_CYCLE = 2700.0  # seconds: 15 min on, 30 min off
FRIDGE_ON = 900.0


class Load(Record):
    """The household at one instant."""

    active: tuple[float, ...]  # W drawn on each phase
    power_factor: float  # active / apparent
    production: float  # W made by the solar panels (producer meters)


@dataclass
class Household:
    rng: random.Random
    phases: int = 1
    subscribed_va: float = 6000.0
    water_heater_hour: int = 22  # when the off-peak contact closes
    solar_peak: float = 0.0  # W at noon on a clear day; 0 = no panels
    _standby: float = 200.0
    _clouds: float = 1.0
    _fridge_offset: float = 0.0
    _running: dict[str, float] = field(default_factory=dict)  # appliance -> seconds left
    _heater_left: float = 0.0
    _heater_day: int = -1

    def __post_init__(self) -> None:
        self._fridge_offset = self.rng.uniform(0, FRIDGE_CYCLE)
        self._standby = self.rng.uniform(150, 300)

    def load(self, local: datetime) -> Load:
        """What the household draws (and makes) at `local`."""
        per_phase = [0.0] * self.phases
        standby = self._standby / self.phases
        for phase in range(self.phases):
            per_phase[phase] += standby
        clock = local.hour * 3600 + local.minute * 60 + local.second
        if (clock + self._fridge_offset) % FRIDGE_CYCLE < FRIDGE_ON:
            per_phase[0] += FRIDGE_WATTS
        if self._heater_left > 0:
            per_phase[0] += WATER_HEATER_WATTS
        for appliance in APPLIANCES:
            if appliance.name in self._running:
                per_phase[appliance.phase % self.phases] += appliance.watts
        power_factor = self.rng.uniform(0.88, 0.97)
        limit = self.subscribed_va / self.phases * 0.95 * power_factor  # the breaker's margin
        active = tuple(min(watts, limit) for watts in per_phase)
        return Load(active, power_factor, self._solar(local))

    def live(self, local: datetime, seconds: float) -> None:
        """Let `seconds` of household life go by from `local`: appliances start and stop."""
        rng = self.rng
        self._standby = min(350.0, max(120.0, self._standby + rng.gauss(0, 2) * seconds**0.5))
        self._clouds = min(1.0, max(0.2, self._clouds + rng.gauss(0, 0.01) * seconds**0.5))
        for name in list(self._running):
            self._running[name] -= seconds
            if self._running[name] <= 0:
                del self._running[name]
        for appliance in APPLIANCES:
            if appliance.name in self._running or local.hour not in appliance.hours:
                continue
            rate = appliance.starts_per_day / (len(appliance.hours) * 3600)
            if rng.random() < 1 - math.exp(-rate * seconds):
                self._running[appliance.name] = 60 * rng.uniform(*appliance.minutes)
        self._heater_left = max(0.0, self._heater_left - seconds)
        day = local.toordinal()
        if local.hour == self.water_heater_hour and self._heater_day != day:
            self._heater_day = day
            self._heater_left = 60 * rng.uniform(60, 150)

    def _solar(self, local: datetime) -> float:
        """A sine from 07:00 to 19:00 local time, dimmed by wandering clouds."""
        if not self.solar_peak:
            return 0.0
        hours = local.hour + local.minute / 60 - 7
        if not 0 < hours < 12:
            return 0.0
        return self.solar_peak * math.sin(math.pi * hours / 12) * self._clouds
