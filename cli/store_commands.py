"""`fedpersona store ...`: create, inspect, export, import, forget and re-key a store."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from cli.failures import UsageError
from cli.keyring_entry import forget_passphrase, save_passphrase
from cli.private_file import write_private_text
from client.export import export_profile, import_profile, parse_export
from client.profile import TIERS, Forgotten, Profile
from privacy.kdf import MAX_ITERATIONS, MAX_MEMORY_KIB, KdfParams, default_params

STORE_ENV = "FEDPERSONA_STORE"


class InputError(UsageError):
    """A bad argument, a missing variable or an unreadable input file (exit code 2)."""


def default_store_path() -> Path:
    if STORE_ENV in os.environ:
        return Path(os.environ[STORE_ENV])
    data_home = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return data_home / "fedpersona" / "default.fpstore"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    store = commands.add_parser("store", help="manage the encrypted on-device store")
    actions = store.add_subparsers(dest="action", required=True, metavar="ACTION")

    def add(name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--store",
            type=Path,
            default=None,
            help=f"store file (default: ${STORE_ENV} or {default_store_path()})",
        )
        sub.add_argument(
            "--passphrase-env",
            metavar="NAME",
            help="read the passphrase from environment variable NAME instead of a prompt",
        )
        sub.set_defaults(handler=handler)
        return sub

    init = add("init", "create a new, empty store", _init)
    _add_kdf_options(init)
    status = add("status", "unlock, verify and summarise the store", _status)
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    export = add("export", "write everything the store holds as readable JSON", _export)
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")
    export.add_argument(
        "--skip-damaged",
        action="store_true",
        help="export what authenticates, list what does not (exit code stays 3)",
    )
    imp = add("import", "load an export into a new, empty store", _import)
    imp.add_argument("file", help="export file to read ('-' for standard input)")
    forget = add("forget", "forget an item, a category, a tier or everything", _forget)
    what = forget.add_mutually_exclusive_group(required=True)
    what.add_argument("--item", metavar="ID", help="one record id (see `store export`)")
    what.add_argument("--category", metavar="NAME", help="a persona category, e.g. preferences")
    what.add_argument("--tier", choices=sorted(TIERS), help="a whole memory tier")
    what.add_argument("--everything", action="store_true", help="every record in the store")
    forget.add_argument(
        "--yes", action="store_true", help="do not ask before forgetting everything"
    )
    passwd = add("passwd", "change the passphrase (and optionally raise the KDF cost)", _passwd)
    passwd.add_argument(
        "--new-passphrase-env",
        metavar="NAME",
        help="read the new passphrase from environment variable NAME",
    )
    _add_kdf_options(passwd)
    keys = add(
        "keyring",
        "opt in to unlocking from the OS keyring (set), or stop (forget)",
        _keyring,
    )
    keys.add_argument("keyring_action", choices=("set", "forget"), metavar="set|forget")


def _add_kdf_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kdf-memory-mib",
        type=int,
        help=f"Argon2id/scrypt memory in MiB (at most this machine's, {max_kdf_memory_mib()})",
    )
    parser.add_argument(
        "--kdf-iterations",
        type=int,
        help=f"Argon2id passes, scrypt parallelism (at most {MAX_ITERATIONS})",
    )


def max_kdf_memory_mib() -> int:
    """Half this machine's memory: a KDF that needs more could not unlock the store here."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return min(physical // 2**21, MAX_MEMORY_KIB // 1024)


def _kdf_from(args: argparse.Namespace, base: KdfParams) -> KdfParams | None:
    memory, iterations = args.kdf_memory_mib, args.kdf_iterations
    if memory is None and iterations is None:
        return None
    if memory is not None and memory > max_kdf_memory_mib():
        raise InputError(
            f"--kdf-memory-mib {memory} is more than this machine can give a KDF "
            f"(at most {max_kdf_memory_mib()})"
        )
    if iterations is not None and iterations > MAX_ITERATIONS:
        raise InputError(f"--kdf-iterations {iterations} is above {MAX_ITERATIONS}")
    try:
        return KdfParams(
            algorithm=base.algorithm,
            memory_kib=base.memory_kib if memory is None else memory * 1024,
            iterations=base.iterations if iterations is None else iterations,
            lanes=base.lanes,
        )
    except ValueError as error:
        raise InputError(str(error)) from error


def _store_path(args: argparse.Namespace) -> Path:
    return Path(args.store) if args.store is not None else default_store_path()


def read_passphrase(env_name: str | None, prompt: str, *, confirm: bool = False) -> str:
    if env_name:
        if env_name not in os.environ:
            raise InputError(f"environment variable {env_name} is not set")
        value = os.environ[env_name]
    else:
        if not sys.stdin.isatty():
            raise InputError("no terminal to ask for the passphrase; use --passphrase-env NAME")
        value = getpass.getpass(prompt)
        if confirm and getpass.getpass("Repeat it: ") != value:
            raise InputError("the two passphrases differ")
    if not value:
        raise InputError("the passphrase must not be empty")
    return value


def _unlock(args: argparse.Namespace) -> Profile:
    path = _store_path(args)
    passphrase = read_passphrase(args.passphrase_env, f"Passphrase for {path}: ")
    return Profile.open(path, passphrase)


def _init(args: argparse.Namespace) -> int:
    path = _store_path(args)
    passphrase = read_passphrase(args.passphrase_env, "New passphrase: ", confirm=True)
    kdf = _kdf_from(args, default_params())
    with Profile.create(path, passphrase, kdf=kdf) as profile:
        params = profile.store.kdf
    print(
        f"created {path} ({params.algorithm}, {params.memory_kib // 1024} MiB, "
        f"{params.iterations} passes)"
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    with _unlock(args) as profile:
        report = profile.store.verify()
        info: dict[str, Any] = {
            "store": str(profile.store.path),
            "schema_version": int(profile.store.header_info()["schema_version"]),
            "kdf": {k: v for k, v in profile.store.kdf.to_json().items() if k != "salt"},
            # What the scan read, not SQL's COUNT(*), which a damaged file may refuse.
            "records": report.rows,
            "size_bytes": profile.store.path.stat().st_size,
            "integrity": "ok" if report.ok else "damaged",
            "damaged_records": [i for ids in report.bad_ids.values() for i in ids],
            "tables_with_missing_or_replayed_rows": report.digest_mismatch,
            "sqlite_errors": report.sqlite_errors,
        }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(
            f"store      {info['store']} (schema {info['schema_version']}, "
            f"{info['size_bytes']} bytes)"
        )
        kdf = info["kdf"]
        print(
            f"key        {kdf['algorithm']}, {kdf['memory_kib'] // 1024} MiB, "
            f"{kdf['iterations']} passes, {kdf['lanes']} lane(s)"
        )
        for table, count in info["records"].items():
            print(f"{table:<18} {count}")
        print(f"integrity  {info['integrity']}")
        if not report.ok:
            print(
                f"damaged    {len(info['damaged_records'])} record(s); tables with rows "
                f"missing or replayed: {report.digest_mismatch or 'none'}"
            )
    return 0 if report.ok else 3


def _export(args: argparse.Namespace) -> int:
    with _unlock(args) as profile:
        result = export_profile(profile, skip_damaged=args.skip_damaged)
    text = json.dumps(result.document, indent=2, ensure_ascii=False)
    if args.out is None:
        print(text)
    else:
        # Owner-only and atomic: the export is the user's own plaintext, written because
        # they asked; whatever was at --out before is replaced whole, never half-written.
        write_private_text(args.out, text + "\n")
        print(f"wrote {args.out} (plaintext: keep it safe, delete it when done)", file=sys.stderr)
    if not result.complete:
        print(
            f"fedpersona: {len(result.damaged_ids)} damaged record(s) left out; tables with "
            f"rows missing or replayed: {result.damaged_tables or 'none'}",
            file=sys.stderr,
        )
        return 3
    return 0


def _import(args: argparse.Namespace) -> int:
    try:
        raw = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read {args.file}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise InputError(f"{args.file} is not valid JSON: {error}") from error
    document = parse_export(raw, args.file)  # before unlocking: a bad file costs no KDF
    with _unlock(args) as profile:
        counts = import_profile(profile, document)
    print("imported " + ", ".join(f"{n} {section}" for section, n in counts.items()))
    return 0


def _forget(args: argparse.Namespace) -> int:
    if args.everything and not args.yes:
        if not sys.stdin.isatty():
            raise InputError("forgetting everything needs --yes when there is no terminal")
        if input("Forget every record in this store? Type 'forget' to confirm: ") != "forget":
            raise InputError("not confirmed; nothing was forgotten")
    with _unlock(args) as profile:
        done: Forgotten
        if args.item:
            try:
                done = profile.forget_item(args.item)
            except KeyError as error:
                raise InputError(error.args[0]) from error
        elif args.category:
            done = profile.forget_category(args.category)
        elif args.tier:
            done = profile.forget_tier(args.tier)
        else:
            done = profile.forget_everything()
    print(f"forgot {done.records} record(s) from {done.tier}; their keys are destroyed")
    if not done.residue_flushed:
        print(
            "note: another process is reading the store; the write-ahead log still holds the "
            "destroyed keys until it closes",
            file=sys.stderr,
        )
    return 0


def _passwd(args: argparse.Namespace) -> int:
    with _unlock(args) as profile:
        new = read_passphrase(args.new_passphrase_env, "New passphrase: ", confirm=True)
        try:
            profile.store.change_passphrase(new, kdf=_kdf_from(args, profile.store.kdf))
        except ValueError as error:
            raise InputError(str(error)) from error
        params = profile.store.kdf
    print(
        f"passphrase changed; keys re-wrapped ({params.algorithm}, "
        f"{params.memory_kib // 1024} MiB, {params.iterations} passes)"
    )
    return 0


def _keyring(args: argparse.Namespace) -> int:
    path = _store_path(args)
    if args.keyring_action == "forget":
        gone = forget_passphrase(path)
        print(f"removed the OS keyring entry for {path}" if gone else f"no entry for {path}")
        return 0
    passphrase = read_passphrase(args.passphrase_env, f"Passphrase for {path}: ")
    Profile.open(path, passphrase).close()  # only a passphrase that opens the store is saved
    save_passphrase(path, passphrase)
    print(f"saved the passphrase for {path} in the OS keyring; `fedpersona chat --use-keyring`")
    return 0
