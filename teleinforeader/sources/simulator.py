"""A simulated meter: real TIC bytes from a plausible household, for demos, tests and benchmarks.

`Simulator(profile, seed).frames()` is a pure generator of wire bytes (through
`tic.encode_frame`, so everything downstream runs exactly as with a meter); `SimulatorSource`
plays it at the line pace. Values follow a simulated clock that advances by each frame's line
time (or `seconds_per_frame`, to live a day in a minute), never the wall clock, and every draw
comes from `random.Random(seed)`: same profile, seed and start, same bytes.

What stays consistent, as on a real meter: indexes only grow, by the active power x the time;
the apparent power is the current x the voltage; the tariff period follows the clock (off-peak
hours 22:00-06:00, Tempo days from 06:00 to 06:00 with a colour drawn per day, tomorrow's colour
known from 11:00); maxima reset at midnight; load-curve points and mean voltages close every
30 and 10 minutes; the standard DATE is the simulated French legal time, with its season letter.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from teleinforeader.sources.household import Household, Load
from teleinforeader.sources.pacing import BAUD_OF_MODE, PacedSource, chunked, line_seconds
from teleinforeader.tic.encoder import GroupSpec, encode_frame
from teleinforeader.tic.labels import HISTORIC, STANDARD

BASE, HCHP, TEMPO = "base", "hchp", "tempo"


@dataclass(frozen=True)
class Profile:
    """A kind of meter and contract."""

    name: str
    mode: str  # historic | standard
    tariff: str  # base | hchp | tempo
    phases: int
    subscribed_kva: int
    producer: bool = False


PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile("historic-base", HISTORIC, BASE, 1, 6),
        Profile("historic-hchp", HISTORIC, HCHP, 1, 9),
        Profile("historic-tempo", HISTORIC, TEMPO, 1, 9),
        Profile("historic-tri", HISTORIC, BASE, 3, 12),
        Profile("standard-mono", STANDARD, HCHP, 1, 6),
        Profile("standard-tri", STANDARD, BASE, 3, 12),
        Profile("standard-producer", STANDARD, BASE, 1, 6, producer=True),
    )
}
# What most users have: a Linky left in historic mode, BASE option, single-phase.
DEFAULT_PROFILE = "historic-base"
DEFAULT_START = datetime(2026, 1, 5, 20, 55, tzinfo=timezone.utc)  # 21:55 in Paris, a Monday

OFF_PEAK = (22, 6)  # off-peak hours, local time: from 22:00 to 06:00
TEMPO_DAY_START = 6  # a Tempo day runs from 06:00 to 06:00
TEMPO_ANNOUNCED = 11  # tomorrow's colour is known from 11:00
COLOUR_LETTERS = {"BLEU": "B", "BLAN": "W", "ROUG": "R"}  # DEMAIN's spelling -> PTEC's letter
HOURS = ("HC", "HP")
CURVE_PERIOD = 1800  # seconds: load-curve points (CCASN)
MEAN_VOLTAGE_PERIOD = 600  # seconds: UMOY; every tariff change falls on this grid too
PRODUCER_INDEXES = ("EAIT", "ERQ1", "ERQ2", "ERQ3", "ERQ4")
NO_MESSAGE = "PAS DE          MESSAGE         "
UNUSED_SLOT = "NONUTILE"


def summer_time(utc: datetime) -> bool:
    """European summer time: from the last Sunday of March to that of October, 01:00 UTC."""

    def last_sunday(month: int) -> datetime:
        end = datetime(utc.year, month, 31, 1, tzinfo=timezone.utc)
        return end - timedelta(days=(end.weekday() + 1) % 7)

    return last_sunday(3) <= utc < last_sunday(10)


def french_time(utc: datetime) -> tuple[datetime, str]:
    """Legal time in France (naive) and its horodate season letter (H winter, E summer)."""
    summer = summer_time(utc)
    local = utc.astimezone(timezone(timedelta(hours=2 if summer else 1)))
    return local.replace(tzinfo=None), "E" if summer else "H"


def horodate(local: datetime, season: str) -> str:
    return season + local.strftime("%y%m%d%H%M%S")


def off_peak(local: datetime) -> bool:
    start, end = OFF_PEAK
    return local.hour >= start or local.hour < end


class _Maximum:
    """Today's and yesterday's maximum of a power, with the time each was reached."""

    def __init__(self, yesterday: int, yesterday_at: str, today: int, today_at: str) -> None:
        self.today, self.today_at = today, today_at
        self.yesterday, self.yesterday_at = yesterday, yesterday_at

    def see(self, value: int, stamp: str) -> None:
        if value > self.today:
            self.today, self.today_at = value, stamp

    def new_day(self, stamp: str) -> None:
        self.yesterday, self.yesterday_at = self.today, self.today_at
        self.today, self.today_at = 0, stamp


class Simulator:
    """A meter of `profile` (a key of PROFILES) and its household, from `start` (aware).

    The clock moves by each frame's time on the line, or by `seconds_per_frame` when given
    (60: a day in 1440 frames, for tests and demos of what happens over days).
    """

    def __init__(
        self,
        profile: str = DEFAULT_PROFILE,
        seed: int = 0,
        start: datetime = DEFAULT_START,
        seconds_per_frame: float | None = None,
    ) -> None:
        if profile not in PROFILES:
            raise ValueError(
                f"source.profile must be one of {', '.join(PROFILES)}, not {profile!r}"
            )
        if start.tzinfo is None:
            raise ValueError("the simulated clock starts at an aware datetime (UTC)")
        self.profile = PROFILES[profile]
        self.seed = seed
        self.baud = BAUD_OF_MODE[self.profile.mode]
        self.seconds_per_frame = seconds_per_frame
        self.rng = rng = random.Random(seed)
        self.utc = start.astimezone(timezone.utc)
        p = self.profile
        self.household = Household(
            rng,
            phases=p.phases,
            subscribed_va=p.subscribed_kva * 1000.0,
            water_heater_hour=OFF_PEAK[0] if p.tariff != BASE else 1,
            solar_peak=rng.uniform(2500, 4000) if p.producer else 0.0,
        )
        self.serial_number = f"0{rng.randint(2, 4)}{rng.randint(15, 23)}{61 + p.phases}"
        self.serial_number += f"{rng.randrange(10**6):06d}"
        self.prm = f"{rng.randrange(10**14):014d}"
        self.wh: dict[str, float] = {}  # index label -> energy in Wh (the index is its floor)
        self._first_indexes(rng)
        self.voltages = [rng.uniform(228, 236) for _ in range(p.phases)]
        local, season = french_time(self.utc)
        ago = horodate(local - timedelta(hours=rng.uniform(14, 20)), season)
        earlier = horodate(local - timedelta(hours=rng.uniform(0, 3)), season)
        va = p.subscribed_kva * 1000 // p.phases
        self.maxima = [
            _Maximum(rng.randint(va // 4, va // 2), ago, rng.randint(va // 8, va // 3), earlier)
            for _ in range(p.phases + 1)  # the total, then each phase
        ]
        self.injection_max = _Maximum(rng.randint(1500, 3000), ago, 0, earlier)
        curve_end = self._period_start(CURVE_PERIOD)
        self.curve = [
            (rng.randint(200, 1500), horodate(*french_time(curve_end - timedelta(seconds=s))))
            for s in (0, CURVE_PERIOD)
        ]
        mean_end = self._period_start(MEAN_VOLTAGE_PERIOD)
        self.mean_voltages = [(round(u), horodate(*french_time(mean_end))) for u in self.voltages]
        self._curve_wh = 0.0
        self._volt_seconds = [0.0] * p.phases
        self._load = Load((0.0,) * p.phases, 1.0, 0.0)

    def _first_indexes(self, rng: random.Random) -> None:
        """A meter some years old: indexes in the tens of MWh, in table order."""
        p = self.profile
        if p.mode == HISTORIC:
            labels = {
                BASE: ["BASE"],
                HCHP: ["HCHC", "HCHP"],
                TEMPO: [f"BBR{hours}J{c}" for c in COLOUR_LETTERS.values() for hours in HOURS],
            }[p.tariff]
            self.wh = {label: rng.uniform(1e6, 2e7) for label in labels}
            return
        used = 2 if p.tariff == HCHP else 1  # supplier indexes the contract counts on
        for n in range(1, 11):
            self.wh[f"EASF{n:02d}"] = rng.uniform(1e6, 2e7) if n <= used else 0.0
        total = sum(self.wh.values())
        shares = [rng.uniform(1, 3) for _ in range(4)]  # the distributor's own calendar
        for n, share in enumerate(shares, 1):
            self.wh[f"EASD0{n}"] = total * share / sum(shares)
        if p.producer:
            self.wh.update({label: rng.uniform(1e5, 5e6) for label in PRODUCER_INDEXES})

    def _period_start(self, period: int) -> datetime:
        stamp = self.utc.timestamp()
        return datetime.fromtimestamp(stamp - stamp % period, timezone.utc)

    # -- the meter's view of the clock -----------------------------------------------------

    def now(self) -> tuple[datetime, str]:
        """The simulated legal time and its season letter."""
        return french_time(self.utc)

    def tempo_colour(self, day: date) -> str:
        """The colour of the Tempo day starting at 06:00 on `day`: red on winter weekdays only."""
        draw = random.Random(self.seed * 1_000_003 + day.toordinal()).random()
        if day.month in (11, 12, 1, 2, 3) and day.weekday() < 5 and draw < 0.12:
            return "ROUG"
        if day.weekday() != 6 and draw > 0.85:
            return "BLAN"
        return "BLEU"

    def _tempo_day(self, local: datetime) -> date:
        return (local - timedelta(hours=TEMPO_DAY_START)).date()

    def _withdrawal_indexes(self, local: datetime) -> list[str]:
        """The index labels that count energy drawn now."""
        p, hc = self.profile, off_peak(local)
        if p.mode == HISTORIC:
            if p.tariff == HCHP:
                return ["HCHC" if hc else "HCHP"]
            if p.tariff == TEMPO:
                letter = COLOUR_LETTERS[self.tempo_colour(self._tempo_day(local))]
                return [f"BBR{'HC' if hc else 'HP'}J{letter}"]
            return ["BASE"]
        return [f"EASF{self._supplier_index(local):02d}", f"EASD0{self._distributor_index(local)}"]

    def _supplier_index(self, local: datetime) -> int:
        return 1 if self.profile.tariff == BASE or off_peak(local) else 2

    @staticmethod
    def _distributor_index(local: datetime) -> int:
        """1 peak and 2 off-peak in the high season (November to March), 3 and 4 otherwise."""
        high_season = local.month in (11, 12, 1, 2, 3)
        return (1 if high_season else 3) + off_peak(local)

    # -- frames ----------------------------------------------------------------------------

    def frames(self) -> Generator[bytes, None, None]:
        """Wire bytes, one frame per item, endlessly; the clock moves on after each."""
        while True:
            local, season = self.now()
            self._load = self.household.load(local)
            if self.profile.mode == HISTORIC:
                frame = encode_frame(self._historic_groups(local, season), HISTORIC)
            else:
                frame = encode_frame(self._standard_groups(local, season), STANDARD)
            yield frame
            seconds = self.seconds_per_frame or line_seconds(len(frame), self.baud, 1.0)
            self._advance(seconds)
            self.household.live(local, seconds)

    def _apparent(self) -> list[float]:
        """VA drawn on each phase, after what the panels make (injection is not drawn)."""
        load = self._load
        net = [load.active[0] - load.production, *load.active[1:]]
        return [max(0.0, watts) / load.power_factor for watts in net]

    def _injected(self) -> float:
        return max(0.0, self._load.production - self._load.active[0])

    def _currents(self) -> list[int]:
        apparent = self._apparent()
        apparent[0] += self._injected()  # the current flows whichever way the power goes
        return [round(va / volts) for va, volts in zip(apparent, self.voltages)]

    def _historic_groups(self, local: datetime, season: str) -> list[GroupSpec]:
        p = self.profile
        apparent = self._apparent()
        stamp = horodate(local, season)
        total = sum(apparent)
        self._see_maxima(apparent, stamp)
        groups: list[GroupSpec] = [
            ("ADCO", self.serial_number),
            ("OPTARIF", {BASE: "BASE", HCHP: "HC..", TEMPO: "BBR("}[p.tariff]),
            ("ISOUSC", f"{p.subscribed_kva * 1000 // 200 // p.phases:02d}"),
        ]
        groups += [(label, f"{int(wh):09d}") for label, wh in self.wh.items()]
        hc = off_peak(local)
        if p.tariff == TEMPO:
            today = self._tempo_day(local)
            letter = COLOUR_LETTERS[self.tempo_colour(today)]
            groups.append(("PTEC", f"{'HC' if hc else 'HP'}J{letter}"))
            announced = (local - timedelta(hours=TEMPO_DAY_START)).hour >= (
                TEMPO_ANNOUNCED - TEMPO_DAY_START
            )
            tomorrow = self.tempo_colour(today + timedelta(days=1))
            groups.append(("DEMAIN", tomorrow if announced else "----"))
        else:
            groups.append(("PTEC", {BASE: "TH..", HCHP: "HC.." if hc else "HP.."}[p.tariff]))
        currents = self._currents()
        if p.phases == 1:
            groups += [
                ("IINST", f"{currents[0]:03d}"),
                ("IMAX", "090"),
                ("PAPP", f"{round(total, -1):05.0f}"),  # single-phase meters round to 10 VA
                ("HHPHC", "A"),
                ("MOTDETAT", "000000"),
            ]
        else:
            groups += [(f"IINST{n}", f"{amps:03d}") for n, amps in enumerate(currents, 1)]
            groups += [(f"IMAX{n}", "060") for n in range(1, 4)]
            groups += [
                ("PMAX", f"{self.maxima[0].yesterday:05d}"),
                ("PAPP", f"{round(total):05d}"),
                ("MOTDETAT", "000000"),
                ("PPOT", "00"),
            ]
        return groups

    def _see_maxima(self, apparent: list[float], stamp: str) -> None:
        self.maxima[0].see(round(sum(apparent)), stamp)
        if len(apparent) > 1:
            for maximum, va in zip(self.maxima[1:], apparent):
                maximum.see(round(va), stamp)
        self.injection_max.see(round(self._injected()), stamp)

    def _standard_groups(self, local: datetime, season: str) -> list[GroupSpec]:
        p = self.profile
        apparent = self._apparent()
        stamp = horodate(local, season)
        self._see_maxima(apparent, stamp)
        three = p.phases == 3
        tariff_name = {BASE: "BASE", HCHP: "H PLEINE/CREUSE"}[p.tariff]
        supplier = self._supplier_index(local)
        period = {BASE: "BASE", HCHP: "HEURE  CREUSE" if supplier == 1 else "HEURE  PLEINE"}
        groups: list[GroupSpec] = [
            ("ADSC", self.serial_number),
            ("VTIC", "02"),
            ("DATE", stamp, ""),
            ("NGTF", tariff_name.center(16)),
            ("LTARF", period[p.tariff].center(16)),
            ("EAST", f"{int(sum(self.wh[f'EASF{n:02d}'] for n in range(1, 11))):09d}"),
        ]
        groups += [(f"EASF{n:02d}", f"{int(self.wh[f'EASF{n:02d}']):09d}") for n in range(1, 11)]
        groups += [(f"EASD0{n}", f"{int(self.wh[f'EASD0{n}']):09d}") for n in range(1, 5)]
        if p.producer:
            groups += [(label, f"{int(self.wh[label]):09d}") for label in PRODUCER_INDEXES]
        phases = range(1, p.phases + 1)
        currents = self._currents()
        groups += [(f"IRMS{n}", f"{currents[n - 1]:03d}") for n in phases]
        groups += [(f"URMS{n}", f"{round(self.voltages[n - 1]):03d}") for n in phases]
        groups += [("PREF", f"{p.subscribed_kva:02d}"), ("PCOUP", f"{p.subscribed_kva:02d}")]
        groups.append(("SINSTS", f"{round(sum(apparent)):05d}"))
        if three:
            groups += [(f"SINSTS{n}", f"{round(apparent[n - 1]):05d}") for n in phases]
        total_max = self.maxima[0]
        groups.append(("SMAXSN", total_max.today_at, f"{total_max.today:05d}"))
        if three:
            groups += [
                (f"SMAXSN{n}", self.maxima[n].today_at, f"{self.maxima[n].today:05d}")
                for n in phases
            ]
        groups.append(("SMAXSN-1", total_max.yesterday_at, f"{total_max.yesterday:05d}"))
        if three:
            groups += [
                (f"SMAXSN{n}-1", self.maxima[n].yesterday_at, f"{self.maxima[n].yesterday:05d}")
                for n in phases
            ]
        if p.producer:
            injection = self.injection_max
            groups += [
                ("SINSTI", f"{round(self._injected()):05d}"),
                ("SMAXIN", injection.today_at, f"{injection.today:05d}"),
                ("SMAXIN-1", injection.yesterday_at, f"{injection.yesterday:05d}"),
            ]
        (point, point_at), (previous, previous_at) = self.curve
        groups += [("CCASN", point_at, f"{point:05d}"), ("CCASN-1", previous_at, f"{previous:05d}")]
        groups += [
            (f"UMOY{n}", self.mean_voltages[n - 1][1], f"{self.mean_voltages[n - 1][0]:03d}")
            for n in phases
        ]
        day_profile = (
            ["00004001", "06004002", "22004001"] if p.tariff == HCHP else ["00004001"]
        ) + [UNUSED_SLOT] * (11 - (3 if p.tariff == HCHP else 1))
        groups += [
            ("STGE", f"{self._status_register(local, supplier):08X}"),
            ("MSG1", NO_MESSAGE),
            ("PRM", self.prm),
            ("RELAIS", "001" if p.tariff == HCHP and off_peak(local) else "000"),
            ("NTARF", f"{supplier:02d}"),
            ("NJOURF", "00"),
            ("NJOURF+1", "00"),
            ("PJOURF+1", " ".join(day_profile)),
        ]
        return groups

    def _status_register(self, local: datetime, supplier: int) -> int:
        """STGE: standard mode, Euridis on with security, CPL locked, and the live fields."""
        register = 0x003A0000
        register |= (supplier - 1) << 10
        register |= (self._distributor_index(local) - 1) << 14
        if self.profile.producer:
            register |= 1 << 8
            if self._injected() > 0:
                register |= 1 << 9  # active energy flows to the grid
        return register

    # -- the clock -------------------------------------------------------------------------

    def _advance(self, seconds: float) -> None:
        """Credit the energy of `seconds` at the present load, closing periods on the way.

        Every tariff change and period end falls on the 10-minute grid, so the time is cut at
        each grid line and each piece is credited to the registers of its own period.
        """
        while seconds > 0:
            stamp = self.utc.timestamp()
            to_grid = MEAN_VOLTAGE_PERIOD - stamp % MEAN_VOLTAGE_PERIOD
            piece = min(seconds, to_grid)
            self._credit(piece)
            seconds -= piece
            if piece == to_grid:  # on the grid line exactly, whatever the float rounding
                grid_line = round((stamp + to_grid) / MEAN_VOLTAGE_PERIOD) * MEAN_VOLTAGE_PERIOD
                self.utc = datetime.fromtimestamp(grid_line, timezone.utc)
                self._close_periods()
            else:
                self.utc += timedelta(seconds=piece)
        self._wander_voltages()

    def _credit(self, seconds: float) -> None:
        local, _ = self.now()
        hours = seconds / 3600
        load = self._load
        drawn = sum(self._apparent()) * load.power_factor
        for label in self._withdrawal_indexes(local):
            self.wh[label] += drawn * hours
        self._curve_wh += drawn * hours
        if self.profile.producer:
            reactive = drawn * (1 / load.power_factor**2 - 1) ** 0.5
            self.wh["ERQ1"] += reactive * hours
            self.wh["EAIT"] += self._injected() * hours
            self.wh["ERQ2"] += self._injected() * 0.05 * hours
        for phase, volts in enumerate(self.voltages):
            self._volt_seconds[phase] += volts * seconds

    def _close_periods(self) -> None:
        local, season = self.now()
        stamp = horodate(local, season)
        self.mean_voltages = [
            (round(total / MEAN_VOLTAGE_PERIOD), stamp) for total in self._volt_seconds
        ]
        self._volt_seconds = [0.0] * self.profile.phases
        if self.utc.timestamp() % CURVE_PERIOD == 0:
            self.curve = [(round(self._curve_wh * 3600 / CURVE_PERIOD), stamp), self.curve[0]]
            self._curve_wh = 0.0
        if local.hour == 0 and local.minute == 0:
            for maximum in (*self.maxima, self.injection_max):
                maximum.new_day(stamp)

    def _wander_voltages(self) -> None:
        self.voltages = [
            min(243.0, max(222.0, volts + self.rng.gauss(0, 0.3))) for volts in self.voltages
        ]


class SimulatorSource(PacedSource):
    """The simulated meter as a byte source, at `speed` x the line pace (0 = flat out)."""

    name = "simulator"

    def __init__(
        self,
        profile: str = DEFAULT_PROFILE,
        seed: int = 0,
        speed: float = 1.0,
        start: datetime = DEFAULT_START,
        seconds_per_frame: float | None = None,
        chunk_size: int | None = None,
    ) -> None:
        self.simulator = Simulator(profile, seed, start, seconds_per_frame)
        super().__init__(self.simulator.baud, speed, chunk_size)

    def describe(self) -> str:
        simulator = self.simulator
        return f"simulated {simulator.profile.name} meter (seed {simulator.seed}, {self.pace})"

    def chunks(self) -> Generator[bytes, None, None]:
        yield from chunked(self.simulator.frames(), self.chunk_size)
