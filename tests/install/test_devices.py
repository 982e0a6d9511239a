"""Which serial device a new meter's configuration names, in a /dev laid out for each case."""

from __future__ import annotations

from pathlib import Path

from teleinforeader.install.devices import DEFAULT_DEVICE, detect_device, serial_candidates


def make_dev(root: Path, nodes: list[str], links: dict[str, str]) -> Path:
    dev = root / "dev"
    for node in nodes:
        (dev / node).parent.mkdir(parents=True, exist_ok=True)
        (dev / node).touch()
    for link, target in links.items():
        (dev / link).parent.mkdir(parents=True, exist_ok=True)
        (dev / link).symlink_to(dev / target)
    return dev


def test_a_usb_adapter_by_its_stable_name_then_other_usb_ttys_then_the_uart(tmp_path: Path):
    dev = make_dev(
        tmp_path,
        ["ttyUSB0", "ttyUSB1", "ttyACM0", "ttyAMA0"],
        {"serial/by-id/usb-FTDI_TIC-if00-port0": "ttyUSB1", "serial0": "ttyAMA0"},
    )
    assert serial_candidates(dev, tmp_path / "no-model") == [
        f"{dev}/serial/by-id/usb-FTDI_TIC-if00-port0",
        f"{dev}/ttyUSB0",
        f"{dev}/ttyACM0",
        f"{dev}/serial0",
    ]
    found = detect_device([], dev, tmp_path / "no-model")
    assert found.found and found.device == f"{dev}/serial/by-id/usb-FTDI_TIC-if00-port0"
    assert found.others == (f"{dev}/ttyUSB0", f"{dev}/ttyACM0", f"{dev}/serial0")


def test_a_device_another_meter_uses_is_not_offered_by_any_of_its_names(tmp_path: Path):
    dev = make_dev(tmp_path, ["ttyAMA0", "ttyUSB0"], {"serial0": "ttyAMA0"})
    found = detect_device([f"{dev}/ttyAMA0", "socket://bridge:3333"], dev, tmp_path / "none")
    assert found.device == f"{dev}/ttyUSB0" and found.others == ()


def test_the_gpio_uart_of_a_pi_5_is_ttyama0_and_of_the_others_serial0(tmp_path: Path):
    dev = make_dev(tmp_path, ["ttyAMA0", "ttyAMA10", "ttyS0"], {"serial0": "ttyAMA10"})
    pi5, pi4 = tmp_path / "pi5-model", tmp_path / "pi4-model"
    pi5.write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\0")
    pi4.write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\0")
    assert detect_device([], dev, pi5).device == f"{dev}/ttyAMA0"
    assert detect_device([], dev, pi4).device == f"{dev}/serial0"  # ttyAMA0 is Bluetooth's
    assert detect_device([], dev, tmp_path / "no-model").device == f"{dev}/serial0"


def test_nothing_found_names_the_pitinfo_uart(tmp_path: Path):
    empty = detect_device([], make_dev(tmp_path, [], {}))
    assert (empty.device, empty.found) == (DEFAULT_DEVICE, False)
