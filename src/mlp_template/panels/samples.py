"""The next token: words the network writes one character at a time (TEXT tab), from the untrained network's noise
to names, one line per epoch, every line so far in one table."""

import lightning as L
import torch

from mlp_template.panels import Panel, tensorboards
from mlp_template.serving.generation import longest_word, sample_words


class SampledWords(Panel):
    """``sampled_words``: ``num`` words on a line, written by the untrained network before the first step and again
    after every epoch, drawn with the same ``seed`` every time, so what changes from one line to the next is the
    network, not the luck of the draw. Step ``n`` holds a table of the lines after 0 to ``n`` epochs: the newest
    entry, which TensorBoard shows first, holds the whole change on one screen."""

    def __init__(self, num: int = 8, seed: int = 0) -> None:
        self.num, self.seed = num, seed
        self.lines: list[str] = []  # the table's rows so far, kept in checkpoints so a resumed run continues it

    def applies_to(self, data: dict) -> bool:
        return data["task"] == "next_token"

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # A new run: the noise of the initial weights. A resume: its weights again, as the logger dropped that step.
        self.write(trainer, pl_module, epochs_done=trainer.current_epoch)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.write(trainer, pl_module, epochs_done=trainer.current_epoch + 1)

    def write(self, trainer: L.Trainer, pl_module: L.LightningModule, epochs_done: int) -> None:
        """Add a row for the network after ``epochs_done`` epochs, and write the table at that step."""
        writers = tensorboards(trainer)
        if not writers:
            return
        data, training = pl_module.hparams.data, pl_module.training
        pl_module.eval()  # no dropout while it writes: the words of the weights as they are
        with torch.no_grad():
            words = sample_words(pl_module.model, data["vocab"], data["input_shape"][0], self.num,
                                 torch.Generator().manual_seed(self.seed), max_length=longest_word(data))
        pl_module.train(training)
        del self.lines[epochs_done:]  # a resume rewrites its first row
        self.lines.append(f"| {epochs_done} | " + " ".join(f"`{word}`" for word in words) + " |")
        table = "\n".join(["| epochs trained | words |", "|---:|---|", *self.lines])  # 0: untrained, noise
        for writer in writers:
            writer.add_text("sampled_words", table, epochs_done)

    def state_dict(self) -> dict[str, list[str]]:
        return {"lines": self.lines}

    def load_state_dict(self, state_dict: dict[str, list[str]]) -> None:
        self.lines = list(state_dict["lines"])
