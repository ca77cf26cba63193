"""What a model's name says about it, shared by the CLI's choices and the daemon's checks."""

from __future__ import annotations

# Names that answer something other than chat (embeddings, speech, images, moderation).
_NOT_CHAT = ("embed", "whisper", "tts", "dall-e", "moderation", "rerank", "transcribe")


def can_chat(name: str) -> bool:
    lowered = name.lower()
    return not any(marker in lowered for marker in _NOT_CHAT)
