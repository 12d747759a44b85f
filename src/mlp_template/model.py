"""The network: input layer -> hidden layers -> output layer. Its weights are the network's memory.

A plain ``nn.Module`` with no training code, so anyone can reuse it.
"""

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
    """A multi-layer perceptron whose layers are named ``hidden1``, ``hidden2``, ..., ``output``."""

    def __init__(
        self,
        input_size: int,
        hidden_sizes: list[int],
        output_size: int,
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        width = input_size  # the input layer is the raw data itself: one number per pixel
        for i, size in enumerate(hidden_sizes, start=1):
            layers[f"hidden{i}"] = hidden_layer(width, size, activation, dropout, batch_norm)
            width = size
        # No activation after the output layer: it emits logits, and cross_entropy applies log-softmax itself.
        layers["output"] = nn.Linear(width, output_size)
        self.layers = nn.Sequential(layers)

    def forward(self, x: Tensor) -> Tensor:
        """The forward pass: images in, one logit per class out."""
        x = x.flatten(1)  # (batch, 1, H, W) -> (batch, H*W): the input layer
        return self.layers(x)  # (batch, output_size)
