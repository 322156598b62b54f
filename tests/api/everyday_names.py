"""A fixed list of PyTorch's everyday names, by namespace: what a user porting a program reaches for.

Chosen from PyTorch's documentation index pages (the names that tutorials, the official examples
and common model code use), not from ``dir(torch)`` (which is mostly internals).  The coverage test
counts how many exist in mathdl after ``import mathdl`` alone.
"""

TOP = """
tensor as_tensor from_numpy zeros ones empty full zeros_like ones_like empty_like full_like rand randn randint
randperm rand_like randn_like randint_like arange linspace logspace eye manual_seed seed initial_seed get_rng_state
set_rng_state Generator no_grad enable_grad set_grad_enabled is_grad_enabled inference_mode is_tensor
is_floating_point numel float32 float64 float16 bfloat16 int8 int16 int32 int64 uint8 bool long float double half
int short get_default_dtype set_default_dtype finfo iinfo device dtype cat concat stack hstack vstack dstack split
chunk unbind reshape squeeze unsqueeze flatten unflatten permute transpose swapaxes movedim narrow
select index_select masked_select gather scatter scatter_add take take_along_dim where nonzero argwhere tile
repeat_interleave
broadcast_to broadcast_tensors flip fliplr flipud roll rot90 tril triu diag diagonal diag_embed trace
kron tensordot einsum matmul mm bmm mv dot outer addmm baddbmm cross cdist cumsum cumprod cummax cummin logcumsumexp
diff sum mean std var prod max min amax amin argmax argmin median quantile nanmean nansum norm dist logsumexp
all any count_nonzero sort argsort topk kthvalue unique unique_consecutive searchsorted bucketize bincount histc
abs neg sign sgn exp exp2 expm1 log log2 log10 log1p sqrt rsqrt square pow float_power sin cos tan asin acos atan
atan2 sinh cosh tanh asinh acosh atanh sigmoid erf erfc erfinv lgamma digamma polygamma floor ceil round trunc frac
fmod remainder clamp clip maximum minimum fmax fmin lerp logaddexp hypot reciprocal isnan isinf isfinite
nan_to_num isclose allclose equal eq ne lt le gt ge logical_and logical_or logical_not logical_xor bitwise_and
bitwise_or bitwise_xor add sub mul div true_divide floor_divide relu softmax log_softmax dropout meshgrid
multinomial bernoulli poisson normal save load det logdet slogdet inverse pinverse svd qr cholesky matrix_exp
matrix_power clone detach chain_matmul block_diag cartesian_prod combinations tril_indices triu_indices
std_mean var_mean rsub addcmul addcdiv heaviside signbit copysign deg2rad rad2deg
""".split()

TENSOR = """
shape dtype device requires_grad grad grad_fn is_leaf ndim data T mT size dim numel nelement element_size item
tolist numpy cpu cuda to type float double half long int bool byte short clone detach detach_ requires_grad_
backward retain_grad register_hook contiguous is_contiguous stride view view_as reshape reshape_as flatten
unflatten squeeze unsqueeze permute transpose t expand expand_as repeat repeat_interleave flip roll chunk split
unbind narrow select index_select masked_fill masked_fill_ masked_select gather scatter scatter_ scatter_add
scatter_add_ index_add index_add_ index_copy_ index_fill_ nonzero unique sort argsort topk sum mean std var prod
max min amax amin argmax argmin cumsum cumprod norm logsumexp softmax log_softmax all any abs neg exp log log1p
sqrt rsqrt pow sin cos tanh sigmoid relu clamp clamp_ clip floor ceil round trunc frac sign add sub mul div
add_ sub_ mul_ div_ pow_ zero_ fill_ copy_ uniform_ normal_ bernoulli_ exponential_ random_ eq ne lt le gt ge
matmul mm bmm dot diag diagonal tril triu trace new_zeros new_ones new_full new_tensor new_empty type_as
isnan isinf isfinite where lerp maximum minimum median
""".split()

NN = """
Module Sequential ModuleList ModuleDict ParameterList ParameterDict Parameter Identity Linear Bilinear LazyLinear
Conv1d Conv2d Conv3d ConvTranspose1d ConvTranspose2d ConvTranspose3d MaxPool1d MaxPool2d MaxPool3d AvgPool1d
AvgPool2d AvgPool3d AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveMaxPool1d AdaptiveMaxPool2d BatchNorm1d BatchNorm2d
BatchNorm3d LayerNorm GroupNorm InstanceNorm1d InstanceNorm2d RMSNorm LocalResponseNorm Dropout Dropout2d
AlphaDropout Embedding EmbeddingBag RNN LSTM GRU RNNCell LSTMCell GRUCell Transformer TransformerEncoder
TransformerDecoder TransformerEncoderLayer TransformerDecoderLayer MultiheadAttention ReLU ReLU6 LeakyReLU PReLU
RReLU ELU SELU CELU GELU SiLU Mish Sigmoid Tanh Softmax LogSoftmax Softmin Softplus Softsign Hardtanh Hardsigmoid
Hardswish Hardshrink Softshrink Tanhshrink Threshold GLU LogSigmoid Flatten Unflatten Upsample PixelShuffle
PixelUnshuffle Fold Unfold ZeroPad2d ConstantPad2d ReflectionPad2d ReplicationPad2d CosineSimilarity
PairwiseDistance CrossEntropyLoss NLLLoss MSELoss L1Loss SmoothL1Loss HuberLoss BCELoss BCEWithLogitsLoss KLDivLoss
CTCLoss PoissonNLLLoss GaussianNLLLoss MarginRankingLoss HingeEmbeddingLoss CosineEmbeddingLoss MultiMarginLoss
MultiLabelMarginLoss MultiLabelSoftMarginLoss SoftMarginLoss TripletMarginLoss init functional utils
""".split()

FUNCTIONAL = """
linear bilinear conv1d conv2d conv3d conv_transpose1d conv_transpose2d max_pool1d max_pool2d max_pool3d avg_pool1d
avg_pool2d avg_pool3d adaptive_avg_pool1d adaptive_avg_pool2d adaptive_max_pool1d adaptive_max_pool2d
batch_norm layer_norm group_norm instance_norm rms_norm local_response_norm normalize dropout dropout2d
alpha_dropout embedding embedding_bag one_hot pad interpolate upsample pixel_shuffle pixel_unshuffle unfold fold
grid_sample affine_grid relu relu6 leaky_relu prelu rrelu elu selu celu gelu silu mish sigmoid tanh softmax
log_softmax softmin softplus softsign hardtanh hardsigmoid hardswish hardshrink softshrink tanhshrink threshold
glu logsigmoid cosine_similarity pairwise_distance pdist cross_entropy nll_loss mse_loss l1_loss smooth_l1_loss
huber_loss binary_cross_entropy binary_cross_entropy_with_logits kl_div ctc_loss poisson_nll_loss gaussian_nll_loss
margin_ranking_loss hinge_embedding_loss cosine_embedding_loss multi_margin_loss multilabel_margin_loss
multilabel_soft_margin_loss soft_margin_loss triplet_margin_loss scaled_dot_product_attention gumbel_softmax
""".split()

INIT = """
uniform_ normal_ constant_ ones_ zeros_ eye_ dirac_ xavier_uniform_ xavier_normal_ kaiming_uniform_ kaiming_normal_
trunc_normal_ orthogonal_ sparse_ calculate_gain
""".split()

OPTIM = """
Optimizer SGD Adam AdamW RMSprop Adagrad Adadelta Adamax NAdam RAdam Rprop ASGD LBFGS lr_scheduler
""".split()

LR_SCHEDULER = """
LRScheduler StepLR MultiStepLR ExponentialLR CosineAnnealingLR CosineAnnealingWarmRestarts ReduceLROnPlateau
OneCycleLR CyclicLR LinearLR ConstantLR LambdaLR MultiplicativeLR PolynomialLR SequentialLR ChainedScheduler
""".split()

LINALG = """
norm vector_norm matrix_norm diagonal det slogdet cond matrix_rank cholesky qr lu lu_factor lu_solve eig eigvals
eigh eigvalsh svd svdvals solve solve_triangular lstsq inv pinv matrix_exp matrix_power cross matmul vecdot
multi_dot householder_product tensorinv tensorsolve cholesky_ex inv_ex solve_ex lu_factor_ex vander
""".split()

SPECIAL = """
airy_ai bessel_j0 bessel_j1 digamma entr erf erfc erfcx erfinv exp2 expit expm1 gammainc gammaincc gammaln i0 i0e
i1 i1e log1p log_ndtr log_softmax logit logsumexp multigammaln ndtr ndtri polygamma psi round sinc softmax xlog1py
xlogy zeta
""".split()

AUTOGRAD = """
grad backward Function gradcheck gradgradcheck functional
""".split()

AUTOGRAD_FUNCTIONAL = """
jacobian hessian vjp jvp hvp vhp
""".split()

DATA = """
Dataset TensorDataset DataLoader Subset ConcatDataset random_split Sampler SequentialSampler RandomSampler
SubsetRandomSampler WeightedRandomSampler BatchSampler IterableDataset default_collate
""".split()

DISTRIBUTIONS = """
Distribution Normal LogNormal HalfNormal MultivariateNormal LowRankMultivariateNormal Independent Uniform Laplace
Cauchy Exponential Gamma Chi2 Beta Dirichlet StudentT Bernoulli Binomial Categorical OneHotCategorical Multinomial
Poisson Geometric MixtureSameFamily RelaxedBernoulli RelaxedOneHotCategorical TransformedDistribution kl_divergence
register_kl constraints transforms
""".split()
