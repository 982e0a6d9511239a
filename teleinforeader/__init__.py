"""teleinforeader: reads a French Enedis meter's TeleInfo stream, stores and broadcasts it."""

# No `from __future__` here: this is the first code the command runs, and a signal during any
# import before the handlers below would print a traceback.
import os as _os
import signal as _signal
import sys as _sys


def stop_quietly(signum: int, _: object) -> None:
    """SIGTERM (or SIGINT) before a command installs its own handlers: nothing has started, so
    nothing is lost by stopping, and a traceback would only alarm (exit status 0). The process
    ends here and now: an exception raised where the signal lands may be swallowed (inside an
    import's lock callback, which ignores it: the daemon then ran on as if never signalled) or
    turned into another error (inside the creation of a class). What a command printed is
    flushed first, unless the signal came in the middle of that very flush."""
    try:  # noqa: SIM105 - contextlib is one import more before the handlers are set
        _sys.stdout.flush()
    except Exception:  # a reentrant flush: what it held is lost, nothing else
        pass
    _os._exit(0)


def _started_as_the_command() -> bool:
    """The `teleinforeader` script or `python -m teleinforeader` (argv[0] is "-m" while the
    package is being found), not a program importing the package."""
    started = _sys.argv[0] if _sys.argv else ""
    return started == "-m" or started.endswith(("/teleinforeader", "teleinforeader/__main__.py"))


if _started_as_the_command():  # as early as can be: `run` replaces them with its own (drain)
    _signal.signal(_signal.SIGTERM, stop_quietly)
    if _signal.getsignal(_signal.SIGINT) is not _signal.SIG_IGN:  # ignored on purpose: stays
        _signal.signal(_signal.SIGINT, stop_quietly)
    # SIGHUP would end the process (a clean end to systemd: no restart): it waits, blocked, for
    # `run` to reload on it, or for another command to let it end the process (`cli`). A reload
    # executes the program with all three blocked, to hand over the ones come meanwhile.
    _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGHUP})
    _signal.pthread_sigmask(_signal.SIG_UNBLOCK, {_signal.SIGTERM, _signal.SIGINT})


def __getattr__(name: str) -> str:
    # The version lives in pyproject.toml only, and so in the installed package's metadata.
    if name == "__version__":
        return _installed_version()
    raise AttributeError(name)


def _installed_version() -> str:
    """The version pip installed, from the name of the `.dist-info` directory beside the
    package (`teleinforeader-0.1.0.dist-info`): a directory listing, where importlib.metadata
    costs a Pi Zero a fifth of a second of imports (email, zipfile, csv...). An editable
    install or a checkout has its metadata elsewhere: importlib.metadata finds it."""
    site = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
    try:
        names = _os.listdir(site)
    except OSError:
        names = []
    prefix, suffix = "teleinforeader-", ".dist-info"
    found = [
        n[len(prefix) : -len(suffix)] for n in names if n.startswith(prefix) and n.endswith(suffix)
    ]
    if len(found) == 1:
        return found[0]
    from importlib.metadata import version

    return version("teleinforeader")
