"""Words -> the next token: a character-level language model of the US census's names (the ``names`` package).

One example is the previous ``context`` characters of a word -> the character that follows. Every word starts
with ``context`` marks and ends with one, so the network also learns how words begin and end; the mark is ".",
which no name holds. The words are split into train/val/test, not the examples, so no validation word is seen in
training.
"""

from importlib import resources

import torch
from torch import Tensor

from mlp_template.data import Split, frequency_baseline, split_sizes, split_three_ways
from mlp_template.data.datamodule import InMemoryDataModule

MARK = "."  # before a word's first character and after its last: token 0
LISTS = {"first_names": ("dist.male.first", "dist.female.first"), "surnames": ("dist.all.last",)}


class NamesDataModule(InMemoryDataModule):
    """The census's first names (5,494 in two lists; about 5,000 different) or surnames (88,799), lower-cased."""

    task = "next_token"
    input_dtype = torch.int64  # token ids, for the network's embedding

    def __init__(
        self, corpus: str, context: int, val_size: float, test_size: float, split_seed: int, **kwargs: float
    ) -> None:
        super().__init__(**kwargs)
        self.corpus, self.context = corpus, context
        self.val_size, self.test_size, self.split_seed = val_size, test_size, split_seed
        self.vocab = ""  # MARK, then every character the words hold, in order: a character's token id is its index

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.context,)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def output_size(self) -> int:
        return len(self.vocab)  # one logit per character that can come next

    def preprocessing(self) -> dict:
        return {"vocab": self.vocab}

    def words(self) -> list[str]:
        """The corpus's words, lower-cased, each once, in a fixed order (read from the installed package)."""
        files = resources.files("names")
        lines = [line for name in LISTS[self.corpus] for line in (files / name).read_text().splitlines()]
        return sorted({line.split()[0].lower() for line in lines if line.strip()})

    def load(self) -> dict[str, Split]:
        words = self.words()
        self.vocab = MARK + "".join(sorted(set("".join(words))))
        sizes = split_sizes(len(words), self.val_size, self.test_size, 1, f"data.corpus={self.corpus}", "words")
        splits = split_three_ways(len(words), *sizes, self.split_seed)
        return {name: self.examples_of([words[i] for i in order]) for name, order in splits.items()}

    def examples_of(self, words: list[str]) -> Split:
        """Every (context -> next character) pair of ``words``: ``emma`` gives ``... -> e``, ``..e -> m``, ...,
        ``mma -> .``."""
        contexts, following = [], []
        for word in words:
            ids = [0] * self.context + encode(word, self.vocab) + [0]
            for end in range(self.context, len(ids)):
                contexts.append(ids[end - self.context : end])
                following.append(ids[end])
        return torch.tensor(contexts), torch.tensor(following)

    def baseline(self) -> float:
        """The validation loss of a model that knows only how often each character comes next in the training
        words (nats per character): what the network must beat to have learned anything from the context."""
        return frequency_baseline(self.examples["train"][1], self.examples["val"][1], len(self.vocab))


def encode(text: str, vocab: str) -> list[int]:
    """Characters -> token ids (their index in ``vocab``)."""
    return [vocab.index(character) for character in text]


def decode(ids: list[int] | Tensor, vocab: str) -> str:
    """Token ids -> the characters they stand for."""
    return "".join(vocab[i] for i in ids)
