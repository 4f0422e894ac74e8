"""The ConvNet of question 1.2.1, its wider batch-normalized sibling, and the whitened
net of the 1.3.7 best recipe (after KellerJordan's airbench94)."""
from collections import OrderedDict

import torch
from torch import nn

# The memory layout each device's model and inputs take. channels_last (NHWC) is what the CPU's
# oneDNN and the GPU's cuDNN convolutions prefer. Apple GPUs keep PyTorch's default (NCHW):
# there BatchNorm2d's backward on a channels_last input gives wrong weight gradients (macOS 14)
# or fails (macOS 26), pytorch/pytorch#175189, fixed by #181411 and #188371 only after torch
# 2.11, while requirements.txt admits torch 2.2; the whole network stays in one layout there.
LAYOUTS = {"cpu": torch.channels_last, "cuda": torch.channels_last, "mps": torch.contiguous_format}


def layout(device):
    """The memory format a model and its inputs take on device (LAYOUTS; NCHW elsewhere)."""
    return LAYOUTS.get(torch.device(device).type, torch.contiguous_format)


# In-place ReLU saves a pass over memory; it changes no number.
ACTIVATIONS = {"relu": lambda: nn.ReLU(inplace=True), "gelu": nn.GELU}


class ConvNet(nn.Sequential):
    """Stages of [conv - act - conv - act - maxpool - dropout], then flatten - fc - act - fc;
    with dropout_after="pools_and_fc" (the course sheet's 1.3.5), flatten - fc - act - dropout - fc.

    With batch_norm, every conv is followed by a norm, and a stage reads
    [conv - bn - act - conv - maxpool - bn - act - dropout].

    The defaults are the report's network (widths 32, 64; 2,168,362 parameters). It returns
    logits: softmax is applied only where probabilities are wanted, because
    CrossEntropyLoss applies log-softmax itself.
    """

    def __init__(self, dropout=0.0, activation="relu", widths=(32, 64), batch_norm=False,
                 hidden=512, n_classes=10, image_size=32, dropout_after="pools"):
        act = ACTIVATIONS[activation]
        layers, c_in, n = [], 3, 0
        for stage, width in enumerate(widths, start=1):
            for second, c in enumerate((c_in, width)):
                n += 1
                # A conv followed by batch norm needs no bias: the norm's shift replaces it.
                layers.append((f"conv{n}", nn.Conv2d(c, width, 3, padding=1, bias=not batch_norm)))
                if batch_norm and second:
                    # With batch norm the stage pools before its last norm and activation:
                    # max-pool commutes with ReLU, and normalizing a quarter of the values
                    # pays for a norm after every conv (same CPU step time as one a stage).
                    layers.append((f"pool{stage}", nn.MaxPool2d(2)))
                if batch_norm:
                    layers.append((f"bn{n}", nn.BatchNorm2d(width)))
                layers.append((f"{activation}{n}", act()))
            c_in = width
            if not batch_norm:
                layers.append((f"pool{stage}", nn.MaxPool2d(2)))
            layers.append((f"dropout{stage}", nn.Dropout(dropout)))
        side = image_size // 2 ** len(widths)
        layers += [("flatten", nn.Flatten()),
                   ("fc1", nn.Linear(c_in * side * side, hidden)),
                   (f"{activation}{n + 1}", act())]
        if dropout_after == "pools_and_fc":
            layers.append((f"dropout{len(widths) + 1}", nn.Dropout(dropout)))
        layers.append(("fc2", nn.Linear(hidden, n_classes)))
        super().__init__(OrderedDict(layers))


class Norm(nn.BatchNorm2d):
    """Batch norm without a learned scale (what follows is scale-free: a GELU fed by a
    unit-variance input, or another norm), only a shift; airbench's eps and momentum."""

    def __init__(self, width, momentum=0.4):
        super().__init__(width, eps=1e-12, momentum=momentum)
        self.weight.requires_grad_(False)


class IdentityInitConv(nn.Conv2d):
    """A 3x3 conv whose first in_channels filters start as the identity (the rest at
    PyTorch's default): each stage starts by passing its input on, which lets a deep
    stack without residual connections train from its first steps."""

    def __init__(self, c_in, c_out):
        super().__init__(c_in, c_out, 3, padding=1, bias=False)
        with torch.no_grad():
            nn.init.dirac_(self.weight[:min(c_in, c_out)])


class Scale(nn.Module):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


class WhitenedNet(nn.Sequential):
    """whiten (a 2x2 conv, 24 filters) - GELU, then stages of [conv - maxpool - norm - GELU -
    conv - norm - GELU], a 3x3 max-pool over what is left, and a bias-free linear layer
    whose logits are scaled by 1/9.

    The first layer sees 2x2 patches; patch_whitening() gives its filters (train.build_model
    copies them in): the eigenvectors of the patches' covariance over training images, divided
    by the square roots of their eigenvalues (and their negatives, so a GELU loses nothing). Its
    output is decorrelated with unit variance, which the optimizer after it (SGD, and Muon for
    the conv filters in the best recipe) learns from much faster. With
    learn_first=True the same layer is an ordinary learned conv (the ablation).
    """

    def __init__(self, widths=(64, 256, 256), learn_first=False, activation="gelu", n_classes=10):
        act = ACTIVATIONS[activation]
        layers, c_in = [("whiten", nn.Conv2d(3, 24, 2, bias=True)), (f"{activation}0", act())], 24
        for stage, width in enumerate(widths, start=1):
            layers += [(f"conv{stage}a", IdentityInitConv(c_in, width)), (f"pool{stage}", nn.MaxPool2d(2)),
                       (f"norm{stage}a", Norm(width)), (f"{activation}{stage}a", act()),
                       (f"conv{stage}b", IdentityInitConv(width, width)),
                       (f"norm{stage}b", Norm(width)), (f"{activation}{stage}b", act())]
            c_in = width
        layers += [("pool", nn.AdaptiveMaxPool2d(1)), ("flatten", nn.Flatten()),
                   ("fc", nn.Linear(c_in, n_classes, bias=False)), ("scale", Scale(1 / 9))]
        super().__init__(OrderedDict(layers))
        with torch.no_grad():
            self.whiten.bias.zero_()
        self.whiten.weight.requires_grad_(learn_first)


def patch_whitening(images, size=2, eps=5e-4):
    """Filters (2*C*size*size, C, size, size) that whiten the size x size patches of images
    (N x C x H x W): the covariance's eigenvectors scaled by 1/sqrt(eigenvalue + eps),
    then the same filters negated."""
    c = images.shape[1]
    patches = (
        images.unfold(2, size, 1).unfold(3, size, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, c * size * size)
    )
    patches = patches.double()
    covariance = patches.T @ patches / len(patches)
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
    filters = (eigenvectors.T / (eigenvalues[:, None] + eps).sqrt()).reshape(-1, c, size, size)
    return torch.cat([filters, -filters]).float()


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def layer_table(model, image_shape=(3, 32, 32)):
    """[{"name", "type", "output_shape", "params"}] for each layer, from a real forward pass."""
    rows, x = [], torch.zeros(1, *image_shape)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for name, layer in model.named_children():
            x = layer(x)
            rows.append({"name": name, "type": type(layer).__name__,
                         "output_shape": list(x.shape[1:]), "params": count_params(layer)})
    model.train(was_training)
    return rows
