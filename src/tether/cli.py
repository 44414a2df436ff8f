"""The `tether` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from tether import __version__
from tether.cluster import ClusterUnavailable, default_node_name
from tether.config import ConfigError, Settings, load_settings
from tether.storage.errors import StorageUnavailable


def _common() -> argparse.ArgumentParser:
    """Where the data is: the same options (and TETHER_* variables) for every command."""
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--config", metavar="FILE", help="TOML config file (TETHER_CONFIG)")
    common.add_argument("--data-dir", metavar="DIR", help="data directory, default ./tether-data")
    common.add_argument("--database-url", metavar="URL", help="sqlite:///FILE or postgresql://...")
    common.add_argument("--log-level", metavar="LEVEL", help="debug, info, warning, error")
    return common


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tether", description="Tether device-management platform")
    parser.add_argument("--version", action="version", version=f"tether {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    common = _common()
    serve = commands.add_parser(
        "serve",
        help="run every listener in one process",
        parents=[common],
        argument_default=argparse.SUPPRESS,
    )
    serve.add_argument("--http", metavar="HOST:PORT", help="HTTP listener, default 0.0.0.0:8080")
    serve.add_argument("--https", metavar="HOST:PORT", help="HTTPS listener (certificate from [tls])")
    serve.add_argument("--mqtt", metavar="HOST:PORT", help="MQTT listener, default 0.0.0.0:1883")
    serve.add_argument("--mqtt-tls", metavar="HOST:PORT", help="MQTT over TLS listener")
    serve.add_argument("--mqtt-ws", metavar="HOST:PORT", help="MQTT over WebSocket listener")
    serve.add_argument("--mqtt-wss", metavar="HOST:PORT", help="MQTT over WebSocket on TLS listener")
    serve.add_argument("--cluster", metavar="URL", help="join a cluster over NATS (nats://HOST:PORT)")
    serve.add_argument("--node", metavar="NAME", help="this node's name in the cluster, default host-pid")
    serve.add_argument(
        "--workers",
        metavar="N",
        help="N cluster nodes in N processes sharing the listeners (needs --cluster, PostgreSQL); default 1",
    )
    # A worker of `--workers N`, started by the supervising parent (tether.cluster.workers).
    for hidden in ("--worker-sockets", "--worker-ready", "--worker-of"):
        serve.add_argument(hidden, help=argparse.SUPPRESS)
    serve.add_argument(
        "--allow-anonymous", action="store_const", const=True, help="accept MQTT clients without credentials"
    )
    admin = commands.add_parser("admin", help="operator commands on the configured database")
    actions = admin.add_subparsers(dest="action", required=True)
    set_password = actions.add_parser(
        "set-password",
        help="change a user's password (read from the terminal, or one line of stdin)",
        parents=[common],
        argument_default=argparse.SUPPRESS,
    )
    create_user = actions.add_parser(
        "create-user",
        help="create a user (password read like set-password's)",
        parents=[common],
        argument_default=argparse.SUPPRESS,
    )
    create_user.add_argument("--role", choices=["admin", "device"], default="admin")
    for action in (set_password, create_user):
        action.add_argument("--tenant", help="tenant id, default the default tenant (TETHER_TENANT)")
        action.add_argument("user", metavar="USER")
    return parser


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def _run(main: Coroutine[Any, Any, Any]) -> Any:
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(main)


def _serve(settings: Settings, worker: dict[str, str], argv: list[str]) -> int:
    from tether.cluster.workers import check_workers

    check_workers(settings)
    if worker:
        return int(_run(_worker(settings, worker)))
    if settings.workers > 1:
        from tether.cluster.workers import Supervisor

        # The parent only supervises: a plain asyncio loop, no platform.
        return asyncio.run(Supervisor(settings, argv).run())
    from tether.server import TetherServer

    with contextlib.suppress(KeyboardInterrupt):
        _run(TetherServer(settings).serve())
    return 0


async def _worker(settings: Settings, worker: dict[str, str]) -> int:
    """One worker of `tether serve --workers N`: serves on the sockets the parent bound, says on the pipe
    when it is ready, and stops cleanly on the first SIGINT or SIGTERM (from the parent, or its death)."""
    from tether.cluster.workers import die_with_parent, worker_sockets
    from tether.server import TetherServer

    die_with_parent(int(worker["worker_of"]))
    server = TetherServer(settings, worker_sockets(worker["worker_sockets"]))
    serving = asyncio.create_task(server.serve())
    loop = asyncio.get_running_loop()

    def stop() -> None:
        # Once: a second cancel() would interrupt the clean stop itself (systemd's KillMode=control-group
        # signals the workers as well as the parent, which passes its signal on).
        if not stopping:
            stopping.append(True)
            serving.cancel()

    stopping: list[bool] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    ready = int(worker["worker_ready"])
    started = asyncio.create_task(server.started.wait())
    try:
        await asyncio.wait({serving, started}, return_when=asyncio.FIRST_COMPLETED)
        if server.started.is_set():
            os.write(ready, b"r")
        os.close(ready)
        await serving
    except asyncio.CancelledError:
        pass
    finally:
        started.cancel()
    return 0


def _admin(settings: Settings, args: dict[str, Any]) -> int:
    from tether import admin
    from tether.tenants.models import Role

    tenant = args.get("tenant") or settings.tenant
    try:
        password = admin.read_password()
        if args["action"] == "set-password":
            message = _run(admin.set_password(settings, tenant, args["user"], password))
        else:
            role = Role(args["role"])
            message = _run(admin.create_user(settings, tenant, args["user"], role, password))
    except admin.AdminError as exc:
        print(f"tether: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, EOFError):
        print(file=sys.stderr)
        return 130
    print(message)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = vars(_parser().parse_args(argv))
    command = args.pop("command")
    hidden = ("worker_sockets", "worker_ready", "worker_of")
    worker: dict[str, str] = {key: args.pop(key) for key in hidden if key in args}
    try:
        settings = load_settings(args)
    except ConfigError as exc:
        print(f"tether: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if worker:
        # Each worker's lines name it: they interleave with the other workers' on the same output.
        settings = replace(settings, node=settings.node or default_node_name())
    shown = f"[{settings.node}] " if worker else ""
    logging.basicConfig(
        level=settings.log_level.upper(), format=f"%(asctime)s %(levelname)s {shown}%(name)s: %(message)s"
    )
    try:
        if command == "serve":
            return _serve(settings, worker, argv)
        elif command == "admin":
            return _admin(settings, args)
    except ConfigError as exc:
        print(f"tether: {exc}", file=sys.stderr)
        return 2
    except ClusterUnavailable as exc:
        print(f"tether: {exc}", file=sys.stderr)
        return 2
    except StorageUnavailable as exc:
        # One line, no traceback: the operator fixes the URL, the password or the server.
        print(f"tether: cannot open the database {settings.database_shown}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
