"""Training-time augmentation on whole batches of device tensors: random crops after reflect
padding, and flips (random, or airbench's alternating ones). No Python loop over images."""
import torch
import torch.nn.functional as F


def augment_batch(x_nhwc, generator, pad=4, flip=None):
    """Random crop after reflect padding (a shift of up to pad pixels each way), and a
    horizontal flip of the images where flip is true (random where flip is None), on a
    whole batch.

    One gather builds every crop at once: per-image row and column offsets index the
    padded batch, so no Python loop runs over images.
    """
    n, h, w, _ = x_nhwc.shape
    device = x_nhwc.device
    padded = F.pad(x_nhwc.permute(0, 3, 1, 2), (pad, pad, pad, pad), mode="reflect").permute(0, 2, 3, 1)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(device)
    if flip is None:
        flip = (torch.rand(n, generator=generator) < 0.5).to(device)
    rows = dy[:, None] + torch.arange(h, device=device)
    cols = dx[:, None] + torch.arange(w, device=device)
    cols = torch.where(flip[:, None], cols.flip(1), cols)  # a mirrored crop reads columns backwards
    return padded[torch.arange(n, device=device)[:, None, None], rows[:, :, None], cols[:, None, :]]


def alternating_flips(n, seed, device):
    """airbench's flip: a seeded half of the images is mirrored in odd epochs and the other
    half in even ones, so every pair of epochs sees each image both ways (random flips leave
    a quarter of the images unmirrored or always mirrored over two epochs)."""
    first = torch.rand(n, generator=torch.Generator().manual_seed(seed + 1)) < 0.5
    return lambda epoch: (first ^ (epoch % 2 == 0)).to(device)
