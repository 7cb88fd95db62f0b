import socket
import threading
import time

import pytest
import torch

from alignlab.data.synthetic import MarkovLanguage
from alignlab.models import TOY_MODELS, build_toy_model, load_model, toy_tokenizer
from alignlab.training import TrainConfig, causal_lm_step, train


@pytest.fixture(scope="session")
def toy_tokenizer_():
    return toy_tokenizer()


@pytest.fixture(scope="session")
def toy(toy_tokenizer_):
    """A 2-layer toy Llama trained for a few seconds on the default Markov language, so that it answers
    with words of the language rather than random special tokens."""
    model = build_toy_model(TOY_MODELS["toy-llama-tiny"], toy_tokenizer_, seed=0)
    language = MarkovLanguage()
    offset = toy_tokenizer_.convert_tokens_to_ids(language.words[0])
    ids = torch.from_numpy(language.sample(60 * 16, 32, seed=0) + offset)
    batches = ({"input_ids": chunk} for chunk in ids.split(16))
    train(model, causal_lm_step, batches, TrainConfig(steps=60, lr=3e-3, log_every=60))
    return model.eval(), toy_tokenizer_


@pytest.fixture(scope="session")
def embedded():
    """The embedded SmolLM2-135M (converted on first use, then loaded from the cache)."""
    return load_model()


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def serve():
    """``serve(generator, model_name) -> base URL``: ``alignlab serve``'s app over real loopback HTTP, stopped
    at the end of the session; ``serve.apps[url]`` is the app behind a URL."""
    import uvicorn

    from alignlab.generation.server import create_app

    servers = []

    def start(generator, model_name: str, **app_options) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        app = create_app(generator, model_name, **app_options)
        start.apps[f"http://127.0.0.1:{port}/v1"] = app
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.time() + 20
        while not server.started:
            assert time.time() < deadline, "server did not start"
            time.sleep(0.05)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}/v1"

    start.apps = {}  # URL -> the app, for tests that look inside (e.g. at its batches)
    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def free_port() -> int:
    """A loopback port free at the time of asking."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
