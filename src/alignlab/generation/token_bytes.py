"""A token's own bytes, whatever the tokenizer: byte-level BPE (GPT-2, Llama 3, SmolLM2), SentencePiece byte
fallback (``<0xE2>``), or whole-word vocabularies. Decoding one token alone is not enough: a token that holds
part of a UTF-8 character decodes to a replacement character, and the bytes of a completion's tokens would no
longer join into its text."""

import functools
import re

_BYTE_FALLBACK = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


@functools.cache
def _byte_decoder() -> dict[str, int]:
    """The inverse of GPT-2's byte-to-character table, which every byte-level BPE uses: printable bytes stand
    for themselves, the other 68 are shifted to the characters from U+0100 on, in byte order."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    shifted = [b for b in range(256) if b not in printable]
    table = {b: chr(b) for b in printable} | {b: chr(256 + i) for i, b in enumerate(shifted)}
    return {char: byte for byte, char in table.items()}


class TokenBytes:
    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        backend = getattr(tokenizer, "backend_tokenizer", None)
        decoder = getattr(backend, "decoder", None) if backend is not None else None
        self.byte_level = type(decoder).__name__ == "ByteLevel"
        self.special = set(getattr(tokenizer, "all_special_ids", []))

    @functools.lru_cache(maxsize=65_536)  # noqa: B019 (one instance per generator; the vocabulary is fixed)
    def __call__(self, token_id: int) -> bytes:
        if token_id in self.special:
            return self.tokenizer.decode([token_id]).encode()
        piece = self.tokenizer.convert_ids_to_tokens(token_id)
        if piece is None:
            return b""
        if match := _BYTE_FALLBACK.match(piece):
            return bytes([int(match.group(1), 16)])
        if self.byte_level:
            decoder = _byte_decoder()
            if all(char in decoder for char in piece):
                return bytes(decoder[char] for char in piece)
        if "▁" in piece:  # SentencePiece marks a word's leading space
            return piece.replace("▁", " ").encode()
        return self.tokenizer.decode([token_id]).encode()
