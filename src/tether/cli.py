"""The `tether` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable

from tether import __version__
from tether.config import ConfigError, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tether", description="Tether device-management platform")
    parser.add_argument("--version", action="version", version=f"tether {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="run every listener in one process", argument_default=argparse.SUPPRESS
    )
    serve.add_argument("--config", metavar="FILE", help="TOML config file (TETHER_CONFIG)")
    serve.add_argument("--data-dir", metavar="DIR", help="data directory, default ./tether-data")
    serve.add_argument("--database-url", metavar="URL", help="sqlite:///FILE or postgresql://...")
    serve.add_argument("--http", metavar="HOST:PORT", help="HTTP listener, default 0.0.0.0:8080")
    serve.add_argument("--mqtt", metavar="HOST:PORT", help="MQTT listener, default 0.0.0.0:1883")
    serve.add_argument("--mqtt-tls", metavar="HOST:PORT", help="MQTT over TLS listener")
    serve.add_argument("--mqtt-ws", metavar="HOST:PORT", help="MQTT over WebSocket listener")
    serve.add_argument(
        "--allow-anonymous", action="store_const", const=True, help="accept MQTT clients without credentials"
    )
    serve.add_argument("--log-level", metavar="LEVEL", help="debug, info, warning, error")
    return parser


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def main(argv: list[str] | None = None) -> int:
    args = vars(_parser().parse_args(argv))
    command = args.pop("command")
    try:
        settings = load_settings(args)
    except ConfigError as exc:
        print(f"tether: {exc}", file=sys.stderr)
        return 2
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if command == "serve":
        from tether.server import TetherServer

        try:
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                runner.run(TetherServer(settings).serve())
        except ConfigError as exc:
            print(f"tether: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
