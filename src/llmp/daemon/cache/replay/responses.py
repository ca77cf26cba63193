"""OpenAI's Responses API replayed.

A stream is `response.created` and `response.in_progress`, then per output
item `output_item.added`, its parts' deltas and `output_item.done`, and ends
with a terminal event whose `response` is the whole answer: a stored stream
is read back through that last event alone, and a body becomes exactly that
sequence (`sequence_number` from 0, as OpenAI counts).

Every replay is a new response, because a client names a response's id again
(`previous_response_id`, GET /v1/responses/{id}): it takes the id of the
request it answers (the `Call`'s), fresh item ids and this request's own
labels (`metadata`, `user`, `previous_response_id`), and the route keeps it
in the responses store like any other answer. A chained request is keyed by
the conversation llmp expanded for it; one that names a conversation llmp
does not hold (an upstream's own response id) keeps `previous_response_id`
in its body and is not cached: its history is not in the key, and a replay
could not be chained from.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import count
from typing import Any

import orjson

from llmp.daemon.api.responses_events import event
from llmp.daemon.api.responses_wire import CALL
from llmp.daemon.cache.replay.events import Incomplete, json_object, parse_events

Emit = Callable[[str, dict[str, Any]], bytes]
#: The request's own, echoed in its answer.
_LABELS = ("metadata", "user", "previous_response_id", "safety_identifier", "prompt_cache_key",
           "prompt_cache_retention")


class ResponsesReplay:
    operations = frozenset({"responses"})
    body_only: frozenset[str] = frozenset()
    refused = frozenset({"previous_response_id"})

    @staticmethod
    def key_body(body: dict[str, Any]) -> dict[str, Any]:
        """The body without the ids of its input items where an id only labels an item whose
        content is there in full.

        A client numbers the items it sends afresh each session (Codex CLI gives
        every message a new `msg_` id), and a chained conversation holds the
        fresh ids of each replayed answer: kept in the key, the same
        conversation would never be asked twice. An `item_reference` is its id,
        and a reasoning item without its encrypted content is looked up by it:
        those keep theirs.
        """
        items = body.get("input")
        if not isinstance(items, list) or not any(_labelled(item) for item in items):
            return body
        return {**body, "input": [{name: value for name, value in item.items() if name != "id"}
                                  if _labelled(item) else item for item in items]}

    def key_extra(self) -> str | None:
        return None

    def body_from_stream(self, operation: str, events: bytes,
                         usage: dict[str, Any] | None = None) -> bytes:
        return orjson.dumps(_completed(events))

    def answer_body(self, operation: str, body: bytes, request: dict[str, Any]) -> bytes:
        response = _fresh(json_object(body))
        payload = orjson.dumps(response)
        _serve(response)
        return payload

    def stream_from_body(self, operation: str, body: bytes, request: dict[str, Any]) -> bytes:
        return _replayed_stream(_fresh(json_object(body)))

    def restream(self, operation: str, events: bytes, usage: dict[str, Any] | None,
                 request: dict[str, Any]) -> bytes:
        return _replayed_stream(_fresh(_completed(events)))

    def check(self, operation: str, body: bytes, answer: dict[str, Any] | None = None) -> None:
        _check(json_object(body) if answer is None else answer)


def _labelled(item: object) -> bool:
    """An input item whose `id` only labels it (see `ResponsesReplay.key_body`)."""
    if not isinstance(item, dict) or "id" not in item:
        return False
    kind = item.get("type")
    return kind != "item_reference" and not (kind == "reasoning" and not item.get("encrypted_content"))


def _check(response: dict[str, Any]) -> None:
    if response.get("object") != "response" or response.get("status") != "completed":
        raise Incomplete("the response did not complete")
    if response.get("error") or not isinstance(response.get("output"), list):
        raise Incomplete("the response carries an error or no output")


def _completed(events: bytes) -> dict[str, Any]:
    """The response in a stream's terminal event (the last one: a relay stops there)."""
    tail = events.rstrip(b"\r\n")
    start = max(tail.rfind(b"\n\n") + 2, tail.rfind(b"\r\n\r\n") + 4, 0)
    last = parse_events(tail[start:] + b"\n\n")
    data = json_object(last[-1].data) if last else {}
    if data.get("type") != "response.completed" or not isinstance(data.get("response"), dict):
        raise Incomplete("the stream did not end with response.completed")
    _check(data["response"])
    return data["response"]


def _fresh(response: dict[str, Any]) -> dict[str, Any]:
    """The stored response as a new one answering this request: its id, time, item ids and labels."""
    call = CALL.get()
    suffix = call.id.removeprefix("resp_")
    output = [{**item, "id": f"{str(item['id']).partition('_')[0]}_{suffix}_{index}"}
              if isinstance(item, dict) and item.get("id") else item
              for index, item in enumerate(response["output"])]
    fresh = {**response, "id": call.id, "created_at": call.created_at, "output": output}
    for name in _LABELS:
        if name in response or call.body.get(name) is not None:
            fresh[name] = call.body.get(name) if name != "metadata" else call.body.get(name) or {}
    return fresh


def _serve(response: dict[str, Any]) -> None:
    """The replay is this request's answer: the route stores it as it stores any other."""
    call = CALL.get()
    call.output, call.response = response["output"], response


def _replayed_stream(response: dict[str, Any]) -> bytes:
    numbers = count()

    def emit(name: str, data: dict[str, Any]) -> bytes:
        return event(name, {"type": name, "sequence_number": next(numbers), **data})

    started = {**response, "status": "in_progress", "output": [], "usage": None}
    out = [emit("response.created", {"response": started}),
           emit("response.in_progress", {"response": started})]
    for index, item in enumerate(response["output"]):
        out.extend(_item_events(emit, index, item))
    out.append(emit("response.completed", {"response": response}))
    payload = b"".join(out)
    _serve(response)
    return payload


def _item_events(emit: Emit, index: int, item: dict[str, Any]) -> list[bytes]:
    """One output item as OpenAI streams it: added, each part opened, its deltas, done."""
    kind, item_id = item.get("type"), item.get("id")
    out: list[bytes] = []
    if kind == "message":
        out.append(emit("response.output_item.added", {
            "output_index": index, "item": {**item, "status": "in_progress", "content": []}}))
        for part_index, part in enumerate(item.get("content") or ()):
            where = {"item_id": item_id, "output_index": index, "content_index": part_index}
            out.extend(_part_events(emit, where, part))
    elif kind == "reasoning":
        out.append(emit("response.output_item.added", {
            "output_index": index, "item": {**item, "summary": []}}))
        for summary_index, part in enumerate(item.get("summary") or ()):
            where = {"item_id": item_id, "output_index": index, "summary_index": summary_index}
            text = part.get("text") or ""
            out.append(emit("response.reasoning_summary_part.added",
                            {**where, "part": {**part, "text": ""}}))
            out.append(emit("response.reasoning_summary_text.delta", {**where, "delta": text}))
            out.append(emit("response.reasoning_summary_text.done", {**where, "text": text}))
            out.append(emit("response.reasoning_summary_part.done", {**where, "part": part}))
    elif kind == "function_call":
        arguments = item.get("arguments") or ""
        where = {"item_id": item_id, "output_index": index}
        out.append(emit("response.output_item.added", {
            "output_index": index, "item": {**item, "arguments": "", "status": "in_progress"}}))
        out.append(emit("response.function_call_arguments.delta", {**where, "delta": arguments}))
        out.append(emit("response.function_call_arguments.done",
                        {**where, "arguments": arguments, "name": item.get("name")}))
    else:  # a built-in tool's call (web search, ...): whole in its added and done events
        out.append(emit("response.output_item.added", {"output_index": index, "item": item}))
    out.append(emit("response.output_item.done", {"output_index": index, "item": item}))
    return out


def _part_events(emit: Emit, where: dict[str, Any], part: dict[str, Any]) -> list[bytes]:
    kind = part.get("type")
    out = []
    if kind == "output_text":
        text, logprobs = part.get("text") or "", part.get("logprobs") or []
        out.append(emit("response.content_part.added",
                        {**where, "part": {**part, "text": "", "annotations": []}}))
        out.append(emit("response.output_text.delta", {**where, "delta": text, "logprobs": logprobs}))
        out.append(emit("response.output_text.done", {**where, "text": text, "logprobs": logprobs}))
    elif kind == "refusal":
        refusal = part.get("refusal") or ""
        out.append(emit("response.content_part.added", {**where, "part": {**part, "refusal": ""}}))
        out.append(emit("response.refusal.delta", {**where, "delta": refusal}))
        out.append(emit("response.refusal.done", {**where, "refusal": refusal}))
    else:
        out.append(emit("response.content_part.added", {**where, "part": part}))
    out.append(emit("response.content_part.done", {**where, "part": part}))
    return out
