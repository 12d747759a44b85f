"""Neural-network training made visible: an MLP, its training loop in Lightning, its configs in Hydra."""

import warnings

# Lightning 2.6.6 (the newest) still builds torch's LeafSpec, which torch 2.14 deprecates: a FutureWarning printed
# twice by every run, about Lightning's code, that no user of this template can act on. Matched narrowly (that
# module, that message) so any other warning still shows; drop it once Lightning stops calling LeafSpec().
warnings.filterwarnings("ignore", r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning,
                        module=r"lightning\.pytorch\.utilities\._pytree")
