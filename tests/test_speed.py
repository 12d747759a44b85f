"""What makes the template fast must not change what it computes (the epoch loss summed on the device), and the
threads follow the network's size."""

import lightning as L
from hydra.utils import instantiate

from mlp_template.hardware import DEFAULT_THREADS, compute_threads
from mlp_template.module import Learner
from mlp_template.training import plain
from tests.conftest import DIGITS, compose_config


class StepLosses(L.Callback):
    """Every training step's loss and batch size, as the step returned them."""

    def __init__(self) -> None:
        self.losses: list[tuple[float, int]] = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.losses.append((outputs["loss"].item(), len(batch[1])))


def test_epoch_loss_is_the_sample_weighted_mean_of_the_step_losses(tmp_path) -> None:
    cfg = compose_config(tmp_path, "batch_size=500", "optimizer=adam", "lr=0.01")  # 1,257 = 500 + 500 + 257
    data = instantiate(cfg.data)
    module = Learner(DIGITS, plain(cfg.model), plain(cfg.optimizer))
    steps = StepLosses()
    trainer = L.Trainer(max_epochs=2, logger=False, callbacks=[steps], enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=1,
                        num_sanity_val_steps=0, use_distributed_sampler=False, accelerator="cpu")
    trainer.fit(module, datamodule=data)
    last_epoch = steps.losses[-3:]
    assert [n for _, n in last_epoch] == [500, 500, 257]
    expected = sum(loss * n for loss, n in last_epoch) / 1257  # the second epoch's: the sum was reset in between
    assert abs(trainer.callback_metrics["train/loss"].item() - expected) < 1e-5


def test_a_small_network_trains_on_one_thread_a_big_one_on_every_core_and_threads_overrides_both(tmp_path) -> None:
    cfg = compose_config(tmp_path)
    small = Learner(DIGITS, plain(cfg.model), plain(cfg.optimizer))  # 64-128-64-10: 17k weights, 3 MFLOP a step
    big = Learner(DIGITS, {**plain(cfg.model), "hidden_sizes": [2048, 2048]}, plain(cfg.optimizer))  # 4.3M weights
    assert compute_threads(None, small, batch_size=32) == 1
    assert compute_threads(None, big, batch_size=64) == DEFAULT_THREADS  # 1.6 GFLOP a step
    assert compute_threads(None, big, batch_size=32) == 1  # 0.83 GFLOP
    assert compute_threads(None, big, batch_size=1) == 1  # 26 MFLOP: too little for a second thread
    assert compute_threads(3, small, batch_size=32) == 3
    assert compose_config(tmp_path, "threads=2").threads == 2  # the knob on the command line
