"""Where a round's seconds go: wall time of the transport's round and of SecAgg+'s stages.

bench.flower_throughput's row process wraps these methods before it runs (the server, and
under Flower's simulation engine the ServerApp, run in that process; the devices run in
Ray's workers, so their time shows as waiting inside these calls):

- ``transport``: the transport's ``train`` (send the head, the devices' local work, the
  replies; with SecAgg+ the whole protocol). The rest of a round is the server's own work:
  aggregation, the server step, checkpoint, held-out evaluation, accounting, metrics.
- ``secagg_*``: Flower's SecAgg+ stages (Bell et al. 2020, "Secure Single-Server
  Aggregation with (Poly)Logarithmic Complexity"): ``setup`` (the configuration and each
  device's key pairs), ``share_keys`` (forwarding the encrypted secret shares between
  neighbours), ``collect_masked_vectors`` (the devices train, add their noise shares and
  masks; the server sums), ``unmask`` (the shares come back; the server reconstructs and
  removes the masks).

Timing only: each call's wall seconds are appended in call order, one per round.
"""

from __future__ import annotations

import functools
import importlib
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

# (phase, module, class, method)
TIMED: tuple[tuple[str, str, str, str], ...] = (
    ("transport", "simulation.in_process_transport", "InProcessTransport", "train"),
    ("transport", "server.flower_transport", "FlowerTransport", "train"),
    ("transport", "server.secure_aggregation", "SecureAggregationTransport", "train"),
    *(
        (f"secagg_{stage}", "flwr.server.workflow", "SecAggPlusWorkflow", f"{stage}_stage")
        for stage in ("setup", "share_keys", "collect_masked_vectors", "unmask")
    ),
)


@contextmanager
def timed_phases(flower: bool) -> Iterator[dict[str, list[float]]]:
    """Wrap the TIMED methods while the block runs; yields phase -> seconds per call.
    Without ``flower`` only the in-process transport's: importing Flower's modules into
    an in-process row would add their memory to its peak."""
    seconds: dict[str, list[float]] = {}
    restore: list[tuple[type, str, Any]] = []
    in_process = TIMED[0][1]
    for phase, module, name, method in TIMED:
        if (module != in_process) is not flower:
            continue
        cls = getattr(importlib.import_module(module), name)
        original = cls.__dict__[method]
        setattr(cls, method, _timed(original, seconds.setdefault(phase, [])))
        restore.append((cls, method, original))
    try:
        yield seconds
    finally:
        for cls, method, original in restore:
            setattr(cls, method, original)


def _timed(method: Callable[..., Any], into: list[float]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            into.append(time.perf_counter() - started)

    return wrapper


def phase_medians(
    seconds: dict[str, list[float]], round_walls: Sequence[float]
) -> dict[str, float]:
    """Median seconds a round of each phase seen, over rounds 2..R as the row's rate is
    (round 1 holds start-up), and ``server_rest``: the round's wall time less its transport."""
    timed = slice(1, None) if len(round_walls) > 1 else slice(None)
    medians = {
        phase: round(statistics.median(calls[timed]), 3)
        for phase, calls in seconds.items()
        if len(calls) == len(round_walls) and calls
    }
    transport = seconds.get("transport", [])
    if len(transport) == len(round_walls) and transport:
        rest = [wall - t for wall, t in zip(round_walls, transport, strict=True)]
        medians["server_rest"] = round(statistics.median(rest[timed]), 3)
    return medians
