"""Where the public data sets are: ``--data-dir``, ``$FEDPERSONA_DATA_DIR``, ``../shared/data``."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "FEDPERSONA_DATA_DIR"
REPO_ROOT = Path(__file__).resolve().parents[2]
PERSONACHAT_VALID = Path("convai2_personachat/valid_both_original_no_cands.txt")
SPC_VALID = Path("synthetic_persona_chat/Synthetic-Persona-Chat_valid.csv")
MSC_SUMMARY_SESSIONS = tuple(
    Path(f"msc/msc_personasummary/session_{n}/valid.txt.xz") for n in (1, 2, 3, 4)
)


class DataMissingError(FileNotFoundError):
    """A data set the command needs is not where it was looked for."""


class DataFormatError(ValueError):
    """A data file does not have the documented format; the message names file and line."""


def data_dir(override: Path | None = None) -> Path:
    """``override``, else ``$FEDPERSONA_DATA_DIR``, else ``<repo>/../shared/data``."""
    if override is not None:
        return Path(override)
    if DATA_DIR_ENV in os.environ:
        return Path(os.environ[DATA_DIR_ENV])
    return REPO_ROOT.parent / "shared" / "data"


def require(root: Path, relative: Path) -> Path:
    """``root / relative`` if it exists, else a DataMissingError that says where to put it."""
    path = root / relative
    if not path.is_file():
        raise DataMissingError(
            f"{path} not found: pass --data-dir or set {DATA_DIR_ENV} to the folder holding "
            f"{relative.parts[0]}/"
        )
    return path


PREFEVAL_MCQ = Path("prefeval/mcq_options")
