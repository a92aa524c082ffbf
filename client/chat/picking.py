"""``/pick``: a second reply to the last message, and which of the two the person prefers.

``/pick`` asks the backend again for the same prompt and shows both replies; ``/pick 1``
or ``/pick 2`` stores the choice as a sealed ``picked`` training pair
(``client.feedback.picked_reply``), the strongest signal the reranking head gets.
The offline backend lists the same records every time, so it has nothing to pick between.
"""

from __future__ import annotations

from dataclasses import replace

from client.chat.session import ChatSession
from client.feedback import picked_reply
from client.llm import ChatBackendError, complete


def offer_alternative(session: ChatSession) -> list[str]:
    """Generate a second reply to the last message; lines showing both."""
    last = session.last
    if last is None:
        return ["No reply yet: /pick offers a second reply to the last message."]
    try:
        second = complete(session.backend, last.prompt)
    except ChatBackendError as error:
        return [error.user_line]
    if second.offline or second.text.strip() == last.reply.strip():
        return ["The second reply is the same as the first: nothing to pick between."]
    session.last = replace(last, alternative=second.text)
    return ["1) " + last.reply, "2) " + second.text, "Which is better? /pick 1 or /pick 2"]


def record_pick(session: ChatSession, choice: str) -> list[str]:
    """Store which of the two replies the person picked."""
    last = session.last
    if last is None or last.alternative is None:
        return ["Nothing to pick from: /pick first shows two replies."]
    if choice not in ("1", "2"):
        return [f"Pick 1 or 2, not {choice!r}."]
    candidates = (last.reply, last.alternative)
    picked = int(choice) - 1
    pair = picked_reply(last.message, candidates, picked, session_id=session.session_id)
    session.engine.profile.training.add(pair)
    # The picked reply becomes the one on record, and a pick is recorded once.
    session.last = replace(last, reply=candidates[picked], alternative=None, rated=True)
    return [f"Picked reply {choice}: stored as a training signal, sealed."]
