"""Characters <-> token ids, for the words networks (data/text.py) and what writes with them (generate.py, the TEXT
panel). Plain strings and lists, no Lightning: a checkpoint's vocabulary is all serving needs."""

from torch import Tensor

END = "\n"  # token 0, before a word's first character and after its last: a line break, which no line holds


def vocabulary(words: list[str]) -> str:
    """The end mark, then every character the words hold, in order: a character's token id is its index."""
    return END + "".join(sorted(set("".join(words))))


def encode(text: str, vocab: str) -> list[int]:
    """Characters -> token ids (their index in ``vocab``)."""
    return [vocab.index(character) for character in text]


def decode(ids: list[int] | Tensor, vocab: str) -> str:
    """Token ids -> the characters they stand for, up to the first end mark (token 0)."""
    ids = [int(i) for i in ids]
    return "".join(vocab[i] for i in ids[: ids.index(0) if 0 in ids else len(ids)])


def cased(vocab: str) -> bool:
    """Whether the words kept their capitals (``data.lower=false`` on words that have some)."""
    return any(character.isupper() for character in vocab)


def unknown_characters(text: str, vocab: str) -> list[str]:
    """The characters of ``text`` no training word holds (the end mark is none of theirs)."""
    return sorted({character for character in text if character not in vocab[1:]})
