"""An OpenAI chat request as a Gemini `GenerateContentRequest`.

What Gemini cannot honour is dropped with a debug log when dropping it leaves
the meaning of the request intact (`user`, `store`, `parallel_tool_calls`);
when it would not (`logit_bias`, audio output, a tool type Gemini lacks), the
client gets a 400 that names the parameter rather than a quietly different
answer.

Image URLs: `data:` URLs become `inlineData`; http(s) and gs:// URLs become
`fileData` for Google to fetch. llmp never fetches a URL itself: a local
daemon that downloads whatever a prompt names would be a way into the
developer's network, and it would add the download to every request.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Callable
from typing import Any

import orjson

from llmp.daemon.errors import ClientError
from llmp.daemon.types import ChatRequest

log = logging.getLogger("llmp.providers.gemini")

# Gemini 3 and later insist on a signature on the first function call of each model
# turn; Google documents this value for histories it did not produce. Older models
# never check, so they get none.
SKIP_SIGNATURE = "skip_thought_signature_validator"

_REFUSED = {
    "logit_bias": "Gemini has no logit bias",
    "audio": "Gemini's generateContent does not produce OpenAI audio output",
    "web_search_options": "use Gemini's own grounding tools instead",
}
# Everything else (user, store, metadata, parallel_tool_calls, logprobs, ...) is dropped.
_TRANSLATED = {
    "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens",
    "temperature", "top_p", "stop", "n", "seed", "presence_penalty", "frequency_penalty",
    "response_format", "tools", "tool_choice", "functions", "function_call", "reasoning_effort",
    "modalities", "top_k",
}
_BUDGETS = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}
_AUDIO_TYPES = {"wav": "audio/wav", "mp3": "audio/mp3"}


def build_request(
    request: ChatRequest, model: str, signature_for: Callable[[str], str | None]
) -> dict[str, Any]:
    """The Gemini body for `request`; `signature_for` recalls thought signatures by tool call id."""
    body: dict[str, Any] = {}
    validates = not model.startswith(("gemini-1", "gemini-2"))
    system, contents = _messages(request.get("messages") or [], signature_for, validates)
    if system:
        body["systemInstruction"] = {"parts": system}
    body["contents"] = contents
    tools, tool_config = _tools(request)
    if tools:
        body["tools"] = tools
    if tool_config:
        body["toolConfig"] = tool_config
    config = _generation_config(request, model)
    if config:
        body["generationConfig"] = config
    for name in request:
        if name in _REFUSED and request[name] not in (None, False):  # type: ignore[literal-required]
            raise ClientError(f"'{name}' is not supported by Gemini: {_REFUSED[name]}.", param=name)
        if name not in _TRANSLATED:
            log.debug("gemini: dropped parameter %r that Gemini cannot honour", name)
    return body


# -- messages -----------------------------------------------------------------


def _messages(
    messages: list[Any], signature_for: Callable[[str], str | None], validates: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool_call_id -> function name, for the tool results
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_parts(message.get("content"), where, text_only=True))
            continue
        if role == "assistant":
            parts = _parts(message.get("content"), where, text_only=True)
            signature = _dict(_dict(message.get("extra_content")).get("google")).get(
                "thought_signature")
            if signature and parts:
                parts[-1]["thoughtSignature"] = signature
            parts.extend(_calls(message, where, names, signature_for, validates))
            if message.get("reasoning_content"):
                log.debug("gemini: dropped reasoning_content of %s (Gemini keeps its own)", where)
            _append(contents, "model", parts, where)
        elif role in ("tool", "function"):
            _append(contents, "user", [_result(message, where, names)], where)
        else:
            _append(contents, "user", _parts(message.get("content"), where), where)
    if not contents:
        raise ClientError(
            "'messages' must hold at least one user or assistant message with content.",
            param="messages",
        )
    return system, contents


def _append(contents: list[dict[str, Any]], role: str, parts: list[dict[str, Any]], where: str) -> None:
    """Gemini wants turns, so messages of one role in a row (parallel tool results) share one."""
    if not parts:
        log.debug("gemini: dropped %s: it has no content", where)
        return
    if contents and contents[-1]["role"] == role:
        contents[-1]["parts"].extend(parts)
    else:
        contents.append({"role": role, "parts": parts})


def _parts(content: Any, where: str, text_only: bool = False) -> list[dict[str, Any]]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"text": content}]
    parts = []
    for number, part in enumerate(content):
        here = f"{where}.content[{number}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if part.get("text"):
                parts.append({"text": str(part["text"])})
        elif kind == "refusal" and text_only:
            continue
        elif text_only or kind not in ("image_url", "input_audio", "file"):
            raise ClientError(f"'{here}': content of type {kind!r} is not supported here.", param=here)
        else:
            parts.append(_media(part, kind, here))
    return parts


def _media(part: dict[str, Any], kind: str, where: str) -> dict[str, Any]:
    if kind == "input_audio":
        audio = _dict(part.get("input_audio"))
        mime = _AUDIO_TYPES.get(str(audio.get("format")), "")
        if not mime or not audio.get("data"):
            raise ClientError(f"'{where}.input_audio' needs data and a format of wav or mp3.", param=where)
        return {"inlineData": {"mimeType": mime, "data": audio["data"]}}
    if kind == "file":
        data = str(_dict(part.get("file")).get("file_data") or "")
        if not data.startswith("data:"):
            raise ClientError(f"'{where}.file' needs file_data as a data: URL.", param=where)
        return _data_url(data, where)
    image = part.get("image_url")
    url = str(image.get("url") if isinstance(image, dict) else image or "")
    if url.startswith("data:"):
        return _data_url(url, where)
    if url.startswith(("https://", "http://", "gs://")):
        mime = mimetypes.guess_type(url.split("?", 1)[0])[0] or "image/jpeg"
        return {"fileData": {"mimeType": mime, "fileUri": url}}
    raise ClientError(f"'{where}.image_url.url' must be a data:, http(s): or gs: URL.", param=where)


def _data_url(url: str, where: str) -> dict[str, Any]:
    header, sep, data = url[5:].partition(",")
    mime, _, encoding = header.partition(";")
    if not sep or encoding != "base64" or not mime or not data:
        raise ClientError(f"'{where}': expected a data:<type>;base64,<data> URL.", param=where)
    return {"inlineData": {"mimeType": mime, "data": data}}


def _calls(
    message: dict[str, Any], where: str, names: dict[str, str],
    signature_for: Callable[[str], str | None], validates: bool,
) -> list[dict[str, Any]]:
    parts = []
    calls = message.get("tool_calls") or []
    if message.get("function_call"):
        calls = [{"id": "", "function": message["function_call"]}]
    if not isinstance(calls, list):
        raise ClientError(f"'{where}.tool_calls' must be an array.", param=f"{where}.tool_calls")
    for number, call in enumerate(calls):
        here = f"{where}.tool_calls[{number}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not function.get("name"):
            raise ClientError(f"'{here}.function.name' is required.", param=here)
        arguments = function.get("arguments") or "{}"
        try:
            args = orjson.loads(arguments) if isinstance(arguments, str) else arguments
        except orjson.JSONDecodeError:
            raise ClientError(f"'{here}.function.arguments' is not valid JSON.", param=here) from None
        if not isinstance(args, dict):
            raise ClientError(f"'{here}.function.arguments' must be a JSON object.", param=here)
        call_id = str(call.get("id") or "")
        names[call_id] = function["name"]
        part: dict[str, Any] = {"functionCall": {"name": function["name"], "args": args}}
        google = _dict(_dict(call.get("extra_content")).get("google"))
        signature = google.get("thought_signature") or signature_for(call_id)
        if signature or (number == 0 and validates):
            part["thoughtSignature"] = signature or SKIP_SIGNATURE
        parts.append(part)
    return parts


def _result(message: dict[str, Any], where: str, names: dict[str, str]) -> dict[str, Any]:
    call_id = str(message.get("tool_call_id") or "")
    name = message.get("name") if message.get("role") == "function" else names.get(call_id)
    if not name:
        raise ClientError(
            f"'{where}.tool_call_id' ({call_id or 'missing'}) matches no tool call of an earlier "
            "assistant message; Gemini needs the function's name.",
            param=f"{where}.tool_call_id",
        )
    content = message.get("content")
    text = content if isinstance(content, str) else "".join(
        str(p.get("text", "")) for p in content or [] if isinstance(p, dict)
    )
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = None
    response = value if isinstance(value, dict) else {"result": text}
    return {"functionResponse": {"name": name, "response": response}}


# -- tools ----------------------------------------------------------------------


def _tools(request: ChatRequest) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    raw = request.get("tools") or [{"type": "function", "function": f}
                                   for f in request.get("functions") or []]  # type: ignore[typeddict-item]
    declarations = []
    for number, tool in enumerate(raw):
        where = f"tools[{number}]"
        function = _dict(tool).get("function")
        if _dict(tool).get("type", "function") != "function" or not isinstance(function, dict):
            raise ClientError(
                f"'{where}': Gemini supports only tools of type 'function'.", param=where
            )
        if not function.get("name"):
            raise ClientError(f"'{where}.function.name' is required.", param=where)
        declaration = {"name": function["name"]}
        if function.get("description"):
            declaration["description"] = function["description"]
        if function.get("parameters"):
            declaration["parametersJsonSchema"] = function["parameters"]
        declarations.append(declaration)
    choice = request.get("tool_choice", request.get("function_call"))  # type: ignore[call-overload]
    config, allowed = _tool_choice(choice)
    if allowed is not None and config is None:
        declarations = [d for d in declarations if d["name"] in allowed]
    tools = [{"functionDeclarations": declarations}] if declarations else []
    return tools, config


def _tool_choice(choice: Any) -> tuple[dict[str, Any] | None, set[str] | None]:
    """The functionCallingConfig, and (for allowed_tools in auto mode) the names to keep."""
    if choice is None:
        return None, None
    modes = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
    if isinstance(choice, str) and choice in modes:
        return {"functionCallingConfig": {"mode": modes[choice]}}, None
    if isinstance(choice, dict):
        name = _dict(choice.get("function")).get("name") or choice.get("name")
        if name and choice.get("type", "function") == "function":
            return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}, None
        allowed = choice.get("allowed_tools")
        if choice.get("type") == "allowed_tools" and isinstance(allowed, dict):
            tools = allowed.get("tools")
            if not isinstance(tools, list):
                raise ClientError("'tool_choice.allowed_tools.tools' must be an array.",
                                  param="tool_choice")
            names = [_dict(_dict(t).get("function")).get("name") for t in tools]
            kept = {n for n in names if n}
            if allowed.get("mode") == "required":
                config = {"mode": "ANY", "allowedFunctionNames": sorted(kept)}
                return {"functionCallingConfig": config}, None
            return None, kept
    raise ClientError("'tool_choice' is not one Gemini can follow.", param="tool_choice")


# -- generation config ------------------------------------------------------------


def _generation_config(request: ChatRequest, model: str) -> dict[str, Any]:
    config: dict[str, Any] = {}
    limit = request.get("max_completion_tokens") or request.get("max_tokens")
    if limit:
        config["maxOutputTokens"] = limit
    pairs = (("temperature", "temperature"), ("top_p", "topP"), ("top_k", "topK"),
             ("n", "candidateCount"),
             ("seed", "seed"), ("presence_penalty", "presencePenalty"),
             ("frequency_penalty", "frequencyPenalty"))
    for ours, theirs in pairs:
        value = request.get(ours)  # type: ignore[misc]
        if value is not None:
            config[theirs] = value
    stop = request.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    config.update(_response_format(request.get("response_format")))
    modalities = request.get("modalities")  # type: ignore[misc]
    if modalities and (not isinstance(modalities, list) or set(map(str, modalities)) - {"text"}):
        raise ClientError("Gemini's generateContent answers OpenAI clients in text only.",
                          param="modalities")
    effort = request.get("reasoning_effort")  # type: ignore[misc]
    if effort is not None:
        config["thinkingConfig"] = _thinking(str(effort), model)
    return config


def _response_format(value: Any) -> dict[str, Any]:
    kind = _dict(value).get("type")
    if not value or kind == "text":
        return {}
    if kind == "json_object":
        return {"responseMimeType": "application/json"}
    schema = _dict(_dict(value).get("json_schema")).get("schema")
    if kind == "json_schema" and isinstance(schema, dict):
        return {"responseMimeType": "application/json", "responseJsonSchema": schema}
    raise ClientError(
        "'response_format' must be text, json_object, or json_schema with a schema.",
        param="response_format",
    )


def _thinking(effort: str, model: str) -> dict[str, Any]:
    """Gemini 3 takes a thinking level; 2.5 a token budget. Thoughts come back as reasoning_content."""
    if effort not in _BUDGETS:
        raise ClientError(
            f"'reasoning_effort' must be one of {', '.join(_BUDGETS)}.", param="reasoning_effort"
        )
    if "gemini-3" in model:
        level = "minimal" if effort == "none" else effort
        return {"thinkingLevel": level, "includeThoughts": True}
    budget = _BUDGETS[effort]
    return {"thinkingBudget": budget, "includeThoughts": budget > 0}


def _dict(value: Any) -> dict[str, Any]:
    """`value` if it is an object: a malformed field reads as empty, and then as a clear 400."""
    return value if isinstance(value, dict) else {}
