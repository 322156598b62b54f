"""Neural-network building blocks, laid out as PyTorch's ``torch.nn``:

  mathdl.nn.modules     the layer classes, one file per family (linear, conv, pooling, ...)
  mathdl.nn.functional  their functional forms, one file per topic
  mathdl.nn.init        PyTorch's initializations
  mathdl.nn.utils       gradient clipping, parameters_to_vector, rnn packing
  mathdl.nn.parallel    DataParallel (and DistributedDataParallel from mathdl.distributed)

Every layer is reachable as ``mathdl.nn.<Name>``.
"""

from . import functional, init, modules, utils  # noqa: F401
from .modules import *  # noqa: F401,F403
from . import parallel  # noqa: F401,E402
from .parallel import DataParallel  # noqa: F401,E402

