"""Generation through any OpenAI-compatible chat-completions endpoint (vLLM, llama.cpp server, hosted APIs,
or ``alignlab serve``), with the official ``openai`` client."""

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import openai

from ..errors import AlignlabError
from ..scoring.encode import Prompt
from .base import Completion, SamplingParams, cut_at_stop


class OpenAIGenerator:
    """Sends each prompt as one chat request (a plain-text prompt is one user turn), ``max_concurrency``
    requests at a time. An unreachable endpoint raises ``AlignlabError`` naming the URL."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key: str = "not-needed",
        max_concurrency: int = 8,
        timeout: float = 120.0,
        max_retries: int = 2,
    ) -> None:
        self.model, self.base_url, self.max_concurrency = model, base_url, max_concurrency
        self.client = openai.OpenAI(
            base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries
        )

    def generate(
        self, prompts: Sequence[Prompt], params: SamplingParams = SamplingParams()
    ) -> list[Completion]:
        with ThreadPoolExecutor(max_workers=self.max_concurrency) as pool:
            return list(pool.map(lambda p: self._one(p, params), prompts))

    def _one(self, prompt: Prompt, params: SamplingParams) -> Completion:
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
        request = dict(
            model=self.model,
            messages=messages,
            max_tokens=params.max_new_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
        )
        if params.stop:
            request["stop"] = list(params.stop)
        if params.seed is not None:
            request["seed"] = params.seed
        if params.logprobs:
            request["logprobs"] = True
            if params.top_logprobs:
                request["top_logprobs"] = params.top_logprobs
        try:
            response = self.client.chat.completions.create(**request)
        except openai.APIConnectionError as e:
            raise AlignlabError(f"cannot reach the endpoint at {self.base_url}: {e}") from e
        except openai.APIStatusError as e:
            raise AlignlabError(
                f"the endpoint at {self.base_url} answered {e.status_code}: {e.message}"
            ) from e
        choice = response.choices[0]
        text, stopped = cut_at_stop(choice.message.content or "", params.stop)  # servers may keep the stop
        content = choice.logprobs.content if choice.logprobs and choice.logprobs.content else None
        return Completion(
            text=text,
            finish_reason="stop" if stopped or choice.finish_reason == "stop" else "length",
            tokens=[t.token for t in content] if content else [],
            logprobs=[t.logprob for t in content] if content else None,
            top_logprobs=[{a.token: a.logprob for a in t.top_logprobs} for t in content]
            if content and params.top_logprobs
            else None,
            prompt_tokens=response.usage.prompt_tokens if response.usage else 0,
        )
