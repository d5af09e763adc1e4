"""The one way this project starts or joins Ray.

``ray.init()`` without an address does not always start a new instance: it joins whatever
``RAY_ADDRESS`` names, or the cluster a ``ray start --head`` on this machine noted in
/tmp/ray/ray_current_cluster. A sweep that asked for its own two CPUs would then land on a
stranger's cluster (or fail: Ray refuses ``num_cpus`` when joining). ``address="local"``
always starts a private one; joining is only ever asked for by name (``--address``).
"""

from __future__ import annotations


def start_or_join_ray(address: str | None, num_cpus: int, num_gpus: int = 0) -> bool:
    """Join ``address``, or start a private local Ray with ``num_cpus`` CPUs. True when this
    call started or joined Ray (the caller then shuts it down); False when this process was
    already connected.

    Ray's gRPC servers bind every interface (Ray 2.60 has no loopback-only option); its token
    authentication, on by default, refuses any client without the token
    (tests/test_ray_auth.py)."""
    import ray

    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, log_to_driver=False)
        return True
    # Ray starts its workers at niceness 15; rollouts and training are the machine's main
    # job, and at 15 they would starve behind any other process (and time-to-success
    # benchmarks, which read the clock, would measure the other process).
    ray.init(address="local", num_cpus=max(int(num_cpus), 1), num_gpus=num_gpus,
             include_dashboard=False, log_to_driver=False,
             _system_config={"worker_niceness": 0})
    return True
