"""``alignlab serve``: an OpenAI-compatible HTTP server (``/v1/models``, ``/v1/chat/completions`` with
log-probs) for any alignlab model, so trained checkpoints plug into tools that speak the OpenAI API.

Requests are served one at a time (a lock around the model); each request's ``n`` choices are generated
as one batch.
"""

import threading
import time
import uuid
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..errors import AlignlabError
from .base import Completion, SamplingParams, TokenLogprob
from .hf import HFGenerator


class ContentPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "developer"]
    content: str | list[ContentPart]

    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)


class ChatRequest(BaseModel):
    """The subset of OpenAI's chat-completions request that a local model can honour."""

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=1.0, ge=0, le=2)
    top_p: float = Field(default=1.0, gt=0, le=1)
    n: int = Field(default=1, ge=1, le=16)
    stop: str | list[str] | None = None
    seed: int | None = None
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    stream: bool = False

    def sampling(self, default_max_tokens: int) -> SamplingParams:
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return SamplingParams(
            max_new_tokens=self.max_completion_tokens or self.max_tokens or default_max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            stop=tuple(stop),
            seed=self.seed,
            logprobs=self.logprobs,
            top_logprobs=self.top_logprobs or 0 if self.logprobs else 0,
        )


def _error(status: int, message: str, param: str | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}}
    return JSONResponse(status_code=status, content=body)


def _logprob_entry(entry: TokenLogprob) -> dict[str, Any]:
    return {"token": entry.token, "logprob": entry.logprob, "bytes": list(entry.bytes)}


def _choice(index: int, completion: Completion) -> dict[str, Any]:
    logprobs = None
    if completion.logprobs is not None:
        alternatives = completion.alternatives or [[] for _ in completion.tokens]
        raw = completion.token_bytes or [t.encode() for t in completion.tokens]
        chosen = [
            TokenLogprob(b.decode("utf-8", errors="replace"), b, lp)
            for b, lp in zip(raw, completion.logprobs, strict=True)
        ]
        logprobs = {
            "content": [
                {**_logprob_entry(entry), "top_logprobs": [_logprob_entry(a) for a in alts]}
                for entry, alts in zip(chosen, alternatives, strict=True)
            ]
        }
    return {
        "index": index,
        "message": {"role": "assistant", "content": completion.text},
        "finish_reason": completion.finish_reason,
        "logprobs": logprobs,
    }


def create_app(generator: HFGenerator, model_name: str, *, default_max_tokens: int = 256) -> FastAPI:
    app = FastAPI(title=f"alignlab serve {model_name}")
    lock = threading.Lock()
    created = int(time.time())

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"][1:]) or None
        return _error(400, f"{field}: {first['msg']}" if field else first["msg"], field)

    @app.get("/v1/models")
    def list_models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": model_name, "object": "model", "created": created, "owned_by": "alignlab"}],
        }

    @app.post("/v1/chat/completions")
    def chat_completions(request: ChatRequest):
        if request.stream:
            return _error(400, "streaming is not supported by alignlab serve", "stream")
        if request.model != model_name:
            return _error(404, f"this server serves {model_name!r}, not {request.model!r}", "model")
        try:
            params = request.sampling(default_max_tokens)
            messages = [
                {"role": m.role if m.role != "developer" else "system", "content": m.text()}
                for m in request.messages
            ]
            with lock:
                completions = generator.generate([messages] * request.n, params)
        except (AlignlabError, ValueError) as e:
            return _error(400, str(e))
        prompt_tokens = completions[0].prompt_tokens
        completion_tokens = sum(len(c.tokens) for c in completions)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model_name,
            "choices": [_choice(i, c) for i, c in enumerate(completions)],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    return app
