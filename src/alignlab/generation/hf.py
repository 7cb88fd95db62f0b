"""Local generation with a Hugging Face model: batched, left-padded, seeded, with stop strings and log-probs."""

import copy
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase, StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from ..scoring.encode import Prompt, check_length, encode_completions, encode_prompts, model_max_length, pad
from .base import Completion, SamplingParams, TokenLogprob, cut_at_stop
from .token_bytes import TokenBytes


class StopOnStrings(StoppingCriteria):
    """Ends each row once its new text contains a stop string. Works with any tokenizer (transformers'
    own ``stop_strings`` needs a sub-word vocabulary); only the last few tokens are decoded each step."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, stop: Sequence[str], prompt_length: int) -> None:
        self.tokenizer, self.stop, self.prompt_length = tokenizer, list(stop), prompt_length
        self.window = max(len(s) for s in stop) + 1  # tokens; each decodes to at least one character

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs) -> torch.Tensor:
        tails = input_ids[:, self.prompt_length :][:, -self.window :]
        texts = self.tokenizer.batch_decode(tails, skip_special_tokens=True)
        return torch.tensor([any(s in t for s in self.stop) for t in texts], device=input_ids.device)


class HFGenerator:
    """Generates with ``model.generate`` in batches of ``batch_size`` prompts.

    On a 2-core CPU, decoding one prompt at a time is memory-bound (every step reads all weights for one
    token); batch 32 gives ~6x the tokens/s of batch 1 with SmolLM2-135M (benchmarks/generation_throughput.py).

    Prompts are sorted by length before batching (less padding), and results returned in input order.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        batch_size: int = 32,
        chat: bool | None = None,
        skip_special_tokens: bool = True,
    ) -> None:
        """``skip_special_tokens=False`` keeps special tokens (other than the final end-of-sequence) in the
        text: what an exact-match grader should see."""
        self.model, self.tokenizer, self.batch_size, self.chat = model, tokenizer, batch_size, chat
        self.skip_special_tokens = skip_special_tokens
        self.token_bytes = TokenBytes(tokenizer)
        eos = model.generation_config.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        self.eos_ids = sorted({*eos, tokenizer.eos_token_id} - {None})

    @torch.no_grad()
    def generate(
        self, prompts: Sequence[Prompt], params: SamplingParams = SamplingParams()
    ) -> list[Completion]:
        if not prompts:
            return []
        return self.generate_ids(encode_prompts(self.tokenizer, prompts, chat=self.chat), params)

    def generate_ids(
        self,
        encoded: Sequence[list[int]],
        params: SamplingParams = SamplingParams(),
        on_token: Callable[[int, int], None] | None = None,
    ) -> list[Completion]:
        """``generate`` for prompts given as token ids (the completions API accepts them). ``on_token(i, token_id)``
        is called with each token as it is generated for prompt ``i`` (for streaming); a finished row may go on
        receiving padding, which the caller ignores after its end-of-sequence token."""
        if not encoded:
            return []
        encoded = [list(ids) for ids in encoded]
        limit = model_max_length(self.model)
        check_length([len(ids) + params.max_new_tokens for ids in encoded], limit, "prompt + max_new_tokens")
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        out: dict[int, Completion] = {}
        devices = [next(self.model.parameters()).device] if next(self.model.parameters()).is_cuda else []
        with torch.random.fork_rng(devices=devices):  # a seeded call leaves the caller's random state alone
            if params.seed is not None:
                torch.manual_seed(params.seed)
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                to_prompt = (
                    None if on_token is None else (lambda row, token, rows=rows: on_token(rows[row], token))
                )
                for i, completion in zip(
                    rows, self._generate_batch([encoded[i] for i in rows], params, to_prompt), strict=True
                ):
                    out[i] = completion
        return [out[i] for i in range(len(encoded))]

    @torch.no_grad()
    def next_token_logprobs(
        self, prompts: Sequence[Prompt], candidates: Sequence[str]
    ) -> list[dict[str, float]]:
        """log P(the answer starts with each candidate | prompt): one forward pass per batch of prompts.

        A candidate's first token is read with and without a leading space (``"A"`` and ``" A"``), their
        probabilities pooled: what a multiple-choice question answered by its letter needs."""
        if not prompts:
            return []
        first_ids = {c: self._first_token_ids(c) for c in candidates}
        encoded = encode_prompts(self.tokenizer, prompts, chat=self.chat)
        check_length([len(ids) for ids in encoded], model_max_length(self.model), "prompt")
        device = next(self.model.parameters()).device
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        out: dict[int, dict[str, float]] = {}
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            input_ids, attention_mask = pad([encoded[i] for i in rows], self.tokenizer.pad_token_id, "left")
            position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
            logits = self.model(
                input_ids=input_ids.to(device),
                attention_mask=attention_mask.to(device),
                position_ids=position_ids.to(device),
                **self._last_logits_only,
            ).logits[:, -1]
            logprobs = logits.float().log_softmax(-1).cpu()  # (B, V)
            for b, i in enumerate(rows):
                out[i] = {c: torch.logsumexp(logprobs[b, ids], 0).item() for c, ids in first_ids.items()}
        return [out[i] for i in range(len(encoded))]

    @torch.no_grad()
    def prompt_logprobs(
        self, ids: Sequence[int], top: int = 0
    ) -> list[tuple[float | None, dict[str, float]]]:
        """For each token of ``ids``: log P(token | the tokens before it) (None for the first, which nothing
        predicts) and the ``top`` most likely tokens at its position as {text: logprob} (empty for the first).
        What ``echo`` with ``logprobs`` returns, and what loglikelihood evals read."""
        check_length([len(ids)], model_max_length(self.model), "prompt")
        device = next(self.model.parameters()).device
        logprobs = (
            self.model(input_ids=torch.tensor([list(ids)], device=device)).logits[0].float().log_softmax(-1)
        )
        out: list[tuple[float | None, dict[str, float]]] = [(None, {})]
        for position in range(1, len(ids)):
            row = logprobs[position - 1].cpu()
            alternatives: dict[str, float] = {}
            if top:
                values, indices = row.topk(top)
                alternatives = _by_text(
                    [self._entry(i, v) for i, v in zip(indices.tolist(), values.tolist(), strict=True)]
                )
            out.append((row[ids[position]].item(), alternatives))
        return out

    def completion_logprobs(self, prompts: Sequence[Prompt], completions: Sequence[str]) -> list[float]:
        """log P(completion | prompt), summed over the completion's tokens; batched by length."""
        from ..scoring import score_completions

        scored = score_completions(
            self.model, self.tokenizer, prompts, completions, batch_size=self.batch_size, chat=self.chat
        )
        return [s.total for s in scored]

    @torch.no_grad()
    def continuation_logprobs(
        self, prompts: Sequence[Prompt], continuations: Sequence[str]
    ) -> list[list[float]]:
        """log P(continuation | prompt) for every continuation after every prompt, summed over its tokens.

        Each prompt is run once and its key/value cache shared by all the continuations: scoring K short
        openings costs about one prompt pass, not K."""
        if not continuations or any(not c for c in continuations):
            raise ValueError("continuations must be non-empty strings")
        cont = encode_completions(self.tokenizer, continuations)
        return [
            self._logprobs_after(prompt_ids, [[] for _ in cont], cont, "prompt + continuation")
            for prompt_ids in encode_prompts(self.tokenizer, prompts, chat=self.chat)
        ]

    @torch.no_grad()
    def prefix_logprobs(self, prefix: str, middles: Sequence[str], targets: Sequence[str]) -> list[float]:
        """log P(target_i | prefix + middle_i), summed over the target's tokens, for text already formatted
        (chat template included). The shared ``prefix`` is run once and its key/value cache reused by every
        row: what many-shot prompts with a long common prefix need."""
        if len(middles) != len(targets):
            raise ValueError(f"{len(middles)} middles but {len(targets)} targets")
        return self._logprobs_after(
            self.tokenizer(prefix, add_special_tokens=False)["input_ids"],
            self.tokenizer(list(middles), add_special_tokens=False)["input_ids"],
            encode_completions(self.tokenizer, targets),
            "prefix + middle + target",
        )

    def _logprobs_after(
        self, prefix_ids: list[int], middle_ids: list[list[int]], target_ids: list[list[int]], what: str
    ) -> list[float]:
        """Per row, log P(target | prefix + middle) summed over the target: the prefix is run once, and its
        cache copied to ``batch_size`` rows at a time."""
        device = next(self.model.parameters()).device
        n = len(prefix_ids)
        first = self.model(input_ids=torch.tensor([prefix_ids], device=device), use_cache=True)
        before = first.logits[0, -1].float().log_softmax(-1)  # predicts each row's first token
        totals: list[float] = []
        for start in range(0, len(middle_ids), self.batch_size):
            middles = middle_ids[start : start + self.batch_size]
            targets = target_ids[start : start + self.batch_size]
            rows = [m + t for m, t in zip(middles, targets, strict=True)]
            check_length([n + len(r) for r in rows], model_max_length(self.model), what)
            ids, mask = pad(rows, self.tokenizer.pad_token_id, "right")
            cache = copy.deepcopy(first.cache)
            cache.batch_repeat_interleave(len(rows))
            logprobs = (
                self.model(
                    input_ids=ids.to(device),
                    attention_mask=torch.cat([torch.ones(len(rows), n, dtype=mask.dtype), mask], 1).to(
                        device
                    ),
                    position_ids=(n + torch.arange(ids.shape[1])).expand(len(rows), -1).to(device),
                    cache=cache,
                )
                .logits.float()
                .log_softmax(-1)
            )  # position j predicts token j + 1
            for b, (m, tgt) in enumerate(zip(middles, targets, strict=True)):
                positions = range(len(m), len(m) + len(tgt))
                totals.append(
                    float(sum((logprobs[b, j - 1] if j > 0 else before)[rows[b][j]] for j in positions))
                )
        return totals

    @property
    def _last_logits_only(self) -> dict[str, int]:
        """Ask the model for the last position's logits only where it can (the vocabulary projection of every
        position is a fifth of a small model's forward pass)."""
        return (
            {"logits_to_keep": 1}
            if "logits_to_keep" in inspect.signature(self.model.forward).parameters
            else {}
        )

    def _first_token_ids(self, candidate: str) -> list[int]:
        ids = {
            encoded[0]
            for variant in (candidate, " " + candidate)
            if (encoded := self.tokenizer.encode(variant, add_special_tokens=False))
            and self.tokenizer.decode(encoded[:1]).strip()  # not a bare space shared by every candidate
        }
        return sorted(ids)

    def _generate_batch(
        self, prompt_ids: list[list[int]], params: SamplingParams, on_token: Callable[[int, int], None] | None
    ) -> list[Completion]:
        device = next(self.model.parameters()).device
        input_ids, attention_mask = pad(prompt_ids, self.tokenizer.pad_token_id, "left")
        sampling = (
            dict(
                do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=params.top_k or None
            )
            if params.temperature > 0
            else dict(do_sample=False, temperature=None, top_p=None, top_k=None)
        )
        output = self.model.generate(
            input_ids=input_ids.to(device),
            attention_mask=attention_mask.to(device),
            max_new_tokens=params.max_new_tokens,
            eos_token_id=self.eos_ids,
            pad_token_id=self.tokenizer.pad_token_id,
            stopping_criteria=StoppingCriteriaList(
                [StopOnStrings(self.tokenizer, params.stop, input_ids.shape[1])] if params.stop else []
            ),
            return_dict_in_generate=True,
            output_logits=params.logprobs,
            streamer=None if on_token is None else _TokenFanout(on_token),
            **sampling,
        )
        new_tokens = output.sequences[:, input_ids.shape[1] :].cpu()  # (B, T_new)
        step_logprobs = (
            torch.stack(output.logits, dim=1).float().log_softmax(-1).cpu() if params.logprobs else None
        )  # (B, T_new, V)
        return [
            self._completion(
                new_tokens[b], None if step_logprobs is None else step_logprobs[b], params, len(ids)
            )
            for b, ids in enumerate(prompt_ids)
        ]

    def _completion(
        self, tokens: torch.Tensor, logprobs: torch.Tensor | None, params: SamplingParams, n_prompt: int
    ) -> Completion:
        ids = tokens.tolist()
        n, finished = len(ids), False
        for t, token in enumerate(ids):
            if token in self.eos_ids:
                n, finished = t, True  # the end-of-sequence token is not part of the text
                break
        ended_by = ids[n : n + 1] if finished else []  # the end-of-sequence token
        ids = ids[:n]
        text, stopped = cut_at_stop(self._decode(ids), params.stop)
        if stopped:  # keep the tokens up to the one that completed the stop string
            n = next(k for k in range(1, len(ids) + 1) if cut_at_stop(self._decode(ids[:k]), params.stop)[1])
            ids = ids[:n]
        completion = Completion(
            text=text,
            finish_reason="stop" if finished or stopped else "length",
            tokens=[self.tokenizer.decode([i]) for i in ids],
            prompt_tokens=n_prompt,
            token_bytes=[self.token_bytes(i) for i in ids],
            token_ids=ids + ([] if stopped else ended_by),
        )
        if logprobs is None:
            return completion
        chosen = logprobs[torch.arange(n), torch.tensor(ids, dtype=torch.long)].tolist()
        if not params.top_logprobs:
            return replace(completion, logprobs=chosen)
        values, indices = logprobs[:n].topk(params.top_logprobs, dim=-1)
        entries = [
            [self._entry(i, v) for i, v in zip(row_i.tolist(), row_v.tolist(), strict=True)]
            for row_i, row_v in zip(indices, values, strict=True)
        ]
        by_text = [_by_text(step) for step in entries]
        return replace(completion, logprobs=chosen, top_logprobs=by_text, alternatives=entries)

    def _entry(self, token_id: int, logprob: float) -> TokenLogprob:
        raw = self.token_bytes(token_id)
        return TokenLogprob(raw.decode("utf-8", errors="replace"), raw, logprob)

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=self.skip_special_tokens)


class _TokenFanout(BaseStreamer):
    """A ``generate`` streamer that hands each new token of every row to ``on_token(row, token_id)``."""

    def __init__(self, on_token: Callable[[int, int], None]) -> None:
        self.on_token, self.prompt_seen = on_token, False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:  # generate puts the prompt first
            self.prompt_seen = True
            return
        for row, token in enumerate(value.view(-1).tolist()):
            self.on_token(row, token)

    def end(self) -> None:
        pass


def _by_text(entries: Sequence[TokenLogprob]) -> dict[str, float]:
    """{text: logprob} of one step's alternatives: tokens that decode to the same text pool their probability."""
    merged: dict[str, float] = {}
    for e in entries:
        merged[e.token] = float(np.logaddexp(merged.get(e.token, -math.inf), e.logprob))
    return merged
