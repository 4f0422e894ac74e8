"""The ConvNet of question 1.2.1, and its wider batch-normalized sibling for 1.3.7."""
from collections import OrderedDict

import torch
from torch import nn

# In-place ReLU saves a pass over memory; it changes no number.
ACTIVATIONS = {"relu": lambda: nn.ReLU(inplace=True), "gelu": nn.GELU}


class ConvNet(nn.Sequential):
    """Stages of [conv - act - conv - act - maxpool - dropout], then flatten - fc - act - fc.

    With batch_norm, every conv is followed by a norm, and a stage reads
    [conv - bn - act - conv - maxpool - bn - act - dropout].

    The defaults are the report's network (widths 32, 64; 2,168,362 parameters). It returns
    logits: softmax is applied only where probabilities are wanted, because
    CrossEntropyLoss applies log-softmax itself.
    """

    def __init__(self, dropout=0.0, activation="relu", widths=(32, 64), batch_norm=False,
                 hidden=512, n_classes=10, image_size=32):
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
                   (f"{activation}{n + 1}", act()),
                   ("fc2", nn.Linear(hidden, n_classes))]
        super().__init__(OrderedDict(layers))


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
