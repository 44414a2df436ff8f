"""Several `tether serve` processes as one platform: PostgreSQL is the one store, NATS carries what the nodes
must tell each other (docs/cluster.md).

- :mod:`.bus` is the connection to NATS: subjects under ``tether.``, publish, subscribe, request.
- :mod:`.membership` knows which nodes are alive (heartbeats), and tells its listeners when one joins or
  leaves (cleanly or by silence).
- :mod:`.node` is this process as a member: its name, its bus and its view of the others.
- :mod:`.events` carries domain events to the nodes whose cluster subscribers want them.
- :mod:`.leader` elects the node that runs what must run once (a PostgreSQL session advisory lock).

Without ``--cluster`` nothing here runs: one process, its own broker, its in-process event bus.
"""

from .bus import ClusterBus, ClusterUnavailable
from .membership import Membership, NodeInfo
from .node import ClusterNode, default_node_name

__all__ = [
    "ClusterBus",
    "ClusterNode",
    "ClusterUnavailable",
    "Membership",
    "NodeInfo",
    "default_node_name",
]
