"""Run the broker alone: `python -m tether.broker [--config FILE] [--mqtt HOST:PORT] ...`.

For conformance suites and benchmarks; `tether serve` runs the same broker next to the HTTP APIs. Options and
environment variables are those of `tether serve` (the `[mqtt]`, `[acl]` and `[tls]` sections of the config
file apply).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable

from tether.config import ConfigError, load_settings

from .service import MqttService, bind_socket
from .settings import BrokerConfig

log = logging.getLogger("tether.broker")


async def _serve(args: argparse.Namespace) -> None:
    cli = {k: v for k, v in vars(args).items() if v is not None}
    settings = load_settings(cli)
    config = BrokerConfig.from_settings(settings)
    addresses = {"mqtt": settings.mqtt, "mqtt-tls": settings.mqtt_tls, "mqtt-ws": settings.mqtt_ws}
    sockets = {name: bind_socket(address) for name, address in addresses.items() if address}
    service = MqttService(config)
    urls = await service.start(sockets)
    for name, url in urls.items():
        log.info("MQTT listener %s on %s", name, url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await service.close()
    for sock in sockets.values():
        sock.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tether.broker", description=__doc__)
    parser.add_argument("--config", help="TOML config file ([mqtt], [acl], [tls] sections)")
    parser.add_argument("--mqtt", help="MQTT listener HOST:PORT (default 0.0.0.0:1883)")
    parser.add_argument("--mqtt-tls", dest="mqtt_tls", help="MQTT over TLS listener HOST:PORT")
    parser.add_argument("--mqtt-ws", dest="mqtt_ws", help="MQTT over WebSocket listener HOST:PORT")
    parser.add_argument("--allow-anonymous", dest="allow_anonymous", action="store_true", default=None)
    parser.add_argument("--log-level", dest="log_level", default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        import uvloop

        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        loop_factory = None
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(_serve(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
