"""Word-level tokenizers for synthetic tasks, built with the ``tokenizers`` library.

One token per whitespace-separated word, a few special tokens, and a minimal chat template, so that toy
models go through exactly the same code paths (chat formatting, padding, generation, serving) as real ones.
"""

from collections.abc import Sequence

from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import WhitespaceSplit
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ("<pad>", "<unk>", "<bos>", "<eos>")
ROLE_TOKENS = ("<system>", "<user>", "<assistant>")

# "<user> hello <eos> <assistant>" — each turn is its role token, the content, then <eos>.
CHAT_TEMPLATE = (
    "{% for message in messages %}<{{ message['role'] }}> {{ message['content'] }} <eos> {% endfor %}"
    "{% if add_generation_prompt %}<assistant> {% endif %}"
)


def word_tokenizer(words: Sequence[str]) -> PreTrainedTokenizerFast:
    """A tokenizer whose vocabulary is the special tokens, the role tokens, then ``words`` in order."""
    vocab_list = [*SPECIAL_TOKENS, *ROLE_TOKENS, *words]
    if len(set(vocab_list)) != len(vocab_list):
        raise ValueError("word_tokenizer: words must be unique and must not repeat a special token")
    backend = Tokenizer(WordLevel({token: i for i, token in enumerate(vocab_list)}, unk_token="<unk>"))
    backend.pre_tokenizer = WhitespaceSplit()
    backend.add_special_tokens([*SPECIAL_TOKENS, *ROLE_TOKENS])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", unk_token="<unk>", bos_token="<bos>", eos_token="<eos>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
