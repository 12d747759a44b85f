"""The network: input layer -> hidden layers -> output layer. Its weights are the network's memory.

A plain ``nn.Module`` with no training code, so anyone can reuse it. ``build_network`` makes it for the data it
will see: every program (training, checkpoint checks, predict, export, generate) builds it there.
"""

import math
from collections import OrderedDict

from torch import Tensor, nn

# Activation functions a hidden layer may use, by the name written in conf/model/*.yaml.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def hidden_layer(in_size: int, out_size: int, activation: str, dropout: float, batch_norm: bool) -> nn.Sequential:
    """One hidden layer: weights (Linear) -> [BatchNorm] -> activation -> [Dropout]."""
    parts: OrderedDict[str, nn.Module] = OrderedDict(linear=nn.Linear(in_size, out_size))
    if batch_norm:
        parts["norm"] = nn.BatchNorm1d(out_size)
    parts["activation"] = ACTIVATIONS[activation]()
    if dropout > 0:
        parts["dropout"] = nn.Dropout(dropout)
    return nn.Sequential(parts)


class MLP(nn.Module):
    """A multi-layer perceptron whose layers are named ``input``, ``hidden1``, ..., ``output``.

    The input layer takes numbers (pixels, a table's columns) as they are, one input each; or, with
    ``vocab_size``, token ids (characters, words), each looked up in an embedding table of ``embedding_dim``
    learned numbers. Either way the inputs are flattened into one row per example for the hidden layers.
    """

    def __init__(
        self,
        input_shape: list[int] | tuple[int, ...],
        hidden_sizes: list[int],
        output_size: int,
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        vocab_size: int | None = None,
        embedding_dim: int = 16,
    ) -> None:
        super().__init__()
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        # The input layer: one number per pixel or column, or per token its embedding_dim learned numbers; either
        # way flattened, (batch, *input_shape) -> (batch, width).
        width = math.prod(input_shape)
        if vocab_size:
            embedding = nn.Embedding(vocab_size, embedding_dim)
            layers["input"] = nn.Sequential(OrderedDict(embedding=embedding, flatten=nn.Flatten()))
            width *= embedding_dim
        else:
            layers["input"] = nn.Flatten()
        for i, size in enumerate(hidden_sizes, start=1):
            layers[f"hidden{i}"] = hidden_layer(width, size, activation, dropout, batch_norm)
            width = size
        # No activation after the output layer: it gives logits for classes and tokens (cross_entropy applies
        # log-softmax itself), and any number for regression.
        layers["output"] = nn.Linear(width, output_size)
        self.layers = nn.Sequential(layers)

    def forward(self, x: Tensor) -> Tensor:
        """The forward pass: inputs (batch, *input_shape) in, (batch, output_size) out."""
        return self.layers(x)


def build_network(data: dict, model: dict) -> MLP:
    """The MLP for ``data`` (a data module's ``signature()``: its sizes come from the data, never typed twice),
    shaped by ``model`` (conf/model/*.yaml)."""
    return MLP(input_shape=data["input_shape"], output_size=data["output_size"], vocab_size=data["vocab_size"],
               **model)
