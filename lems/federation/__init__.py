"""A federation of state switches: each state its own ``lems serve``, Nlets traffic between them
over NATS JetStream (docs/FEDERATION.md).

* ``cluster``: start and stop a local nats-server cluster (tests, ``lems federation up``, the
  benchmark);
* ``network``: the JetStream link of one node (stream, durable consumer, node registry,
  heartbeats), asyncio code on the reactor's loop;
* ``node``: the switch's side: which states have a node, sending interstate traffic there,
  answering and delivering what arrives (journaled before it is acknowledged to the broker);
* ``install``: the narrow hook into a switch whose lab has ``[nlets] network``.
"""
