"""Training-time augmentation on whole batches of device tensors: random crops after reflect
padding, and flips (random, or airbench's alternating ones). No Python loop over images, and
no host sync per step: an epoch's random offsets are drawn on the host and moved at once."""
import torch
import torch.nn.functional as F


def epoch_shifts(batch_sizes, generator, pad, random_flips, device):
    """Each batch's (row offsets, column offsets, flips) for one epoch: offsets of 0 to 2 * pad
    and, where random_flips, a coin per image (else flips is None: the caller's alternating ones).

    Drawn from the host generator batch by batch, in the order a per-step draw would take, so
    a seed gives the same numbers; moved to the device in one transfer, since a copy to a GPU
    per step would make the host wait for the GPU at every step.
    """
    draws = []
    for n in batch_sizes:
        draws += [torch.randint(0, 2 * pad + 1, (n,), generator=generator),
                  torch.randint(0, 2 * pad + 1, (n,), generator=generator)]
        if random_flips:
            draws.append((torch.rand(n, generator=generator) < 0.5).long())
    per_batch = 3 if random_flips else 2
    parts = torch.cat(draws).to(device).split([len(d) for d in draws])
    return [(parts[i], parts[i + 1], parts[i + 2].bool() if random_flips else None)
            for i in range(0, len(parts), per_batch)]


def augment_batch(x_nhwc, dy, dx, flip, pad):
    """Each image cropped at its offsets (dy, dx) out of the batch reflect-padded by pad pixels
    (a shift of up to pad pixels each way), and mirrored where flip is true; all on the device.

    One gather builds every crop at once: per-image row and column offsets index the
    padded batch, so no Python loop runs over images.
    """
    n, h, w, _ = x_nhwc.shape
    device = x_nhwc.device
    padded = F.pad(x_nhwc.permute(0, 3, 1, 2), (pad, pad, pad, pad), mode="reflect").permute(0, 2, 3, 1)
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
