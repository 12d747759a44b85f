"""New words from a next-token network: predict the next character, draw one from its probabilities, append it,
and again, until the end mark. The TEXT panel (panels/samples.py) and ``generate.py`` both write with it.
"""

import torch
from torch import nn

from mlp_template.data.vocabulary import cased, decode, encode, unknown_characters
from mlp_template.errors import UserError
from mlp_template.runs.config import POSITIVE, POSITIVE_INT, SEED, ConfigError
from mlp_template.runs.run import served_run

OPTIONAL_INT = (lambda v: v is None or POSITIVE_INT[0](v), "an integer >= 1, or null (the longest training word)")


@torch.no_grad()
def sample_words(
    network: nn.Module,
    vocab: str,
    context: int,
    num: int,
    generator: torch.Generator,
    prefix: str = "",
    temperature: float = 1.0,
    max_length: int = 30,
) -> list[str]:
    """``num`` words, each ``prefix`` and then the characters drawn one at a time until the end mark (or
    ``max_length``). A lower ``temperature`` sharpens the probabilities (more common names), a higher one flattens
    them. The draws come from ``generator`` on the CPU: the same seed gives the same words on any device."""
    device = next(network.parameters()).device
    tokens = torch.tensor([[0] * context + encode(prefix, vocab)] * num)  # start marks, then the prefix
    done = torch.zeros(num, dtype=torch.bool)
    for _ in range(max_length - len(prefix)):
        logits = network(tokens[:, -context:].to(device)).float().cpu()
        following = torch.multinomial((logits / temperature).softmax(dim=1), 1, generator=generator).squeeze(1)
        following[done] = 0  # a finished word stays finished
        tokens = torch.cat([tokens, following[:, None]], dim=1)
        done |= following == 0
        if done.all():
            break
    return [decode(row[context:], vocab) for row in tokens.tolist()]


def generate(ckpt_path: str, num: int, prefix: str, temperature: float, seed: int, max_length: int | None) -> list[str]:
    """Print and return ``num`` words sampled from the checkpoint's network (a run of ``data=words`` or ``names``);
    ``max_length`` None: as long as the longest training word."""
    for key, value, (check, allowed) in (("num", num, POSITIVE_INT), ("temperature", temperature, POSITIVE),
                                         ("max_length", max_length, OPTIONAL_INT), ("seed", seed, SEED)):
        if not check(value):
            raise ConfigError(f"{key}={value}: must be {allowed}")
    run = served_run(ckpt_path)
    data = run.data
    if data["task"] != "next_token":
        raise UserError(f"ckpt_path={run.path}: a {data['task']} network, which writes no words; "
                        "generate.py samples from a next-token run (python train.py data=words data.path=...)")
    vocab = data["vocab"]
    prefix = str(prefix or "")
    prefix = prefix if cased(vocab) else prefix.lower()  # a cased vocabulary keeps the prefix's capitals
    if unknown := unknown_characters(prefix, vocab):
        raise ConfigError(f"prefix={prefix}: {', '.join(map(repr, unknown))} never occurs in the training words; "
                          f"they hold: {vocab[1:]}")
    max_length = max_length or longest_word(data)
    if len(prefix) >= max_length:
        raise ConfigError(f"prefix={prefix}: as long as max_length={max_length} or longer; nothing left to write")
    network = run.network(run.config.model)
    # One character per step for all the words: steps too small to share among threads, whose hand-offs cost more
    # than the work (on a busy machine, 0.7 s instead of 2 ms for five words: docs/speed.md).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        words = sample_words(network, vocab, data["input_shape"][0], num, torch.Generator().manual_seed(seed), prefix,
                             temperature, max_length)
    finally:
        torch.set_num_threads(threads)
    print("\n".join(words))
    return words


def longest_word(data: dict) -> int:
    """How long a written word may grow by default: the longest training word (30 for a checkpoint that does not
    say)."""
    return data.get("longest_word") or 30
