"""Words -> the next token: a character-level language model of your words (one per line of a text file), or of
the US census's names (the ``names`` package).

One example is the previous ``context`` characters of a word -> the character that follows. Every word starts
with ``context`` end marks and ends with one, so the network also learns how words begin and end; the mark is a
token of its own (vocabulary.py), no character of the words. The words are split into train/val/test, not the
examples, so no validation word is seen in training.
"""

from importlib import resources
from pathlib import Path

import torch

from mlp_template.data import DataError, Split, frequency_baseline, split_sizes, split_three_ways
from mlp_template.data.datamodule import InMemoryDataModule, say
from mlp_template.data.vocabulary import encode, vocabulary

LISTS = {"first_names": ("dist.male.first", "dist.female.first"), "surnames": ("dist.all.last",)}


class WordsDataModule(InMemoryDataModule):
    """Your own words, names, cities or products: one per line of a UTF-8 file (``data.path``), with any
    characters (accents, spaces, hyphens, apostrophes); case folded with ``lower``; each different word once."""

    task = "next_token"
    input_dtype = torch.int64  # token ids, for the network's embedding

    def __init__(self, path: str, lower: bool, context: int, val_size: float, test_size: float, split_seed: int,
                 **kwargs: float) -> None:
        super().__init__(**kwargs)
        self.path, self.lower, self.context = path, lower, context
        self.val_size, self.test_size, self.split_seed = val_size, test_size, split_seed
        self.source = f"data.path={path}"  # how the one-line errors name the words
        self.vocab = ""  # the end mark, then every character the words hold, in order (vocabulary.py)
        self.longest = 0  # characters in the longest training word: how long generate.py lets a word grow

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.context,)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def output_size(self) -> int:
        return len(self.vocab)  # one logit per token that can come next

    def preprocessing(self) -> dict:
        return {"vocab": self.vocab, "longest_word": self.longest}

    def lines(self) -> list[str]:
        """The file's lines, refused in one line if it is missing or not UTF-8 text."""
        path = Path(self.path)
        if not path.is_file():
            raise DataError(f"{self.source}: {'a folder' if path.is_dir() else 'no such file'}; give a text file "
                            "with one word (or name, city, ...) per line")
        raw = path.read_bytes()
        try:
            return raw.decode("utf-8-sig").splitlines()  # -sig: a byte-order mark some editors write is no character
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            raise DataError(f"{self.source}: not UTF-8 text (byte 0x{raw[e.start]:02x} on line {line}); save it as "
                            "UTF-8") from e

    def words(self) -> list[str]:
        """Each different word once, case folded with ``lower``, in a fixed order; blank lines and the spaces
        around a word are no part of it."""
        lines = [line.strip() for line in self.lines()]
        words = sorted({line.lower() if self.lower else line for line in lines if line})
        if len(words) < 2:
            held = f"a single word ({words[0][:40]})" if words else "no words"
            raise DataError(f"{self.source}: holds {held}; a language model learns from many, one per line")
        if repeated := sum(map(bool, lines)) - len(words):
            say(f"{self.source}: {repeated:,} repeated lines counted once")
        return words

    def load(self) -> dict[str, Split]:
        words = self.words()
        self.vocab = vocabulary(words)
        sizes = split_sizes(len(words), self.val_size, self.test_size, 1, self.source, "words")
        splits = {name: [words[i] for i in order] for name, order in split_three_ways(len(words), *sizes,
                                                                                     self.split_seed).items()}
        self.longest = max(map(len, splits["train"]))
        case = "lower-cased (data.lower=false keeps capitals)" if self.lower else "case kept (data.lower=true folds it)"
        say(f"{self.source}: {len(words):,} words of {len(self.vocab) - 1} different characters, {case}; the longest "
            f"training word has {self.longest}")
        return {name: self.examples_of(split) for name, split in splits.items()}

    def examples_of(self, words: list[str]) -> Split:
        """Every (context -> next character) pair of ``words``: ``emma`` gives ``(end end end) -> e``,
        ``(end end e) -> m``, ..., ``mma -> end``."""
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


class NamesDataModule(WordsDataModule):
    """The census's first names (5,494 in two lists; about 5,000 different) or surnames (88,799), read from the
    installed ``names`` package: its lines hold a name, then its frequency and rank."""

    def __init__(self, corpus: str, **kwargs: float) -> None:
        super().__init__(path="", **kwargs)
        self.corpus, self.source = corpus, f"data.corpus={corpus}"

    def lines(self) -> list[str]:
        files = resources.files("names")
        return [line.split()[0] for name in LISTS[self.corpus] for line in (files / name).read_text().splitlines()
                if line.strip()]
