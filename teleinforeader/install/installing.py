"""Install, or upgrade, one meter's service: every step idempotent, the running one untouched
until the new release has proved it installs and accepts the configuration.

The order matters. The configuration is planned first (the extras it needs go into the release);
then packages, the user, a local database and the password files (the configuration check reads
them); then the new release, built beside the one in service; the configuration checked by that
release as the service's user, and written; only then are the running meters stopped, the link
moved, each database brought to the release's schema (`db init`) and the meters started again:
a few seconds without reading, nothing lost before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from teleinforeader.install import configuring, mariadb
from teleinforeader.install.finishing import wait_and_tell
from teleinforeader.install.layout import (
    SERIAL_GROUP,
    SERVICE_USER,
    SYSUSERS_FILE,
    UNIT_DIRECTORY,
    UNIT_NAMES,
    VENV_LINK,
    Instance,
    installed_instances,
)
from teleinforeader.install.meterconfig import MeterConfig, read_configs
from teleinforeader.install.release import (
    Source,
    build_release,
    built_from,
    current_release,
    installed_version,
    is_older,
    prune_releases,
    source_digest,
    switch_to,
)
from teleinforeader.install.system import Host, InstallError, in_group, user_exists


@dataclass
class Options:
    source: Source
    instance: Instance = field(default_factory=Instance)
    device: str | None = None  # None: detected for a new configuration, kept for an existing one
    local_mariadb: bool = False
    interactive: bool = False  # a person at a terminal: offer probe with a question
    downgrade: bool = False  # install a source older than the installed release
    mqtt: configuring.Mqtt | None = None  # --mqtt HOST[:PORT] [--mqtt-user NAME]


def install(host: Host, options: Options) -> int:
    instance, source, report = options.instance, options.source, host.report
    previous = current_release()
    before = installed_version(previous) if previous else None
    if before is not None and is_older(source.version, before) and not options.downgrade:
        raise InstallError(
            f"this source is teleinforeader {source.version}, older than the {before} "
            f"installed: run the installer of {before} or later (or --downgrade to go back)"
        )
    if before is None:
        doing = f"installing {source.version}"
    elif before == source.version:
        doing = f"{source.version} is installed: checking it"
    else:
        doing = f"upgrading {before} to {source.version}"
    report.title(f"teleinforeader: {doing} for {instance.unit} (from {source.root})")

    configs = _configs(instance)
    others = [text for each, text in configs.items() if each != instance]
    example = source.example_config.read_text(encoding="utf-8")
    config = configuring.plan(
        host,
        instance,
        example,
        configs.get(instance),
        others,
        device=options.device,
        local_mariadb=options.local_mariadb,
        mqtt=options.mqtt,
    )
    mqtt_user = options.mqtt.user if options.mqtt else None
    mqtt_password = (
        configuring.read_mqtt_password(mqtt_user, options.interactive) if mqtt_user else None
    )
    extras = configuring.needs_extras([*others, config.lines.text], options.local_mariadb)
    host.ensure_packages(["python3-venv"], "virtual environments")
    pins = []
    if "mariadb" in extras:
        host.ensure_packages(mariadb.CONNECTOR_BUILD_PACKAGES, "building the MariaDB connector")
        pin = mariadb.connector_requirement(host)
        pins += [pin] if pin else []
    _ensure_user(host, source)
    if options.local_mariadb:
        mariadb.set_up(host, mariadb.LocalDatabase())
    if mqtt_user and mqtt_password:
        configuring.write_mqtt_password(host, instance, mqtt_user, mqtt_password)

    digest = source_digest(source, extras, pins)
    if previous is not None and built_from(previous) == digest:
        release, new_release = previous, False
        report.kept(f"teleinforeader {source.version} in {release}: built from this very source")
    else:
        release, new_release = build_release(host, source, extras, pins, digest), True
        report.did(f"teleinforeader {source.version} in {release}")
    configuring.write_checked(host, release, instance, config)
    _state_directory(host, instance)
    units_changed = _units(host, source)

    running = [unit for unit in _instance_units() if host.unit_state(unit) == "active"]
    if new_release:
        if running and previous is not None:
            host.systemctl("stop", *running)
            report.did(f"stopped {', '.join(running)} for the switch")
        old = switch_to(release)
        report.did(f"{VENV_LINK} -> {release}")
        for removed in prune_releases([release, old] if old else [release]):
            report.removed(f"old release {removed}")
    if units_changed:
        host.systemctl("daemon-reload")
    for each in installed_instances() if new_release else [instance]:
        _database(host, each)
    _enable_and_start(host, instance, running, new_release or units_changed, config)
    wait_and_tell(host, instance, config, options.interactive)
    return 0


def _enable_and_start(
    host: Host, instance: Instance, running: list[str], everything: bool, config: MeterConfig
) -> None:
    """Enabled, and running what it should: every meter that ran when the program or the unit
    changed, this meter when its configuration did, and only started (never restarted) when
    nothing changed at all."""
    if host.systemctl("is-enabled", instance.unit, check=False).stdout.strip() != "enabled":
        host.systemctl("enable", instance.unit)
        host.report.did(f"enabled {instance.unit} (started at boot)")
    if everything:
        restart = sorted(set(running) | {instance.unit})
    elif config.created or config.changed:
        restart = [instance.unit]
    else:
        restart = []
    if restart:
        host.systemctl("restart", *restart)
        host.report.did(f"started {', '.join(restart)}")
    elif instance.unit not in running:
        host.systemctl("start", instance.unit)
        host.report.did(f"started {instance.unit}")
    else:
        host.report.kept(f"{instance.unit} running, nothing changed")


# -- the steps -------------------------------------------------------------------------------


def _configs(instance: Instance) -> dict[Instance, str]:
    """The configuration text of every meter installed, and of this one if it exists."""
    found = installed_instances()
    if instance not in found:
        found.append(instance)
    texts = {}
    for each in found:
        text = read_configs([each.config])
        if text:
            texts[each] = text[0]
    return texts


def _ensure_user(host: Host, source: Source) -> None:
    """The system user, member of dialout, from the shipped sysusers file (created if needed:
    Debian bookworm has no /etc/sysusers.d)."""
    existed = user_exists()
    text = source.sysusers_file.read_text(encoding="utf-8")
    host.write_file(SYSUSERS_FILE, text, mode=0o644)
    host.run(["systemd-sysusers", str(SYSUSERS_FILE)])
    if not in_group(SERVICE_USER, SERIAL_GROUP):  # an older user, made by hand
        host.run(["usermod", "--append", "--groups", SERIAL_GROUP, SERVICE_USER])
    if existed:
        host.report.kept(f"user {SERVICE_USER}, member of {SERIAL_GROUP}")
    else:
        host.report.did(f"user {SERVICE_USER}, member of {SERIAL_GROUP} ({SYSUSERS_FILE})")


def _state_directory(host: Host, instance: Instance) -> None:
    created = host.make_directory(instance.state_directory, 0o750, owner=SERVICE_USER)
    (host.report.did if created else host.report.kept)(
        f"state directory {instance.state_directory}"
    )


def _units(host: Host, source: Source) -> bool:
    """The unit file under both its names; True when one changed (systemd must reload)."""
    text = source.unit_file.read_text(encoding="utf-8")
    changed = [name for name in UNIT_NAMES if host.write_file(UNIT_DIRECTORY / name, text, 0o644)]
    names = " and ".join(UNIT_NAMES)
    if changed:
        host.report.did(f"systemd units {names} in {UNIT_DIRECTORY}")
    else:
        host.report.kept(f"systemd units {names}")
    return bool(changed)


def _instance_units() -> list[str]:
    return [instance.unit for instance in installed_instances()]


def _database(host: Host, instance: Instance) -> None:
    """`db init` with the new release: creates the tables, or brings them to its schema."""
    result = host.run(
        [str(VENV_LINK / "bin" / "teleinforeader"), "db", "init", "--config", str(instance.config)],
        as_service_user=True,
        env={"STATE_DIRECTORY": str(instance.state_directory)},
        check=False,
    )
    said = (result.stdout.strip() or result.stderr.strip()).splitlines()
    if result.returncode == 0:
        done = host.report.kept if "already up to date" in result.stdout else host.report.did
        done(f"database of {instance.unit}: {'; '.join(said)}")
    else:
        host.report.warn(
            f"database of {instance.unit} not ready: {' '.join(said[-2:])} (the service keeps "
            f"frames until it is; then: sudo -u {SERVICE_USER} {VENV_LINK}/bin/teleinforeader "
            f"db init --config {instance.config})"
        )
