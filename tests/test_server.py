"""alignlab serve over real loopback HTTP, answered through the official openai client."""

import socket

import openai
import pytest

from alignlab.errors import AlignlabError
from alignlab.generation import HFGenerator, OpenAIGenerator, SamplingParams

MODEL = "toy-llama-tiny"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(toy, serve):
    model, tokenizer = toy
    generator = HFGenerator(model, tokenizer)
    return serve(generator, MODEL), generator


def test_official_client_gets_chat_completions_with_logprobs(server):
    url, generator = server
    client = openai.OpenAI(base_url=url, api_key="unused")
    assert [m.id for m in client.models.list()] == [MODEL]
    messages = [{"role": "user", "content": "w1 w2 w3"}]
    response = client.chat.completions.create(
        model=MODEL, messages=messages, max_tokens=6, temperature=0, logprobs=True, top_logprobs=2
    )
    [direct] = generator.generate([messages], SamplingParams(max_new_tokens=6, logprobs=True, top_logprobs=2))
    choice = response.choices[0]
    assert choice.message.content == direct.text
    assert [t.logprob for t in choice.logprobs.content] == pytest.approx(direct.logprobs)
    assert all(len(t.top_logprobs) == 2 for t in choice.logprobs.content)
    assert response.usage.completion_tokens == len(direct.tokens) == 6


def test_http_backend_matches_the_local_one(server):
    url, generator = server
    remote = OpenAIGenerator(MODEL, base_url=url, max_concurrency=3)
    prompts = ["w1 w2", "w5", [{"role": "system", "content": "w9"}, {"role": "user", "content": "w3 w4"}]]
    params = SamplingParams(max_new_tokens=5, logprobs=True)
    got, expected = remote.generate(prompts, params), generator.generate(prompts, params)
    assert [c.text for c in got] == [c.text for c in expected]
    for g, e in zip(got, expected, strict=True):
        assert g.logprobs == pytest.approx(e.logprobs, abs=1e-5)
        assert g.finish_reason == e.finish_reason and g.prompt_tokens == e.prompt_tokens


def test_bad_requests_get_openai_style_errors(server):
    url, _ = server
    client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
    with pytest.raises(openai.BadRequestError, match="temperature"):
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "w1"}], temperature=7
        )
    with pytest.raises(openai.NotFoundError, match="serves 'toy-llama-tiny'"):
        client.chat.completions.create(model="other", messages=[{"role": "user", "content": "w1"}])
    with pytest.raises(openai.BadRequestError, match="limit of 256"):
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "w1 " * 300}])


def test_endpoint_down_is_one_clear_error():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    generator = OpenAIGenerator(MODEL, base_url=url, max_retries=0, timeout=5)
    with pytest.raises(AlignlabError, match=f"cannot reach the endpoint at {url}"):
        generator.generate(["w1"])


def test_token_bytes_join_into_the_text_for_every_kind_of_tokenizer(toy, embedded):
    from alignlab.generation.token_bytes import TokenBytes

    _, tokenizer = embedded  # byte-level BPE: 'é' and '☃' span several tokens that decode to '\ufffd' alone
    text = "café ☃ 日本"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert "\ufffd" in "".join(tokenizer.decode([i]) for i in ids)
    assert b"".join(TokenBytes(tokenizer)(i) for i in ids) == text.encode()
    word_level = toy[1]
    ids = word_level("w1 w2", add_special_tokens=False)["input_ids"]
    assert b" ".join(TokenBytes(word_level)(i) for i in ids) == b"w1 w2"


@pytest.mark.embedded
def test_non_ascii_logprobs_keep_each_tokens_bytes_and_the_requested_count(embedded, serve):
    """Over loopback with the official client: the bytes of the returned tokens join into the text, and every
    step lists exactly top_logprobs alternatives, even where several decode to the same replacement character."""
    url = serve(HFGenerator(*embedded), "smollm2-135m-instruct")
    client = openai.OpenAI(base_url=url, api_key="unused")
    response = client.chat.completions.create(
        model="smollm2-135m-instruct", messages=[{"role": "user", "content": "Say 'café' in Japanese: 日本"}],
        max_tokens=12, temperature=0, logprobs=True, top_logprobs=5,
    )  # fmt: skip
    choice = response.choices[0]
    assert b"".join(bytes(t.bytes) for t in choice.logprobs.content) == choice.message.content.encode()
    assert all(len(t.top_logprobs) == 5 for t in choice.logprobs.content)
    assert all(len({bytes(a.bytes) for a in t.top_logprobs}) == 5 for t in choice.logprobs.content)
    # streamed, no delta ends inside a character that spans several tokens, and the deltas join into the text
    deltas = [chunk.choices[0].delta.content or "" for chunk in client.chat.completions.create(
        model="smollm2-135m-instruct", messages=[{"role": "user", "content": "Say 'café' in Japanese: 日本"}],
        max_tokens=12, temperature=0, stream=True) if chunk.choices]  # fmt: skip
    assert "".join(deltas) == choice.message.content and not any("\ufffd" in d for d in deltas)


def test_completions_with_echo_score_the_prompt_as_loglikelihood_evals_read_it(server, toy):
    """What lm-evaluation-harness's local-completions sends for a loglikelihood request: the prompt as token ids,
    max_tokens 1, echo, logprobs 1; it sums token_logprobs[context length:-1] and checks each against the top."""
    import torch

    url, _ = server
    model, tokenizer = toy
    client = openai.OpenAI(base_url=url, api_key="unused")
    ids = tokenizer("w1 w2 w3 w4 w5")["input_ids"]
    response = client.completions.create(model=MODEL, prompt=[ids], max_tokens=1, echo=True, logprobs=1,
                                         temperature=0, seed=0)  # fmt: skip
    (choice,) = response.choices
    logprobs = choice.logprobs
    assert len(logprobs.tokens) == len(logprobs.token_logprobs) == len(ids) + 1
    assert logprobs.token_logprobs[0] is None and logprobs.top_logprobs[0] is None
    with torch.no_grad():
        expected = (
            model(input_ids=torch.tensor([ids]))
            .logits[0, :-1]
            .log_softmax(-1)
            .gather(1, torch.tensor(ids[1:])[:, None])
        )
    assert logprobs.token_logprobs[1:-1] == pytest.approx(expected.squeeze(1).tolist(), abs=1e-4)
    assert all(
        max(top.values()) >= lp - 1e-6
        for lp, top in zip(logprobs.token_logprobs[1:], logprobs.top_logprobs[1:], strict=True)
    )
    assert choice.text.startswith(tokenizer.decode(ids)) and response.usage.prompt_tokens == len(ids)

    as_text = client.completions.create(
        model=MODEL, prompt="w1 w2 w3 w4 w5", max_tokens=0, echo=True, logprobs=0
    )
    assert as_text.choices[0].logprobs.token_logprobs == pytest.approx(logprobs.token_logprobs[:-1])
    assert as_text.choices[0].text == tokenizer.decode(ids) and as_text.usage.completion_tokens == 0
    plain = client.completions.create(model=MODEL, prompt=["w1 w2", "w3"], max_tokens=3, temperature=0, n=2)
    assert (
        len(plain.choices) == 4
        and plain.choices[0].text == plain.choices[1].text
        and plain.choices[0].logprobs is None
    )
    with pytest.raises(openai.BadRequestError, match="without streaming"):
        client.completions.create(model=MODEL, prompt="w1", stream=True, echo=True, logprobs=1)


def _streamed(stream) -> tuple[dict[int, str], dict[int, str], list, int]:
    """Per choice: the joined deltas and the finish reason; the usage; and how many chunks carried text."""
    texts: dict[int, str] = {}
    finished: dict[int, str] = {}
    usage, with_text = None, 0
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            text = choice.delta.content if hasattr(choice, "delta") else choice.text
            texts[choice.index] = texts.get(choice.index, "") + (text or "")
            with_text += bool(text)
            if choice.finish_reason:
                finished[choice.index] = choice.finish_reason
    return texts, finished, usage, with_text


def test_streamed_chat_and_completions_join_into_the_unstreamed_text(server):
    url, generator = server
    client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
    messages = [{"role": "user", "content": "w1 w2 w3"}]
    [direct] = generator.generate([messages], SamplingParams(max_new_tokens=12))
    stream = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=12, temperature=0, n=2,
                                            stream=True, stream_options={"include_usage": True})  # fmt: skip
    texts, finished, usage, with_text = _streamed(stream)
    assert texts == {0: direct.text, 1: direct.text} and finished == {0: "length", 1: "length"}
    assert with_text >= 12  # token by token, not one chunk at the end
    assert usage.completion_tokens == 24 and usage.prompt_tokens == direct.prompt_tokens

    unstopped = client.completions.create(model=MODEL, prompt="w1 w2 w3", max_tokens=12, temperature=0)
    stop = unstopped.choices[0].text.split()[3]  # a word it will write: the stream must end before it too
    params = SamplingParams(max_new_tokens=12, stop=(stop,))
    expected = [
        c.text
        for c in generator.generate_ids(
            [generator.tokenizer(p)["input_ids"] for p in ("w1 w2 w3", "w7")], params
        )
    ]
    plain = client.completions.create(
        model=MODEL, prompt=["w1 w2 w3", "w7"], max_tokens=12, temperature=0, stop=stop
    )
    texts, finished, _, _ = _streamed(client.completions.create(
        model=MODEL, prompt=["w1 w2 w3", "w7"], max_tokens=12, temperature=0, stop=stop, stream=True))  # fmt: skip
    assert [texts[0], texts[1]] == [c.text for c in plain.choices] == expected
    assert stop not in texts[0] and finished[0] == "stop"
    with pytest.raises(openai.BadRequestError, match="without streaming"):
        client.chat.completions.create(model=MODEL, messages=messages, stream=True, logprobs=True)


def test_concurrent_streams_share_a_batch(toy, serve):
    from concurrent.futures import ThreadPoolExecutor

    model, tokenizer = toy
    generator = HFGenerator(model, tokenizer)
    url = serve(generator, MODEL, batch_window_s=0.2)
    client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
    prompts = [f"w{i} w{i + 1}" for i in range(4)]

    def ask(prompt: str) -> str:
        stream = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": prompt}],
                                                max_tokens=8, temperature=0, stream=True)  # fmt: skip
        return _streamed(stream)[0][0]

    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(ask, prompts))
    alone = [generator.generate([[{"role": "user", "content": p}]], SamplingParams(max_new_tokens=8))[0].text
             for p in prompts]  # fmt: skip
    assert together == alone and max(serve.apps[url].state.batcher.batches) > 1


def test_concurrent_clients_are_batched_and_get_what_they_would_alone(toy, serve):
    from concurrent.futures import ThreadPoolExecutor

    model, tokenizer = toy
    generator = HFGenerator(model, tokenizer)
    url = serve(generator, MODEL)
    batcher = serve.apps[url].state.batcher
    client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
    prompts = [f"w{i} w{i + 1} w{i + 2}" for i in range(12)]

    def ask(prompt: str) -> str:
        messages = [{"role": "user", "content": prompt}]
        return (
            client.chat.completions.create(model=MODEL, messages=messages, max_tokens=5, temperature=0)
            .choices[0]
            .message.content
        )

    with ThreadPoolExecutor(12) as pool:
        together = list(pool.map(ask, prompts))
    params = SamplingParams(max_new_tokens=5)
    alone = [
        generator.generate([[{"role": "user", "content": p}]], params)[0].text for p in prompts
    ]  # one by one
    assert together == alone
    assert max(batcher.batches) > 1 and sum(batcher.batches) == 12  # some requests shared a batch
    with pytest.raises(openai.BadRequestError, match="longer than the model's limit"):
        ask("w1 " * 5000)  # refused alone, before it can fail a batch it shares
