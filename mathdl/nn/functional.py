"""``mathdl.nn.functional`` (import as ``F``): the functional forms of layers, activations and
losses.  Each family is defined next to its mathematics and re-exported here."""

from ..ops.attention import *  # noqa: F401,F403  scaled_dot_product_attention
from ..ops.conv import *  # noqa: F401,F403  conv1d/2d, conv_transpose2d, pooling, group_norm, interpolate
from .functional_core import *  # noqa: F401,F403  linear, dropout, norms, embedding, activations
from .loss_functions import *  # noqa: F401,F403  every loss
