"""`fedpersona models ...`: prepare the on-device models (today: the sentence encoder).

Exit codes: 0 done (or an intact export was already there); 1 the export failed or
did not match torch; 2 the target folder holds something else.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from client.embedding.export import ExportTargetError, export_encoder
from client.embedding.manifest import encoder_dir
from client.embedding.source import EncoderError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    models = commands.add_parser("models", help="prepare the on-device models")
    actions = models.add_subparsers(dest="action", required=True, metavar="ACTION")
    help_text = "export the sentence encoder to ONNX (needs torch once; the device then does not)"
    export = actions.add_parser("export-encoder", help=help_text, description=help_text)
    export.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"folder to write (default: {encoder_dir()}; FEDPERSONA_CACHE_DIR moves it)",
    )
    export.add_argument(
        "--force", action="store_true", help="export again even if an intact export is there"
    )
    export.set_defaults(handler=_export_encoder)


def _export_encoder(args: argparse.Namespace) -> int:
    try:
        result = export_encoder(args.out, force=args.force)
    except ExportTargetError as error:
        print(f"fedpersona: {error}", file=sys.stderr)
        return 2
    except EncoderError as error:
        print(f"fedpersona: {error}", file=sys.stderr)
        return 1
    manifest = result.manifest
    if result.reused:
        print(f"{result.directory} already holds an intact export (--force to redo it)")
        return 0
    size_mb = sum(f["bytes"] for f in manifest.files.values()) / 1e6
    print(
        f"exported {manifest.model_name} to {result.directory} "
        f"({size_mb:.1f} MB, {result.seconds:.1f} s, "
        f"cosine vs torch >= {manifest.parity_min_cosine})"
    )
    return 0
