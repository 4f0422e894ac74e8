"""Question 1.3.6: the best model's class probabilities on test images, fed raw and normalized."""
import torch

from .data import CLASSES, normalize
from .model import layout

# 1.3.6 feeds uint8 images to the model two ways: raw (the [0,1] tensors, as the report
# did, though the model was trained on normalized inputs) and normalized.
FEEDS = {"raw": lambda images: images.float() / 255, "normalized": normalize}


@torch.no_grad()
def feed_logits(model, images, mode, device, batch_size=1000):
    """Logits of uint8 N x C x H x W images fed as FEEDS[mode], in eval mode, on the host."""
    model.eval()
    return torch.cat([model(FEEDS[mode](images[i:i + batch_size]).to(device)
                            .contiguous(memory_format=layout(device))).cpu()
                      for i in range(0, len(images), batch_size)])


def predictions(model, images, true, device, indices=None):
    """1.3.6: class probabilities for uint8 images, fed raw and normalized.

    Feeding the raw [0,1] tensors shows what forgetting the normalization at test time costs.
    """
    out = {"indices": list(indices) if indices is not None else list(range(len(true))),
           "true": true.tolist()}
    for mode in FEEDS:
        probs = torch.softmax(feed_logits(model, images, mode, device), dim=1)
        pred = probs.argmax(1)
        out[mode] = {"probs": probs.tolist(), "pred": pred.tolist(),
                     "accuracy": 100.0 * (pred == true).sum().item() / len(true)}
    return out


def whole_test_set_predictions(model, images, labels, device):
    """1.3.6 beyond ten images: accuracy, predicted-class counts and per-class recall on
    the whole test set, fed raw and normalized; ten images alone can mislead."""
    out = {}
    for mode in FEEDS:
        pred = feed_logits(model, images, mode, device).argmax(1)
        hits = pred == labels
        out[mode] = {"accuracy": 100.0 * hits.sum().item() / len(labels),
                     "predicted_counts": torch.bincount(pred, minlength=len(CLASSES)).tolist(),
                     "recall": [100.0 * hits[labels == c].float().mean().item() if (labels == c).any()
                                else None for c in range(len(CLASSES))]}
    return out




def shown_images(n_test, seed, count=10):
    """The test images 1.3.6 shows by default: the first `count` of a seeded shuffle of the
    test set, as the report's shuffled loader drew them."""
    return torch.randperm(n_test, generator=torch.Generator().manual_seed(seed))[:count].tolist()
