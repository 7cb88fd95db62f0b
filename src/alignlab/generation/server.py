"""``alignlab serve``: an OpenAI-compatible HTTP server (``/v1/models``, ``/v1/chat/completions`` with
log-probs, ``/v1/completions`` with ``echo`` and prompt log-probs) for any alignlab model, so trained checkpoints plug
into tools that speak the OpenAI API, lm-evaluation-harness's ``local-completions`` among them.

Generation requests from concurrent clients are batched together (``batching.py``); each request's ``n``
choices are generated in the same batch. ``stream: true`` sends server-sent events as tokens are generated
(``streaming.py``).
"""

import hmac
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Literal

import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from safetensors.torch import load_file

from ..errors import AlignlabError
from ..scoring.encode import encode_prompts
from .base import Completion, SamplingParams, TokenLogprob
from .batching import BatchingGenerator
from .hf import HFGenerator
from .streaming import stream_events


class ContentPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "developer"]
    content: str | list[ContentPart]

    def text(self) -> str:
        return self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)


class StreamOptions(BaseModel):
    include_usage: bool = False


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
    stream_options: StreamOptions | None = None

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


class CompletionRequest(BaseModel):
    """OpenAI's (legacy) completions request: a prompt as text or token ids, ``echo`` to have the prompt's tokens
    scored too (what lm-evaluation-harness's ``local-completions`` loglikelihood tasks read)."""

    model: str
    prompt: str | list[str] | list[int] | list[list[int]]
    max_tokens: int = Field(default=16, ge=0)
    temperature: float = Field(default=1.0, ge=0, le=2)
    top_p: float = Field(default=1.0, gt=0, le=1)
    n: int = Field(default=1, ge=1, le=16)
    stop: str | list[str] | None = None
    seed: int | None = None
    logprobs: int | None = Field(default=None, ge=0, le=20)
    echo: bool = False
    stream: bool = False
    stream_options: StreamOptions | None = None
    return_token_ids: bool = False
    """vLLM's extension: each choice also carries its ``token_ids`` and ``prompt_token_ids``."""

    def prompt_ids(self, tokenizer) -> list[list[int]]:
        prompts = self.prompt if isinstance(self.prompt, list) and self.prompt else [self.prompt]
        if all(isinstance(p, int) for p in prompts):
            prompts = [prompts]  # one prompt given as token ids
        return [list(p) if isinstance(p, list) else tokenizer(p)["input_ids"] for p in prompts]


class ReloadRequest(BaseModel):
    model_path: str


def load_weights(model: torch.nn.Module, folder: Path) -> None:
    """Load the ``*.safetensors`` weights a ``save_pretrained`` folder holds into ``model`` in place. Every
    parameter must be given, except one tied to a parameter that is (a tied output embedding)."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise AlignlabError("no *.safetensors files in the folder")
    state: dict[str, torch.Tensor] = {}
    for file in files:
        state.update(load_file(file))
    loaded = {p.data_ptr() for name, p in model.named_parameters(remove_duplicate=False) if name in state}
    missing, unexpected = model.load_state_dict(state, strict=False)
    untied = [k for k in missing if model.get_parameter(k).data_ptr() not in loaded] if missing else []
    if untied or unexpected:
        raise AlignlabError(f"the weights do not fit the served model (missing {untied[:3]}, unexpected "
                            f"{unexpected[:3]})")  # fmt: skip


def _completion_logprobs(tokens: list[str], logprobs: list, tops: list[dict[str, float]]) -> dict[str, Any]:
    offsets, at = [], 0
    for token in tokens:
        offsets.append(at)
        at += len(token)
    return {"tokens": tokens, "token_logprobs": logprobs, "top_logprobs": tops, "text_offset": offsets}


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


def create_app(
    generator: HFGenerator,
    model_name: str,
    *,
    default_max_tokens: int = 256,
    batch_window_s: float = 0.01,
    api_key: str | None = None,
    allow_reload: bool = False,
) -> FastAPI:
    """Generation requests from concurrent clients are batched (``BatchingGenerator``: those arriving within
    ``batch_window_s`` with the same sampling parameters run as one batch). With ``api_key``, every request must
    send it as ``Authorization: Bearer <key>`` (compared in constant time; the key is kept in memory only). With
    ``allow_reload``, ``POST /reload_weights {"model_path": folder}`` loads new weights into the served model
    between batches (how a trainer pushes its policy: ``RemoteRollouts``)."""
    app = FastAPI(title=f"alignlab serve {model_name}")

    if api_key:

        @app.middleware("http")
        async def _authorise(request: Request, call_next):
            sent = request.headers.get("authorization", "")
            if not hmac.compare_digest(sent.encode(), f"Bearer {api_key}".encode()):
                return JSONResponse(status_code=401, content={"error": {
                    "message": "missing or wrong API key (send it as 'Authorization: Bearer <key>')",
                    "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}})  # fmt: skip
            return await call_next(request)

    lock = threading.Lock()
    batcher = BatchingGenerator(generator, window_s=batch_window_s, lock=lock)
    app.state.batcher = batcher
    created = int(time.time())

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"][1:]) or None
        return _error(400, f"{field}: {first['msg']}" if field else first["msg"], field)

    app.state.reloads = 0
    if allow_reload:

        @app.post("/reload_weights")
        def reload_weights(request: ReloadRequest):
            try:
                with lock:  # between batches, never under one
                    load_weights(generator.model, Path(request.model_path))
            except (AlignlabError, OSError, RuntimeError) as e:
                return _error(400, f"model_path {request.model_path}: {e}", "model_path")
            app.state.reloads += 1
            return {"status": "ok", "model_path": request.model_path, "reloads": app.state.reloads}

    @app.get("/v1/models")
    def list_models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": model_name, "object": "model", "created": created, "owned_by": "alignlab"}],
        }

    def refuse(request: ChatRequest | CompletionRequest) -> JSONResponse | None:
        """The error for what no endpoint here serves: another model, or log-probs while streaming."""
        if request.model != model_name:
            return _error(404, f"this server serves {model_name!r}, not {request.model!r}", "model")
        if request.stream and (request.logprobs or getattr(request, "echo", False)):
            return _error(400, "stream: log-probs and echo are served without streaming only", "stream")
        if request.stream and getattr(request, "max_tokens", 1) == 0:
            return _error(400, "stream: max_tokens 0 generates nothing to stream", "max_tokens")
        return None

    def usage(prompt_tokens: int, completions: list[Completion]) -> dict[str, int]:
        completion_tokens = sum(len(c.tokens) for c in completions)
        return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens}  # fmt: skip

    def stream(
        request, every: list[list[int]], params: SamplingParams, chunk, opening=()
    ) -> StreamingResponse:
        """``every`` prompt's tokens as server-sent events; the request is queued before this returns."""
        include_usage = request.stream_options is not None and request.stream_options.include_usage
        head = {"id": f"{'chatcmpl' if isinstance(request, ChatRequest) else 'cmpl'}-{uuid.uuid4().hex}",
                "object": "chat.completion.chunk" if isinstance(request, ChatRequest) else "text_completion",
                "created": int(time.time()), "model": model_name}  # fmt: skip
        prompt_tokens = sum(len(ids) for ids in every) // request.n
        events = stream_events(
            generator, params.stop, lambda on_token: batcher.submit(every, params, on_token), len(every),
            chunk=lambda i, delta, finish: {**head, "choices": [chunk(i, delta, finish)]},
            opening=[{**head, "choices": [c]} for c in opening],
            usage=(lambda done: {**head, "choices": [], "usage": usage(prompt_tokens, done)}) if include_usage else None,
        )  # fmt: skip
        return StreamingResponse(events, media_type="text/event-stream")

    @app.post("/v1/chat/completions")
    def chat_completions(request: ChatRequest):
        if (refused := refuse(request)) is not None:
            return refused
        try:
            params = request.sampling(default_max_tokens)
            messages = [
                {"role": m.role if m.role != "developer" else "system", "content": m.text()}
                for m in request.messages
            ]
            ids = encode_prompts(generator.tokenizer, [messages], chat=generator.chat)[0]
            if request.stream:
                return stream(
                    request, [ids] * request.n, params,
                    chunk=lambda i, delta, finish: {"index": i, "delta": {"content": delta} if delta else {},
                                                    "logprobs": None, "finish_reason": finish},
                    opening=[{"index": i, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                              "finish_reason": None} for i in range(request.n)],
                )  # fmt: skip
            completions = batcher.generate_ids([ids] * request.n, params)
        except (AlignlabError, ValueError) as e:
            return _error(400, str(e))
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model_name,
            "choices": [_choice(i, c) for i, c in enumerate(completions)],
            "usage": usage(len(ids), completions),
        }

    @app.post("/v1/completions")
    def completions(request: CompletionRequest):
        if (refused := refuse(request)) is not None:
            return refused
        top = request.logprobs or 0
        choices, prompt_tokens, completion_tokens = [], 0, 0
        try:
            stop = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
            params = SamplingParams(
                max_new_tokens=max(request.max_tokens, 1), temperature=request.temperature, top_p=request.top_p,
                stop=tuple(stop), seed=request.seed, logprobs=request.logprobs is not None, top_logprobs=top,
            )  # fmt: skip
            prompts = request.prompt_ids(generator.tokenizer)
            every = [ids for ids in prompts for _ in range(request.n)]  # all prompts' choices in one batch
            if request.stream:
                return stream(request, every, params, chunk=lambda i, delta, finish: {
                    "index": i, "text": delta or "", "logprobs": None, "finish_reason": finish})  # fmt: skip
            generated_all = (batcher.generate_ids(every, params) if request.max_tokens
                             else [Completion("", "length")] * len(every))  # fmt: skip
            for p, ids in enumerate(prompts):
                prompt_tokens += len(ids)
                echoed: tuple[list, list, list] = ([], [], [])  # the prompt's tokens, logprobs, alternatives
                if request.echo and request.logprobs is not None:
                    with lock:
                        scored = generator.prompt_logprobs(ids, top)
                    echoed = ([generator.token_bytes(i).decode("utf-8", errors="replace") for i in ids],
                              [value for value, _ in scored], [alternatives or None for _, alternatives in scored])  # fmt: skip
                generated = generated_all[p * request.n : (p + 1) * request.n]
                prompt_text = generator.tokenizer.decode(ids) if request.echo else ""
                for completion in generated:
                    logprobs = None
                    if request.logprobs is not None:
                        tokens, values, tops = echoed
                        logprobs = _completion_logprobs(
                            tokens + completion.tokens,
                            values + (completion.logprobs or []),
                            tops + (completion.top_logprobs or [{} for _ in completion.tokens]),
                        )
                    completion_tokens += len(completion.tokens)
                    choices.append({"index": len(choices), "text": prompt_text + completion.text, "logprobs": logprobs,
                                    "finish_reason": completion.finish_reason,
                                    **({"token_ids": completion.token_ids, "prompt_token_ids": ids}
                                       if request.return_token_ids else {})})  # fmt: skip
        except (AlignlabError, ValueError) as e:
            return _error(400, str(e))
        return {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": model_name,
            "choices": choices,
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }  # fmt: skip

    return app
