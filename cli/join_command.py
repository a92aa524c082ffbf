"""`fedpersona client join`: this device takes part in a federation, from its own store.

Before anything starts, the command checks the link (TLS unless the SuperLink is on this
machine's loopback), unlocks the store (a wrong passphrase ends it here, exit code 2),
makes sure the device encoder is exported, and checks that something answers at the
SuperLink's address. Then it runs a Flower SuperNode (cli.supernode_process) whose
ClientApp opens this store and, in each round it is asked to, trains the shared head on
the signals gathered in chat and sends one clipped, noised release
(client.federated_round.run_round, as every simulated device does). Ctrl-C or SIGTERM
leaves the federation: the SuperNode and its children stop.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli.argument_types import at_least, positive_seconds
from cli.chat_command import device_embedder
from cli.keyring_entry import add_unlock_arguments, open_with_keyring
from cli.store_commands import InputError, default_store_path, read_passphrase
from cli.superlink_address import SuperLinkAddress, check_reachable, check_transport
from cli.supernode_process import SuperNodeLaunch, run_supernode
from client.profile import Profile

# Fewer signals than this and a round's training step learns little from this person;
# the device still takes part (its update is then small or zero), and says so.
FEW_SIGNALS = 8
# How long the device keeps trying to reach a SuperLink it lost (a restart of the server
# usually takes less); then it leaves, and `client join` can be run again.
GIVE_UP_AFTER_S = 600.0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    client = commands.add_parser("client", help="this device in a federation")
    actions = client.add_subparsers(dest="action", required=True, metavar="ACTION")
    help_text = "join a federation: run a Flower SuperNode backed by this device's store"
    join = actions.add_parser("join", help=help_text, description=help_text)
    join.add_argument("--superlink", required=True, metavar="HOST:PORT", help="Fleet API address")
    add_unlock_arguments(join)
    join.add_argument(
        "--root-certificates",
        type=Path,
        metavar="PEM",
        help="CA certificate that signed the SuperLink's (default: the system's trust store)",
    )
    join.add_argument(
        "--insecure", action="store_true", help="no TLS; only for a SuperLink on loopback"
    )
    join.add_argument(
        "--auth-key",
        type=Path,
        metavar="KEY",
        help="this SuperNode's private key (OpenSSH, EC), registered by the operator with "
        "`flwr supernode register`; needs TLS",
    )
    join.add_argument(
        "--trusted-entities",
        type=Path,
        metavar="YAML",
        help="run only apps signed by these public keys (Flower's app verification)",
    )
    join.add_argument(
        "--participation-cap",
        type=at_least(1),
        metavar="K",
        help="take part in at most K rounds of any one run, whatever the server asks "
        "(counted, sealed, in the store)",
    )
    join.add_argument(
        "--give-up-after",
        type=positive_seconds,
        default=GIVE_UP_AFTER_S,
        metavar="SECONDS",
        help="leave when the SuperLink has been unreachable this long (default: %(default)s)",
    )
    join.set_defaults(handler=_join)


def _join(args: argparse.Namespace) -> int:
    address = SuperLinkAddress.parse(args.superlink)
    check_transport(
        address,
        insecure=args.insecure,
        root_certificates=args.root_certificates,
        auth_key=args.auth_key,
    )
    store = Path(args.store) if args.store is not None else default_store_path()
    passphrase = _unlock(store, args)
    device_embedder()  # exported now, not in the middle of a round
    check_reachable(address)
    launch = SuperNodeLaunch(
        address,
        store,
        insecure=args.insecure,
        root_certificates=args.root_certificates,
        auth_key=args.auth_key,
        trusted_entities=args.trusted_entities,
        participation_cap=args.participation_cap,
        give_up_after=args.give_up_after,
    )
    print(f"joining the federation at {address} with {store}; Ctrl-C leaves", file=sys.stderr)
    code = run_supernode(launch, passphrase)
    if code != 0:
        print(
            f"fedpersona: the SuperNode stopped with exit code {code} (its log above says "
            f"why; a SuperLink unreachable for {args.give_up_after:g} s ends it): this "
            "device has left the federation; run `client join` again to rejoin",
            file=sys.stderr,
        )
        return 1
    print("left the federation", file=sys.stderr)
    return 0


def _unlock(store: Path, args: argparse.Namespace) -> str:
    """The store's passphrase, proved by opening the store; says what it will train on."""
    if not store.exists():
        raise InputError(f"no store at {store}; chat first (`fedpersona chat --create`)")
    if args.use_keyring:
        profile, passphrase = open_with_keyring(store)
    else:
        passphrase = read_passphrase(args.passphrase_env, f"Passphrase for {store}: ")
        profile = Profile.open(store, passphrase)
    with profile:
        signals = profile.training.count()
    print(f"this device holds {signals} training signal(s) from chat", file=sys.stderr)
    if signals < FEW_SIGNALS:
        print(
            f"few signals (under {FEW_SIGNALS}): rounds train on what there is, and with "
            "none this device sends an update of zeros (it still counts as taking part)",
            file=sys.stderr,
        )
    return passphrase
