"""The next token, once per epoch: words the network writes one character at a time (TEXT tab), so a learner
watches them turn from noise into names."""

import lightning as L
import torch

from mlp_template.panels import Panel, tensorboards
from mlp_template.serving.generation import longest_word, sample_words


class SampledWords(Panel):
    """``sampled_words``: ``num`` words per epoch, drawn with the same ``seed`` every epoch, so what changes from
    one epoch to the next is the network, not the luck of the draw."""

    def __init__(self, num: int = 8, seed: int = 0) -> None:
        self.num, self.seed = num, seed

    def applies_to(self, data: dict) -> bool:
        return data["task"] == "next_token"

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        writers = tensorboards(trainer)
        if trainer.sanity_checking or not writers:
            return
        data = pl_module.hparams.data
        words = sample_words(pl_module.model, data["vocab"], data["input_shape"][0], self.num,
                             torch.Generator().manual_seed(self.seed), max_length=longest_word(data))
        for writer in writers:  # markdown: one word per line
            writer.add_text("sampled_words", "  \n".join(f"`{word}`" for word in words), trainer.current_epoch)
