"""The on-device chat session: memory engine + language model backend + application profile.

:class:`ChatSession` runs one conversation; :func:`run_command` answers its slash
commands. The terminal loop that reads and prints is ``cli/chat_command.py``.
"""

from client.chat.commands import HELP, CommandResult, run_command
from client.chat.session import ChatSession, TurnOutcome

__all__ = ["HELP", "ChatSession", "CommandResult", "TurnOutcome", "run_command"]
