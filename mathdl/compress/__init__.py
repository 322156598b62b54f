"""Compression of networks by linear algebra: low-rank (SVD) layers, Tucker/CP decompositions of
convolutions, tensor-train layers, matrix-product-state classifiers and knowledge distillation.

  svd            svd_compress, LowRankLinear, choose_rank
  tucker         tucker (HOSVD + HOOI), cp_als, tucker_conv2d, cp_conv2d, tucker_compress
  tensor_train   tt_svd, tt_to_full, TTLinear, TTEmbedding
  mps            MPSClassifier (Stoudenmire & Schwab 2016)
  distill        distill (train a student on a teacher's softened outputs)
  training       fit / accuracy: the small training loop used for fine-tuning
"""

from __future__ import annotations

from .distill import distill
from .mps import MPSClassifier
from .svd import LayerReport, LowRankLinear, choose_rank, svd_compress
from .tensor_train import TTEmbedding, TTLinear, tt_svd, tt_to_full
from .training import accuracy, fit
from .tucker import cp_als, cp_conv2d, hosvd, tucker, tucker_compress, tucker_conv2d

__all__ = [
    "distill", "MPSClassifier", "LayerReport", "LowRankLinear", "choose_rank", "svd_compress", "TTEmbedding",
    "TTLinear", "tt_svd", "tt_to_full", "accuracy", "fit", "cp_als", "cp_conv2d", "hosvd", "tucker",
    "tucker_compress", "tucker_conv2d",
]
