"""`fedpersona chat`: the terminal chat loop over the encrypted store.

On a terminal it prompts, streams each reply as it is generated and asks for the
passphrase without echo. When standard input is not a terminal it reads one message
(or command) per line and prints each reply, so a session can be scripted. The session
ends with ``/end``, end of input or Ctrl-C at the prompt; Ctrl-C during a reply only
stops that reply. Either way the session's memories and summary are written.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from cli.argument_types import at_least
from cli.failures import describe
from cli.keyring_entry import add_unlock_arguments, open_with_keyring
from cli.store_commands import InputError, default_store_path, read_passphrase
from client.app_profiles import (
    AppProfile,
    AppProfileError,
    builtin_profile,
    builtin_profile_names,
    load_app_profile,
)
from client.chat import ChatSession, run_command
from client.chat.training import DEFAULT_TRAIN_AFTER, LocalTraining
from client.embedding import default_embedder
from client.embedding.manifest import EncoderNotExportedError
from client.embedding.protocol import Embedder
from client.llm import ServerConfig, choose_backend
from client.memory_engine import MemoryEngine, SessionReport
from client.memory_engine.llm_parts import LlmMemoryParts, llm_memory_parts
from client.profile import Profile
from client.store.errors import StoreBusyError

PROMPT = "you> "


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    help_text = "chat with an assistant that remembers you, on this device"
    chat = commands.add_parser("chat", help=help_text, description=help_text)
    add_unlock_arguments(chat)
    chat.add_argument(
        "--create", action="store_true", help="create the store if it does not exist yet"
    )
    chat.add_argument(
        "--profile",
        default="tutor",
        metavar="NAME|PATH",
        help=f"application profile: {', '.join(builtin_profile_names())} or a TOML file",
    )
    where = chat.add_mutually_exclusive_group()
    where.add_argument("--backend", metavar="URL", help="OpenAI-compatible API root (…/v1)")
    where.add_argument("--offline", action="store_true", help="no language model (the default)")
    chat.add_argument("--model", metavar="NAME", help="model name on the --backend server")
    chat.add_argument(
        "--no-llm-memory",
        dest="llm_memory",
        action="store_false",
        help="with --backend: summarise sessions and read facts about you offline (rules), "
        "not with the model (by default the model does both, sent only your own lines)",
    )
    chat.add_argument(
        "--train-after",
        type=at_least(0),
        default=DEFAULT_TRAIN_AFTER,
        metavar="N",
        help="retrain your ranking on this device once N new signals (/good, /bad, /pick, "
        f"memories used) have gathered; 0 never trains (default {DEFAULT_TRAIN_AFTER})",
    )
    chat.set_defaults(handler=_chat)


def _app_profile(choice: str) -> AppProfile:
    try:
        if choice in builtin_profile_names():
            return builtin_profile(choice)
        return load_app_profile(Path(choice))
    except (AppProfileError, OSError) as error:
        raise InputError(f"application profile {choice!r}: {error}") from error


def _server(args: argparse.Namespace) -> ServerConfig | None:
    if args.backend is None:
        if args.model is not None:
            raise InputError("--model needs --backend URL")
        return None
    if args.model is None:
        raise InputError("--backend needs --model NAME (the model the server should run)")
    try:
        return ServerConfig(base_url=args.backend, model=args.model)
    except ValueError as error:
        raise InputError(str(error)) from error


def _unlock_or_create(args: argparse.Namespace) -> Profile:
    path = Path(args.store) if args.store is not None else default_store_path()
    if args.use_keyring:
        return _unlock_from_keyring(path)
    if path.exists():
        return Profile.open(path, read_passphrase(args.passphrase_env, f"Passphrase for {path}: "))
    if not args.create:
        if args.passphrase_env or not sys.stdin.isatty():
            raise InputError(f"no store at {path}; pass --create, or run `fedpersona store init`")
        answer = input(f"No store at {path} yet. Create it? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            raise InputError(f"no store at {path}; nothing was created")
    passphrase = read_passphrase(args.passphrase_env, "New passphrase: ", confirm=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = Profile.create(path, passphrase)
    print(f"created {path}", file=sys.stderr)
    return profile


def _unlock_from_keyring(path: Path) -> Profile:
    if not path.exists():
        raise InputError(f"no store at {path}; create it, then `fedpersona store keyring set`")
    profile, _ = open_with_keyring(path)
    return profile


def device_embedder() -> Embedder:
    """The device encoder, exported on first use (chat and `client join` embed alike)."""
    try:
        return default_embedder()
    except EncoderNotExportedError:
        print("preparing the on-device encoder (first run only)...", file=sys.stderr)
        return default_embedder(export_if_missing=True)


def _chat(args: argparse.Namespace) -> int:
    # Ctrl-C means "stop this reply" (or "end the session" at the prompt), even when the
    # process was started with SIGINT ignored (a parent that ignores it passes that on, and
    # Python then installs no KeyboardInterrupt handler of its own).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    app = _app_profile(args.profile)
    server = _server(args)
    with _unlock_or_create(args) as profile:
        backend = choose_backend(server)
        parts: LlmMemoryParts | None = None
        try:
            embedder = device_embedder()
            if server is not None and args.llm_memory:
                parts = llm_memory_parts(server, embedder)
            session = ChatSession(memory_engine(profile, embedder, parts), backend, app)
            training = LocalTraining(profile, embedder.embed, train_after=args.train_after)
            interactive = sys.stdin.isatty()
            if interactive:
                print(f"{app.title}; {backend.describe()}. /help lists the commands.")
            _loop(session, training, interactive=interactive, show_notice=server is not None)
            _report(session.end())
            _train_if_due(session, training)
            session.engine.seal_search_index()  # the next unlock loads it, no rebuild
        finally:
            backend.close()
            if parts is not None:
                parts.close()
    return 0


def memory_engine(
    profile: Profile, embedder: Embedder, parts: LlmMemoryParts | None
) -> MemoryEngine:
    """The engine with the model's summariser and extractor, or the offline ones."""
    if parts is None:
        return MemoryEngine(profile, embedder)
    return MemoryEngine(
        profile,
        embedder,
        extractor=parts.extractor,
        summariser=parts.summariser,
        counter=parts.counter,
    )


def _read(interactive: bool) -> str | None:
    """The next line, or None at the end of input (Ctrl-D, Ctrl-C at the prompt, EOF)."""
    try:
        if interactive:
            return input(PROMPT)
        line = sys.stdin.readline()
        return line.rstrip("\n") if line else None
    except (EOFError, KeyboardInterrupt):
        print()
        return None


def _loop(
    session: ChatSession, training: LocalTraining, *, interactive: bool, show_notice: bool
) -> None:
    while (line := _read(interactive)) is not None:
        text = line.strip()
        if not text:
            continue
        try:
            if text.startswith("/"):
                result = run_command(session, text)
                for out in result.lines:
                    print(out)
                if result.end:
                    return
            else:
                _answer(session, text, show_notice=show_notice)
            _train_if_due(session, training)
        except StoreBusyError as error:
            # Another process (a federated round of `client join`, say) held the store's
            # write lock past the busy timeout: the session goes on, the line is retried
            # by the person; each of the store's writes is all or nothing.
            retry = "that line may not have been saved: send it again"
            print(f"fedpersona: {describe(error)}; {retry}", file=sys.stderr)


def _train_if_due(session: ChatSession, training: LocalTraining) -> None:
    if not training.due():
        return
    print(f"Training your ranking on this device ({training.waiting()} new signal(s))...")
    sys.stdout.flush()
    try:
        outcome = training.train()
    except KeyboardInterrupt:  # Ctrl-C stops the step (nothing was stored), not the session
        print("\n(training stopped, nothing stored; it runs again after your next line)")
        return
    session.use_head(outcome.head)
    kept = (
        " (held-back signals preferred the public head's ranking: kept)"
        if outcome.kept_start
        else ""
    )
    print(f"Done: trained on {outcome.signals} signal(s), stored sealed{kept}.")


def _answer(session: ChatSession, message: str, *, show_notice: bool) -> None:
    def show(piece: str) -> None:
        sys.stdout.write(piece)
        sys.stdout.flush()

    try:
        outcome = session.turn(message, on_text=show)
    except KeyboardInterrupt:  # Ctrl-C during a reply stops the reply, not the session
        print("\n(reply stopped; your message is kept)")
        return
    if outcome.text and not outcome.text.endswith("\n"):
        print()
    if outcome.error is not None:
        print(f"fedpersona: {outcome.error} Your message is kept.", file=sys.stderr)
    elif outcome.offline and show_notice and outcome.notice:
        print(f"(answered offline: {outcome.notice})", file=sys.stderr)
    sys.stdout.flush()


def _report(report: SessionReport | None) -> None:
    if report is None:
        print("Session ended; no conversation to summarise.")
        return
    written = report.written
    persona = "; profile updated" if report.persona_updated or report.persona_changes else ""
    print(
        f"Session saved (sealed): {len(written.turn_items)} turn(s), "
        f"{len(written.fact_items)} fact(s), summary written{persona}."
    )
