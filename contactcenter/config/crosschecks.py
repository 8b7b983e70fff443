"""References between sections: every skill, queue and channel a key names must exist and fit.

These checks read the raw YAML document, not the validated ``Settings``, so
they still run when some unrelated value failed type validation: the user sees
"unknown skill" together with "expected a whole number" instead of one per
restart. Every lookup is defensive, because the document may be malformed in
exactly the place being checked; a value of the wrong shape is the type
validator's problem and is skipped here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from contactcenter.config.problems import KeyPath

__all__ = ["reference_problems"]

CHANNEL_NAMES = ("voice", "chat", "sms", "email")


def reference_problems(document: object) -> list[tuple[KeyPath, str]]:
    """Every dangling or ill-fitting reference in ``document``, as (key path, message)."""
    root = _mapping(document)
    skills = list(_mapping(root.get("skills")))
    queues = _mapping(root.get("queues"))
    queue_channels = {name: _queue_channels(spec) for name, spec in queues.items()}
    problems: list[tuple[KeyPath, str]] = []

    for name, spec in queues.items():
        queue = _mapping(spec)
        for skill in _mapping(queue.get("skills")):
            if skill not in skills:
                problems.append((("queues", name, "skills", skill), _unknown("skill", skill, skills)))
        for index, step in enumerate(_sequence(queue.get("escalation"))):
            where: KeyPath = ("queues", name, "escalation", index)
            for skill in _mapping(_mapping(step).get("skills")):
                if skill not in skills:
                    problems.append(((*where, "skills", skill), _unknown("skill", skill, skills)))
            for position, target in enumerate(_sequence(_mapping(step).get("overflow"))):
                if not isinstance(target, str):
                    continue
                if target == name:
                    problems.append(((*where, "overflow", position), "a queue cannot overflow into itself"))
                elif target not in queues:
                    problems.append(((*where, "overflow", position), _unknown("queue", target, queues)))
        problems += _callback_queue_problems(name, queue, queues, queue_channels)

    for path, target, channel in _queue_references(_mapping(root.get("channels"))):
        if not isinstance(target, str):
            continue
        if target not in queues:
            problems.append((path, _unknown("queue", target, queues)))
        elif (takes := queue_channels[target]) is not None and channel not in takes:
            listed = ", ".join(sorted(takes)) or "none"
            problems.append((path, f"queue {target!r} does not take {channel} (its channels: {listed})"))
    return problems


def _callback_queue_problems(
    name: str, queue: dict[str, Any], queues: dict[str, Any], queue_channels: dict[str, set[str] | None]
) -> list[tuple[KeyPath, str]]:
    """What is wrong with queue ``name``'s ``callback_queue``: it must be another queue fit to hold callbacks.

    A callback is a voice interaction, so its queue must take voice (the
    router would refuse it otherwise, after the caller has been told 480).
    A callback queue that itself has ``no_agent_action: callback`` is refused
    because a callback nobody took there would ask for a callback of the
    callback: a loop, not a way of reaching the customer. Naming the queue
    itself is the same loop, said more plainly.
    """
    target = queue.get("callback_queue")
    if not isinstance(target, str):
        return []  # null (callbacks stay in this queue) or a wrong type, which the type validator reports
    path: KeyPath = ("queues", name, "callback_queue")
    if target == name:
        return [(path, "a queue cannot be its own callback_queue: name a separate queue, or leave the key "
                       "out to keep callbacks in this queue")]
    if target not in queues:
        return [(path, _unknown("queue", target, queues))]
    problems: list[tuple[KeyPath, str]] = []
    if (takes := queue_channels[target]) is not None and "voice" not in takes:
        listed = ", ".join(sorted(takes)) or "none"
        problems.append((path, f"queue {target!r} does not take voice (its channels: {listed}), "
                               "and a callback is a voice interaction"))
    if _mapping(queues[target]).get("no_agent_action") == "callback":
        problems.append((path, f"queue {target!r} has no_agent_action: callback itself: a callback nobody takes "
                               "there would ask for a callback of the callback; give that queue no "
                               "no_agent_action (callbacks keep waiting)"))
    return problems


def _queue_references(channels: dict[str, Any]) -> Iterator[tuple[KeyPath, object, str]]:
    """Every place under ``channels`` that feeds a queue, with the channel it feeds it."""
    base: KeyPath = ("channels", "email", "mailboxes")
    for index, mailbox in enumerate(_sequence(_mapping(channels.get("email")).get("mailboxes"))):
        yield (*base, index, "queue"), _mapping(mailbox).get("queue"), "email"

    base = ("channels", "sms", "gateways")
    for index, gateway in enumerate(_sequence(_mapping(channels.get("sms")).get("gateways"))):
        for position, number in enumerate(_sequence(_mapping(gateway).get("numbers"))):
            yield (*base, index, "numbers", position, "queue"), _mapping(number).get("queue"), "sms"

    sip = _mapping(_mapping(channels.get("voice")).get("sip"))
    for position, number in enumerate(_sequence(sip.get("numbers"))):
        yield (
            ("channels", "voice", "sip", "numbers", position, "queue"),
            _mapping(number).get("queue"),
            "voice",
        )

    base = ("channels", "webchat", "widgets")
    for index, widget in enumerate(_sequence(_mapping(channels.get("webchat")).get("widgets"))):
        spec = _mapping(widget)
        yield (*base, index, "queue"), spec.get("queue"), "chat"
        for topic, target in _mapping(spec.get("topics")).items():
            yield (*base, index, "topics", topic), target, "chat"


def _queue_channels(spec: object) -> set[str] | None:
    """The channels a queue takes, or None when its list is malformed (then nothing is checked)."""
    listed = _mapping(spec).get("channels")
    if not isinstance(listed, list) or not all(isinstance(item, str) for item in listed):
        return None
    return {item for item in listed if item in CHANNEL_NAMES}


def _unknown(kind: str, name: object, known: Iterable[object]) -> str:
    names = [str(item) for item in known]  # in file order: the reader finds them where they wrote them
    if not names:
        return f"unknown {kind} {name!r} (no {kind}s are defined)"
    return f"unknown {kind} {name!r} (known: {', '.join(names)})"


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _sequence(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
