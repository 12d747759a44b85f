"""The data: bundled digits split deterministically, MNIST-format files read through torchvision, sharding."""

import pytest
import torch
from hydra.utils import instantiate
from torch.utils.data import DistributedSampler, TensorDataset

from mlp_template.data import DatasetNotFoundError
from mlp_template.data.datamodule import BatchIndices
from mlp_template.data.images import DigitsDataModule, TorchvisionDataModule
from tests.conftest import compose_config, run_train


def test_digits_splits_are_disjoint_fixed_and_normalised(tmp_path) -> None:
    first: DigitsDataModule = instantiate(compose_config(tmp_path).data)
    second: DigitsDataModule = instantiate(compose_config(tmp_path, "seed=7").data)
    first.setup("fit"), second.setup("fit")
    sizes = {name: len(split) for name, split in first.splits.items()}
    assert sizes == {"train": 1257, "val": 180, "test": 360}
    # Another training seed, the same test images: runs stay comparable.
    for name in sizes:
        assert torch.equal(first.splits[name].tensors[0], second.splits[name].tensors[0])
    rows = {name: {tuple(x.flatten().tolist()) for x in split.tensors[0]} for name, split in first.splits.items()}
    assert len(rows["train"] & rows["test"]) < 5  # the digits hold a few exact duplicate images, no more
    x = first.splits["train"].tensors[0]
    assert abs(x.mean().item()) < 0.05 and abs(x.std().item() - 1) < 0.05


def test_batches_shard_like_distributed_sampler_and_reshuffle_each_epoch() -> None:
    dataset = TensorDataset(torch.arange(103).float(), torch.arange(103))
    shards = []
    for rank in range(2):
        batches = BatchIndices(DistributedSampler(dataset, num_replicas=2, rank=rank, seed=3), batch_size=16)
        shards.append(torch.cat(list(batches)))
        assert len(batches) == len(list(batches)) == 4  # 52 indices per rank -> 16+16+16+4
    assert set(shards[0].tolist()) | set(shards[1].tolist()) == set(range(103))
    assert len(set(shards[0].tolist()) & set(shards[1].tolist())) <= 1  # padding repeats one index to even out
    batches = BatchIndices(DistributedSampler(dataset, num_replicas=1, rank=0, seed=3), batch_size=16)
    epoch0 = torch.cat(list(batches))
    batches.set_epoch(1)
    assert not torch.equal(epoch0, torch.cat(list(batches)))
    batches.set_epoch(0)
    assert torch.equal(epoch0, torch.cat(list(batches)))


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_torchvision_datasets_load_from_idx_files(tmp_path, idx_root, dataset: str) -> None:
    data: TorchvisionDataModule = instantiate(
        compose_config(tmp_path, f"data={dataset}", f"data.root={idx_root}", "data.val_size=100").data
    )
    data.prepare_data()
    data.setup("fit")
    x, y = data.splits["train"].tensors
    assert x.shape == (500, 1, 28, 28) and y.shape == (500,)
    assert len(data.splits["val"]) == 100 and len(data.splits["test"]) == 100
    assert data.input_shape == (1, 28, 28) and data.output_size == 10
    # The bright band written for each label is where the label says: the files were decoded, not made up.
    band_rows = x[:, 0].mean(dim=2).argmax(dim=1)
    assert torch.all((band_rows >= 2 * y) & (band_rows <= 2 * y + 2))


def test_missing_mnist_files_name_the_place_to_put_them(tmp_path) -> None:
    data: TorchvisionDataModule = instantiate(compose_config(tmp_path, "data=mnist", f"data.root={tmp_path}").data)
    with pytest.raises(DatasetNotFoundError, match=r"MNIST files not found in .*MNIST/raw.*download=true"):
        data.prepare_data()


def test_train_py_without_mnist_files_fails_in_one_clear_line(tmp_path) -> None:
    result = run_train(tmp_path / "run", "data=mnist", f"data.root={tmp_path / 'empty'}")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "train-images-idx3-ubyte" in errors[0] and "data.download=true" in errors[0]


def test_train_py_trains_on_mnist_files(tmp_path, idx_root) -> None:
    run_dir = tmp_path / "run"
    result = run_train(run_dir, "data=mnist", f"data.root={idx_root}", "data.val_size=100", "epochs=3")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "test/acc" in result.stdout
    accuracy = float(result.stdout.split("test/acc")[1].split()[0])
    assert accuracy > 0.5  # the bands make the classes learnable; chance is 0.1
