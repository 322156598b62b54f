# ruff: noqa: UP008  (the public example's own idioms, kept as written)
"""PyTorch's examples/gat (Graph Attention Network) runs on mathdl with only the import and the data changed.

Kept: ``GraphAttentionLayer`` (``nn.Parameter(torch.empty(size=(...)))``, ``nn.init.xavier_normal_``
on a 3-D tensor, ``torch.mm``, ``view(...).permute(1, 0, 2)``, ``self.a[:, :self.n_hidden, :]``, the
broadcast ``source_scores + target_scores.mT``, ``-9e16 * torch.ones_like(e)``,
``torch.where(adj_mat > 0, e, connectivity_mask)``, ``F.dropout(..., training=self.training)``,
concatenated or averaged heads), ``GAT`` (ELU between the layers, ``F.log_softmax``), and the
training (``torch.randperm`` splits used as index masks, Adam with ``weight_decay``, NLLLoss,
``(output.argmax(dim=1) == target).float().sum() / len(target)``).  Changed: Cora becomes a
stochastic-block-model graph with class-dependent features made here, and the sizes shrink.

With dropout 0 and the same split (``randperm`` fed from NumPy in both runs) the run is compared with
PyTorch's from the same initial weights.
"""

import types

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")


def block_graph(n=60, classes=3, features=12, seed=0):
    """A stochastic block model: edges 0.25 within a class, 0.02 across; features a class mean plus noise;
    self-loops on the diagonal, as load_cora sets them."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    p = np.where(labels[:, None] == labels[None, :], 0.25, 0.02)
    adj = np.triu(rng.random((n, n)) < p, 1)
    adj = (adj | adj.T | np.eye(n, dtype=bool)).astype(np.float32)
    means = rng.standard_normal((classes, features))
    x = (means[labels] + 1.5 * rng.standard_normal((n, features))).astype(np.float32)
    return x, adj, labels


def gat_main(torch, epochs=30, dropout_p=0.6, concat_heads=False, copy_from=None):
    nn = torch.nn
    F = torch.nn.functional
    Adam = torch.optim.Adam
    log, history = [], []

    def print(*args):  # the example prints; the test keeps the lines
        log.append(" ".join(str(a) for a in args))

    class GraphAttentionLayer(nn.Module):
        """
        Graph Attention Layer (GAT) as described in the paper `"Graph Attention Networks" <https://arxiv.org/pdf/1710.10903.pdf>`.

            This operation can be mathematically described as:

                e_ij = a(W h_i, W h_j)
                α_ij = softmax_j(e_ij) = exp(e_ij) / Σ_k(exp(e_ik))
                h_i' = σ(Σ_j(α_ij W h_j))
        """
        def __init__(self, in_features: int, out_features: int, n_heads: int, concat: bool = False, dropout: float = 0.4, leaky_relu_slope: float = 0.2):  # noqa: E501
            super(GraphAttentionLayer, self).__init__()

            self.n_heads = n_heads # Number of attention heads
            self.concat = concat # wether to concatenate the final attention heads
            self.dropout = dropout # Dropout rate

            if concat: # concatenating the attention heads
                self.out_features = out_features # Number of output features per node
                assert out_features % n_heads == 0 # Ensure that out_features is a multiple of n_heads
                self.n_hidden = out_features // n_heads
            else: # averaging output over the attention heads (Used in the main paper)
                self.n_hidden = out_features

            #  A shared linear transformation, parametrized by a weight matrix W is applied to every node
            #  Initialize the weight matrix W
            self.W = nn.Parameter(torch.empty(size=(in_features, self.n_hidden * n_heads)))

            # create the parameters for the attention mechanism
            self.a = nn.Parameter(torch.empty(size=(n_heads, 2 * self.n_hidden, 1)))

            self.leakyrelu = nn.LeakyReLU(leaky_relu_slope) # LeakyReLU activation function
            self.softmax = nn.Softmax(dim=1) # softmax activation function to the attention coefficients

            self.reset_parameters() # Reset the parameters

        def reset_parameters(self):
            """
            Reinitialize learnable parameters.
            """
            nn.init.xavier_normal_(self.W)
            nn.init.xavier_normal_(self.a)

        def _get_attention_scores(self, h_transformed: torch.Tensor):
            """calculates the attention scores e_ij for all pairs of nodes (i, j) in the graph
            in vectorized parallel form. for each pair of source node (i) and target node (j),
            the score e_ij is computed as follows:

                e_ij = LeakyReLU(a^T [Wh_i || Wh_j])
            """

            source_scores = torch.matmul(h_transformed, self.a[:, :self.n_hidden, :])
            target_scores = torch.matmul(h_transformed, self.a[:, self.n_hidden:, :])

            # broadcast add
            # (n_heads, n_nodes, 1) + (n_heads, 1, n_nodes) = (n_heads, n_nodes, n_nodes)
            e = source_scores + target_scores.mT
            return self.leakyrelu(e)

        def forward(self,  h: torch.Tensor, adj_mat: torch.Tensor):
            """
            Performs a graph attention layer operation.
            """
            n_nodes = h.shape[0]

            # Apply linear transformation to node feature -> W h
            # output shape (n_nodes, n_hidden * n_heads)
            h_transformed = torch.mm(h, self.W)
            h_transformed = F.dropout(h_transformed, self.dropout, training=self.training)

            # splitting the heads by reshaping the tensor and putting heads dim first
            # output shape (n_heads, n_nodes, n_hidden)
            h_transformed = h_transformed.view(n_nodes, self.n_heads, self.n_hidden).permute(1, 0, 2)

            # getting the attention scores
            # output shape (n_heads, n_nodes, n_nodes)
            e = self._get_attention_scores(h_transformed)

            # Set the attention score for non-existent edges to -9e15 (MASKING NON-EXISTENT EDGES)
            connectivity_mask = -9e16 * torch.ones_like(e)
            e = torch.where(adj_mat > 0, e, connectivity_mask) # masked attention scores

            # attention coefficients are computed as a softmax over the rows
            # for each column j in the attention score matrix e
            attention = F.softmax(e, dim=-1)
            attention = F.dropout(attention, self.dropout, training=self.training)

            # final node embeddings are computed as a weighted average of the features of its neighbors
            h_prime = torch.matmul(attention, h_transformed)

            # concatenating/averaging the attention heads
            # output shape (n_nodes, out_features)
            if self.concat:
                h_prime = h_prime.permute(1, 0, 2).contiguous().view(n_nodes, self.out_features)
            else:
                h_prime = h_prime.mean(dim=0)

            return h_prime

    class GAT(nn.Module):
        def __init__(self,
            in_features,
            n_hidden,
            n_heads,
            num_classes,
            concat=False,
            dropout=0.4,
            leaky_relu_slope=0.2):

            super(GAT, self).__init__()

            # Define the Graph Attention layers
            self.gat1 = GraphAttentionLayer(
                in_features=in_features, out_features=n_hidden, n_heads=n_heads,
                concat=concat, dropout=dropout, leaky_relu_slope=leaky_relu_slope
                )

            self.gat2 = GraphAttentionLayer(
                in_features=n_hidden, out_features=num_classes, n_heads=1,
                concat=False, dropout=dropout, leaky_relu_slope=leaky_relu_slope
                )

        def forward(self, input_tensor: torch.Tensor , adj_mat: torch.Tensor):
            # Apply the first Graph Attention layer
            x = self.gat1(input_tensor, adj_mat)
            x = F.elu(x) # Apply ELU activation function to the output of the first layer

            # Apply the second Graph Attention layer
            x = self.gat2(x, adj_mat)

            return F.log_softmax(x, dim=1) # Apply log softmax activation function

    def train_iter(epoch, model, optimizer, criterion, input, target, mask_train, print_every=10):
        model.train()
        optimizer.zero_grad()

        # Forward pass
        output = model(*input)
        loss = criterion(output[mask_train], target[mask_train]) # Compute the loss using the training mask

        loss.backward()
        optimizer.step()

        # Evaluate the model performance on training and validation sets
        loss_train, acc_train = test(model, criterion, input, target, mask_train)
        loss_val, acc_val = test(model, criterion, input, target, mask_val)
        history.append((loss.item(), loss_train, acc_train, loss_val, acc_val))

        if epoch % print_every == 0:
            # Print the training progress at specified intervals
            print(f'Epoch: {epoch:04d} loss_train: {loss_train:.4f} acc_train: {acc_train:.4f} loss_val: {loss_val:.4f} acc_val: {acc_val:.4f}')  # noqa: E501

    def test(model, criterion, input, target, mask):
        model.eval()
        with torch.no_grad():
            output = model(*input)
            output, target = output[mask], target[mask]

            loss = criterion(output, target)
            acc = (output.argmax(dim=1) == target).float().sum() / len(target)
        return loss.item(), acc.item()

    # (--epochs N --lr 0.005 --l2 5e-4 --dropout-p 0.6 --hidden-dim 16 --num-heads 4 --val-every 10)
    torch.manual_seed(13)
    device = torch.device('cpu')
    x, adj, y = block_graph()
    features, adj_mat, labels = torch.tensor(x), torch.tensor(adj), torch.tensor(y)
    num_classes = int(labels.max()) + 1

    idx = torch.randperm(len(labels)).to(device)
    idx_test, idx_val, idx_train = idx[:20], idx[20:30], idx[30:]
    mask_val = idx_val

    gat_net = GAT(
        in_features=features.shape[1],          # Number of input features per node
        n_hidden=16,                            # Output size of the first Graph Attention Layer
        n_heads=4,                              # Number of attention heads in the first Graph Attention Layer
        num_classes=num_classes,                # Number of classes to predict for each node
        concat=concat_heads,                    # Wether to concatinate attention heads
        dropout=dropout_p,                      # Dropout rate
        leaky_relu_slope=0.2                    # Alpha (slope) of the leaky relu activation
    ).to(device)
    if copy_from is not None:  # (test only: the other library's initial weights)
        gat_net.load_state_dict({k: torch.tensor(v) for k, v in copy_from.items()})
    initial = {k: v.detach().numpy().copy() for k, v in gat_net.state_dict().items()}

    # configure the optimizer and loss function
    optimizer = Adam(gat_net.parameters(), lr=0.005, weight_decay=5e-4)
    criterion = nn.NLLLoss()

    # Train and evaluate the model
    for epoch in range(epochs):
        train_iter(epoch + 1, gat_net, optimizer, criterion, (features, adj_mat), labels, idx_train, 10)
    loss_test, acc_test = test(gat_net, criterion, (features, adj_mat), labels, idx_test)
    print(f'Test set results: loss {loss_test:.4f} accuracy {acc_test:.4f}')
    return initial, history, (loss_test, acc_test), log


class SamePermutation(types.ModuleType):
    """The library ``lib`` with ``randperm`` drawn from NumPy, so two libraries split the nodes alike."""

    def __init__(self, lib, seed):
        super().__init__(lib.__name__)
        self._lib, self._rng = lib, np.random.default_rng(seed)

    def __getattr__(self, name):
        return getattr(self._lib, name)

    def randperm(self, n):
        return self._lib.tensor(self._rng.permutation(n))


@pytest.mark.parametrize("concat_heads", [False, True])
def test_gat_runs_and_learns(concat_heads):
    _, history, (loss_test, acc_test), log = gat_main(mathdl, epochs=100, concat_heads=concat_heads)
    assert history[-1][1] < 0.75 * history[0][1]  # the training loss falls (1.2 -> 0.5, 1.5 -> 0.65 nats)
    assert acc_test >= 0.75 and log[-1].startswith("Test set results: loss ") and len(log) == 11  # chance: 1/3


def test_gat_matches_pytorch():
    init, ours, our_test, _ = gat_main(SamePermutation(mathdl, 0), epochs=10, dropout_p=0.0, concat_heads=True)
    _, theirs, their_test, _ = gat_main(SamePermutation(torch, 0), epochs=10, dropout_p=0.0, concat_heads=True,
                                        copy_from=init)
    np.testing.assert_allclose(np.array(ours), np.array(theirs), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(our_test, their_test, rtol=1e-4)
