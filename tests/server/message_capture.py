"""A Flower mod that writes down everything a ClientApp sends back (for the privacy test).

Runs inside the simulation's worker processes; `FEDPERSONA_CAPTURE_DIR` says where to write.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from flwr.app import Context, Message
from flwr.clientapp.typing import ClientAppCallable


def record_replies(message: Message, context: Context, call_next: ClientAppCallable) -> Message:
    reply = call_next(message, context)
    content = reply.content
    entry: dict[str, Any] = {
        "records": sorted(content.keys()),
        "arrays": {
            key: [
                [str(a.dtype), list(a.shape), a.tobytes().hex()] for a in record.to_numpy_ndarrays()
            ]
            for key, record in content.array_records.items()
        },
        "metrics": {key: dict(record) for key, record in content.metric_records.items()},
        "configs": {
            key: {name: _jsonable(value) for name, value in record.items()}
            for key, record in content.config_records.items()
        },
    }
    folder = Path(os.environ["FEDPERSONA_CAPTURE_DIR"])
    (folder / f"{uuid.uuid4().hex}.json").write_text(json.dumps(entry))
    return reply


def _jsonable(value: Any) -> Any:
    """Config values as JSON: bytes (SecAgg+ keys, shares, masked vectors) as hex."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value
