"""Question 1.3.7, the best recipe: airbench's ingredients, each doing what it claims, and
the time budget it must train within."""
import pytest
import torch
import torch.nn.functional as F

from common.speed import training_seconds, within_budget
from common.config import BASELINE, BEST, TrainConfig
from common.model import WhitenedNet, patch_whitening
from common.data import alternating_flips, augment_batch, epoch_shifts
from common.optim import Lookahead, make_optimizer, orthogonalize
from common.train import build_model, train


def correlated_images(n=400, seed=0):
    """Images whose neighbouring pixels and channels are strongly correlated, as in photographs."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(n, 1, 36, 36, generator=g)
    smooth = F.avg_pool2d(noise, 5, stride=1)  # 32 x 32, neighbours share most of their inputs
    colour = torch.tensor([1.0, 0.9, 0.7]).view(1, 3, 1, 1)
    return smooth * colour + 0.05 * torch.randn(n, 3, 32, 32, generator=g)


def patch_covariance(features):
    flat = features.permute(0, 2, 3, 1).reshape(-1, features.shape[1]).double()
    return flat.T @ flat / len(flat)


def test_the_whitening_layer_makes_patches_uncorrelated_with_unit_variance():
    covariance = whitened_covariance(correlated_images(), eps=0)
    assert torch.allclose(covariance, torch.eye(12, dtype=covariance.dtype), atol=1e-3)


@pytest.mark.e2e
def test_the_whitening_layer_whitens_real_cifar10_patches(real_root):
    from common.data import load_cifar10, normalize
    images = normalize(load_cifar10(real_root, offline=True, skip_checksum=True).train_images[:2000])
    covariance = whitened_covariance(images, eps=0)
    assert torch.allclose(covariance, torch.eye(12, dtype=covariance.dtype), atol=1e-3)
    # With airbench's eps the output stays uncorrelated; each direction's variance becomes
    # eigenvalue / (eigenvalue + eps): the faint ones (fine colour detail, which JPEG thins
    # out) are damped rather than amplified into noise.
    covariance = whitened_covariance(images)
    assert (covariance - torch.diag(covariance.diag())).abs().max() < 1e-3
    assert covariance.diag().max() <= 1 and covariance.diag().median() > 0.9


def whitened_covariance(x, **kwargs):
    """The covariance of the whitening layer's output on x, after checking x is far from white."""
    raw = patch_covariance(F.unfold(x, 2).view(len(x), 12, 31, 31))
    correlation = raw / (raw.diag()[:, None] * raw.diag()[None, :]).sqrt()
    assert (correlation - torch.eye(12, dtype=raw.dtype)).abs().max() > 0.5  # the input is far from white
    filters = patch_whitening(x, **kwargs)
    assert filters.shape == (24, 3, 2, 2) and torch.equal(filters[12:], -filters[:12])  # the rest: negated
    return patch_covariance(F.conv2d(x, filters[:12]))


def test_the_whitened_net_is_airbench_shaped_and_its_first_layer_is_fixed():
    model = WhitenedNet((48, 192, 192))
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert not model.whiten.weight.requires_grad and model.whiten.bias.requires_grad
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 6 and not any(n.weight.requires_grad for n in norms)  # shifts only
    assert sum(isinstance(m, torch.nn.Conv2d) for m in model.modules()) == 7
    assert WhitenedNet((48, 192, 192), learn_first=True).whiten.weight.requires_grad  # the ablation


def test_build_model_fits_the_whitening_to_the_training_images():
    x = correlated_images(100).permute(0, 2, 3, 1)  # stored N x H x W x C, as DeviceData holds them
    model = build_model(TrainConfig(**BEST), torch.device("cpu"), x)
    assert torch.allclose(model.whiten.weight, patch_whitening(x.permute(0, 3, 1, 2)), atol=1e-6)
    learned = build_model(TrainConfig(**{**BEST, "whiten": False}), torch.device("cpu"), x)
    assert not torch.allclose(learned.whiten.weight, model.whiten.weight)


def test_translation_keeps_labels_and_shapes_and_shifts_at_most_two_pixels():
    x = torch.arange(4 * 32 * 32 * 1, dtype=torch.float32).reshape(4, 32, 32, 1).repeat(1, 1, 1, 3)
    labels = torch.arange(4)
    flips = torch.tensor([True, False, True, False])
    g = torch.Generator().manual_seed(0)
    for _ in range(10):
        (dy, dx, random_flip), = epoch_shifts([4], g, pad=2, random_flips=False, device=x.device)
        assert random_flip is None  # the alternating flips are the caller's
        out = augment_batch(x, dy, dx, flips, pad=2)
        assert out.shape == x.shape and out.dtype == x.dtype and torch.equal(labels, torch.arange(4))
        padded = F.pad(x.permute(0, 3, 1, 2), (2, 2, 2, 2), mode="reflect").permute(0, 2, 3, 1)
        for i in range(4):
            crops = [padded[i, dy:dy + 32, dx:dx + 32] for dy in range(5) for dx in range(5)]
            assert any(torch.equal(out[i], c.flip(1) if flips[i] else c) for c in crops)


def test_alternating_flips_mirror_each_image_in_exactly_one_of_two_epochs():
    flips = alternating_flips(1000, seed=0, device=torch.device("cpu"))
    for epoch in (1, 2, 3):
        assert torch.equal(flips(epoch) ^ flips(epoch + 1), torch.ones(1000, dtype=torch.bool))
        assert 400 < flips(epoch).sum() < 600
    assert torch.equal(flips(1), flips(3)) and torch.equal(flips(1), alternating_flips(1000, 0, "cpu")(1))


def test_the_best_schedule_warms_up_then_decays_linearly_with_faster_norm_shifts():
    cfg = TrainConfig(**BEST)
    model = WhitenedNet((8, 8, 8))
    optimizer, scheduler = make_optimizer(model, cfg, steps_total=100)
    weights, others, shifts, filters = optimizer.param_groups
    assert weights["params"] == [model.fc.weight] and weights["weight_decay"] == cfg.weight_decay
    assert others["params"] == [model.whiten.bias]
    assert all(p.ndim == 4 for p in filters["params"]) and filters["lr"] == pytest.approx(0.2 * cfg.filter_lr)
    lrs = []
    for _ in range(100):
        lrs.append((weights["lr"], shifts["lr"]))
        optimizer.step()
        scheduler.step()
    assert lrs[0][0] == pytest.approx(0.2 * cfg.lr)  # the warm-up starts at a fifth
    assert max(lrs)[0] == pytest.approx(cfg.lr) and [w for w, _ in lrs].index(max(lrs)[0]) in (22, 23)
    assert lrs[-1][0] == pytest.approx(0.07 * cfg.lr, rel=0.02)  # ends at 7%
    assert lrs[61][0] == pytest.approx((lrs[41][0] + lrs[81][0]) / 2)  # a straight line down
    assert all(s == pytest.approx(64 * w) for w, s in lrs)  # norm shifts learn 64x faster
    assert filters["lr"] / cfg.filter_lr == pytest.approx(weights["lr"] / cfg.lr)  # filters: the same shape


def test_lookahead_resets_weights_to_their_average_every_5_steps_and_at_the_end():
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    lookahead = Lookahead(model, total_steps=12)
    seen = []
    for step in range(1, 13):
        with torch.no_grad():
            model.weight.add_(1.0)  # a "step" that moves the weight by 1
        before = model.weight.item()
        lookahead.after_step(step)
        seen.append((before, model.weight.item()))
    assert all(after == before for before, after in seen[:4])  # steps 1-4 leave it alone
    decay = 0.95 ** 5 * (5 / 12) ** 3
    assert seen[4][1] == pytest.approx(decay * 0 + (1 - decay) * 5)  # step 5: average of 0 and 5
    average_at_10 = pytest.approx(
        0.95**5 * (10 / 12) ** 3 * seen[4][1] + (1 - 0.95**5 * (10 / 12) ** 3) * seen[9][0]
    )
    assert seen[9][1] == average_at_10
    assert seen[11][1] == pytest.approx(seen[9][1])  # the end: back to the last average


@pytest.mark.e2e
def test_the_best_recipe_trains_and_resumes_to_the_same_numbers(cifar_root, tmp_path):
    from common.checkpoint import Checkpoints
    from common.data import load_cifar10, split_indices, to_device
    d = load_cifar10(cifar_root, offline=True, skip_checksum=True)
    train_idx, val_idx = split_indices(800, 200, seed=0)
    data = to_device(d, train_idx, val_idx, torch.device("cpu"))
    cfg = TrainConfig(**{**BEST, "widths": (8, 16, 16), "epochs": 3, "batch_size": 100, "log_every": 3})
    whole, _, _ = train(
        cfg, data, torch.device("cpu"), Checkpoints(tmp_path / "whole", "t"), log=lambda *_: None
    )

    def interrupt_in_epoch_2(line):
        if line.startswith("epoch  2/3 step"):
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        train(cfg, data, torch.device("cpu"), Checkpoints(tmp_path / "cut", "t"), log=interrupt_in_epoch_2)
    resumed, _, _ = train(cfg, data, torch.device("cpu"), Checkpoints(tmp_path / "cut", "t"), resume=True,
                          log=lambda *_: None)
    assert resumed["history"]["val_loss"] == whole["history"]["val_loss"]
    assert resumed["final_test_acc"] == whole["final_test_acc"]


def test_the_budget_check_compares_whole_training_times():
    baseline, best = TrainConfig(**BASELINE), TrainConfig(**BEST)
    assert (baseline.epochs, best.epochs) == (20, 11)
    # The baseline: 20 epochs of 45,000 images at 900 img/s (50 s) and 5,000 at 3,000 img/s (5/3 s).
    assert training_seconds(baseline, 900, 3000) == pytest.approx(1033.333, abs=1e-3)
    # The best recipe: 11 epochs of 100 s and 10/3 s: 1136.67 s, 1.1 times the baseline's.
    assert training_seconds(best, 450, 1500) == pytest.approx(1136.667, abs=1e-3)
    assert within_budget(1136.667, 1033.333) == (pytest.approx(1.1, abs=1e-6), True)
    assert within_budget(1.51 * 1000, 1000) == (pytest.approx(1.51), False)
    assert within_budget(1.5 * 1000, 1000) == (pytest.approx(1.5), True)


def test_orthogonalize_moves_every_singular_value_near_one():
    gen = torch.Generator().manual_seed(0)
    u, v = (
        torch.linalg.qr(torch.randn(48, 48, generator=gen))[0],
        torch.linalg.qr(torch.randn(216, 48, generator=gen))[0],
    )
    g = u @ torch.diag(torch.logspace(-1, 1, 48)) @ v.T  # singular values from 0.1 to 10
    for matrix in (g, g.T):  # wide and tall
        singular_values = torch.linalg.svdvals(orthogonalize(matrix))
        assert (
            singular_values.min() > 0.5 and singular_values.max() < 1.3
        )  # Muon's iteration is deliberately rough
        assert torch.linalg.svdvals(matrix).max() / torch.linalg.svdvals(matrix).min() > 99


def test_muon_rotates_filter_banks_at_a_fixed_norm_and_steps_the_rest_exactly_as_sgd():
    cfg = TrainConfig(**{**BEST, "optimizer": "muon", "schedule": "constant"})
    torch.manual_seed(0)
    model, twin = WhitenedNet((8, 8, 8)), WhitenedNet((8, 8, 8))
    twin.load_state_dict(model.state_dict())
    optimizer, _ = make_optimizer(model, cfg, steps_total=10)
    filters = [g for g in optimizer.param_groups if g.get("orthogonal")]
    assert (
        len(filters) == 1
        and all(p.ndim == 4 for p in filters[0]["params"])
        and len(filters[0]["params"]) == 6
    )
    assert filters[0]["lr"] == cfg.filter_lr and filters[0]["momentum"] == cfg.filter_momentum
    named, twins = dict(model.named_parameters()), dict(twin.named_parameters())
    sgd = torch.optim.SGD(
        [
            {**g, "params": [twins[n] for n, p in named.items() if any(p is q for q in g["params"])]}
            for g in optimizer.param_groups
            if not g.get("orthogonal")
        ],
        lr=cfg.lr,
        momentum=cfg.momentum,
        nesterov=cfg.nesterov,
    )
    x, y = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
    for _ in range(3):  # the same gradients into both: one forward, by the Muon-trained model
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        for name, p in named.items():
            twins[name].grad = None if p.grad is None else p.grad.clone()
        optimizer.step()
        sgd.step()
    for name, p in named.items():
        if not any(p is q for q in filters[0]["params"]) and p.requires_grad:
            assert torch.allclose(p, twins[name], atol=1e-6), name  # SGD's update, to the last digit
    for p in filters[0]["params"]:
        assert p.norm().item() == pytest.approx(
            len(p) ** 0.5, rel=0.2
        )  # rescaled at the last step, then moved
    assert not torch.allclose(model.conv2a.weight, twins["conv2a.weight"])
