"""A Grad-CAM script in the form the tutorials give it, on mathdl with only the import changed.

Kept: ``register_full_backward_hook`` / ``register_forward_hook`` on ``model.layer4[-1]`` storing the
gradients and activations in globals, ``model(img)[:, class].backward()``,
``torch.mean(gradients[0], dim=[0, 2, 3])``, the in-place channel weighting
``activations[:, i, :, :] *= pooled_gradients[i]``, ``torch.mean(activations, dim=1).squeeze()``,
``F.relu`` and ``heatmap /= torch.max(heatmap)``, and removing the hooks.  The model is torchvision's
ResNet code (transcribed in test_program_imagenet_resnet) with random weights and a random image; the
heatmap is compared with PyTorch's from the same weights.
"""

import numpy as np
import pytest

import mathdl

from .test_program_imagenet_resnet import torchvision_resnet

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")

gradients = None
activations = None


def grad_cam(torch, copy_from=None):
    global gradients, activations
    F = torch.nn.functional
    torch.manual_seed(0)
    model = torchvision_resnet(torch)["resnet10"](num_classes=5).double()
    if copy_from is not None:  # (test only: the other library's weights)
        model.load_state_dict({k: torch.tensor(v) for k, v in copy_from.items()})
    weights = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    model.eval()

    def backward_hook(module, grad_input, grad_output):
        global gradients
        gradients = grad_output

    def forward_hook(module, args, output):
        global activations
        activations = output

    backward_hook = model.layer4[-1].register_full_backward_hook(backward_hook)
    forward_hook = model.layer4[-1].register_forward_hook(forward_hook)

    img_tensor = torch.tensor(np.random.default_rng(0).random((3, 64, 64)))
    scores = model(img_tensor.unsqueeze(0))
    predicted = scores.argmax(dim=1).item()
    scores[:, predicted].backward()

    pooled_gradients = torch.mean(gradients[0], dim=[0, 2, 3])
    activations = activations.detach()
    for i in range(activations.size()[1]):
        activations[:, i, :, :] *= pooled_gradients[i]
    heatmap = torch.mean(activations, dim=1).squeeze()
    heatmap = F.relu(heatmap)
    heatmap /= torch.max(heatmap)

    backward_hook.remove()
    forward_hook.remove()
    return weights, predicted, heatmap.numpy()


def test_grad_cam_matches_pytorch():
    weights, ours_class, ours = grad_cam(mathdl)
    _, theirs_class, theirs = grad_cam(torch, copy_from=weights)
    assert ours_class == theirs_class and ours.shape == theirs.shape == (2, 2)
    np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-12)
    assert ours.max() == 1.0 and ours.min() >= 0.0
