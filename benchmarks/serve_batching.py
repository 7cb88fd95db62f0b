"""`alignlab serve` under concurrent clients: dynamic batching vs one request at a time, in one run.

    .venv/bin/python benchmarks/serve_batching.py [--model NAME] [--clients 16] [--requests 2] [--max-tokens 32]

Starts the server app twice on loopback (batch window 20 ms, and no window: each request alone, as the server
was before batching), sends the same chat requests from --clients threads with the official openai client, and
prints completion tokens per second for each and their ratio. Target: >= 4x with 16 clients on the CPU.
"""

import argparse
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from generation_throughput import PROMPTS  # the same 16 requests (benchmarks/ is on the path when run)


def start_server(app) -> str:
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}/v1"


def measure(url: str, model: str, clients: int, requests: int, max_tokens: int) -> tuple[float, int]:
    import openai

    client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=600)

    def one(i: int) -> int:
        messages = [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]
        response = client.chat.completions.create(
            model=model, messages=messages, max_tokens=max_tokens, temperature=0
        )
        return response.usage.completion_tokens

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        tokens = sum(pool.map(one, range(clients * requests)))
    return time.perf_counter() - start, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=2, help="requests per client")
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()

    from alignlab.generation import HFGenerator
    from alignlab.generation.server import create_app
    from alignlab.models import load_model

    generator = HFGenerator(*load_model(args.model), batch_size=32)
    batched = create_app(generator, args.model, batch_window_s=0.02)
    alone = create_app(generator, args.model, batch_window_s=0.0)
    alone.state.batcher.max_batch = 1  # one request at a time, as before batching
    urls = {"one at a time": start_server(alone), "batched (20 ms window)": start_server(batched)}
    measure(urls["batched (20 ms window)"], args.model, 2, 1, 4)  # warm-up
    results = {}
    for name, url in urls.items():
        seconds, tokens = measure(url, args.model, args.clients, args.requests, args.max_tokens)
        results[name] = tokens / seconds
        print(f"{name:>24}: {tokens} tokens in {seconds:.1f} s = {tokens / seconds:.1f} tokens/s", flush=True)
    batches = batched.state.batcher.batches
    print(
        f"batched: {len(batches)} batches, mean {sum(batches) / len(batches):.1f} requests' prompts per batch"
    )
    ratio = results["batched (20 ms window)"] / results["one at a time"]
    print(f"{args.clients} clients: batched / one at a time = {ratio:.2f}x (target >= 4x)")


if __name__ == "__main__":
    main()
